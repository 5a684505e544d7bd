package streamstest_test

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streamstest"
	"github.com/sluicestreams/sluice/task"
)

// TestWordCount is the test shown in the package documentation.
func TestWordCount(t *testing.T) {
	b := dsl.NewBuilder()
	lines := dsl.NewStream(b, []string{"text"}, serde.String(), serde.String())
	dsl.ToStream(dsl.GroupBy(dsl.FlatMapValues(lines, strings.Fields),
		func(_, w string) string { return w }, serde.String()).
		Count(dsl.StoreName("counts"))).To("word-counts")
	top, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(top, streamstest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "text", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "word-counts", serde.String(), serde.Int64())
	for _, line := range []string{"a b", "b c", "b"} {
		if err := in.Pipe("", line); err != nil {
			t.Fatal(err)
		}
	}
	got, err := streamstest.ReadMap(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"a": 1, "b": 3, "c": 1}
	if !maps.Equal(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	counts, err := streamstest.Store[statestore.TimestampedKeyValueStore[string, int64]](d, "counts")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := counts.Get("b"); !ok || v.Value != 3 {
		t.Fatalf("store has b=%v", v)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tickerTopology forwards, on every wall-clock punctuation, how many records
// it saw since the last one.
func tickerTopology(t *testing.T) *processor.Topology {
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.String()}))
	must(t, processor.AddProcessor(top, "tick", func() processor.Processor[string, string, string, int64] { return &ticker{} }, "src"))
	must(t, processor.AddSink(top, "out", processor.SinkSpec[string, int64]{Topic: "ticks", KeySerde: serde.String(), ValueSerde: serde.Int64()}, "tick"))
	return top
}

type ticker struct {
	ctx  processor.Context[string, int64]
	seen int64
}

func (p *ticker) Init(ctx processor.Context[string, int64]) error {
	p.ctx = ctx
	ctx.Schedule(10*time.Second, processor.WallClockTime, func(ts int64) error {
		n := p.seen
		p.seen = 0
		return ctx.Forward(processor.Record[string, int64]{Key: "tick", Value: n, Timestamp: ts})
	})
	return nil
}
func (p *ticker) Process(processor.Record[string, string]) error { p.seen++; return nil }
func (p *ticker) Close() error                                   { return nil }

func TestWallClockPunctuation(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	d, err := streamstest.New(tickerTopology(t), streamstest.Config{WallClock: start})
	must(t, err)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "ticks", serde.String(), serde.Int64())
	must(t, in.Pipe("k", "1"))
	must(t, in.Pipe("k", "2"))
	must(t, d.AdvanceWallClock(9*time.Second))
	if out.Len() != 0 {
		t.Fatalf("punctuated before the interval: %d records", out.Len())
	}
	must(t, d.AdvanceWallClock(time.Second))
	must(t, in.Pipe("k", "3"))
	// 25 s more: missed intervals are skipped, so one punctuation.
	must(t, d.AdvanceWallClock(25*time.Second))
	recs, err := out.ReadRecords()
	must(t, err)
	if len(recs) != 2 || recs[0].Value != 2 || recs[1].Value != 1 {
		t.Fatalf("ticks %+v, want values 2 then 1", recs)
	}
	if want := start.Add(10 * time.Second).UnixMilli(); recs[0].Timestamp != want {
		t.Fatalf("first tick at %d, want %d", recs[0].Timestamp, want)
	}
	if got := d.WallClock(); !got.Equal(start.Add(35 * time.Second)) {
		t.Fatalf("wall clock %v", got)
	}
	if err := d.AdvanceWallClock(-time.Second); err == nil {
		t.Fatal("AdvanceWallClock went back")
	}
}

// TestManualCommitMergesCachedUpdates shows the record cache at work: with
// commits under the test's control, several updates of one key between
// commits reach the output as one.
func TestManualCommitMergesCachedUpdates(t *testing.T) {
	build := func(caching bool) *processor.Topology {
		b := dsl.NewBuilder()
		dsl.ToStream(dsl.NewStream(b, []string{"in"}, serde.String(), serde.String()).
			GroupByKey().Count(dsl.Caching(caching))).To("out")
		top, err := b.Build()
		must(t, err)
		return top
	}
	for _, tc := range []struct {
		caching bool
		want    []int64
	}{
		{caching: true, want: []int64{3, 5}},
		{caching: false, want: []int64{1, 2, 3, 4, 5}},
	} {
		t.Run(fmt.Sprint("caching=", tc.caching), func(t *testing.T) {
			d, err := streamstest.New(build(tc.caching), streamstest.Config{ManualCommit: true})
			must(t, err)
			defer d.Close()
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			out := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64())
			for i := range 5 {
				must(t, in.PipeAt("k", "v", int64(i)))
				if i == 2 {
					must(t, d.Commit())
				}
			}
			must(t, d.Commit())
			recs, err := out.ReadRecords()
			must(t, err)
			var got []int64
			for _, r := range recs {
				got = append(got, r.Value)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("updates %v, want %v", got, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	d, err := streamstest.New(tickerTopology(t), streamstest.Config{})
	must(t, err)
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	if err := streamstest.NewInputTopic(d, "nope", serde.String(), serde.String()).Pipe("k", "v"); err == nil {
		t.Fatal("piping to a topic nobody reads did not fail")
	}
	if _, err := streamstest.Store[statestore.KeyValueStore[string, int64]](d, "missing"); err == nil {
		t.Fatal("missing store found")
	}
	if _, err := streamstest.NewOutputTopic(d, "ticks", serde.String(), serde.Int64()).ReadRecord(); !errors.Is(err, streamstest.ErrNoRecord) {
		t.Fatalf("read of an empty topic: %v", err)
	}
	must(t, d.Close())
	must(t, d.Close())
	if err := in.Pipe("k", "v"); !errors.Is(err, streamstest.ErrClosed) {
		t.Fatalf("pipe after close: %v", err)
	}
}

// TestProcessingErrorNamesRecord: an error in a processor comes back from
// Pipe as a task error naming the topic and offset, and the driver goes on.
func TestProcessingErrorNamesRecord(t *testing.T) {
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, int64]{Topics: []string{"in"}, KeySerde: serde.String(), ValueSerde: serde.Int64()}))
	must(t, processor.AddProcessor(top, "fail-odd", processor.Func(func(ctx processor.Context[string, int64], r processor.Record[string, int64]) error {
		if r.Value%2 == 1 {
			return errors.New("odd")
		}
		return ctx.Forward(r)
	}), "src"))
	must(t, processor.AddSink(top, "out", processor.SinkSpec[string, int64]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.Int64()}, "fail-odd"))
	d, err := streamstest.New(top, streamstest.Config{})
	must(t, err)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
	must(t, in.Pipe("a", 2))
	err = in.Pipe("b", 3)
	var te *task.Error
	if !errors.As(err, &te) || te.Topic != "in" || te.Offset != 1 {
		t.Fatalf("error %v, want a task error at in@1", err)
	}
	if err := in.PipeRaw([]byte("c"), []byte{1, 2}, nil, 0); err == nil || !strings.Contains(err.Error(), "deserialize") {
		t.Fatalf("bad bytes: %v", err)
	}
	must(t, in.Pipe("d", 4))
	kvs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadKeyValues()
	must(t, err)
	if fmt.Sprint(kvs) != "[{a 2} {d 4}]" {
		t.Fatalf("output %v", kvs)
	}
}

// TestPersistentEngine runs stores on a pebble engine.
func TestPersistentEngine(t *testing.T) {
	eng, err := statestore.OpenPebble(statestore.PebbleOptions{Dir: t.TempDir(), ApplicationID: "pebble-test"})
	must(t, err)
	defer eng.Close()
	b := dsl.NewBuilder()
	dsl.NewStream(b, []string{"in"}, serde.String(), serde.String()).GroupByKey().Count(dsl.StoreName("c"))
	top, err := b.Build()
	must(t, err)
	d, err := streamstest.New(top, streamstest.Config{Engine: eng})
	must(t, err)
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for range 3 {
		must(t, in.Pipe("k", "v"))
	}
	s, err := streamstest.Store[statestore.TimestampedKeyValueStore[string, int64]](d, "c")
	must(t, err)
	if v, ok, err := s.Get("k"); err != nil || !ok || v.Value != 3 {
		t.Fatalf("count %v %v %v", v, ok, err)
	}
	must(t, d.Close())
}

// TestNullsPassThroughSinks: a null value (and a null key) read by a source
// is written as null by a sink whose serde encodes it so (serde.Bytes),
// while an empty value stays an empty value.
func TestNullsPassThroughSinks(t *testing.T) {
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[[]byte, []byte]{Topics: []string{"in"}, KeySerde: serde.Bytes(), ValueSerde: serde.Bytes()}))
	must(t, processor.AddSink(top, "out", processor.SinkSpec[[]byte, []byte]{Topic: "out", KeySerde: serde.Bytes(), ValueSerde: serde.Bytes()}, "src"))
	d, err := streamstest.New(top, streamstest.Config{})
	must(t, err)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.Bytes(), serde.Bytes())
	must(t, in.PipeTombstone([]byte("k"), 1))
	must(t, in.PipeAt([]byte("k"), []byte{}, 2))
	must(t, in.PipeRaw(nil, []byte("v"), nil, 3))
	recs, err := streamstest.NewOutputTopic(d, "out", serde.Bytes(), serde.Bytes()).ReadRecords()
	must(t, err)
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	if !recs[0].Tombstone || string(recs[0].Key) != "k" {
		t.Errorf("tombstone came out as %+v", recs[0])
	}
	if recs[1].Tombstone || recs[1].Value == nil || len(recs[1].Value) != 0 {
		t.Errorf("empty value came out as %+v", recs[1])
	}
	if recs[2].Key != nil || string(recs[2].Value) != "v" {
		t.Errorf("null key came out as %+v", recs[2])
	}
}
