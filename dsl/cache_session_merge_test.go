package dsl_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// TestCachedSessionCountForwardsMergedSessionTombstone is the conformance
// case of a cached session count (gap 5 s, grace 5 s) on paced input: k6@4000,
// commit, k6@8000 and k1@80000, commit. The second k6 merges [4000,4000]
// into [4000,8000] in the cache, and k1 moves stream time far past both
// before the flush. Kafka Streams' segmented store advances its clock only
// when a write reaches it at the flush, so CachingSessionStore still finds
// the merged-away session and forwards its tombstone, as
// CachingPersistentSessionStoreTest.shouldForwardChangedValuesDuringFlush and
// shouldRemove expect; the output equals the uncached run's. Sluice advanced
// the clock at the cache write and dropped the tombstone.
func TestCachedSessionCountForwardsMergedSessionTombstone(t *testing.T) {
	want := []string{"k6@4000-4000=1", "k6@4000-4000=-1", "k6@4000-8000=2", "k1@80000-80000=1"}
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprint("caching=", caching), func(t *testing.T) {
			b := dsl.NewBuilder()
			c := dsl.SessionWindowedBy(source(b).GroupByKey(), dsl.SessionWindowsWithGap(5*time.Second, 5*time.Second)).
				Count(dsl.Caching(caching))
			windowedOut(dsl.ChangeStream(c))
			d := buildDriver(t, b, streamstest.Config{ManualCommit: caching})
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			must(t, in.PipeAt("k6", "x", 4000))
			must(t, d.Commit())
			must(t, in.PipeAt("k6", "x", 8000))
			must(t, in.PipeAt("k1", "x", 80000))
			must(t, d.Commit())
			kvs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadKeyValues()
			must(t, err)
			var got []string
			for _, kv := range kvs {
				got = append(got, fmt.Sprintf("%s=%d", kv.Key, kv.Value))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("output %v, want %v", got, want)
			}
		})
	}
}
