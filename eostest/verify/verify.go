// Package verify checks the outputs of the EOS system test against its
// input: the echo topic must equal the input partition by partition, record
// for record, and each aggregate topic must hold exactly one record per input
// record, equal to the running aggregate of the key's values in input order.
//
// Check is a pure function over records, so the rules are tested on synthetic
// data; Read fetches the records from a cluster under read_committed.
package verify

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Rec is one record as the verifier sees it: the decoded key and value and
// where it was read.
type Rec struct {
	Key       string
	Value     int64
	Partition int32
	Offset    int64
	// Timestamp is the record's timestamp (ms), shown when not zero, so a
	// fault can be lined up with the harness's log of kills.
	Timestamp int64
}

func (r Rec) String() string {
	s := fmt.Sprintf("%s=%d @%d/%d", r.Key, r.Value, r.Partition, r.Offset)
	if r.Timestamp != 0 {
		s += " " + time.UnixMilli(r.Timestamp).UTC().Format("15:04:05.000")
	}
	return s
}

// Agg is an aggregate the app computes per key; it folds values in input
// order into the value the app must emit after each one.
type Agg struct {
	Name string
	// Next returns the aggregate after value v, given the previous aggregate
	// (first is true for the key's first record, when prev is zero).
	Next func(prev, v int64, first bool) int64
}

// The four aggregates of the EOS topology.
var (
	Sum = Agg{Name: "sum", Next: func(prev, v int64, _ bool) int64 { return prev + v }}
	Min = Agg{Name: "min", Next: func(prev, v int64, first bool) int64 {
		if first || v < prev {
			return v
		}
		return prev
	}}
	Count = Agg{Name: "count", Next: func(prev, _ int64, _ bool) int64 { return prev + 1 }}
	Max   = Agg{Name: "max", Next: func(prev, v int64, first bool) int64 {
		if first || v > prev {
			return v
		}
		return prev
	}}
)

// Aggregates lists the aggregates in the order reports name them.
var Aggregates = []Agg{Sum, Min, Count, Max}

// Data is what a check needs: the input and each output topic's records by
// partition, each partition in offset order.
type Data struct {
	Input map[int32][]Rec
	Echo  map[int32][]Rec
	// Aggs maps an Agg's Name to its topic's records.
	Aggs map[string]map[int32][]Rec
	// Changelogs, optional, maps an Agg's Name to the records of its
	// store's changelog topic: the last record of each key must hold the
	// key's final aggregate, or a restored store would be wrong.
	Changelogs map[string]map[int32][]Rec
}

// Kind classifies a problem.
type Kind string

// Problem kinds.
const (
	Duplicate  Kind = "duplicate"  // an output more than once
	Missing    Kind = "missing"    // no output for an input
	Wrong      Kind = "wrong"      // an output whose value is not the expected one
	Unexpected Kind = "unexpected" // an output that matches no input
)

// Problem is one fault, described for a person.
type Problem struct {
	Topic  string // "echo", "sum", ...
	Kind   Kind
	Detail string
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Topic, p.Kind, p.Detail) }

// MaxProblems bounds the problems a Result names per output topic; the
// counts cover all of them.
const MaxProblems = 5

// Result is the outcome of Check.
type Result struct {
	InputRecords    int
	InputPartitions int
	Keys            int
	// Records counts each output topic's records by name ("echo", "sum", ...).
	Records map[string]int
	// Faults counts records by kind over all output topics.
	Faults map[Kind]int
	// TopicFaults counts records by output topic ("echo", "sum", ...), all
	// kinds together.
	TopicFaults map[string]int
	// Problems names the first faults of each topic (at most MaxProblems
	// each).
	Problems []Problem
}

// OK reports whether every output was exactly right.
func (r *Result) OK() bool {
	for _, n := range r.Faults {
		if n > 0 {
			return false
		}
	}
	return true
}

// Summary is a one-line account of the counts.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "input=%d (%d partitions, %d keys)", r.InputRecords, r.InputPartitions, r.Keys)
	for _, name := range append([]string{"echo"}, aggNames()...) {
		fmt.Fprintf(&b, " %s=%d", name, r.Records[name])
	}
	for _, name := range aggNames() {
		if n, ok := r.Records[name+"-changelog"]; ok {
			fmt.Fprintf(&b, " %s-changelog=%d", name, n)
		}
	}
	for _, k := range []Kind{Duplicate, Missing, Wrong, Unexpected} {
		fmt.Fprintf(&b, " %s=%d", k, r.Faults[k])
	}
	if !r.OK() {
		b.WriteString(" (faults by topic:")
		for _, name := range slices.Sorted(maps.Keys(r.TopicFaults)) {
			if n := r.TopicFaults[name]; n > 0 {
				fmt.Fprintf(&b, " %s=%d", name, n)
			}
		}
		b.WriteString(")")
	}
	return b.String()
}

func aggNames() []string {
	out := make([]string, len(Aggregates))
	for i, a := range Aggregates {
		out[i] = a.Name
	}
	return out
}

// problems collects a topic's faults, naming the first MaxProblems.
type problems struct {
	res   *Result
	topic string
	named int
}

func (p *problems) add(k Kind, n int, format string, args ...any) {
	p.res.Faults[k] += n
	p.res.TopicFaults[p.topic] += n
	if p.named < MaxProblems {
		p.named++
		p.res.Problems = append(p.res.Problems, Problem{Topic: p.topic, Kind: k, Detail: fmt.Sprintf(format, args...)})
	}
}

// Check compares the outputs with the input. Aggregates absent from d.Aggs
// are not checked (and not counted).
func Check(d Data) *Result {
	res := &Result{Records: map[string]int{}, Faults: map[Kind]int{}, TopicFaults: map[string]int{}}
	parts := sortedKeys(d.Input)
	res.InputPartitions = len(parts)
	for _, p := range parts {
		res.InputRecords += len(d.Input[p])
	}
	checkEcho(res, d)
	perKey := valuesByKey(d.Input)
	res.Keys = len(perKey)
	for _, a := range Aggregates {
		out, ok := d.Aggs[a.Name]
		if !ok {
			continue
		}
		checkAgg(res, a, perKey, out)
	}
	for _, a := range Aggregates {
		if cl, ok := d.Changelogs[a.Name]; ok {
			checkChangelog(res, a, perKey, cl)
		}
	}
	return res
}

// checkChangelog compares the last changelog record of each key with the
// key's final aggregate.
func checkChangelog(res *Result, a Agg, perKey map[string][]Rec, cl map[int32][]Rec) {
	name := a.Name + "-changelog"
	pr := &problems{res: res, topic: name}
	last := map[string]Rec{}
	for _, p := range sortedKeys(cl) {
		res.Records[name] += len(cl[p])
		for _, r := range cl[p] {
			last[r.Key] = r
		}
	}
	keys := map[string]bool{}
	for k := range perKey {
		keys[k] = true
	}
	for k := range last {
		keys[k] = true
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		vals := perKey[key]
		got, ok := last[key]
		switch {
		case len(vals) == 0:
			pr.add(Unexpected, 1, "key %q is in the changelog (%s) but not in the input", key, got)
		case !ok:
			pr.add(Missing, 1, "key %q (%d inputs, the last %s) is not in the changelog", key, len(vals), vals[len(vals)-1])
		default:
			var acc int64
			for i, v := range vals {
				acc = a.Next(acc, v.Value, i == 0)
			}
			if got.Value != acc {
				pr.add(Wrong, 1, "key %q: the changelog's last value is %s, the final %s is %d (last input %s)", key, got, a.Name, acc, vals[len(vals)-1])
			}
		}
	}
}

func sortedKeys[V any](m map[int32]V) []int32 {
	return slices.Sorted(maps.Keys(m))
}

// valuesByKey returns each key's input records in input order. A key lives
// in one input partition (the producer hashes keys), so partition order is
// the order the app saw.
func valuesByKey(in map[int32][]Rec) map[string][]Rec {
	out := map[string][]Rec{}
	for _, p := range sortedKeys(in) {
		for _, r := range in[p] {
			out[r.Key] = append(out[r.Key], r)
		}
	}
	return out
}

type kv struct {
	key   string
	value int64
}

// checkEcho aligns each echo partition with the input partition of the same
// number. Records are matched by key and value; a record matching an input
// record already passed is a duplicate, one matching a later input record
// means the records in between are missing.
func checkEcho(res *Result, d Data) {
	pr := &problems{res: res, topic: "echo"}
	for _, p := range sortedKeys(d.Echo) {
		res.Records["echo"] += len(d.Echo[p])
	}
	all := map[int32]bool{}
	for p := range d.Input {
		all[p] = true
	}
	for p := range d.Echo {
		all[p] = true
	}
	for _, p := range slices.Sorted(maps.Keys(all)) {
		in, out := d.Input[p], d.Echo[p]
		where := map[kv][]int{} // input positions of each key/value, ascending
		for i, r := range in {
			k := kv{r.Key, r.Value}
			where[k] = append(where[k], i)
		}
		j := 0 // next input record expected
		for i := 0; i < len(out); i++ {
			o := out[i]
			if j < len(in) && o.Key == in[j].Key && o.Value == in[j].Value {
				j++
				continue
			}
			pos := where[kv{o.Key, o.Value}]
			k, _ := slices.BinarySearch(pos, j) // first position >= j
			// o may repeat an input record already echoed (a replay) or
			// skip ahead to a later one (a gap). Key and value need not be
			// unique, so the reading whose following records line up wins.
			later, earlier := -1, -1
			if k < len(pos) {
				later = pos[k]
			}
			if k > 0 {
				earlier = pos[k-1]
			}
			dup := earlier >= 0 && (later < 0 || lineUp(in, out, earlier, i) || !lineUp(in, out, later, i))
			switch {
			case dup:
				pr.add(Duplicate, 1, "partition %d: echo %s repeats input offset %d (expected next: %s)",
					p, o, in[earlier].Offset, next(in, j))
			case later >= 0:
				n := later - j
				pr.add(Missing, n, "partition %d: %d input records from offset %d (%s) have no echo; the echo resumes at %s with input offset %d",
					p, n, in[j].Offset, in[j], o, in[later].Offset)
				j = later + 1
			default:
				pr.add(Unexpected, 1, "partition %d: echo %s matches no input record of the partition", p, o)
			}
		}
		if j < len(in) {
			n := len(in) - j
			pr.add(Missing, n, "partition %d: the last %d input records from offset %d (%s) have no echo", p, n, in[j].Offset, in[j])
		}
	}
}

// lineUp reports whether the few echo records after out[i] equal the input
// records after in[j] (as far as both go).
func lineUp(in, out []Rec, j, i int) bool {
	const look = 4
	for d := 1; d <= look && j+d < len(in) && i+d < len(out); d++ {
		if in[j+d].Key != out[i+d].Key || in[j+d].Value != out[i+d].Value {
			return false
		}
	}
	return true
}

func next(in []Rec, j int) string {
	if j < len(in) {
		return in[j].String()
	}
	return "nothing (input exhausted)"
}

// checkAgg compares, key by key, the outputs of one aggregate topic with the
// running aggregate of the key's input values.
func checkAgg(res *Result, a Agg, perKey map[string][]Rec, out map[int32][]Rec) {
	pr := &problems{res: res, topic: a.Name}
	got := map[string][]Rec{}
	for _, p := range sortedKeys(out) {
		res.Records[a.Name] += len(out[p])
		for _, r := range out[p] {
			got[r.Key] = append(got[r.Key], r)
		}
	}
	keys := map[string]bool{}
	for k := range perKey {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		vals, outs := perKey[key], got[key]
		if len(vals) == 0 {
			pr.add(Unexpected, len(outs), "key %q has %d outputs (first %s) but no input", key, len(outs), outs[0])
			continue
		}
		if p := outs; len(p) > 0 {
			for _, r := range p[1:] {
				if r.Partition != p[0].Partition {
					pr.add(Wrong, 1, "key %q has outputs in partitions %d and %d; its order is undefined", key, p[0].Partition, r.Partition)
					break
				}
			}
		}
		want := make([]int64, len(vals))
		var acc int64
		for i, v := range vals {
			acc = a.Next(acc, v.Value, i == 0)
			want[i] = acc
		}
		first := -1 // first position where want and outs disagree
		for i := 0; i < min(len(want), len(outs)); i++ {
			if outs[i].Value != want[i] {
				first = i
				break
			}
		}
		switch {
		case len(outs) > len(want):
			at := len(want)
			if first >= 0 {
				at = first
			}
			pr.add(Duplicate, len(outs)-len(want), "key %q: %d outputs for %d inputs; first divergence at output %d (%s, expected %s)",
				key, len(outs), len(want), at, outs[at], wantAt(want, at))
		case len(outs) < len(want):
			at := len(outs)
			if first >= 0 {
				at = first
			}
			pr.add(Missing, len(want)-len(outs), "key %q: %d outputs for %d inputs; first divergence at output %d (got %s, expected %s for input %s)",
				key, len(outs), len(want), at, outAt(outs, at), wantAt(want, at), vals[at])
		case first >= 0:
			wrong := 0
			for i := range want {
				if outs[i].Value != want[i] {
					wrong++
				}
			}
			pr.add(Wrong, wrong, "key %q: output %d is %s, expected %d for input %s (%d of %d outputs differ)",
				key, first, outs[first], want[first], vals[first], wrong, len(want))
		}
	}
}

func wantAt(want []int64, i int) string {
	if i < len(want) {
		return fmt.Sprint(want[i])
	}
	return "no output"
}

func outAt(outs []Rec, i int) string {
	if i < len(outs) {
		return outs[i].String()
	}
	return "none"
}
