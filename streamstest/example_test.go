package streamstest_test

import (
	"fmt"
	"strings"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// Example runs a Processor API topology that upper-cases values.
func Example() {
	top := processor.NewTopology()
	_ = processor.AddSource(top, "in", processor.SourceSpec[string, string]{
		Topics: []string{"text"}, KeySerde: serde.String(), ValueSerde: serde.String(),
	})
	_ = processor.AddProcessor(top, "upper", processor.Func(
		func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			return ctx.Forward(processor.WithValue(r, strings.ToUpper(r.Value)))
		}), "in")
	_ = processor.AddSink(top, "out", processor.SinkSpec[string, string]{
		Topic: "shouted", KeySerde: serde.String(), ValueSerde: serde.String(),
	}, "upper")

	d, err := streamstest.New(top, streamstest.Config{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "text", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "shouted", serde.String(), serde.String())
	_ = in.PipeAt("k1", "hello", 1000)
	_ = in.PipeAt("k2", "world", 2000)
	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Println(r.Key, r.Value, r.Timestamp)
	}
	// Output:
	// k1 HELLO 1000
	// k2 WORLD 2000
}
