package verify

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// run is a synthetic correct run: input by partition and the outputs an
// exactly-once app would write, computed here independently of Check.
type run struct {
	in, echo         map[int32][]Rec
	sum, mn, cnt, mx map[int32][]Rec
}

// newRun makes n records over keys keys in parts partitions (key k lives in
// partition k % parts) with values from rng.
func newRun(rng *rand.Rand, n, keys int, parts int32) *run {
	r := &run{in: map[int32][]Rec{}, echo: map[int32][]Rec{}, sum: map[int32][]Rec{}, mn: map[int32][]Rec{}, cnt: map[int32][]Rec{}, mx: map[int32][]Rec{}}
	type st struct{ sum, mn, cnt, mx int64 }
	state := map[string]*st{}
	for p := int32(0); p < parts; p++ {
		r.in[p] = nil
		r.echo[p] = nil
	}
	// Records of different partitions interleave in time; per-key order is
	// what matters, and within a partition it is offset order.
	for i := 0; i < n; i++ {
		k := rng.IntN(keys)
		p := int32(k) % parts
		key := fmt.Sprint(k)
		v := rng.Int64N(2000) - 1000
		in := Rec{Key: key, Value: v, Partition: p, Offset: int64(len(r.in[p]))}
		r.in[p] = append(r.in[p], in)
		r.echo[p] = append(r.echo[p], Rec{Key: key, Value: v, Partition: p, Offset: int64(len(r.echo[p]))})
		s, ok := state[key]
		if !ok {
			s = &st{mn: v, mx: v}
			state[key] = s
		}
		s.sum += v
		s.cnt++
		s.mn = min(s.mn, v)
		s.mx = max(s.mx, v)
		for _, o := range []struct {
			m map[int32][]Rec
			v int64
		}{{r.sum, s.sum}, {r.mn, s.mn}, {r.cnt, s.cnt}, {r.mx, s.mx}} {
			o.m[p] = append(o.m[p], Rec{Key: key, Value: o.v, Partition: p, Offset: int64(len(o.m[p]))})
		}
	}
	return r
}

func (r *run) data() Data {
	return Data{Input: r.in, Echo: r.echo, Aggs: map[string]map[int32][]Rec{"sum": r.sum, "min": r.mn, "count": r.cnt, "max": r.mx}}
}

func TestCheckCorrectRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := newRun(rng, 5000, 300, 5)
	res := Check(r.data())
	if !res.OK() {
		t.Fatalf("a correct run failed: %s\n%v", res.Summary(), res.Problems)
	}
	if res.InputRecords != 5000 || res.InputPartitions != 5 || res.Keys != 300 {
		t.Errorf("counts: %s", res.Summary())
	}
	for _, name := range []string{"echo", "sum", "min", "count", "max"} {
		if res.Records[name] != 5000 {
			t.Errorf("%s: %d records, want 5000", name, res.Records[name])
		}
	}
}

func TestCheckEmpty(t *testing.T) {
	res := Check(Data{Input: map[int32][]Rec{0: nil}, Echo: map[int32][]Rec{0: nil}})
	if !res.OK() || res.InputRecords != 0 {
		t.Fatalf("empty run: %s %v", res.Summary(), res.Problems)
	}
}

// replay re-appends recs[from:to] after position at, as a crash that
// reprocesses records since the last commit does, and renumbers offsets.
func replay(recs []Rec, from, to, at int) []Rec {
	out := slices.Clone(recs[:at])
	out = append(out, recs[from:to]...)
	out = append(out, recs[at:]...)
	return renumber(out)
}

func renumber(recs []Rec) []Rec {
	out := slices.Clone(recs)
	for i := range out {
		out[i].Offset = int64(i)
	}
	return out
}

func drop(recs []Rec, from, to int) []Rec {
	return renumber(slices.Concat(recs[:from], recs[to:]))
}

// keyOf returns the first key of partition p with at least n records in
// the input, and its records' positions in an aggregate partition.
func keyOf(t *testing.T, recs []Rec, n int) (string, []int) {
	t.Helper()
	pos := map[string][]int{}
	for i, r := range recs {
		pos[r.Key] = append(pos[r.Key], i)
	}
	for _, r := range recs {
		if len(pos[r.Key]) >= n {
			return r.Key, pos[r.Key]
		}
	}
	t.Fatalf("no key with %d records", n)
	return "", nil
}

func TestCheckFaults(t *testing.T) {
	tests := []struct {
		name   string
		fault  func(t *testing.T, r *run)
		faults map[Kind]int
		want   []string // substrings of the problems
	}{{
		name: "echo replay after a crash",
		fault: func(_ *testing.T, r *run) {
			r.echo[2] = replay(r.echo[2], 100, 130, 140)
		},
		faults: map[Kind]int{Duplicate: 30},
		want:   []string{"echo: duplicate: partition 2: echo", "repeats input offset 100"},
	}, {
		name:   "echo gap",
		fault:  func(_ *testing.T, r *run) { r.echo[1] = drop(r.echo[1], 50, 53) },
		faults: map[Kind]int{Missing: 3},
		want:   []string{"echo: missing: partition 1: 3 input records from offset 50"},
	}, {
		name:   "echo tail lost",
		fault:  func(_ *testing.T, r *run) { r.echo[0] = r.echo[0][:len(r.echo[0])-7] },
		faults: map[Kind]int{Missing: 7},
		want:   []string{"the last 7 input records"},
	}, {
		name: "echo record unknown",
		fault: func(_ *testing.T, r *run) {
			r.echo[3] = renumber(slices.Insert(r.echo[3], 10, Rec{Key: "nope", Value: 7, Partition: 3}))
		},
		faults: map[Kind]int{Unexpected: 1},
		want:   []string{"echo: unexpected: partition 3: echo nope=7"},
	}, {
		name: "echo in the wrong partition",
		fault: func(_ *testing.T, r *run) {
			r.echo[4] = append(r.echo[4], r.echo[0]...)
			r.echo[0] = nil
		},
		faults: map[Kind]int{Missing: -1, Unexpected: -1},
		want:   []string{"partition 0: the last", "partition 4: echo"},
	}, {
		name: "sum replayed on state that already had the records",
		fault: func(t *testing.T, r *run) {
			// A crash after the store wrote, before the offsets committed:
			// the records are counted again and their outputs repeated
			// with higher sums.
			key, pos := keyOf(t, r.sum[1], 4)
			extra := r.sum[1][pos[3]]
			extra.Value += 12345
			r.sum[1] = renumber(slices.Insert(r.sum[1], pos[3]+1, extra))
			_ = key
		},
		faults: map[Kind]int{Duplicate: 1},
		want:   []string{"sum: duplicate: key", "first divergence at output 4"},
	}, {
		name: "count output lost",
		fault: func(t *testing.T, r *run) {
			_, pos := keyOf(t, r.cnt[2], 3)
			r.cnt[2] = drop(r.cnt[2], pos[1], pos[1]+1)
		},
		faults: map[Kind]int{Missing: 1},
		want:   []string{"count: missing: key", "first divergence at output 1"},
	}, {
		name: "min wrong value",
		fault: func(t *testing.T, r *run) {
			_, pos := keyOf(t, r.mn[0], 2)
			r.mn[0][pos[1]].Value = -99999
		},
		faults: map[Kind]int{Wrong: 1},
		want:   []string{"min: wrong: key", "expected"},
	}, {
		name: "max key split over partitions",
		fault: func(t *testing.T, r *run) {
			key, pos := keyOf(t, r.mx[3], 2)
			moved := r.mx[3][pos[1]]
			moved.Partition = 4
			r.mx[3] = drop(r.mx[3], pos[1], pos[1]+1)
			r.mx[4] = renumber(append(r.mx[4], moved))
			_ = key
		},
		faults: map[Kind]int{Wrong: -1},
		want:   []string{"has outputs in partitions 3 and 4"},
	}, {
		name: "output for a key never produced",
		fault: func(_ *testing.T, r *run) {
			r.cnt[0] = renumber(append(r.cnt[0], Rec{Key: "ghost", Value: 1}))
		},
		faults: map[Kind]int{Unexpected: 1},
		want:   []string{`count: unexpected: key "ghost"`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRun(rand.New(rand.NewPCG(7, 8)), 3000, 200, 5)
			tt.fault(t, r)
			res := Check(r.data())
			if res.OK() {
				t.Fatalf("fault not detected: %s", res.Summary())
			}
			for k, n := range tt.faults {
				if n < 0 { // any positive number
					if res.Faults[k] == 0 {
						t.Errorf("no %s faults: %s", k, res.Summary())
					}
				} else if res.Faults[k] != n {
					t.Errorf("%s = %d, want %d: %s", k, res.Faults[k], n, res.Summary())
				}
			}
			for k, n := range res.Faults {
				if _, ok := tt.faults[k]; !ok && n != 0 {
					t.Errorf("unexpected %d %s faults: %s\n%v", n, k, res.Summary(), res.Problems)
				}
			}
			var all []string
			for _, p := range res.Problems {
				all = append(all, p.String())
			}
			text := strings.Join(all, "\n")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("problems do not mention %q:\n%s", w, text)
				}
			}
		})
	}
}

// TestCheckNamesFewProblems checks that a run full of faults counts them all
// but names only the first MaxProblems per topic.
func TestCheckNamesFewProblems(t *testing.T) {
	r := newRun(rand.New(rand.NewPCG(3, 4)), 2000, 100, 5)
	for p := range r.echo {
		r.echo[p] = renumber(append(r.echo[p], r.echo[p]...))
	}
	res := Check(r.data())
	if res.Faults[Duplicate] != 2000 {
		t.Errorf("duplicates = %d, want 2000", res.Faults[Duplicate])
	}
	if len(res.Problems) != MaxProblems {
		t.Errorf("%d problems named, want %d", len(res.Problems), MaxProblems)
	}
	if s := res.Summary(); !strings.Contains(s, "duplicate=2000") || !strings.Contains(s, "echo=4000") || !strings.Contains(s, "(faults by topic: echo=2000)") {
		t.Errorf("summary %q", s)
	}
}

func TestAggregates(t *testing.T) {
	vals := []int64{5, -2, 7, -2, 0}
	want := map[string][]int64{
		"sum":   {5, 3, 10, 8, 8},
		"min":   {5, -2, -2, -2, -2},
		"count": {1, 2, 3, 4, 5},
		"max":   {5, 5, 7, 7, 7},
	}
	for _, a := range Aggregates {
		var got []int64
		var acc int64
		for i, v := range vals {
			acc = a.Next(acc, v, i == 0)
			got = append(got, acc)
		}
		if !slices.Equal(got, want[a.Name]) {
			t.Errorf("%s: %v, want %v", a.Name, got, want[a.Name])
		}
	}
}

// TestCheckEchoRandomFaults replays and drops random stretches of an echo
// whose records are all distinct and checks that every fault is counted
// exactly, as the right kind.
func TestCheckEchoRandomFaults(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		n := 500 + rng.IntN(500)
		in := make([]Rec, n)
		for i := range in {
			in[i] = Rec{Key: fmt.Sprint(rng.IntN(40)), Value: int64(i), Offset: int64(i)}
		}
		var out []Rec
		dups, missing := 0, 0
		sinceDrop := 0 // records emitted since the last drop: what a replay may repeat
		for i := 0; i < n; i++ {
			if rng.IntN(60) == 0 && i > 0 {
				d := 1 + rng.IntN(min(10, n-i))
				missing += d
				i += d - 1
				sinceDrop = 0
				continue
			}
			out = append(out, in[i])
			sinceDrop++
			if rng.IntN(40) == 0 && i+1 < n {
				k := 1 + rng.IntN(sinceDrop)
				out = append(out, in[i-k+1:i+1]...)
				dups += k
			}
		}
		res := Check(Data{Input: map[int32][]Rec{0: in}, Echo: map[int32][]Rec{0: renumber(out)}})
		if res.Faults[Duplicate] != dups || res.Faults[Missing] != missing || res.Faults[Unexpected] != 0 {
			t.Fatalf("seed %d: %s, want duplicate=%d missing=%d\n%v", seed, res.Summary(), dups, missing, res.Problems)
		}
	}
}

// changelogs returns what the stores' changelogs hold after a correct run:
// per key, its successive aggregates (a compacted log may keep only the
// last), in one partition per key as the outputs.
func (r *run) changelogs() map[string]map[int32][]Rec {
	return map[string]map[int32][]Rec{"sum": r.sum, "min": r.mn, "count": r.cnt, "max": r.mx}
}

func TestCheckChangelogs(t *testing.T) {
	r := newRun(rand.New(rand.NewPCG(11, 12)), 3000, 200, 5)
	d := r.data()
	d.Changelogs = r.changelogs()
	if res := Check(d); !res.OK() || res.Records["sum-changelog"] != 3000 {
		t.Fatalf("a correct run failed: %s\n%v", res.Summary(), res.Problems)
	}
	// A store update that never reached the changelog: the key's last
	// changelog record holds an older count.
	bad := map[int32][]Rec{}
	for p, recs := range r.cnt {
		bad[p] = slices.Clone(recs)
	}
	key, pos := keyOf(t, bad[2], 3)
	bad[2] = slices.Delete(bad[2], pos[len(pos)-1], pos[len(pos)-1]+1)
	d.Changelogs = map[string]map[int32][]Rec{"count": bad, "sum": r.sum}
	res := Check(d)
	if res.Faults[Wrong] != 1 || res.TopicFaults["count-changelog"] != 1 {
		t.Fatalf("key %s: %s, want 1 wrong in count-changelog\n%v", key, res.Summary(), res.Problems)
	}
	// A key missing from the changelog altogether.
	delete(d.Changelogs, "count")
	sum := map[int32][]Rec{}
	for p, recs := range r.sum {
		for _, x := range recs {
			if x.Key != key {
				sum[p] = append(sum[p], x)
			}
		}
	}
	d.Changelogs["sum"] = sum
	res = Check(d)
	if res.Faults[Missing] != 1 || !strings.Contains(res.Summary(), "sum-changelog=1") {
		t.Fatalf("%s\n%v", res.Summary(), res.Problems)
	}
}
