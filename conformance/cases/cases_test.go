package cases

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestGenerateIsDeterministic: the same seed gives the same records (both
// sides and every run read the same input), another seed other records.
func TestGenerateIsDeterministic(t *testing.T) {
	base := BaseTimestamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	a := Generate(12, base, StreamInput, 0, 500)
	b := Generate(12, base, StreamInput, 0, 500)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different records")
	}
	if reflect.DeepEqual(a, Generate(13, base, StreamInput, 0, 500)) {
		t.Fatal("another seed gave the same records")
	}
	if reflect.DeepEqual(a, Generate(12, base, StreamInput, 1, 500)) {
		t.Fatal("another input gave the same records")
	}
}

// TestGenerateShape: the input has what the cases rely on: null keys and
// values, out-of-order and late records, tombstones in tables.
func TestGenerateShape(t *testing.T) {
	base := BaseTimestamp(time.Now())
	if base%60_000 != 0 {
		t.Fatalf("base %d is not on a whole minute", base)
	}
	var nullKeys, nullValues, late, early int
	recs := Generate(12, base, StreamInput, 0, 600)
	for i, r := range recs {
		if r.Key == nil {
			nullKeys++
		}
		if r.Value == nil {
			nullValues++
		}
		switch d := base + int64(i)*1000 - r.Timestamp; {
		case d == 40_000:
			late++
		case d > 0:
			early++
		}
	}
	tombstones := 0
	for _, r := range Generate(12, base, TableInput, 0, 600) {
		if r.Value == nil {
			tombstones++
		} else if strings.Contains(string(r.Value), " ") {
			t.Fatalf("table value %q is more than one word", r.Value)
		}
	}
	for what, n := range map[string]int{"null keys": nullKeys, "null values": nullValues, "late": late, "out of order": early, "tombstones": tombstones} {
		if n < 5 {
			t.Errorf("%d %s in 600 records", n, what)
		}
	}
}

// TestEveryCaseBuilds: every case's topology compiles, with as many topics
// as it declares.
func TestEveryCaseBuilds(t *testing.T) {
	for _, name := range Names() {
		c, _ := Get(name)
		var in, out []string
		for i := range c.Inputs {
			in = append(in, name+"-in"+string(rune('0'+i)))
		}
		for i := range c.Outputs {
			out = append(out, name+"-out"+string(rune('0'+i)))
		}
		top, err := c.Topology(in, out)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d := top.Describe(); !strings.HasPrefix(d, "Topologies:") {
			t.Errorf("%s: Describe() = %q", name, d)
		}
		if _, err := c.Topology(in[:0], out); err == nil {
			t.Errorf("%s: no error for missing inputs", name)
		}
	}
}
