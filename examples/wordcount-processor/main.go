// Command wordcount-processor counts words with Sluice's Processor API: a
// source reads lines, a processor splits them into words keyed by the word,
// a repartition topic brings each word to one task, a processor counts it in
// a persistent key-value store, and a sink writes every new count.
//
//	go run ./examples/wordcount-processor -input FILE   # embedded cluster, prints "word count" lines
//	go run ./examples/wordcount-processor -brokers 127.0.0.1:9092 -input FILE
//
// With no -input it runs until interrupted, counting what arrives on the
// input topic.
package main

import (
	"context"
	"io"

	"github.com/sluicestreams/sluice/examples/internal/exampleutil"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
)

func main() {
	exampleutil.Main("wordcount-processor", exampleutil.Options{
		AppID: "wordcount-processor", InTopic: "wordcount-input", OutTopic: "wordcount-output", Partitions: 3,
	}, "a text file whose lines are produced to the input topic; the program prints the final counts and exits", run)
}

// Topology builds the word count. Lines are split into words keyed by the
// word and written to the repartition topic "<app>-words-repartition", so
// that each word is counted by exactly one task, whatever input partition
// its lines came from:
//
//	lines -> split -> words-repartition -> count (store "counts") -> out
func Topology(in, out string) (*processor.Topology, error) {
	t := processor.NewTopology()
	str := serde.String()
	if err := processor.AddSource(t, "lines", processor.SourceSpec[string, string]{
		Topics: []string{in}, KeySerde: str, ValueSerde: str,
	}); err != nil {
		return nil, err
	}
	if err := processor.AddProcessor(t, "split", processor.Func(func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		for _, w := range exampleutil.Words(r.Value) {
			if err := ctx.Forward(processor.Record[string, string]{Key: w, Value: w, Timestamp: r.Timestamp, Headers: r.Headers}); err != nil {
				return err
			}
		}
		return nil
	}), "lines"); err != nil {
		return nil, err
	}
	if err := processor.AddSink(t, "to-words", processor.SinkSpec[string, string]{
		Topic: "words-repartition", Internal: true, KeySerde: str, ValueSerde: str,
	}, "split"); err != nil {
		return nil, err
	}
	if err := processor.AddSource(t, "words", processor.SourceSpec[string, string]{
		Topics: []string{"words-repartition"}, Internal: true, KeySerde: str, ValueSerde: str,
	}); err != nil {
		return nil, err
	}
	if err := processor.AddProcessor(t, "count", func() processor.Processor[string, string, string, int64] {
		return &counter{}
	}, "words"); err != nil {
		return nil, err
	}
	if err := t.AddStateStore(statestore.KeyValue("counts", str, serde.Int64()), "count"); err != nil {
		return nil, err
	}
	if err := processor.AddSink(t, "counts-out", processor.SinkSpec[string, int64]{
		Topic: out, KeySerde: str, ValueSerde: serde.Int64(),
	}, "count"); err != nil {
		return nil, err
	}
	return t, nil
}

// counter counts the words that reach it, in store "counts".
type counter struct {
	ctx    processor.Context[string, int64]
	counts statestore.KeyValueStore[string, int64]
}

func (c *counter) Init(ctx processor.Context[string, int64]) error {
	c.ctx = ctx
	var err error
	c.counts, err = processor.GetStore[statestore.KeyValueStore[string, int64]](ctx, "counts")
	return err
}

func (c *counter) Process(r processor.Record[string, string]) error {
	n, _, err := c.counts.Get(r.Key)
	if err != nil {
		return err
	}
	n++
	if err := c.counts.Put(r.Key, n); err != nil {
		return err
	}
	return c.ctx.Forward(processor.Record[string, int64]{Key: r.Key, Value: n, Timestamp: r.Timestamp})
}

func (c *counter) Close() error { return nil }

func run(ctx context.Context, o exampleutil.Options, stdout io.Writer) error {
	r := exampleutil.CountingRun{
		Options:  o,
		Topology: Topology,
		Internal: []string{"words-repartition"},
	}
	if o.Input != "" {
		r.Feed = exampleutil.FeedLines(o.InTopic, o.Input)
	}
	return r.Run(ctx, stdout)
}
