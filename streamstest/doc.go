// Package streamstest runs a processor.Topology (built with the Processor
// API or package dsl) with no broker, the counterpart of Kafka Streams'
// TopologyTestDriver. It runs records synchronously and deterministically
// through the same task code as the real runtime: typed input topics pipe
// keys, values and timestamps in; typed output topics read what sinks wrote;
// Store opens a task's state store for inspection; AdvanceWallClock moves a
// simulated clock for wall-clock punctuators.
//
// A complete test of the DSL word count:
//
//	func TestWordCount(t *testing.T) {
//		b := dsl.NewBuilder()
//		lines := dsl.NewStream(b, []string{"text"}, serde.String(), serde.String())
//		dsl.ToStream(dsl.GroupBy(dsl.FlatMapValues(lines, strings.Fields),
//			func(_, w string) string { return w }, serde.String()).
//			Count(dsl.StoreName("counts"))).To("word-counts")
//		top, err := b.Build()
//		if err != nil {
//			t.Fatal(err)
//		}
//		d, err := streamstest.New(top, streamstest.Config{})
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer d.Close()
//		in := streamstest.NewInputTopic(d, "text", serde.String(), serde.String())
//		out := streamstest.NewOutputTopic(d, "word-counts", serde.String(), serde.Int64())
//		for _, line := range []string{"a b", "b c", "b"} {
//			if err := in.Pipe("", line); err != nil {
//				t.Fatal(err)
//			}
//		}
//		got, err := streamstest.ReadMap(out)
//		if err != nil {
//			t.Fatal(err)
//		}
//		want := map[string]int64{"a": 1, "b": 3, "c": 1}
//		if !maps.Equal(got, want) {
//			t.Fatalf("counts %v, want %v", got, want)
//		}
//		counts, err := streamstest.Store[statestore.TimestampedKeyValueStore[string, int64]](d, "counts")
//		if err != nil {
//			t.Fatal(err)
//		}
//		if v, ok, _ := counts.Get("b"); !ok || v.Value != 3 {
//			t.Fatalf("store has b=%v", v)
//		}
//	}
//
// Every topic has one partition, so each sub-topology runs as one task.
// By default the driver commits after every piped record, which flushes the
// record caches: each input shows its effect on the output at once. With
// Config.ManualCommit a test controls commits and sees the merged updates a
// cached aggregation sends between two commits.
package streamstest
