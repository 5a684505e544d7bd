package main

import (
	"strings"
	"testing"

	"github.com/sluicestreams/sluice/conformance/cases"
)

func rec(p int32, k, v string, ts int64) outRecord {
	r := outRecord{Partition: p, Timestamp: ts}
	if k != "<null>" {
		r.Key = []byte(k)
	}
	if v != "<null>" {
		r.Value = []byte(v)
	}
	return r
}

func TestCompareExact(t *testing.T) {
	o := cases.Output{Compare: cases.Exact}
	java := []outRecord{rec(0, "a", "1", 1), rec(0, "a", "2", 2), rec(1, "b", "<null>", 3), rec(2, "<null>", "x", 4), rec(0, "<null>", "y", 5)}
	for _, tc := range []struct {
		name   string
		sluice []outRecord
		want   string // substring of the first difference; "" for none
	}{
		{"equal", java, ""},
		// Null-key records may be on any partition, in any order.
		{"null keys elsewhere", []outRecord{rec(0, "a", "1", 1), rec(1, "<null>", "y", 5), rec(0, "a", "2", 2), rec(1, "b", "<null>", 3), rec(1, "<null>", "x", 4)}, ""},
		{"order", []outRecord{rec(0, "a", "2", 2), rec(0, "a", "1", 1), rec(1, "b", "<null>", 3), rec(2, "<null>", "x", 4), rec(0, "<null>", "y", 5)}, "p0[0]"},
		{"tombstone vs empty", []outRecord{rec(0, "a", "1", 1), rec(0, "a", "2", 2), rec(1, "b", "", 3), rec(2, "<null>", "x", 4), rec(0, "<null>", "y", 5)}, `"b"=null T`},
		{"timestamp", []outRecord{rec(0, "a", "1", 1), rec(0, "a", "2", 9), rec(1, "b", "<null>", 3), rec(2, "<null>", "x", 4), rec(0, "<null>", "y", 5)}, "p0[1]"},
		{"missing", java[:4], "null keys"},
		{"partition", []outRecord{rec(0, "a", "1", 1), rec(0, "a", "2", 2), rec(2, "b", "<null>", 3), rec(2, "<null>", "x", 4), rec(0, "<null>", "y", 5)}, "p1[0]"},
	} {
		d := compareExact(o, java, tc.sluice)
		if tc.want == "" {
			if d != nil {
				t.Errorf("%s: differences %q", tc.name, d)
			}
			continue
		}
		if len(d) == 0 || !strings.Contains(d[0], tc.want) {
			t.Errorf("%s: differences %q, want one with %q first", tc.name, d, tc.want)
		}
	}
}

func TestCompareFinal(t *testing.T) {
	o := cases.Output{Compare: cases.Final}
	java := []outRecord{rec(0, "a", "1", 1), rec(0, "a", "2", 2), rec(1, "b", "5", 3), rec(1, "b", "<null>", 4)}
	// The last value of each key counts; a key whose last record is a
	// tombstone is the same as a key never written.
	if d := compareFinal(o, java, []outRecord{rec(2, "a", "2", 2)}); d != nil {
		t.Errorf("differences %q", d)
	}
	if d := compareFinal(o, java, []outRecord{rec(0, "a", "2", 3)}); len(d) != 1 || !strings.Contains(d[0], "T") {
		t.Errorf("timestamp: differences %q", d)
	}
	if d := compareFinal(o, java, []outRecord{rec(0, "a", "2", 2), rec(1, "b", "5", 3)}); len(d) != 1 || !strings.Contains(d[0], `sluice "b"=`) {
		t.Errorf("deleted key kept: differences %q", d)
	}
}

func TestComparePartitions(t *testing.T) {
	o := cases.Output{}
	java := []outRecord{rec(0, "a", "1", 1), rec(1, "b", "1", 1), rec(2, "<null>", "1", 1)}
	if d := comparePartitions(o, java, []outRecord{rec(0, "a", "1", 1), rec(1, "b", "1", 1), rec(0, "<null>", "1", 1)}); d != nil {
		t.Errorf("null keys are not compared: differences %q", d)
	}
	if d := comparePartitions(o, java, []outRecord{rec(1, "a", "1", 1), rec(1, "b", "1", 1)}); len(d) != 1 || !strings.Contains(d[0], `key "a": java partition 0, sluice 1`) {
		t.Errorf("differences %q", d)
	}
}

func TestLineDiff(t *testing.T) {
	if d := lineDiff("a\nb\n", "a\nb\n"); d != nil {
		t.Fatalf("equal texts: %q", d)
	}
	d := lineDiff("a\nb\nc\n\n", "a\nB\nc\n")
	got := strings.Join(firstChanges(d, 10), "|")
	if want := "  a|- b|+ B|- (blank line)"; got != want {
		t.Fatalf("changes %q, want %q (diff %q)", got, want, d)
	}
}

func TestNormalizeDescribe(t *testing.T) {
	got := normalizeDescribe("Sink: KSTREAM-SINK-0000000003 (topic: run-x-out0-java)\n", []string{"run-x-out0-java"})
	if want := "Sink: KSTREAM-SINK-0000000003 (topic: OUTPUT-0)\n"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

func TestKnownDiffs(t *testing.T) {
	known := []*knownDiff{
		{fields: []string{"tumbling-*", "out0-partitions"}, note: "windowed sink partitioning", line: 1},
		{fields: []string{"join", "describe", "exactly_once_v2"}, note: "names", line: 2},
		{fields: []string{"filter", "describe"}, note: "fixed", line: 3},
	}
	results := []*result{
		{Case: "tumbling-count", Guarantee: "at_least_once", Shape: "backlog", Checks: []check{{Name: "out0-partitions"}, {Name: "describe", OK: true}}},
		{Case: "join", Guarantee: "at_least_once", Shape: "backlog", Checks: []check{{Name: "describe"}}},
		{Case: "join", Guarantee: "exactly_once_v2", Shape: "backlog", Checks: []check{{Name: "describe"}}},
		{Case: "filter", Guarantee: "at_least_once", Shape: "backlog", Checks: []check{{Name: "describe", OK: true}}},
	}
	stale := applyKnown(results, known)
	var verdicts []string
	for _, r := range results {
		verdicts = append(verdicts, r.Verdict)
	}
	if got, want := strings.Join(verdicts, " "), "KNOWN-DIFF FAIL KNOWN-DIFF PASS"; got != want {
		t.Errorf("verdicts %s, want %s", got, want)
	}
	if len(stale) != 1 || stale[0].line != 3 {
		t.Errorf("stale entries %v, want line 3 only", stale)
	}
	// The run's closing list names each entry that matched, with its
	// number of failing checks.
	seen := seenKnown(known)
	if len(seen) != 2 || seen[0].line != 1 || seen[0].hits != 1 || seen[1].line != 2 || seen[1].hits != 1 {
		t.Errorf("seen entries %v, want lines 1 and 2 with one failing check each", seen)
	}
}
