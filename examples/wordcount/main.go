// Command wordcount is Kafka Streams' word count written with Sluice's DSL:
//
//	lines -> flatMapValues(words) -> groupBy(word) -> count -> toStream -> to(output)
//
// Grouping by the word changes the key, so the counts are computed in a
// second sub-topology that reads the repartition topic
// "<app>-counts-repartition".
//
//	go run ./examples/wordcount -input FILE   # embedded cluster, prints "word count" lines
//	go run ./examples/wordcount -brokers 127.0.0.1:9092 -input FILE
//
// With -input it produces the file's lines to the input topic, waits until
// every one is processed, prints the final count of every word sorted by
// word, and exits 0. Without it, it runs until interrupted, counting what
// arrives on the input topic.
package main

import (
	"context"
	"io"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/examples/internal/exampleutil"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
)

func main() {
	exampleutil.Main("wordcount", exampleutil.Options{
		AppID: "wordcount-dsl", InTopic: "wordcount-dsl-input", OutTopic: "wordcount-dsl-output", Partitions: 3,
	}, "a text file whose lines are produced to the input topic; the program prints the final counts and exits", run)
}

// StoreName is the counts store; it also names the repartition topic.
const StoreName = "counts"

// Topology builds the word count from topic in to topic out.
func Topology(in, out string) (*processor.Topology, error) {
	b := dsl.NewBuilder()
	lines := dsl.NewStream(b, []string{in}, serde.String(), serde.String())
	words := dsl.FlatMapValues(lines, exampleutil.Words)
	counts := dsl.GroupBy(words, func(_, word string) string { return word }, serde.String()).
		Count(dsl.StoreName(StoreName))
	dsl.ToStream(counts).To(out)
	return b.Build()
}

func run(ctx context.Context, o exampleutil.Options, stdout io.Writer) error {
	r := exampleutil.CountingRun{
		Options:  o,
		Topology: Topology,
		Internal: []string{StoreName + "-repartition"},
	}
	if o.Input != "" {
		r.Feed = exampleutil.FeedLines(o.InTopic, o.Input)
	}
	return r.Run(ctx, stdout)
}
