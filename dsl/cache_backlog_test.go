package dsl_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streamstest"
)

// TestCachedWindowsOnBacklogMatchUncached processes a backlog (many
// windows, stream time moving far past their retention) with the record
// cache on and no commit until the end. Kafka Streams' CachingWindowStore
// and CachingSessionStore flush a dirty entry whatever its window's
// retention (putAndMaybeForward logs and forwards it; only the segmented
// store below skips it), so caching changes how many intermediate updates
// go downstream, never which windows get a result or what their final value
// is: the last value per window equals the uncached run's (as Kafka's
// KStreamWindowAggregateTest.testAggBasic runs each case with and without
// caching and expects the same final aggregates). Sluice dropped those
// entries with the expired segment.
func TestCachedWindowsOnBacklogMatchUncached(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	type rec struct {
		k  string
		ts int64
	}
	var input []rec
	for i := range 3000 {
		input = append(input, rec{fmt.Sprint("k", rng.IntN(20)), int64(i)*97 + int64(rng.IntN(50))})
	}
	topologies := []struct {
		name  string
		build func(b *dsl.Builder, opts ...dsl.Option)
	}{
		{"tumbling count", func(b *dsl.Builder, opts ...dsl.Option) {
			c := dsl.WindowedBy(source(b).GroupByKey(), dsl.TumblingWindows(10*time.Second, 0)).Count(opts...)
			windowedOut(dsl.ChangeStream(c))
		}},
		{"hopping aggregate", func(b *dsl.Builder, opts ...dsl.Option) {
			w := dsl.TumblingWindows(10*time.Second, time.Second).AdvanceBy(3 * time.Second)
			a := dsl.WindowedAggregate(dsl.WindowedBy(source(b).GroupByKey(), w), func() int64 { return 0 },
				func(_ string, v string, agg int64) int64 { return agg + int64(len(v)) }, serde.Int64(), opts...)
			windowedOut(dsl.ChangeStream(a))
		}},
		{"windowed reduce", func(b *dsl.Builder, opts ...dsl.Option) {
			counted := dsl.MapValues(source(b), func(string) int64 { return 1 }).WithSerdes(serde.String(), serde.Int64())
			r := dsl.WindowedBy(counted.GroupByKey(), dsl.TumblingWindows(5*time.Second, 0)).
				Reduce(func(a, v int64) int64 { return a + v }, opts...)
			windowedOut(dsl.ChangeStream(r))
		}},
		{"session count", func(b *dsl.Builder, opts ...dsl.Option) {
			c := dsl.SessionWindowedBy(source(b).GroupByKey(), dsl.SessionWindowsWithGap(time.Second, 0)).Count(opts...)
			windowedOut(dsl.ChangeStream(c))
		}},
		{"suppressed count", func(b *dsl.Builder, opts ...dsl.Option) {
			c := dsl.WindowedBy(source(b).GroupByKey(), dsl.TumblingWindows(10*time.Second, 0)).Count(opts...)
			windowedOut(dsl.ChangeStream(dsl.SuppressUntilWindowCloses(c)))
		}},
	}
	run := func(t *testing.T, build func(*dsl.Builder, ...dsl.Option), caching, inMemory bool) map[string]int64 {
		b := dsl.NewBuilder()
		opts := []dsl.Option{dsl.Caching(caching)}
		cfg := streamstest.Config{ManualCommit: caching}
		if inMemory {
			opts = append(opts, dsl.InMemory())
		} else {
			eng, err := statestore.OpenPebble(statestore.PebbleOptions{Dir: t.TempDir(), ApplicationID: "backlog"})
			must(t, err)
			t.Cleanup(func() { eng.Close() })
			cfg.Engine = eng
		}
		build(b, opts...)
		d := buildDriver(t, b, cfg)
		in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
		for _, r := range input {
			must(t, in.PipeAt(r.k, "x", r.ts))
		}
		must(t, d.Commit())
		final, err := streamstest.ReadMap(streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()))
		must(t, err)
		for k, n := range final {
			if n < 0 { // the window's last change deleted it (merged sessions)
				delete(final, k)
			}
		}
		return final
	}
	for _, tp := range topologies {
		for _, inMemory := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/inMemory=%v", tp.name, inMemory), func(t *testing.T) {
				want := run(t, tp.build, false, inMemory)
				got := run(t, tp.build, true, inMemory)
				if len(want) < 100 {
					t.Fatalf("only %d windows without caching; the test needs a backlog of many", len(want))
				}
				if !maps.Equal(got, want) {
					missing := 0
					for k := range want {
						if _, ok := got[k]; !ok {
							missing++
						}
					}
					t.Errorf("cached run: %d windows (%d missing), uncached: %d; final values differ", len(got), missing, len(want))
				}
			})
		}
	}
}

// windowedOut writes a windowed change stream to "out" keyed by
// "key@start-end", a deletion as -1.
func windowedOut(s dsl.Stream[dsl.Windowed[string], dsl.Change[int64]]) {
	dsl.Map(s, func(k dsl.Windowed[string], c dsl.Change[int64]) (string, int64) {
		if !c.HasNew {
			return fmt.Sprintf("%s@%d-%d", k.Key, k.Start, k.End), -1
		}
		return fmt.Sprintf("%s@%d-%d", k.Key, k.Start, k.End), c.New
	}).WithSerdes(serde.String(), serde.Int64()).To("out")
}
