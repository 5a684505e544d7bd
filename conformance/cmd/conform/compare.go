package main

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicestreams/sluice/conformance/cases"
)

// maxDiffs is how many differences a check reports.
const maxDiffs = 6

// check is one comparison of a run: OK, or the first differences.
type check struct {
	Name  string   `json:"name"`
	OK    bool     `json:"ok"`
	Diffs []string `json:"diffs,omitempty"`
	Known string   `json:"known,omitempty"` // the known-diffs entry it matched
}

func fmtKey(f cases.KeyFormat, k []byte) string {
	if k == nil {
		return "null"
	}
	switch f {
	case cases.TimeWindowedKey:
		if len(k) >= 8 {
			start := int64(binary.BigEndian.Uint64(k[len(k)-8:]))
			return fmt.Sprintf("%q@%s", k[:len(k)-8], relTime(start))
		}
	case cases.SessionWindowKey:
		if len(k) >= 16 {
			end := int64(binary.BigEndian.Uint64(k[len(k)-16:]))
			start := int64(binary.BigEndian.Uint64(k[len(k)-8:]))
			return fmt.Sprintf("%q@[%s,%s]", k[:len(k)-16], relTime(start), relTime(end))
		}
	}
	return strconv.Quote(string(k))
}

func fmtValue(f cases.ValueFormat, v []byte) string {
	if v == nil {
		return "null"
	}
	if f == cases.LongValue && len(v) == 8 {
		return strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10)
	}
	return strconv.Quote(string(v))
}

// baseTimestamp is the run's cases.BaseTimestamp, set at start.
var baseTimestamp int64

// relTime shows a timestamp relative to the run's base, in seconds.
func relTime(ts int64) string {
	return "T" + strconv.FormatFloat(float64(ts-baseTimestamp)/1000, 'f', -1, 64)
}

func fmtRec(o cases.Output, r outRecord) string {
	return fmt.Sprintf("%s=%s %s", fmtKey(o.Key, r.Key), fmtValue(o.Value, r.Value), relTime(r.Timestamp))
}

func sameRec(a, b outRecord) bool {
	return string(a.Key) == string(b.Key) && (a.Key == nil) == (b.Key == nil) &&
		string(a.Value) == string(b.Value) && (a.Value == nil) == (b.Value == nil) &&
		a.Timestamp == b.Timestamp
}

// byPartition splits records with a key by partition. Records with a null
// key are left out: Kafka's producer puts them on any partition (sticky
// partitioning), so neither their partition nor their order relative to
// keyed records is defined.
func byPartition(recs []outRecord) map[int32][]outRecord {
	m := map[int32][]outRecord{}
	for _, r := range recs {
		if r.Key != nil {
			m[r.Partition] = append(m[r.Partition], r)
		}
	}
	return m
}

// nullKeyed returns the records with a null key, formatted and sorted: they
// are compared as a multiset.
func nullKeyed(o cases.Output, recs []outRecord) []string {
	var out []string
	for _, r := range recs {
		if r.Key == nil {
			out = append(out, fmtRec(o, r))
		}
	}
	sort.Strings(out)
	return out
}

func partitionsOf(a, b map[int32][]outRecord) []int32 {
	seen := map[int32]bool{}
	var ps []int32
	for _, m := range []map[int32][]outRecord{a, b} {
		for p := range m {
			if !seen[p] {
				seen[p] = true
				ps = append(ps, p)
			}
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// compareExact compares every record of each partition, in order, and the
// records with a null key as a multiset.
func compareExact(o cases.Output, java, sluice []outRecord) []string {
	jp, sp := byPartition(java), byPartition(sluice)
	var diffs []string
	jn, sn := nullKeyed(o, java), nullKeyed(o, sluice)
	for i := 0; i < max(len(jn), len(sn)); i++ {
		if i >= len(jn) || i >= len(sn) || jn[i] != sn[i] {
			at := func(l []string) string {
				if i < len(l) {
					return l[i]
				}
				return "nothing"
			}
			diffs = append(diffs, fmt.Sprintf("null keys (%d java, %d sluice; sorted) [%d]: java %s; sluice %s", len(jn), len(sn), i, at(jn), at(sn)))
			break
		}
	}
	for _, p := range partitionsOf(jp, sp) {
		j, s := jp[p], sp[p]
		n := max(len(j), len(s))
		for i := 0; i < n && len(diffs) < maxDiffs; i++ {
			switch {
			case i >= len(j):
				diffs = append(diffs, fmt.Sprintf("p%d[%d]: java has no record; sluice %s (java %d records, sluice %d)", p, i, fmtRec(o, s[i]), len(j), len(s)))
			case i >= len(s):
				diffs = append(diffs, fmt.Sprintf("p%d[%d]: java %s; sluice has no record (java %d records, sluice %d)", p, i, fmtRec(o, j[i]), len(j), len(s)))
			case !sameRec(j[i], s[i]):
				diffs = append(diffs, fmt.Sprintf("p%d[%d]: java %s; sluice %s", p, i, fmtRec(o, j[i]), fmtRec(o, s[i])))
			default:
				continue
			}
			break // the first difference of a partition; later ones mostly follow from it
		}
	}
	return diffs
}

// finalRecords is the last record of each key, in per-partition order,
// leaving out keys whose last record is a tombstone: a table's final state
// has no value for them, as for a key never written (and whether a cache
// writes a key created and deleted between two flushes at all depends on
// when it flushes: a merged session's old key, for example).
func finalRecords(recs []outRecord) map[string]outRecord {
	m := map[string]outRecord{}
	for _, r := range recs {
		k := "v:" + string(r.Key)
		if r.Key == nil {
			k = "null"
		}
		m[k] = r
	}
	for k, r := range m {
		if r.Value == nil {
			delete(m, k)
		}
	}
	return m
}

// compareFinal compares the last value of each key (see finalRecords).
func compareFinal(o cases.Output, java, sluice []outRecord) []string {
	jf, sf := finalRecords(java), finalRecords(sluice)
	keys := map[string]bool{}
	for k := range jf {
		keys[k] = true
	}
	for k := range sf {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var diffs []string
	extra := 0
	for _, k := range sorted {
		j, jok := jf[k]
		s, sok := sf[k]
		var d string
		switch {
		case !sok:
			d = fmt.Sprintf("java %s; sluice has no record of the key", fmtRec(o, j))
		case !jok:
			d = fmt.Sprintf("java has no record of the key; sluice %s", fmtRec(o, s))
		case !sameRec(j, s):
			d = fmt.Sprintf("java %s; sluice %s", fmtRec(o, j), fmtRec(o, s))
		default:
			continue
		}
		if len(diffs) < maxDiffs {
			diffs = append(diffs, "final "+d)
		} else {
			extra++
		}
	}
	if extra > 0 {
		diffs = append(diffs, fmt.Sprintf("... and %d more keys (of %d)", extra, len(sorted)))
	}
	return diffs
}

// comparePartitions compares the partition each key was written to.
func comparePartitions(o cases.Output, java, sluice []outRecord) []string {
	parts := func(recs []outRecord) map[string]string {
		m := map[string]map[int32]bool{}
		for _, r := range recs {
			if r.Key == nil {
				continue // partitioned at random by the producer
			}
			k := fmtKey(o.Key, r.Key)
			if m[k] == nil {
				m[k] = map[int32]bool{}
			}
			m[k][r.Partition] = true
		}
		out := map[string]string{}
		for k, ps := range m {
			var l []string
			for p := range ps {
				l = append(l, strconv.Itoa(int(p)))
			}
			sort.Strings(l)
			out[k] = strings.Join(l, ",")
		}
		return out
	}
	jp, sp := parts(java), parts(sluice)
	var keys []string
	for k := range jp {
		keys = append(keys, k)
	}
	for k := range sp {
		if _, ok := jp[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var diffs []string
	extra := 0
	for _, k := range keys {
		j, s := jp[k], sp[k]
		if j == s || j == "" || s == "" { // a key only one side wrote is the records check's finding
			continue
		}
		if len(diffs) < maxDiffs {
			diffs = append(diffs, fmt.Sprintf("key %s: java partition %s, sluice %s", k, j, s))
		} else {
			extra++
		}
	}
	if extra > 0 {
		diffs = append(diffs, fmt.Sprintf("... and %d more keys", extra))
	}
	return diffs
}

// compareTopics compares the internal topics: names (without the
// application id), partition counts and the configs set on them.
func compareTopics(java, sluice []topicInfo) []string {
	jm, sm := map[string]topicInfo{}, map[string]topicInfo{}
	var names []string
	for _, t := range java {
		jm[t.Name] = t
		names = append(names, t.Name)
	}
	for _, t := range sluice {
		sm[t.Name] = t
		if _, ok := jm[t.Name]; !ok {
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	var diffs []string
	for _, n := range names {
		j, jok := jm[n]
		s, sok := sm[n]
		switch {
		case !sok:
			diffs = append(diffs, fmt.Sprintf("%s: java has it (%s), sluice does not", n, fmtTopic(j)))
		case !jok:
			diffs = append(diffs, fmt.Sprintf("%s: sluice has it (%s), java does not", n, fmtTopic(s)))
		case fmtTopic(j) != fmtTopic(s):
			diffs = append(diffs, fmt.Sprintf("%s: java %s; sluice %s", n, fmtTopic(j), fmtTopic(s)))
		}
	}
	return diffs
}

func fmtTopic(t topicInfo) string {
	var kv []string
	for k, v := range t.Configs {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return fmt.Sprintf("%d partitions, {%s}", t.Partitions, strings.Join(kv, " "))
}

// normalizeDescribe replaces the side's output topic names with
// placeholders (the two sides write different topics; everything else in
// the text must be equal).
func normalizeDescribe(text string, outputs []string) string {
	for i, o := range outputs {
		text = strings.ReplaceAll(text, o, fmt.Sprintf("OUTPUT-%d", i))
	}
	return text
}

// lineDiff returns a unified-style diff of two texts (- java, + sluice),
// or nil if they are equal.
func lineDiff(java, sluice string) []string {
	if java == sluice {
		return nil
	}
	a, b := strings.Split(java, "\n"), strings.Split(sluice, "\n")
	// Longest common subsequence; the texts are short.
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out = append(out, "  "+a[i])
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+a[i])
			i++
		default:
			out = append(out, "+ "+b[j])
			j++
		}
	}
	return out
}

// firstChanges is the changed lines of a diff (with the line before the
// first), at most n.
func firstChanges(diff []string, n int) []string {
	var out []string
	for i, l := range diff {
		if strings.HasPrefix(l, "  ") {
			continue
		}
		if len(out) == 0 && i > 0 {
			out = append(out, diff[i-1])
		}
		if strings.TrimSpace(l[1:]) == "" {
			l += "(blank line)"
		}
		out = append(out, l)
		if len(out) >= n {
			break
		}
	}
	return out
}
