package dsl_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streamstest"
)

// windowedCounts builds in -> groupByKey -> windowedBy(w) -> count -> out,
// with the output keyed by "key@start-end" so a test can read it as text.
func windowedCounts(t *testing.T, w dsl.TimeWindows, cfg streamstest.Config, opts ...dsl.Option) *streamstest.Driver {
	t.Helper()
	b := dsl.NewBuilder()
	counts := dsl.WindowedBy(source(b).GroupByKey(), w).Count(append([]dsl.Option{dsl.StoreName("wc")}, opts...)...)
	dsl.Map(dsl.NonNull(dsl.ToStream(counts)), func(k dsl.Windowed[string], n int64) (string, int64) {
		return fmt.Sprintf("%s@%d-%d", k.Key, k.Start, k.End), n
	}).WithSerdes(serde.String(), serde.Int64()).To("out")
	return buildDriver(t, b, cfg)
}

// buildDriver builds b and runs it in a test driver closed with the test.
func buildDriver(t *testing.T, b *dsl.Builder, cfg streamstest.Config) *streamstest.Driver {
	t.Helper()
	top, err := b.Build()
	must(t, err)
	d, err := streamstest.New(top, cfg)
	must(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

func readText(t *testing.T, d *streamstest.Driver) []string {
	t.Helper()
	recs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadRecords()
	must(t, err)
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%s=%d", r.Key, r.Value))
	}
	return out
}

// TestTumblingWindowCount: records count in the window holding their
// timestamp; a record later than the grace period after its window's end is
// dropped (and counted as dropped), one within grace is counted.
func TestTumblingWindowCount(t *testing.T) {
	for _, grace := range []time.Duration{0, 5 * time.Second} {
		t.Run(fmt.Sprint("grace=", grace), func(t *testing.T) {
			d := windowedCounts(t, dsl.TumblingWindows(10*time.Second, grace), streamstest.Config{}, dsl.Caching(false))
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			for _, ts := range []int64{1000, 5000, 12000, 3000} {
				must(t, in.PipeAt("a", "x", ts))
			}
			must(t, in.PipeAt("b", "x", 19999))
			got := strings.Join(readText(t, d), " ")
			want := "a@0-10000=1 a@0-10000=2 a@10000-20000=1"
			if grace > 0 {
				// Stream time 12000 - grace 5000 = 7000 < the window's end 10000.
				want += " a@0-10000=3"
			}
			want += " b@10000-20000=1"
			if got != want {
				t.Errorf("output\n got %s\nwant %s", got, want)
			}
			dropped := d.DroppedRecords()["expired-window"]
			if wantDropped := map[bool]int64{true: 1, false: 0}[grace == 0]; dropped != wantDropped {
				t.Errorf("dropped %d records as expired-window, want %d", dropped, wantDropped)
			}
			s, err := streamstest.Store[statestore.WindowStore[string, statestore.ValueAndTimestamp[int64]]](d, "wc")
			must(t, err)
			v, ok, err := s.Get("a", 10000)
			must(t, err)
			if !ok || v.Value != 1 || v.Timestamp != 12000 {
				t.Errorf("store a@10000: %+v %v; want count 1 at the window's largest timestamp 12000", v, ok)
			}
		})
	}
}

// TestHoppingWindowsMatchBruteForce: with overlapping windows every record
// counts in each window whose [start, end) holds it; the final counts equal
// a brute-force count over random input, with and without caching.
func TestHoppingWindowsMatchBruteForce(t *testing.T) {
	const size, advance = 10_000, 3_000
	rng := rand.New(rand.NewPCG(7, 8))
	type rec struct {
		key string
		ts  int64
	}
	var input []rec
	want := map[string]int64{}
	for i := range 400 {
		r := rec{key: fmt.Sprint("k", rng.IntN(5)), ts: int64(i*50 + rng.IntN(40))}
		input = append(input, r)
		for start := int64(0); start <= r.ts; start += advance {
			if r.ts < start+size {
				want[fmt.Sprintf("%s@%d-%d", r.key, start, start+size)]++
			}
		}
	}
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprint("caching=", caching), func(t *testing.T) {
			d := windowedCounts(t, dsl.TumblingWindows(size*time.Millisecond, time.Hour).AdvanceBy(advance*time.Millisecond),
				streamstest.Config{ManualCommit: caching}, dsl.Caching(caching))
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			for i, r := range input {
				must(t, in.PipeAt(r.key, "x", r.ts))
				if caching && i%37 == 0 {
					must(t, d.Commit())
				}
			}
			must(t, d.Commit())
			lines := readText(t, d)
			got := map[string]int64{}
			for _, l := range lines {
				k, v, _ := strings.Cut(l, "=")
				var n int64
				fmt.Sscan(v, &n)
				got[k] = n
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("final counts differ from the brute-force count:\n got %v\nwant %v", got, want)
			}
			var total int64
			for _, n := range want {
				total += n
			}
			if !caching && int64(len(lines)) != total {
				t.Errorf("%d updates without caching; want one per record and window, %d", len(lines), total)
			}
			if caching && len(lines) >= len(input) {
				t.Errorf("caching sent %d updates for %d records; want them merged between commits", len(lines), len(input))
			}
		})
	}
}

// TestWindowedReduceAggregateAndSerde: Reduce and WindowedAggregate per
// window, written with the table's windowed key serde (the key's bytes,
// then the 8-byte big-endian window start, as Kafka Streams writes them).
func TestWindowedReduceAggregateAndSerde(t *testing.T) {
	b := dsl.NewBuilder()
	wg := dsl.WindowedBy(source(b).GroupByKey(), dsl.TumblingWindows(time.Minute, 0))
	dsl.ToStream(wg.Reduce(func(agg, v string) string { return agg + v }, dsl.StoreName("r"), dsl.Caching(false))).To("joined")
	dsl.ToStream(dsl.WindowedAggregate(wg, func() int64 { return 0 }, func(_ string, v string, agg int64) int64 { return agg + int64(len(v)) },
		serde.Int64(), dsl.StoreName("len"), dsl.Caching(false), dsl.Retention(time.Hour))).To("lengths")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeAt("k", "ab", 60_000))
	must(t, in.PipeAt("k", "c", 119_999))
	must(t, in.PipeAt("k", "d", 120_000))
	ks := dsl.TimeWindowedSerde(serde.String(), time.Minute)
	joined, err := streamstest.NewOutputTopic(d, "joined", ks, serde.String()).ReadKeyValues()
	must(t, err)
	if fmt.Sprint(joined) != "[{{k 60000 120000} ab} {{k 60000 120000} abc} {{k 120000 180000} d}]" {
		t.Errorf("reduce output %v", joined)
	}
	lengths, err := streamstest.NewOutputTopic(d, "lengths", ks, serde.Int64()).ReadKeyValues()
	must(t, err)
	if fmt.Sprint(lengths) != "[{{k 60000 120000} 2} {{k 60000 120000} 3} {{k 120000 180000} 1}]" {
		t.Errorf("aggregate output %v", lengths)
	}
	raw, err := ks.Serialize("t", dsl.Windowed[string]{Key: "k", Start: 60000, End: 120000})
	must(t, err)
	if fmt.Sprintf("%x", raw) != "6b000000000000ea60" {
		t.Errorf("windowed key bytes %x, want the key then the start as 8 bytes big-endian", raw)
	}
	if _, err := ks.Deserialize("t", []byte{1, 2}); err == nil || !strings.Contains(err.Error(), "8-byte window start") {
		t.Errorf("short windowed key: %v", err)
	}
}

func TestWindowBuildErrors(t *testing.T) {
	for _, c := range []struct {
		w    dsl.TimeWindows
		opts []dsl.Option
		want string
	}{
		{dsl.TumblingWindows(0, 0), nil, "window size"},
		{dsl.TumblingWindows(time.Second, 0).AdvanceBy(2 * time.Second), nil, "advance"},
		{dsl.TumblingWindows(time.Second, -time.Second), nil, "grace"},
		{dsl.TumblingWindows(time.Minute, time.Minute), []dsl.Option{dsl.Retention(time.Minute)}, "retention"},
	} {
		b := dsl.NewBuilder()
		dsl.WindowedBy(source(b).GroupByKey(), c.w).Count(c.opts...)
		_, err := b.Build()
		if err == nil || !errors.Is(err, processor.ErrInvalidTopology) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one naming %q", c.w, err, c.want)
		}
	}
}
