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

// sessionChanges writes a session table's changes to "out" as
// "[key@start/end]" (Kafka's Windowed.toString) => the new count, or
// "null" for a deletion, with the record's timestamp.
func sessionChanges(t dsl.Table[dsl.Windowed[string], int64], topic string) {
	dsl.Map(dsl.ChangeStream(t), func(k dsl.Windowed[string], c dsl.Change[int64]) (string, string) {
		v := "null"
		if c.HasNew {
			v = fmt.Sprint(c.New)
		}
		return fmt.Sprintf("[%s@%d/%d]", k.Key, k.Start, k.End), v
	}).WithSerdes(serde.String(), serde.String()).To(topic)
}

func readTimed(t *testing.T, d *streamstest.Driver, topic string) string {
	t.Helper()
	recs, err := streamstest.NewOutputTopic(d, topic, serde.String(), serde.String()).ReadRecords()
	must(t, err)
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Timestamp))
	}
	return strings.Join(out, " ")
}

// TestSessionCountMatchesKafka follows SessionWindowedKStreamImplTest
// shouldCountSessionWindowedWithCachingDisabled / ...WithCachingEnabled
// (gap 500 ms, no grace): a growing session is deleted before the grown one
// is put, each change timestamped with its session's end.
func TestSessionCountMatchesKafka(t *testing.T) {
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprint("caching=", caching), func(t *testing.T) {
			b := dsl.NewBuilder()
			sessionChanges(dsl.SessionWindowedBy(source(b).GroupByKey(), dsl.SessionWindowsWithGap(500*time.Millisecond, 0)).
				Count(dsl.Caching(caching)), "out")
			d := buildDriver(t, b, streamstest.Config{})
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			pipeKeyTimes(t, in, []keyTime{{"1", 10}, {"1", 15}, {"1", 600}, {"2", 600}, {"2", 599}})
			want := "[1@10/10]=1@10 [1@10/10]=null@10 [1@10/15]=2@15 [1@600/600]=1@600 " +
				"[2@600/600]=1@600 [2@600/600]=null@600 [2@599/600]=2@600"
			if got := readTimed(t, d, "out"); got != want {
				t.Errorf("output\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestSessionClosesAfterGapPlusGrace follows
// KStreamSessionWindowAggregateProcessorTest
// shouldLogAndMeterWhenSkippingLateRecordWithNonzeroGrace (gap 10 ms, grace
// 1 ms): a session closes at end + gap + grace (KAFKA-12718), so a record at
// 0 is accepted at stream time 11 and dropped at 12.
func TestSessionClosesAfterGapPlusGrace(t *testing.T) {
	b := dsl.NewBuilder()
	sessionChanges(dsl.SessionWindowedBy(source(b).GroupByKey(), dsl.SessionWindowsWithGap(10*time.Millisecond, time.Millisecond)).
		Count(dsl.Caching(false)), "out")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	pipeKeyTimes(t, in, []keyTime{{"dummy", 0}, {"OnTime1", 0}, {"dummy", 11}, {"OnTime2", 0}, {"dummy", 12}, {"Late1", 0}})
	got := readTimed(t, d, "out")
	if !strings.Contains(got, "[OnTime2@0/0]=1@0") || strings.Contains(got, "Late1") {
		t.Errorf("output %s: want OnTime2 counted and Late1 dropped", got)
	}
	if n := d.DroppedRecords()["expired-window"]; n != 1 {
		t.Errorf("dropped %d late records, want 1", n)
	}
}

// TestSuppressSessionWindows follows SuppressScenarioTest
// shouldSupportFinalResultsForSessionWindows (gap 5 ms, no grace): a record
// inside a session deletes and re-puts it; a late record is dropped once
// stream time passes end + gap; suppression emits each session once, after
// end + gap.
func TestSuppressSessionWindows(t *testing.T) {
	b := dsl.NewBuilder()
	counts := dsl.SessionWindowedBy(source(b).GroupByKey(), dsl.SessionWindowsWithGap(5*time.Millisecond, 0)).
		Count(dsl.StoreName("counts"), dsl.Caching(false))
	sessionChanges(dsl.SuppressUntilWindowCloses(counts), "output-suppressed")
	sessionChanges(counts, "output-raw")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	pipe := func(k string, ts int64) { t.Helper(); must(t, in.PipeAt(k, "v1", ts)) }
	pipe("k1", 0)
	pipe("k1", 5)
	pipe("k1", 1) // inside [0, 5]: the session is deleted and put again
	pipe("k2", 11)
	// Stream time 11 - (gap + grace) = 6 >= the end 5 of [0, 5]: it is final.
	if got := readTimed(t, d, "output-suppressed"); got != "[k1@0/5]=3@5" {
		t.Errorf("suppressed at stream time 11: %s", got)
	}
	pipe("k1", 5) // late: stream time 11 - gap 5 > end 5
	pipe("k1", 30)
	wantRaw := "[k1@0/0]=1@0 [k1@0/0]=null@0 [k1@0/5]=2@5 [k1@0/5]=null@5 [k1@0/5]=3@5 [k2@11/11]=1@11 [k1@30/30]=1@30"
	if got := readTimed(t, d, "output-raw"); got != wantRaw {
		t.Errorf("raw\n got %s\nwant %s", got, wantRaw)
	}
	if n := d.DroppedRecords()["expired-window"]; n != 1 {
		t.Errorf("dropped %d late records, want 1", n)
	}
}

// TestSuppressSessionWaitsForGap: suppression of session windows waits for
// end + gap + grace (Kafka Streams' GraphGraceSearchUtil gives a session
// aggregation's suppression the grace gap + grace), not end + grace, so the
// result it emits is final: with gap 10 ms and no grace, [0, 0] is still
// open at stream time 5, and a record at 8 extends it. Sessions come out
// in order of their ends.
func TestSuppressSessionWaitsForGap(t *testing.T) {
	b := dsl.NewBuilder()
	counts := dsl.SessionWindowedBy(source(b).GroupByKey(), dsl.SessionWindowsWithGap(10*time.Millisecond, 0)).
		Count(dsl.Caching(false))
	sessionChanges(dsl.SuppressUntilWindowCloses(counts), "out")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	pipeKeyTimes(t, in, []keyTime{{"a", 0}, {"b", 5}, {"a", 8}, {"b", 30}})
	if got, want := readTimed(t, d, "out"), "[b@5/5]=1@5 [a@0/8]=2@8"; got != want {
		t.Errorf("suppressed\n got %s\nwant %s", got, want)
	}
}

type keyTime struct {
	k  string
	ts int64
}

// pipeKeyTimes pipes one record with value "x" per key and timestamp.
func pipeKeyTimes(t *testing.T, in *streamstest.InputTopic[string, string], recs []keyTime) {
	t.Helper()
	for _, r := range recs {
		must(t, in.PipeAt(r.k, "x", r.ts))
	}
}
