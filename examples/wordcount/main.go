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
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/examples/internal/exampleutil"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
)

type options struct {
	brokers    string
	input      string
	appID      string
	inTopic    string
	outTopic   string
	stateDir   string
	partitions int
}

func main() {
	var o options
	flag.StringVar(&o.brokers, "brokers", "", "comma-separated Kafka brokers; empty runs an embedded cluster")
	flag.StringVar(&o.input, "input", "", "a text file whose lines are produced to the input topic; the program prints the final counts and exits")
	flag.StringVar(&o.appID, "app", "wordcount-dsl", "application.id")
	flag.StringVar(&o.inTopic, "in", "wordcount-dsl-input", "input topic")
	flag.StringVar(&o.outTopic, "out", "wordcount-dsl-output", "output topic")
	flag.StringVar(&o.stateDir, "state-dir", "", "state directory (default: a temporary one)")
	flag.IntVar(&o.partitions, "partitions", 3, "partitions of the topics the program creates")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
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
	counts.ToStream().WithSerdes(serde.String(), serde.Int64()).To(out)
	return b.Build()
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	r := exampleutil.CountingRun{
		Brokers: o.brokers, AppID: o.appID, InTopic: o.inTopic, OutTopic: o.outTopic,
		StateDir: o.stateDir, Partitions: int32(o.partitions),
		Topology: Topology,
		Internal: []string{StoreName + "-repartition"},
	}
	if o.input != "" {
		r.Feed = func(ctx context.Context, brokers []string) error {
			_, err := exampleutil.ProduceLines(ctx, brokers, o.inTopic, o.input)
			return err
		}
	}
	return r.Run(ctx, stdout)
}
