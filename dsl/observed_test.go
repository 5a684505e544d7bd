package dsl_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// TestCloseByObservedTime: Kafka's KStreamWindowAggregate and
// KStreamSessionWindowAggregate close windows by their own
// observedStreamTime (the largest timestamp of the records that reached
// them: AbstractKStreamTimeWindowAggregateProcessor,
// KStreamSessionWindowAggregateProcessor, where a session closes at end +
// gap + grace of it), not by the task's stream time, which a record
// filtered out upstream moved.
func TestCloseByObservedTime(t *testing.T) {
	cases := []struct {
		name   string
		count  func(g dsl.Grouped[string, string]) dsl.Table[dsl.Windowed[string], int64]
		lateTS int64
		want   string
	}{
		{"tumbling", func(g dsl.Grouped[string, string]) dsl.Table[dsl.Windowed[string], int64] {
			return dsl.WindowedBy(g, dsl.TumblingWindows(10*time.Second, 0)).Count(dsl.Caching(false))
		}, 3000, "a@0-10000=1 a@0-10000=2"},
		{"session", func(g dsl.Grouped[string, string]) dsl.Table[dsl.Windowed[string], int64] {
			return dsl.SessionWindowedBy(g, dsl.SessionWindowsWithGap(time.Second, 0)).Count(dsl.Caching(false))
		}, 1500, "a@1000-1000=1 a@1000-1500=2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := dsl.NewBuilder()
			s := source(b).Filter(func(_, v string) bool { return v != "skip" })
			dsl.Map(dsl.NonNull(dsl.ToStream(tc.count(s.GroupByKey()))), func(k dsl.Windowed[string], n int64) (string, int64) {
				return fmt.Sprintf("%s@%d-%d", k.Key, k.Start, k.End), n
			}).WithSerdes(serde.String(), serde.Int64()).To("out")
			d := buildDriver(t, b, streamstest.Config{})
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			must(t, in.PipeAt("a", "x", 1000))
			must(t, in.PipeAt("a", "skip", 20000))
			must(t, in.PipeAt("a", "x", tc.lateTS))
			if got := strings.Join(readText(t, d), " "); got != tc.want {
				t.Errorf("got %s want %s", got, tc.want)
			}
		})
	}
}

// Kafka's windowed reduce (reduceInitializer null, aggregatorFromReducer:
// agg == null ? value : reducer(agg, value)) stores null for a window whose
// first value is null: the window is deleted/tombstoned, and the next value
// starts it afresh.
func TestWindowedReduceNullFirstValue(t *testing.T) {
	b := dsl.NewBuilder()
	red := dsl.WindowedBy(source(b).GroupByKey(), dsl.TumblingWindows(10*time.Second, 0)).Reduce(func(a, v string) string { return a + "|" + v }, dsl.Caching(false))
	dsl.Map(dsl.ToStream(red), func(k dsl.Windowed[string], n dsl.Nullable[string]) (string, dsl.Nullable[string]) {
		return fmt.Sprintf("%s@%d-%d", k.Key, k.Start, k.End), n
	}).WithSerdes(serde.String(), dsl.NullableSerde(serde.String())).To("out")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeTombstone("a", 1000))
	must(t, in.PipeAt("a", "x", 2000))
	recs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadRecords()
	must(t, err)
	var got []string
	for _, r := range recs {
		v := r.Value
		if r.Tombstone {
			v = "<nil>"
		}
		got = append(got, r.Key+"="+v)
	}
	if g, want := strings.Join(got, " "), "a@0-10000=<nil> a@0-10000=x"; g != want {
		t.Errorf("got %s want %s", g, want)
	}
}
