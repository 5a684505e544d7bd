package dsl_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streamstest"
)

// benchLines returns n lines of 8 words drawn from a 1000-word vocabulary.
func benchLines(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	var sb strings.Builder
	for i := range out {
		sb.Reset()
		for j := range 8 {
			if j > 0 {
				sb.WriteByte(' ')
			}
			fmt.Fprintf(&sb, "w%d", r.IntN(1000))
		}
		out[i] = sb.String()
	}
	return out
}

// processorWordCount is the word count written with the Processor API: one
// processor splits lines and counts words in a key-value store, forwarding
// every new count. No repartition: the input is assumed keyed by word
// already, as in examples/wordcount-processor.
func processorWordCount(b *testing.B) *processor.Topology {
	top := processor.NewTopology()
	must(b, processor.AddSource(top, "lines", processor.SourceSpec[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()}))
	must(b, processor.AddProcessor(top, "count", func() processor.Processor[string, string, string, int64] { return &pcounter{} }, "lines"))
	must(b, top.AddStateStore(statestore.KeyValue("counts", serde.String(), serde.Int64()), "count"))
	must(b, processor.AddSink(top, "out", processor.SinkSpec[string, int64]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.Int64()}, "count"))
	return top
}

type pcounter struct {
	ctx    processor.Context[string, int64]
	counts statestore.KeyValueStore[string, int64]
}

func (c *pcounter) Init(ctx processor.Context[string, int64]) error {
	c.ctx = ctx
	var err error
	c.counts, err = processor.GetStore[statestore.KeyValueStore[string, int64]](ctx, "counts")
	return err
}

func (c *pcounter) Process(r processor.Record[string, string]) error {
	for _, w := range words(r.Value) {
		n, _, err := c.counts.Get(w)
		if err != nil {
			return err
		}
		n++
		if err := c.counts.Put(w, n); err != nil {
			return err
		}
		if err := c.ctx.Forward(processor.Record[string, int64]{Key: w, Value: n, Timestamp: r.Timestamp}); err != nil {
			return err
		}
	}
	return nil
}

func (c *pcounter) Close() error { return nil }

// BenchmarkWordCount runs the DSL word count (through its repartition
// topic, which the driver routes in memory) and the Processor API word count
// over the same lines with the test driver, committing every 1000 lines.
// records/s counts input lines; compare the two for the DSL's cost.
func BenchmarkWordCount(b *testing.B) {
	lines := benchLines(10_000)
	cases := []struct {
		name string
		top  func(b *testing.B) *processor.Topology
	}{
		{"processor-api", processorWordCount},
		{"dsl-cached", func(b *testing.B) *processor.Topology {
			top, err := wordCount("in", "out").Build()
			must(b, err)
			return top
		}},
		{"dsl-uncached", func(b *testing.B) *processor.Topology {
			bl := dsl.NewBuilder()
			ls := dsl.NewStream(bl, []string{"in"}, serde.String(), serde.String())
			dsl.ToStream(dsl.GroupBy(dsl.FlatMapValues(ls, words), func(_, w string) string { return w }, serde.String()).
				Count(dsl.StoreName("counts"), dsl.Caching(false))).To("out")
			top, err := bl.Build()
			must(b, err)
			return top
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			d, err := streamstest.New(tc.top(b), streamstest.Config{ManualCommit: true})
			must(b, err)
			defer d.Close()
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			out := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64())
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				must(b, in.PipeAt("", lines[i%len(lines)], int64(i)))
				if i%1000 == 999 {
					must(b, d.Commit())
					b.StopTimer()
					_, _ = out.ReadRecords() // drop the output so it does not pile up
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
