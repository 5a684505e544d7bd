package dsl_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streamstest"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run builds b, pipes the (key, value) pairs into "in" with timestamps 0,
// 1, ..., and returns the records written to each of outs as "key=value"
// strings (tombstones as "key=<nil>").
func run(t *testing.T, b *dsl.Builder, in [][2]string, outs ...string) map[string][]string {
	t.Helper()
	top, err := b.Build()
	must(t, err)
	d, err := streamstest.New(top, streamstest.Config{})
	must(t, err)
	defer func() { must(t, d.Close()) }()
	it := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for i, kv := range in {
		must(t, it.PipeAt(kv[0], kv[1], int64(i)))
	}
	got := map[string][]string{}
	for _, o := range outs {
		recs, err := streamstest.NewOutputTopic(d, o, serde.String(), serde.String()).ReadRecords()
		must(t, err)
		for _, r := range recs {
			v := r.Value
			if r.Tombstone {
				v = "<nil>"
			}
			got[o] = append(got[o], r.Key+"="+v)
		}
	}
	return got
}

func source(b *dsl.Builder) dsl.Stream[string, string] {
	return dsl.NewStream(b, []string{"in"}, serde.String(), serde.String())
}

func TestStatelessOperations(t *testing.T) {
	input := [][2]string{{"a", "1"}, {"b", "22"}, {"c", "333"}, {"d", ""}}
	cases := []struct {
		name  string
		build func(s dsl.Stream[string, string])
		want  []string
	}{
		{"filter", func(s dsl.Stream[string, string]) {
			s.Filter(func(_, v string) bool { return len(v) >= 2 }).To("out")
		}, []string{"b=22", "c=333"}},
		{"filterNot", func(s dsl.Stream[string, string]) {
			s.FilterNot(func(_, v string) bool { return len(v) >= 2 }).To("out")
		}, []string{"a=1", "d="}},
		{"map", func(s dsl.Stream[string, string]) {
			dsl.Map(s, func(k, v string) (string, string) { return v, k }).To("out")
		}, []string{"1=a", "22=b", "333=c", "=d"}},
		{"mapValues", func(s dsl.Stream[string, string]) {
			dsl.MapValues(s, func(v string) string { return v + "!" }).To("out")
		}, []string{"a=1!", "b=22!", "c=333!", "d=!"}},
		{"mapValues to another type", func(s dsl.Stream[string, string]) {
			n := dsl.MapValues(s, func(v string) int { return len(v) })
			dsl.MapValues(n, func(n int) string { return strconv.Itoa(n * 10) }).WithSerdes(serde.String(), serde.String()).To("out")
		}, []string{"a=10", "b=20", "c=30", "d=0"}},
		{"flatMap", func(s dsl.Stream[string, string]) {
			dsl.FlatMap(s, func(k, v string) []dsl.KeyValue[string, string] {
				var out []dsl.KeyValue[string, string]
				for _, c := range v {
					out = append(out, dsl.KV(k+string(c), string(c)))
				}
				return out
			}).To("out")
		}, []string{"a1=1", "b2=2", "b2=2", "c3=3", "c3=3", "c3=3"}},
		{"flatMapValues", func(s dsl.Stream[string, string]) {
			dsl.FlatMapValues(s, func(v string) []string { return strings.Split(v, "") }).To("out")
		}, []string{"a=1", "b=2", "b=2", "c=3", "c=3", "c=3"}},
		{"selectKey", func(s dsl.Stream[string, string]) {
			dsl.SelectKey(s, func(k, v string) string { return k + v }).To("out")
		}, []string{"a1=1", "b22=22", "c333=333", "d="}},
		{"merge", func(s dsl.Stream[string, string]) {
			short := s.Filter(func(_, v string) bool { return len(v) < 2 })
			long := dsl.MapValues(s.Filter(func(_, v string) bool { return len(v) >= 2 }), strings.ToUpper)
			short.Merge(long).To("out")
		}, []string{"a=1", "b=22", "c=333", "d="}},
		{"two children get every record", func(s dsl.Stream[string, string]) {
			s.Filter(func(k, _ string) bool { return k == "a" }).To("out")
			s.Filter(func(k, _ string) bool { return k != "b" }).To("out")
		}, []string{"a=1", "a=1", "c=333", "d="}},
		{"to with topic function", func(s dsl.Stream[string, string]) {
			s.ToWith(dsl.Produced[string, string]{TopicFunc: func(k, _ string) string {
				if k == "a" {
					return "out"
				}
				return "other"
			}})
		}, []string{"a=1"}},
		{"to with serdes and partitioner", func(s dsl.Stream[string, string]) {
			n := dsl.MapValues(s, func(v string) int64 { return int64(len(v)) })
			n.ToWith(dsl.Produced[string, int64]{
				Topic: "out", KeySerde: serde.String(),
				ValueSerde:  serde.New(func(_ string, v int64) ([]byte, error) { return []byte(strconv.FormatInt(v, 10)), nil }, nil),
				Partitioner: func(_ string, _ string, v int64, n int32) int32 { return int32(v) % n },
			})
		}, []string{"a=1", "b=2", "c=3", "d=0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := dsl.NewBuilder()
			tc.build(source(b))
			got := run(t, b, input, "out")["out"]
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPeekAndForeach(t *testing.T) {
	b := dsl.NewBuilder()
	var peeked, each []string
	source(b).Peek(func(k, v string) { peeked = append(peeked, k+v) }).
		Filter(func(k, _ string) bool { return k != "b" }).
		Foreach(func(k, v string) { each = append(each, k+v) })
	run(t, b, [][2]string{{"a", "1"}, {"b", "2"}, {"c", "3"}})
	if fmt.Sprint(peeked) != "[a1 b2 c3]" || fmt.Sprint(each) != "[a1 c3]" {
		t.Fatalf("peeked %v, foreach %v", peeked, each)
	}
}

func TestSplit(t *testing.T) {
	b := dsl.NewBuilder()
	sp := source(b).Split(dsl.Named("route-"))
	sp.Branch("small", func(_, v string) bool { return len(v) == 1 }).To("small")
	sp.Branch("", func(_, v string) bool { return len(v) <= 2 }).To("medium") // matches small ones too, but a record takes the first branch
	sp.Default("").To("large")
	top, err := b.Build()
	must(t, err)
	desc := top.Describe()
	// A named split names the split node too
	// (StreamsBuilderTest.shouldUseSpecifiedNameForSplitOperation).
	for _, n := range []string{"route-small", "route-2", "route-0", "route-"} {
		if !strings.Contains(desc, "Processor: "+n+" ") {
			t.Errorf("describe lacks %s:\n%s", n, desc)
		}
	}
	got := run(t, b, [][2]string{{"a", "1"}, {"b", "22"}, {"c", "333"}, {"d", "4"}}, "small", "medium", "large")
	want := map[string][]string{"small": {"a=1", "d=4"}, "medium": {"b=22"}, "large": {"c=333"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	// Without a default branch, unmatched records are dropped.
	b = dsl.NewBuilder()
	source(b).Split().Branch("x", func(k, _ string) bool { return k == "x" }).To("out")
	if got := run(t, b, [][2]string{{"a", "1"}, {"x", "2"}}, "out")["out"]; fmt.Sprint(got) != "[x=2]" {
		t.Fatalf("got %v", got)
	}

	b = dsl.NewBuilder()
	sp = source(b).Split()
	sp.Default("d")
	sp.Branch("late", func(string, string) bool { return true })
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "after the default branch") {
		t.Fatalf("branch after default: %v", err)
	}
}

// sumValues reads values as integers.
func sumValues(s dsl.Stream[string, string]) dsl.Stream[string, int64] {
	return dsl.MapValues(s, func(v string) int64 { n, _ := strconv.ParseInt(v, 10, 64); return n }).
		WithSerdes(serde.String(), serde.Int64())
}

func format[V any](s dsl.Stream[string, V]) dsl.Stream[string, string] {
	return dsl.MapValues(s, func(v V) string { return fmt.Sprint(v) }).WithSerdes(serde.String(), serde.String())
}

func TestAggregations(t *testing.T) {
	input := [][2]string{{"a", "1"}, {"b", "10"}, {"a", "2"}, {"a", "3"}, {"b", "20"}}
	cases := []struct {
		name  string
		build func(s dsl.Stream[string, string])
		want  []string
	}{
		{"count", func(s dsl.Stream[string, string]) {
			format(s.GroupByKey().Count().ToStream()).To("out")
		}, []string{"a=1", "b=1", "a=2", "a=3", "b=2"}},
		{"reduce", func(s dsl.Stream[string, string]) {
			format(sumValues(s).GroupByKey().Reduce(func(agg, v int64) int64 { return agg + v }).ToStream()).To("out")
		}, []string{"a=1", "b=10", "a=3", "a=6", "b=30"}},
		{"reduce keeps the first value", func(s dsl.Stream[string, string]) {
			s.GroupByKey().Reduce(func(agg, v string) string { return agg + "," + v }).ToStream().To("out")
		}, []string{"a=1", "b=10", "a=1,2", "a=1,2,3", "b=10,20"}},
		{"aggregate", func(s dsl.Stream[string, string]) {
			agg := dsl.Aggregate(s.GroupByKey(), func() string { return "[" },
				func(_, v, agg string) string { return agg + v }, serde.String())
			agg.ToStream().To("out")
		}, []string{"a=[1", "b=[10", "a=[12", "a=[123", "b=[1020"}},
		{"group by value parity through a repartition", func(s dsl.Stream[string, string]) {
			g := dsl.GroupBy(sumValues(s), func(_ string, v int64) string {
				if v%2 == 0 {
					return "even"
				}
				return "odd"
			}, serde.String())
			format(g.Reduce(func(agg, v int64) int64 { return agg + v }).ToStream()).To("out")
		}, []string{"odd=1", "even=10", "even=12", "odd=4", "even=32"}},
		{"toTable", func(s dsl.Stream[string, string]) {
			s.ToTable().ToStream().To("out")
		}, []string{"a=1", "b=10", "a=2", "a=3", "b=20"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := dsl.NewBuilder()
			tc.build(source(b))
			got := run(t, b, input, "out")["out"]
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAggregateTimestamps: an aggregate's timestamp is the largest of its
// inputs', so a late record does not move it back.
func TestAggregateTimestamps(t *testing.T) {
	b := dsl.NewBuilder()
	source(b).GroupByKey().Count(dsl.StoreName("c")).ToStream().To("out")
	top, err := b.Build()
	must(t, err)
	d, err := streamstest.New(top, streamstest.Config{})
	must(t, err)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64())
	for _, ts := range []int64{100, 50, 300} {
		must(t, in.PipeAt("k", "v", ts))
	}
	recs, err := out.ReadRecords()
	must(t, err)
	var got []int64
	for _, r := range recs {
		got = append(got, r.Timestamp)
	}
	if fmt.Sprint(got) != "[100 100 300]" {
		t.Fatalf("timestamps %v", got)
	}
	s, err := streamstest.Store[statestore.TimestampedKeyValueStore[string, int64]](d, "c")
	must(t, err)
	if v, _, _ := s.Get("k"); v.Value != 3 || v.Timestamp != 300 {
		t.Fatalf("store %+v", v)
	}
}

func TestRepartitionExplicit(t *testing.T) {
	b := dsl.NewBuilder()
	dsl.SelectKey(source(b), func(_, v string) string { return v }).
		Repartition(dsl.Named("by-value"), dsl.Partitions(4)).
		GroupByKey().Count(dsl.StoreName("n"))
	top, err := b.Build()
	must(t, err)
	sinks, err := top.InternalSinks()
	must(t, err)
	if len(sinks) != 1 || sinks[0].Topic != "by-value-repartition" || sinks[0].Partitions != 4 {
		t.Fatalf("internal sinks %+v", sinks)
	}
	subs, err := top.Subtopologies()
	must(t, err)
	if len(subs) != 2 {
		t.Fatalf("%d sub-topologies; the grouping after Repartition must not repartition again", len(subs))
	}
}

func TestProcessWithStore(t *testing.T) {
	b := dsl.NewBuilder()
	b.AddStore(statestore.KeyValue("last", serde.String(), serde.String(), statestore.InMemory()))
	out := dsl.Process(source(b), func() processor.Processor[string, string, string, string] {
		return &previousValue{}
	}, dsl.Named("previous"), dsl.WithStores("last"))
	out.WithSerdes(serde.String(), serde.String()).To("out")
	got := run(t, b, [][2]string{{"a", "1"}, {"a", "2"}, {"b", "3"}, {"a", "4"}}, "out")["out"]
	if fmt.Sprint(got) != "[a= a=1 b= a=2]" {
		t.Fatalf("got %v", got)
	}
}

// previousValue forwards the value a key had before.
type previousValue struct {
	ctx   processor.Context[string, string]
	store statestore.KeyValueStore[string, string]
}

func (p *previousValue) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	var err error
	p.store, err = processor.GetStore[statestore.KeyValueStore[string, string]](ctx, "last")
	return err
}

func (p *previousValue) Process(r processor.Record[string, string]) error {
	old, _, err := p.store.Get(r.Key)
	if err != nil {
		return err
	}
	if err := p.store.Put(r.Key, r.Value); err != nil {
		return err
	}
	return p.ctx.Forward(processor.WithValue(r, old))
}

func (p *previousValue) Close() error { return nil }

func TestBuildErrors(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *dsl.Builder)
		is    error
		msg   string
	}{
		{"group after map needs serdes", func(b *dsl.Builder) {
			dsl.Map(source(b), func(k, v string) (int, string) { return len(k), v }).GroupByKey().Count()
		}, dsl.ErrNoSerde, "WithSerdes"},
		{"to without serdes", func(b *dsl.Builder) {
			dsl.MapValues(source(b), func(v string) []int { return nil }).To("out")
		}, dsl.ErrNoSerde, "sink"},
		{"duplicate names", func(b *dsl.Builder) {
			s := source(b)
			s.Filter(func(string, string) bool { return true }, dsl.Named("f"))
			s.Filter(func(string, string) bool { return true }, dsl.Named("f"))
		}, processor.ErrInvalidTopology, `"f"`},
		{"duplicate store", func(b *dsl.Builder) {
			s := source(b)
			s.GroupByKey().Count(dsl.StoreName("c"))
			s.GroupByKey().Count(dsl.StoreName("c"))
		}, processor.ErrInvalidTopology, `"c"`},
		{"no source", func(b *dsl.Builder) {}, processor.ErrInvalidTopology, "no source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := dsl.NewBuilder()
			tc.build(b)
			_, err := b.Build()
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "dsl: ") {
				t.Fatalf("error %v, want %v containing %q", err, tc.is, tc.msg)
			}
		})
	}
}

func TestDescribeWordCount(t *testing.T) {
	top, err := wordCount("streams-plaintext-input", "streams-wordcount-output").Build()
	must(t, err)
	kafkaGolden(t, "wordcount", top.Describe())
}

// TestDescribeTwoRepartitions: orders are counted per customer, then the
// customers are counted per order count: two key changes, two repartition
// topics, three sub-topologies. Nothing is named, so every name is
// generated.
func TestDescribeTwoRepartitions(t *testing.T) {
	b := dsl.NewBuilder()
	orders := dsl.NewStream(b, []string{"orders"}, serde.String(), serde.String())
	perCustomer := dsl.SelectKey(orders, func(_, customer string) string { return customer }).
		GroupByKey().Count()
	byCount := dsl.SelectKey(perCustomer.ToStream(), func(_ string, n int64) string { return strconv.FormatInt(n, 10) })
	byCount.GroupByKey().Count().ToStream().To("customers-per-count")
	top, err := b.Build()
	must(t, err)
	kafkaGolden(t, "two_repartitions", top.Describe())
	sinks, err := top.InternalSinks()
	must(t, err)
	if len(sinks) != 2 {
		t.Fatalf("internal sinks %+v", sinks)
	}
}

// TestDescribeTableReaggregation: a table regrouped and counted, with
// generated names throughout.
func TestDescribeTableReaggregation(t *testing.T) {
	b := dsl.NewBuilder()
	users := dsl.NewTable(b, "user-regions", serde.String(), serde.String())
	dsl.GroupTableBy(users, func(u, r string) (string, string) { return r, u }, serde.String(), serde.String()).
		Count().ToStream().To("users-per-region")
	top, err := b.Build()
	must(t, err)
	kafkaGolden(t, "table_reaggregation", top.Describe())
}

func TestStoreOptions(t *testing.T) {
	cases := []struct {
		opts []dsl.Option
		want statestore.Spec
	}{
		{nil, statestore.Spec{Name: "KSTREAM-AGGREGATE-STATE-STORE-0000000001", Kind: statestore.KindTimestampedKeyValue, Logging: true, Caching: true}},
		{[]dsl.Option{dsl.StoreName("s"), dsl.InMemory(), dsl.Caching(false), dsl.Logging(false)},
			statestore.Spec{Name: "s", Kind: statestore.KindTimestampedKeyValue, InMemory: true}},
		{[]dsl.Option{dsl.StoreName("s"), dsl.Logging(true), dsl.Caching(true)},
			statestore.Spec{Name: "s", Kind: statestore.KindTimestampedKeyValue, Logging: true, Caching: true}},
	}
	for i, tc := range cases {
		b := dsl.NewBuilder()
		source(b).GroupByKey().Count(tc.opts...)
		top, err := b.Build()
		must(t, err)
		sbs, err := top.StoreBuilders(0)
		must(t, err)
		if len(sbs) != 1 || fmt.Sprint(sbs[0].Spec()) != fmt.Sprint(tc.want) {
			t.Errorf("case %d: specs %+v, want %+v", i, sbs, tc.want)
		}
	}
}

// TestAggregateRandom: seeded random input through a repartitioning sum
// under different cache settings, cache sizes and commit points. The final
// output and store equal a replay; without caching, every input gives
// exactly one update, equal to the running sum.
func TestAggregateRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var in [][2]string
	want := map[string]int64{}
	var running []string
	for range 500 {
		k, n := "k"+strconv.Itoa(rng.IntN(30)), rng.IntN(100)
		in = append(in, [2]string{k, strconv.Itoa(n)})
		g := "g" + strconv.Itoa(n%7) // regroup by value: a repartition
		want[g] += int64(n)
		running = append(running, g+"="+strconv.FormatInt(want[g], 10))
	}
	for _, c := range []struct {
		caching     bool
		cacheBytes  int64
		commitEvery int
	}{{false, 0, 0}, {false, 0, 23}, {true, 0, 0}, {true, 0, 31}, {true, 500, 9}, {true, -1, 50}} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			b := dsl.NewBuilder()
			g := dsl.GroupBy(sumValues(source(b)), func(_ string, v int64) string { return "g" + strconv.FormatInt(v%7, 10) }, serde.String())
			format(g.Reduce(func(a, v int64) int64 { return a + v }, dsl.StoreName("sums"), dsl.Caching(c.caching)).ToStream()).To("out")
			top, err := b.Build()
			must(t, err)
			d, err := streamstest.New(top, streamstest.Config{CacheMaxBytes: c.cacheBytes, ManualCommit: c.commitEvery > 0})
			must(t, err)
			defer d.Close()
			it := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			for i, kv := range in {
				must(t, it.PipeAt(kv[0], kv[1], int64(i)))
				if c.commitEvery > 0 && i%c.commitEvery == 0 {
					must(t, d.Commit())
				}
			}
			must(t, d.Commit())
			recs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadRecords()
			must(t, err)
			got := map[string]int64{}
			var seq []string
			for _, r := range recs {
				n, err := strconv.ParseInt(r.Value, 10, 64)
				must(t, err)
				got[r.Key] = n
				seq = append(seq, r.Key+"="+r.Value)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("final %v, want %v", got, want)
			}
			if !c.caching && !slices.Equal(seq, running) {
				t.Fatalf("without caching the updates are not the running sums")
			}
			if c.caching && c.commitEvery > 0 && c.cacheBytes == 0 && len(seq) >= len(running) {
				t.Fatalf("caching sent %d updates for %d inputs", len(seq), len(running))
			}
		})
	}
}
