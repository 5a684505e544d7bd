// Package cases holds the conformance cases: for each, the topology built
// with Sluice's DSL, the shape of its inputs and outputs, and how its
// outputs are compared with Java Kafka Streams'. The Java side builds the
// same topologies in conformance/java (Main.build, one switch arm per case
// name); the two must be kept in step by hand.
//
// Stateless cases read keys and values as bytes (serde.Bytes), so that a
// null key or value stays null through the topology as it does in Java;
// their functions map nil to nil as the Java lambdas map null to null.
// Stateful cases read strings (serde.String), as a Go user would, so
// Sluice's handling of null keys and values in groupings and aggregations
// (which Kafka Streams drops) is compared as it is.
//
// The package's values are read-only after init and safe for concurrent
// use.
package cases

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
)

// Window parameters every windowed case uses, on both sides
// (Main.WINDOW_MS and friends in the Java project).
const (
	WindowSize    = 20 * time.Second
	WindowGrace   = 10 * time.Second
	WindowAdvance = 10 * time.Second
	SessionGap    = 5 * time.Second
	SessionGrace  = 5 * time.Second
)

// InputKind says what a case's input topic holds.
type InputKind int

const (
	// StreamInput holds event records: keys from a small set (some null),
	// values of one to three words (some null).
	StreamInput InputKind = iota
	// TableInput holds table updates: one word per value, some tombstones.
	TableInput
)

// Compare says how an output topic is compared.
type Compare int

const (
	// Exact compares every record (key, value or tombstone, timestamp) of
	// each output partition, in order: for uncached, suppressed and join
	// outputs, whose records Kafka Streams defines one by one.
	Exact Compare = iota
	// Final compares the last record of each key (value or tombstone, and
	// timestamp): for cached aggregations and tables, whose intermediate
	// emissions depend on when caches are flushed.
	Final
)

// KeyFormat and ValueFormat say how output bytes are decoded in reports
// (comparisons are of the bytes).
type KeyFormat int

const (
	StringKey        KeyFormat = iota
	TimeWindowedKey            // key bytes, then the 8-byte window start
	SessionWindowKey           // key bytes, then the 8-byte end and start
)

type ValueFormat int

const (
	StringValue ValueFormat = iota
	LongValue
)

// Output is one output topic of a case.
type Output struct {
	Compare Compare
	Key     KeyFormat
	Value   ValueFormat
}

// Case is one topology run on both sides.
type Case struct {
	Name    string
	Inputs  []InputKind
	Outputs []Output
	// MaxTaskIdle, if set, is max.task.idle.ms on both sides instead of
	// the input shape's: a join of a repartitioned stream needs it so that
	// Java itself waits for the repartition topic instead of joining the
	// table's records first (with 0, its output depends on timing).
	MaxTaskIdle time.Duration
	// Backlog limits the case to backlog input, for a case whose Java
	// output on paced input changes from run to run (the harness's
	// java-consistency check), so that a comparison with Sluice would mean
	// nothing.
	Backlog bool
	// Build adds the topology to b, reading the input topics in and
	// writing the output topics out (as many as Inputs and Outputs).
	Build func(b *dsl.Builder, in, out []string)
}

// Topology builds c's topology over the given topics.
func (c Case) Topology(in, out []string) (*processor.Topology, error) {
	if len(in) != len(c.Inputs) || len(out) != len(c.Outputs) {
		return nil, fmt.Errorf("cases: %s takes %d inputs and %d outputs, not %d and %d", c.Name, len(c.Inputs), len(c.Outputs), len(in), len(out))
	}
	b := dsl.NewBuilder()
	c.Build(b, in, out)
	return b.Build()
}

var registry = map[string]Case{}

func add(c Case) {
	if _, dup := registry[c.Name]; dup {
		panic("cases: duplicate case " + c.Name)
	}
	registry[c.Name] = c
}

// Get returns the case named name.
func Get(name string) (Case, bool) {
	c, ok := registry[name]
	return c, ok
}

// Names returns every case's name, sorted.
func Names() []string {
	n := make([]string, 0, len(registry))
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// The value functions, as Main.java writes them.

func firstWord(v string) string {
	if i := strings.IndexByte(v, ' '); i >= 0 {
		return v[:i]
	}
	return v
}

func words(v string) []string {
	var w []string
	for _, s := range strings.Split(v, " ") {
		if s != "" {
			w = append(w, s)
		}
	}
	return w
}

func rekey(v string) string { return fmt.Sprintf("k%d", len(v)%7) }

func maxString(a, b string) string {
	if a >= b {
		return a
	}
	return b
}

// The same functions over nullable bytes: nil in, nil out.

func upperB(v []byte) []byte {
	if v == nil {
		return nil
	}
	return bytes.ToUpper(v)
}

func firstWordB(v []byte) []byte {
	if v == nil {
		return nil
	}
	return []byte(firstWord(string(v)))
}

func wordsB(v []byte) [][]byte {
	if v == nil {
		return nil
	}
	var out [][]byte
	for _, w := range words(string(v)) {
		out = append(out, []byte(w))
	}
	return out
}

var (
	bs = serde.Bytes()
	ss = serde.String()
	ls = serde.Int64()
)

func bytesStream(b *dsl.Builder, topic string) dsl.Stream[[]byte, []byte] {
	return dsl.NewStream(b, []string{topic}, bs, bs)
}

func stringStream(b *dsl.Builder, topic string) dsl.Stream[string, string] {
	return dsl.NewStream(b, []string{topic}, ss, ss)
}

var (
	one       = []InputKind{StreamInput}
	exactStr  = Output{Compare: Exact}
	finalStr  = Output{Compare: Final}
	exactLong = Output{Compare: Exact, Value: LongValue}
	finalLong = Output{Compare: Final, Value: LongValue}
)

func init() {
	// Stateless operations.
	add(Case{Name: "filter", Inputs: one, Outputs: []Output{exactStr}, Build: func(b *dsl.Builder, in, out []string) {
		bytesStream(b, in[0]).
			Filter(func(_, v []byte) bool { return v != nil && bytes.Contains(v, []byte("a")) }).
			FilterNot(func(k, _ []byte) bool { return k == nil }).
			To(out[0])
	}})
	add(Case{Name: "map-values-peek", Inputs: one, Outputs: []Output{exactStr}, Build: func(b *dsl.Builder, in, out []string) {
		dsl.MapValues(bytesStream(b, in[0]), upperB).
			Peek(func(_, _ []byte) {}).
			To(out[0])
	}})
	add(Case{Name: "map", Inputs: one, Outputs: []Output{exactStr}, Build: func(b *dsl.Builder, in, out []string) {
		dsl.Map(bytesStream(b, in[0]), func(k, v []byte) ([]byte, []byte) { return firstWordB(v), k }).
			WithSerdes(bs, bs).
			To(out[0])
	}})
	add(Case{Name: "flatmap", Inputs: one, Outputs: []Output{exactStr, exactStr}, Build: func(b *dsl.Builder, in, out []string) {
		s := bytesStream(b, in[0])
		dsl.FlatMap(s, func(k, v []byte) []dsl.KeyValue[[]byte, []byte] {
			var r []dsl.KeyValue[[]byte, []byte]
			for _, w := range wordsB(v) {
				r = append(r, dsl.KV(w, k))
			}
			return r
		}).WithSerdes(bs, bs).To(out[0])
		dsl.FlatMapValues(s, wordsB).WithSerdes(bs, bs).To(out[1])
	}})
	add(Case{Name: "select-key-repartition", Inputs: one, Outputs: []Output{exactStr}, Build: func(b *dsl.Builder, in, out []string) {
		s := dsl.SelectKey(bytesStream(b, in[0]), func(_, v []byte) []byte { return firstWordB(v) }).Repartition()
		dsl.MapValues(s, upperB).To(out[0])
	}})
	add(Case{Name: "merge-split", Inputs: []InputKind{StreamInput, StreamInput}, Outputs: []Output{exactStr, exactStr, exactStr}, Build: func(b *dsl.Builder, in, out []string) {
		// The branches first, then their sinks, in Main.java's order (node
		// names take their indexes in the order they are added).
		sp := bytesStream(b, in[0]).Merge(bytesStream(b, in[1])).Split(dsl.Named("split-"))
		a := sp.Branch("a", func(_, v []byte) bool { return v != nil && bytes.HasPrefix(v, []byte("a")) })
		low := sp.Branch("low", func(k, _ []byte) bool { return k != nil && string(k) < "k3" })
		rest := sp.Default("rest")
		a.To(out[0])
		low.To(out[1])
		rest.To(out[2])
	}})

	// Grouping and aggregation of streams.
	add(Case{Name: "wordcount", Inputs: one, Outputs: []Output{finalLong}, Build: WordCount})
	add(Case{Name: "groupby-count-uncached", Inputs: one, Outputs: []Output{exactLong}, Build: func(b *dsl.Builder, in, out []string) {
		dsl.ToStream(dsl.GroupBy(stringStream(b, in[0]), func(_, v string) string { return firstWord(v) }, ss).
			Count(dsl.Caching(false))).
			To(out[0])
	}})
	add(Case{Name: "groupby-reduce", Inputs: one, Outputs: []Output{finalStr}, Build: func(b *dsl.Builder, in, out []string) {
		dsl.ToStream(dsl.GroupBy(stringStream(b, in[0]), func(_, v string) string { return firstWord(v) }, ss).
			Reduce(maxString)).
			To(out[0])
	}})
	add(Case{Name: "groupby-aggregate", Inputs: one, Outputs: []Output{finalLong}, Build: func(b *dsl.Builder, in, out []string) {
		g := dsl.GroupBy(stringStream(b, in[0]), func(_, v string) string { return firstWord(v) }, ss)
		dsl.ToStream(dsl.Aggregate(g, func() int64 { return 0 },
			func(_ string, v string, agg int64) int64 { return agg + int64(len(v)) }, ls)).
			To(out[0])
	}})
	add(Case{Name: "groupbykey-aggregate", Inputs: one, Outputs: []Output{finalLong}, Build: func(b *dsl.Builder, in, out []string) {
		dsl.ToStream(dsl.Aggregate(stringStream(b, in[0]).GroupByKey(), func() int64 { return 0 },
			func(_ string, v string, agg int64) int64 { return agg + int64(len(v)) }, ls)).
			To(out[0])
	}})

	// Tables.
	table := []InputKind{TableInput}
	add(Case{Name: "table-ops", Inputs: table, Outputs: []Output{exactStr}, Build: func(b *dsl.Builder, in, out []string) {
		t := dsl.NewTable(b, in[0], ss, ss).Filter(func(_, v string) bool { return len(v) > 4 })
		dsl.ToStream(dsl.MapTableValues(t, func(_, v string) string { return strings.ToUpper(v) })).WithSerdes(ss, dsl.NullableSerde(ss)).To(out[0])
	}})
	// The regrouped table's source is uncached on both sides: a cache
	// merges a key's updates between flushes, so which updates reach the
	// re-aggregation (and so the final timestamps, and whether a group
	// touched only in passing is written at all) would depend on when
	// commits happen, in Java as in Sluice.
	regroup := func(b *dsl.Builder, in string) dsl.GroupedTable[string, string] {
		t := dsl.NewTable(b, in, ss, ss, dsl.Caching(false))
		return dsl.GroupTableBy(t, func(_, v string) (string, string) { return v[:1], v }, ss, ss)
	}
	add(Case{Name: "table-regroup-count", Inputs: table, Outputs: []Output{finalLong}, Build: func(b *dsl.Builder, in, out []string) {
		dsl.ToStream(regroup(b, in[0]).Count()).To(out[0])
	}})
	add(Case{Name: "table-regroup-reduce", Inputs: table, Outputs: []Output{finalStr}, Build: func(b *dsl.Builder, in, out []string) {
		dsl.ToStream(regroup(b, in[0]).Reduce(func(agg, v string) string { return agg + v },
			func(agg, v string) string { return strings.Replace(agg, v, "", 1) })).
			To(out[0])
	}})
	add(Case{Name: "table-regroup-aggregate", Inputs: table, Outputs: []Output{finalLong}, Build: func(b *dsl.Builder, in, out []string) {
		dsl.ToStream(dsl.AggregateTable(regroup(b, in[0]), func() int64 { return 0 },
			func(_, v string, agg int64) int64 { return agg + int64(len(v)) },
			func(_, v string, agg int64) int64 { return agg - int64(len(v)) }, ls)).
			To(out[0])
	}})

	// Windows.
	tumbling := dsl.TumblingWindows(WindowSize, WindowGrace)
	hopping := tumbling.AdvanceBy(WindowAdvance)
	sessions := dsl.SessionWindowsWithGap(SessionGap, SessionGrace)
	tw := func(c Compare) Output { return Output{Compare: c, Key: TimeWindowedKey, Value: LongValue} }
	sw := func(c Compare) Output { return Output{Compare: c, Key: SessionWindowKey, Value: LongValue} }
	// A cached aggregation takes no option, as Java's count() takes no
	// Materialized; uncached ones take Caching(false), Java's
	// Materialized.with(...).withCachingDisabled().
	for _, cached := range []bool{true, false} {
		suffix, cmp := "", Final
		var opts []dsl.Option
		if !cached {
			suffix, cmp, opts = "-uncached", Exact, []dsl.Option{dsl.Caching(false)}
		}
		add(Case{Name: "tumbling-count" + suffix, Inputs: one, Outputs: []Output{tw(cmp)}, Build: func(b *dsl.Builder, in, out []string) {
			dsl.ToStream(dsl.WindowedBy(stringStream(b, in[0]).GroupByKey(), tumbling).Count(opts...)).To(out[0])
		}})
		add(Case{Name: "hopping-aggregate" + suffix, Inputs: one, Outputs: []Output{tw(cmp)}, Build: func(b *dsl.Builder, in, out []string) {
			dsl.ToStream(dsl.WindowedAggregate(dsl.WindowedBy(stringStream(b, in[0]).GroupByKey(), hopping), func() int64 { return 0 },
				func(_, v string, agg int64) int64 { return agg + int64(len(v)) }, ls, opts...)).
				To(out[0])
		}})
		add(Case{Name: "session-count" + suffix, Inputs: one, Outputs: []Output{sw(cmp)}, Build: func(b *dsl.Builder, in, out []string) {
			dsl.ToStream(dsl.SessionWindowedBy(stringStream(b, in[0]).GroupByKey(), sessions).Count(opts...)).To(out[0])
		}})
	}
	add(Case{Name: "suppress-tumbling", Inputs: one, Outputs: []Output{tw(Exact)}, Build: func(b *dsl.Builder, in, out []string) {
		t := dsl.WindowedBy(stringStream(b, in[0]).GroupByKey(), tumbling).Count()
		dsl.ToStream(dsl.SuppressUntilWindowCloses(t)).To(out[0])
	}})
	add(Case{Name: "suppress-session", Inputs: one, Outputs: []Output{sw(Exact)}, Build: func(b *dsl.Builder, in, out []string) {
		t := dsl.SessionWindowedBy(stringStream(b, in[0]).GroupByKey(), sessions).Count()
		dsl.ToStream(dsl.SuppressUntilWindowCloses(t)).To(out[0])
	}})

	// Stream-table joins.
	joinIn := []InputKind{StreamInput, TableInput}
	add(Case{Name: "join", Inputs: joinIn, Outputs: []Output{exactStr}, Build: func(b *dsl.Builder, in, out []string) {
		t := dsl.NewTable(b, in[1], ss, ss)
		dsl.Join(stringStream(b, in[0]), t, func(_, v, tv string) string { return v + "|" + tv }).
			WithSerdes(ss, ss).To(out[0])
	}})
	add(Case{Name: "left-join", Inputs: joinIn, Outputs: []Output{exactStr}, Build: func(b *dsl.Builder, in, out []string) {
		t := dsl.NewTable(b, in[1], ss, ss)
		dsl.LeftJoin(stringStream(b, in[0]), t, func(_, v, tv string, found bool) string {
			if !found {
				tv = "<none>"
			}
			return v + "|" + tv
		}).WithSerdes(ss, ss).To(out[0])
	}})
	// On paced input Java's first join results of a re-keyed stream
	// differ between runs even with max.task.idle.ms 10 s (which table
	// records a repartitioned record meets at the start).
	add(Case{Name: "join-rekeyed", Inputs: joinIn, Outputs: []Output{exactStr}, MaxTaskIdle: 10 * time.Second, Backlog: true, Build: func(b *dsl.Builder, in, out []string) {
		t := dsl.NewTable(b, in[1], ss, ss)
		s := dsl.SelectKey(stringStream(b, in[0]), func(_, v string) string { return rekey(v) })
		dsl.Join(s, t, func(_, v, tv string) string { return v + "|" + tv }).WithSerdes(ss, ss).To(out[0])
	}})
}

// WordCount is the word count of the migration case (and the "wordcount"
// case): lines -> flatMapValues(words) -> groupBy(word) through the
// repartition topic "words" -> count in the store "counts" -> toStream ->
// to(out).
func WordCount(b *dsl.Builder, in, out []string) {
	words := dsl.FlatMapValues(stringStream(b, in[0]), words)
	dsl.ToStream(dsl.GroupBy(words, func(_, w string) string { return w }, ss, dsl.Named("words")).
		Count(dsl.StoreName("counts"))).
		To(out[0])
}
