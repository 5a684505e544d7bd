package dsl_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// TestSessionWindowCount: records within the gap join a session, a record
// bridging two sessions merges them (the two are deleted, the merged one
// added), a record too late for its closed session is dropped.
func TestSessionWindowCount(t *testing.T) {
	b := dsl.NewBuilder()
	counts := dsl.SessionWindowedBy(source(b).GroupByKey(), dsl.SessionWindowsWithGap(5*time.Second, 10*time.Second)).
		Count(dsl.StoreName("sessions"), dsl.Caching(false))
	dsl.Map(dsl.ChangeStream(counts), func(k dsl.Windowed[string], c dsl.Change[int64]) (string, string) {
		if !c.HasNew {
			return fmt.Sprintf("%s[%d,%d]", k.Key, k.Start, k.End), "deleted"
		}
		return fmt.Sprintf("%s[%d,%d]", k.Key, k.Start, k.End), fmt.Sprint(c.New)
	}).WithSerdes(serde.String(), serde.String()).To("out")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, ts := range []int64{0, 3000, 20000, 11000, 16000, 60000, 1000} {
		must(t, in.PipeAt("u", "x", ts))
	}
	kvs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadKeyValues()
	must(t, err)
	var got []string
	for _, kv := range kvs {
		got = append(got, kv.Key+"="+kv.Value)
	}
	want := []string{
		"u[0,0]=1", "u[0,0]=deleted", "u[0,3000]=2", // 3000 extends the first session
		"u[20000,20000]=1",                                                     // a new session
		"u[11000,11000]=1",                                                     // 11000 is more than 5s from both
		"u[11000,11000]=deleted", "u[20000,20000]=deleted", "u[11000,20000]=3", // 16000 bridges them
		"u[60000,60000]=1", // stream time 60000: sessions ending before 50000 are closed
	}
	if g := strings.Join(got, " "); g != strings.Join(want, " ") {
		t.Errorf("output\n got %s\nwant %s", g, strings.Join(want, " "))
	}
	if n := d.DroppedRecords()["expired-window"]; n != 1 {
		t.Errorf("dropped %d late records, want 1 (the record at 1000 after stream time 60000)", n)
	}
	ks := dsl.SessionWindowedSerde(serde.String())
	raw, err := ks.Serialize("t", dsl.Windowed[string]{Key: "u", Start: 1, End: 2})
	must(t, err)
	if fmt.Sprintf("%x", raw) != "7500000000000000020000000000000001" {
		t.Errorf("session key bytes %x, want key, end, start", raw)
	}
	back, err := ks.Deserialize("t", raw)
	if err != nil || back != (dsl.Windowed[string]{Key: "u", Start: 1, End: 2}) {
		t.Errorf("round trip %+v %v", back, err)
	}
}

// TestSessionsMatchBruteForce: with random out-of-order input inside the
// grace period, the sessions left in the table (and their counts) are the
// maximal runs of a key's timestamps no more than the gap apart, with and
// without caching.
func TestSessionsMatchBruteForce(t *testing.T) {
	const gap = 1000
	rng := rand.New(rand.NewPCG(11, 12))
	byKey := map[string][]int64{}
	type rec struct {
		k  string
		ts int64
	}
	var input []rec
	for i := range 300 {
		r := rec{fmt.Sprint("k", rng.IntN(3)), int64(i*300 + rng.IntN(2000))}
		input = append(input, r)
		byKey[r.k] = append(byKey[r.k], r.ts)
	}
	want := map[string]int64{}
	for k, tss := range byKey {
		slices.Sort(tss)
		start, n := tss[0], int64(1)
		for i := 1; i <= len(tss); i++ {
			if i == len(tss) || tss[i]-tss[i-1] > gap {
				want[fmt.Sprintf("%s[%d,%d]", k, start, tss[i-1])] = n
				if i < len(tss) {
					start, n = tss[i], 0
				}
			}
			n++
		}
	}
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprint("caching=", caching), func(t *testing.T) {
			b := dsl.NewBuilder()
			counts := dsl.SessionWindowedBy(source(b).GroupByKey(), dsl.SessionWindowsWithGap(gap*time.Millisecond, time.Hour)).
				Count(dsl.Caching(caching))
			dsl.Map(dsl.ChangeStream(counts), func(k dsl.Windowed[string], c dsl.Change[int64]) (string, int64) {
				if !c.HasNew {
					return fmt.Sprintf("%s[%d,%d]", k.Key, k.Start, k.End), -1
				}
				return fmt.Sprintf("%s[%d,%d]", k.Key, k.Start, k.End), c.New
			}).WithSerdes(serde.String(), serde.Int64()).To("out")
			d := buildDriver(t, b, streamstest.Config{ManualCommit: caching})
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			for i, r := range input {
				must(t, in.PipeAt(r.k, "x", r.ts))
				if caching && i%23 == 0 {
					must(t, d.Commit())
				}
			}
			must(t, d.Commit())
			final, err := streamstest.ReadMap(streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()))
			must(t, err)
			for k, n := range final {
				if n < 0 {
					delete(final, k)
				}
			}
			if !maps.Equal(final, want) {
				t.Errorf("%d sessions, want %d; they differ from the brute-force sessions", len(final), len(want))
			}
		})
	}
}
