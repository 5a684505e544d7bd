package dsl_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streamstest"
)

// TestSuppressUntilWindowCloses: a windowed count sends each window once,
// with its final count, when stream time passes its end plus grace, in end
// order; windows still open send nothing and stay in the buffer.
func TestSuppressUntilWindowCloses(t *testing.T) {
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprint("caching=", caching), func(t *testing.T) {
			b := dsl.NewBuilder()
			counts := dsl.WindowedBy(source(b).GroupByKey(), dsl.TumblingWindows(10*time.Second, 2*time.Second)).
				Count(dsl.StoreName("counts"), dsl.Caching(caching))
			final := dsl.SuppressUntilWindowCloses(counts, dsl.StoreName("final-counts"))
			dsl.Map(dsl.NonNull(dsl.ToStream(final)), func(k dsl.Windowed[string], n int64) (string, int64) {
				return fmt.Sprintf("%s@%d", k.Key, k.Start), n
			}).WithSerdes(serde.String(), serde.Int64()).To("out")
			d := buildDriver(t, b, streamstest.Config{})
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			pipe := func(k string, ts int64) { must(t, in.PipeAt(k, "x", ts)) }
			pipe("a", 1000)
			pipe("a", 2000)
			pipe("b", 3000)
			pipe("a", 11000) // stream time 11000 - grace 2000 < the first window's end
			if got := readText(t, d); len(got) != 0 {
				t.Fatalf("output before any window closed: %v", got)
			}
			pipe("b", 12500) // closes [0, 10000)
			pipe("a", 11500) // within grace of nothing closed yet: counts in [10000, 20000)
			pipe("c", 25000) // closes [10000, 20000)
			want := "a@0=2 b@0=1 a@10000=2 b@10000=1"
			if got := strings.Join(readText(t, d), " "); got != want {
				t.Errorf("output\n got %s\nwant %s", got, want)
			}
			buf, err := streamstest.Store[statestore.KeyValueStore[[]byte, []byte]](d, "final-counts")
			must(t, err)
			if n, err := buf.ApproximateNumEntries(); err != nil || n != 1 {
				t.Errorf("buffer holds %d entries (%v), want c's open window only", n, err)
			}
		})
	}
}

// TestSuppressEmitsLatestChange: the emitted change is the latest buffered
// one, its old value included, as Kafka Streams'
// InMemoryTimeOrderedKeyValueChangeBuffer.evictWhile evicts (new value, old
// value) of the last put and keeps the prior value for the value getter
// only (TimeOrderedKeyValueBufferTest shouldRestoreV3Format: "zxcv" evicts
// Change("next", "3o4im"), not its prior value "previous").
func TestSuppressEmitsLatestChange(t *testing.T) {
	b := dsl.NewBuilder()
	counts := dsl.WindowedBy(source(b).GroupByKey(), dsl.TumblingWindows(10*time.Second, 0)).Count(dsl.Caching(false))
	final := dsl.SuppressUntilWindowCloses(counts)
	dsl.Map(dsl.ChangeStream(final), func(k dsl.Windowed[string], c dsl.Change[int64]) (string, string) {
		return k.Key, fmt.Sprintf("new=%d(%v) old=%d(%v)", c.New, c.HasNew, c.Old, c.HasOld)
	}).WithSerdes(serde.String(), serde.String()).To("changes")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, ts := range []int64{1, 2, 3, 10_000} {
		must(t, in.PipeAt("k", "x", ts))
	}
	kvs, err := streamstest.NewOutputTopic(d, "changes", serde.String(), serde.String()).ReadKeyValues()
	must(t, err)
	if fmt.Sprint(kvs) != "[{k new=3(true) old=2(true)}]" {
		t.Errorf("changes %v", kvs)
	}
}

func TestSuppressNeedsWindowedTable(t *testing.T) {
	b := dsl.NewBuilder()
	// A table keyed by Windowed but not from a windowed aggregation.
	keyed := dsl.NewTable(b, "w", dsl.TimeWindowedSerde(serde.String(), time.Second), serde.String())
	dsl.SuppressUntilWindowCloses(keyed)
	_, err := b.Build()
	if err == nil || !errors.Is(err, processor.ErrInvalidTopology) || !strings.Contains(err.Error(), "not the table of a windowed aggregation") {
		t.Fatalf("error %v", err)
	}
}

// TestSuppressWithCachedAggregation: with a cached aggregation the changes
// reach the suppression when the cache flushes, after the task's stream
// time has moved on; windows close by the time of the changes that arrived,
// so a window is emitted once, with its final value.
func TestSuppressWithCachedAggregation(t *testing.T) {
	b := dsl.NewBuilder()
	counts := dsl.WindowedBy(source(b).GroupByKey(), dsl.TumblingWindows(10*time.Second, 0)).Count(dsl.Caching(true))
	dsl.Map(dsl.NonNull(dsl.ToStream(dsl.SuppressUntilWindowCloses(counts))), func(k dsl.Windowed[string], n int64) (string, int64) {
		return fmt.Sprintf("%s@%d", k.Key, k.Start), n
	}).WithSerdes(serde.String(), serde.Int64()).To("out")
	d := buildDriver(t, b, streamstest.Config{ManualCommit: true})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeAt("a", "x", 5000))
	must(t, d.Commit())
	for _, kt := range []struct {
		k  string
		ts int64
	}{{"c", 8000}, {"a", 9000}, {"b", 10000}} {
		must(t, in.PipeAt(kt.k, "x", kt.ts))
	}
	must(t, d.Commit())
	must(t, in.PipeAt("z", "x", 30000))
	must(t, d.Commit())
	got := readText(t, d)
	sort.Strings(got)
	if fmt.Sprint(got) != "[a@0=2 b@10000=1 c@0=1]" {
		t.Errorf("output %v, want each closed window once with its final count", got)
	}
}

// TestSuppressDropsDeletedWindows: a window whose last change is a deletion
// (filtered out upstream) has no final result.
func TestSuppressDropsDeletedWindows(t *testing.T) {
	b := dsl.NewBuilder()
	counts := dsl.WindowedBy(source(b).GroupByKey(), dsl.TumblingWindows(10*time.Second, 0)).Count(dsl.Caching(false))
	small := counts.Filter(func(_ dsl.Windowed[string], n int64) bool { return n < 2 })
	dsl.Map(dsl.ChangeStream(dsl.SuppressUntilWindowCloses(small)), func(k dsl.Windowed[string], c dsl.Change[int64]) (string, string) {
		return k.Key, fmt.Sprintf("new=%d(%v)", c.New, c.HasNew)
	}).WithSerdes(serde.String(), serde.String()).To("changes")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, kt := range []struct {
		k  string
		ts int64
	}{{"k", 1}, {"k", 2}, {"j", 3}, {"z", 10_000}} {
		must(t, in.PipeAt(kt.k, "x", kt.ts))
	}
	kvs, err := streamstest.NewOutputTopic(d, "changes", serde.String(), serde.String()).ReadKeyValues()
	must(t, err)
	if fmt.Sprint(kvs) != "[{j new=1(true)}]" {
		t.Errorf("changes %v, want only j's window (k's ended filtered out)", kvs)
	}
}

// TestSuppressStoreNames follows SuppressTopologyTest
// shouldApplyNameToFinalSuppressionNode and
// shouldUseNumberingForAnonymousFinalSuppressionNode: a named suppression's
// buffer is "<name>-store" (so its changelog does not move when the
// topology changes), an anonymous one KTABLE-SUPPRESS-STATE-STORE-<index>
// after the KTABLE-SUPPRESS-<index> node.
func TestSuppressStoreNames(t *testing.T) {
	for _, c := range []struct {
		opts []dsl.Option
		want string
	}{
		{[]dsl.Option{dsl.Named("myname")}, "Processor: myname (stores: [myname-store])"},
		{nil, "Processor: KTABLE-SUPPRESS-0000000002 (stores: [KTABLE-SUPPRESS-STATE-STORE-0000000003])"},
	} {
		b := dsl.NewBuilder()
		counts := dsl.SessionWindowedBy(source(b).GroupByKey(), dsl.SessionWindowsWithGap(5*time.Millisecond, 5*time.Millisecond)).
			Count(dsl.StoreName("counts"), dsl.Caching(false))
		dsl.ToStream(dsl.SuppressUntilWindowCloses(counts, c.opts...)).To("out")
		top, err := b.Build()
		must(t, err)
		if d := top.Describe(); !strings.Contains(d, c.want) {
			t.Errorf("describe has no %q:\n%s", c.want, d)
		}
	}
}

// TestSuppressBufferRestored: the buffer's store holds Kafka's changelog
// layout (the serialized windowed key => the buffered change, ending with
// the window end as buffer time), and a suppression started over the same
// state (a restart, or a restore from the changelog) rebuilds its eviction
// order from it and emits what was buffered before.
func TestSuppressBufferRestored(t *testing.T) {
	eng, err := statestore.OpenPebble(statestore.PebbleOptions{Dir: t.TempDir(), ApplicationID: "suppress-restore"})
	must(t, err)
	defer eng.Close()
	build := func() *processor.Topology {
		b := dsl.NewBuilder()
		counts := dsl.WindowedBy(source(b).GroupByKey(), dsl.TumblingWindows(10*time.Millisecond, 0)).
			Count(dsl.StoreName("counts"), dsl.Caching(false))
		dsl.Map(dsl.NonNull(dsl.ToStream(dsl.SuppressUntilWindowCloses(counts, dsl.Named("final")))),
			func(k dsl.Windowed[string], n int64) (string, int64) { return fmt.Sprintf("%s@%d", k.Key, k.Start), n }).
			WithSerdes(serde.String(), serde.Int64()).To("out")
		top, err := b.Build()
		must(t, err)
		return top
	}
	d, err := streamstest.New(build(), streamstest.Config{Engine: eng})
	must(t, err)
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	pipeKeyTimes(t, in, []keyTime{{"b", 1}, {"a", 2}, {"a", 3}, {"c", 9}})
	if got := readText(t, d); len(got) != 0 {
		t.Fatalf("emitted before any window closed: %v", got)
	}
	buf, err := streamstest.Store[statestore.KeyValueStore[[]byte, []byte]](d, "final-store")
	must(t, err)
	key, err := dsl.TimeWindowedSerde(serde.String(), 10*time.Millisecond).Serialize("", dsl.Windowed[string]{Key: "a", Start: 0, End: 10})
	must(t, err)
	v, ok, err := buf.Get(key)
	must(t, err)
	if !ok || len(v) < 8 || fmt.Sprintf("%x", v[len(v)-8:]) != "000000000000000a" || fmt.Sprintf("%x", v[:8]) != "0000000000000003" {
		t.Errorf("buffered a@0 = %x (%v): want the record timestamp 3 first and the window end 10 last", v, ok)
	}
	must(t, d.Close())

	d, err = streamstest.New(build(), streamstest.Config{Engine: eng})
	must(t, err)
	defer d.Close()
	must(t, streamstest.NewInputTopic(d, "in", serde.String(), serde.String()).PipeAt("c", "x", 25))
	if got := strings.Join(readText(t, d), " "); got != "a@0=2 b@0=1 c@0=1" {
		t.Errorf("after the restart: %s, want the windows buffered before it, in (end, key) order", got)
	}
}
