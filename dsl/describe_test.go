package dsl_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
)

// kafkaDescribeCases are DSL programs whose Describe() must be Kafka
// Streams' text, character for character. The expected text of each is
// testdata/kafka/<name>.txt: for the cases named after a test of Kafka's
// TopologyTest (<name>ShouldPreserveTopologyStructure), the string that
// test asserts; for the others, what Kafka Streams 4.4.0 prints for the
// same program, written by testdata/kafka/Describe.java (run it against the
// 4.4.0 jars; each case there has the name of the case here). The programs
// are written the same way on both sides: same operations, same order, same
// names.
var kafkaDescribeCases = []struct {
	name  string
	build func(b *dsl.Builder)
}{
	// TopologyTest.kGroupedStreamZeroArgCountShouldPreserveTopologyStructure
	{"kGroupedStreamZeroArgCount", func(b *dsl.Builder) {
		dsl.NewStream(b, []string{"input-topic"}, serde.String(), serde.String()).GroupByKey().Count()
	}},
	// TopologyTest.kGroupedStreamNamedMaterializedCountShouldPreserveTopologyStructure
	{"kGroupedStreamNamedMaterializedCount", func(b *dsl.Builder) {
		dsl.NewStream(b, []string{"input-topic"}, serde.String(), serde.String()).GroupByKey().
			Count(dsl.StoreName("count-store"), dsl.InMemory())
	}},
	// TopologyTest.timeWindowZeroArgCountShouldPreserveTopologyStructure
	{"timeWindowZeroArgCount", func(b *dsl.Builder) {
		g := dsl.NewStream(b, []string{"input-topic"}, serde.String(), serde.String()).GroupByKey()
		dsl.WindowedBy(g, dsl.TumblingWindows(time.Millisecond, 0)).Count()
	}},
	// TopologyTest.timeWindowNamedMaterializedCountShouldPreserveTopologyStructure
	{"timeWindowNamedMaterializedCount", func(b *dsl.Builder) {
		g := dsl.NewStream(b, []string{"input-topic"}, serde.String(), serde.String()).GroupByKey()
		dsl.WindowedBy(g, dsl.TumblingWindows(time.Millisecond, 0)).Count(dsl.StoreName("count-store"), dsl.InMemory())
	}},
	// TopologyTest.sessionWindowZeroArgCountShouldPreserveTopologyStructure
	{"sessionWindowZeroArgCount", func(b *dsl.Builder) {
		g := dsl.NewStream(b, []string{"input-topic"}, serde.String(), serde.String()).GroupByKey()
		dsl.SessionWindowedBy(g, dsl.SessionWindowsWithGap(time.Millisecond, 0)).Count()
	}},
	// TopologyTest.sessionWindowNamedMaterializedCountShouldPreserveTopologyStructure
	{"sessionWindowNamedMaterializedCount", func(b *dsl.Builder) {
		g := dsl.NewStream(b, []string{"input-topic"}, serde.String(), serde.String()).GroupByKey()
		dsl.SessionWindowedBy(g, dsl.SessionWindowsWithGap(time.Millisecond, 0)).Count(dsl.StoreName("count-store"), dsl.InMemory())
	}},
	// TopologyTest.tableZeroArgCountShouldPreserveTopologyStructure
	{"tableZeroArgCount", func(b *dsl.Builder) {
		t := dsl.NewTable(b, "input-topic", serde.String(), serde.String())
		dsl.GroupTableBy(t, func(string, string) (string, string) { return "", "" }, serde.String(), serde.String()).Count()
	}},
	// TopologyTest.tableNamedMaterializedCountShouldPreserveTopologyStructure
	{"tableNamedMaterializedCount", func(b *dsl.Builder) {
		t := dsl.NewTable(b, "input-topic", serde.String(), serde.String())
		dsl.GroupTableBy(t, func(string, string) (string, string) { return "", "" }, serde.String(), serde.String()).
			Count(dsl.StoreName("count-store"), dsl.InMemory())
	}},

	// Every stateless operation, generated names; Foreach after To.
	{"stateless", func(b *dsl.Builder) {
		s := source(b)
		r := dsl.Map(s.Filter(keep).FilterNot(drop), swap)
		r = dsl.MapValues(r, same)
		r = dsl.FlatMap(r, func(k, v string) []dsl.KeyValue[string, string] { return []dsl.KeyValue[string, string]{dsl.KV(k, v)} })
		r = dsl.FlatMapValues(r, func(v string) []string { return []string{v} })
		dsl.SelectKey(r, func(k, _ string) string { return k }).Peek(func(string, string) {}).To("out")
		s.Foreach(func(string, string) {})
	}},
	// The same named, which still takes an index per operation
	// (StreamsBuilderTest.shouldUseSpecifiedNameForStreamSourceProcessor,
	// ...ForFilterOperation, ...ForMapOperation, ...ForSinkProcessor,
	// ...ForForEachOperation): the unnamed MapValues after them is
	// KSTREAM-MAPVALUES-0000000011.
	{"stateless_named", func(b *dsl.Builder) {
		s := dsl.NewStream(b, []string{"in"}, serde.String(), serde.String(), dsl.Named("source"))
		r := dsl.Map(s.Filter(keep, dsl.Named("filter")).FilterNot(drop, dsl.Named("filterNot")), swap, dsl.Named("map"))
		r = dsl.MapValues(r, same, dsl.Named("mapValues"))
		r = dsl.FlatMap(r, func(k, v string) []dsl.KeyValue[string, string] { return []dsl.KeyValue[string, string]{dsl.KV(k, v)} }, dsl.Named("flatMap"))
		r = dsl.FlatMapValues(r, func(v string) []string { return []string{v} }, dsl.Named("flatMapValues"))
		dsl.SelectKey(r, func(k, _ string) string { return k }, dsl.Named("selectKey")).
			Peek(func(string, string) {}, dsl.Named("peek")).To("out", dsl.Named("sink"))
		s.Foreach(func(string, string) {}, dsl.Named("foreach"))
		dsl.MapValues(s, same).To("out")
	}},
	// StreamsBuilderTest.shouldUseSpecifiedNameForMergeOperation; a
	// source of two topics lists them in HashSet order.
	{"two_sources_merge", func(b *dsl.Builder) {
		a := source(b)
		o := dsl.NewStream(b, []string{"in2", "in3"}, serde.String(), serde.String())
		a.Merge(o).To("out")
		a.Merge(o, dsl.Named("merge")).To("out")
	}},
	// StreamsBuilderTest.shouldUseSpecifiedNameForProcessOperation
	{"process", func(b *dsl.Builder) {
		b.AddStore(statestore.KeyValue("st", serde.String(), serde.String(), statestore.InMemory()))
		s := source(b)
		p := processor.Func(func(processor.Context[string, string], processor.Record[string, string]) error { return nil })
		dsl.Process(s, p).To("out")
		dsl.Process(s, p, dsl.Named("proc"), dsl.WithStores("st")).To("out")
	}},
	// Branches are named after the split node, each taking an index
	// (BranchedKStreamImpl).
	{"split", func(b *dsl.Builder) {
		sp := source(b).Split()
		sp.Branch("a", keep).To("a")
		sp.Branch("", keep).To("b")
		sp.Default("").To("c")
	}},
	// StreamsBuilderTest.shouldUseSpecifiedNameForSplitOperation
	{"split_named", func(b *dsl.Builder) {
		sp := source(b).Split(dsl.Named("split-"))
		sp.Branch("a", keep).To("a")
		sp.Branch("", keep).To("b")
		sp.Default("default").To("c")
	}},
	{"repartition", func(b *dsl.Builder) {
		s := source(b)
		s.Repartition().To("out")
		s.Repartition(dsl.Named("r"), dsl.Partitions(3)).To("out")
	}},
	{"count", func(b *dsl.Builder) {
		source(b).GroupByKey().Count().ToStream().To("out")
	}},
	{"count_materialized", func(b *dsl.Builder) {
		source(b).GroupByKey().Count(dsl.StoreName("counts")).ToStream().To("out")
	}},
	{"count_named", func(b *dsl.Builder) {
		source(b).GroupByKey().Count(dsl.Named("cnt")).ToStream().To("out")
	}},
	{"count_named_materialized", func(b *dsl.Builder) {
		source(b).GroupByKey().Count(dsl.Named("cnt"), dsl.StoreName("counts")).ToStream().To("out")
	}},
	{"reduce_aggregate", func(b *dsl.Builder) {
		s := source(b)
		s.GroupByKey().Reduce(func(_, v string) string { return v }).ToStream().To("out")
		dsl.Aggregate(s.GroupByKey(), func() string { return "" }, func(_, _, a string) string { return a },
			serde.String(), dsl.StoreName("agg")).ToStream().To("out")
	}},
	// A key change before grouping: the repartition topic is named after
	// the store, with a null-key filter before its sink.
	{"rekey_count", func(b *dsl.Builder) {
		dsl.SelectKey(source(b), value).GroupByKey().Count().ToStream().To("out")
	}},
	{"rekey_count_grouped", func(b *dsl.Builder) {
		dsl.SelectKey(source(b), value).GroupByKey(dsl.Named("g")).Count().ToStream().To("out")
	}},
	{"rekey_count_materialized", func(b *dsl.Builder) {
		dsl.SelectKey(source(b), value).GroupByKey().Count(dsl.StoreName("counts")).ToStream().To("out")
	}},
	// A named GroupBy names its key-selecting node too.
	{"groupby_reduce_aggregate", func(b *dsl.Builder) {
		s := source(b)
		dsl.GroupBy(s, value, serde.String(), dsl.Named("g")).Reduce(func(_, v string) string { return v }).ToStream().To("out")
		dsl.Aggregate(dsl.GroupBy(s, value, serde.String()), func() string { return "" }, func(_, _, a string) string { return a },
			serde.String(), dsl.Named("agg"), dsl.StoreName("aggs")).ToStream().To("out")
	}},
	// A named grouping aggregated twice repartitions once.
	{"named_grouping_twice", func(b *dsl.Builder) {
		g := dsl.SelectKey(source(b), value).GroupByKey(dsl.Named("g"))
		g.Count().ToStream().To("out")
		g.Reduce(func(_, v string) string { return v }).ToStream().To("out")
	}},
	// StreamsBuilderTest.shouldUseSpecifiedNameForTableSourceProcessor
	// (a named table source is <name>-source and <name>) and
	// shouldUseSpecifiedNameForToStream.
	{"table_source", func(b *dsl.Builder) {
		dsl.NewTable(b, "t2", serde.String(), serde.String(), dsl.StoreName("s")).ToStream().To("out")
		dsl.NewTable(b, "t3", serde.String(), serde.String(), dsl.Named("src"), dsl.WithOffsetReset(processor.ResetEarliest),
			dsl.StoreName("s3")).ToStream(dsl.Named("ts")).To("out")
	}},
	{"to_table", func(b *dsl.Builder) {
		s := source(b)
		s.ToTable(dsl.StoreName("first")).ToStream().To("out")
		s.ToTable(dsl.Named("tt"), dsl.StoreName("tts")).ToStream().To("out")
	}},
	{"table_ops", func(b *dsl.Builder) {
		t := dsl.NewTable(b, "t", serde.String(), serde.String(), dsl.StoreName("s"))
		dsl.MapTableValues(t.Filter(keep).FilterNot(drop), func(_, v string) string { return v }).ToStream().
			WithSerdes(serde.String(), serde.String()).To("out")
		dsl.MapTableValues(t.Filter(keep, dsl.Named("f")), func(_, v string) string { return v }, dsl.Named("mv")).
			ToStream(dsl.Named("ts")).WithSerdes(serde.String(), serde.String()).To("out")
	}},
	{"table_groupby", func(b *dsl.Builder) {
		t := dsl.NewTable(b, "t", serde.String(), serde.String())
		dsl.GroupTableBy(t, pair, serde.String(), serde.String()).Count().ToStream().To("out")
	}},
	// StreamsBuilderTest.shouldUseSpecifiedNameForAggregateOperationGivenTable:
	// a named table aggregation names its repartition sink and source
	// after itself; the topic is named after the grouping or the store.
	{"table_groupby_named", func(b *dsl.Builder) {
		t := dsl.NewTable(b, "t", serde.String(), serde.String())
		dsl.GroupTableBy(t, pair, serde.String(), serde.String(), dsl.Named("g")).Count(dsl.Named("cnt")).ToStream().To("out")
		dsl.GroupTableBy(t, pair, serde.String(), serde.String()).
			Reduce(func(_, v string) string { return v }, func(a, _ string) string { return a }, dsl.StoreName("r")).ToStream().To("out")
		dsl.AggregateTable(dsl.GroupTableBy(t, pair, serde.String(), serde.String()), func() string { return "" },
			func(_, _, a string) string { return a }, func(_, _, a string) string { return a }, serde.String()).ToStream().To("out")
	}},
	{"named_table_grouping_twice", func(b *dsl.Builder) {
		g := dsl.GroupTableBy(dsl.NewTable(b, "t", serde.String(), serde.String()), pair, serde.String(), serde.String(), dsl.Named("g"))
		g.Count().ToStream().To("out")
		g.Reduce(func(_, v string) string { return v }, func(a, _ string) string { return a }).ToStream().To("out")
	}},
	{"windowed", func(b *dsl.Builder) {
		s := source(b)
		w := dsl.TumblingWindows(10*time.Millisecond, 5*time.Millisecond)
		dsl.WindowedBy(s.GroupByKey(), w).Count().ToStream().To("out")
		dsl.WindowedBy(s.GroupByKey(), w).Reduce(func(_, v string) string { return v }, dsl.StoreName("w")).ToStream().To("out")
	}},
	{"suppress", func(b *dsl.Builder) {
		s := source(b)
		w := dsl.TumblingWindows(10*time.Millisecond, 5*time.Millisecond)
		dsl.SuppressUntilWindowCloses(dsl.WindowedBy(s.GroupByKey(), w).Count()).ToStream().To("out")
		dsl.SuppressUntilWindowCloses(dsl.WindowedBy(s.GroupByKey(), w).Count(), dsl.Named("sup")).ToStream().To("out")
	}},
	{"session", func(b *dsl.Builder) {
		s := source(b)
		w := dsl.SessionWindowsWithGap(10*time.Millisecond, 5*time.Millisecond)
		dsl.SessionWindowedBy(s.GroupByKey(), w).Count().ToStream().To("out")
		dsl.SessionAggregate(dsl.SessionWindowedBy(dsl.SelectKey(s, value).GroupByKey(), w), func() string { return "" },
			func(_, _, a string) string { return a }, func(_, a, _ string) string { return a }, serde.String(),
			dsl.StoreName("sess")).ToStream().To("out")
	}},
	// StreamsBuilderTest.shouldUseSpecifiedNameForJoinOperationBetweenKStreamAndKTable
	// and ...ForLeftJoinOperationBetweenKStreamAndKTable.
	{"join", func(b *dsl.Builder) {
		s := source(b)
		t := dsl.NewTable(b, "t", serde.String(), serde.String())
		dsl.Join(s, t, func(_, v, _ string) string { return v }).To("out")
		dsl.LeftJoin(s, t, func(_, v, _ string, _ bool) string { return v }, dsl.Named("lj")).To("out")
	}},
	// A re-keyed stream joined: repartitioned with a null-key filter,
	// the topic named after the stream's node (KStreamImpl.repartitionForJoin).
	{"join_rekeyed", func(b *dsl.Builder) {
		s := source(b)
		t := dsl.NewTable(b, "t", serde.String(), serde.String())
		dsl.Join(dsl.SelectKey(s, value), t, func(_, v, _ string) string { return v }).To("out")
	}},
	{"join_rekeyed_named", func(b *dsl.Builder) {
		s := source(b)
		t := dsl.NewTable(b, "t", serde.String(), serde.String())
		dsl.LeftJoin(dsl.SelectKey(s, value), t, func(_, v, _ string, _ bool) string { return v }, dsl.Named("lj")).To("out")
	}},
	// Two joins of one re-keyed stream share its repartition topic; its
	// grouping has its own (no optimization, Kafka Streams' default).
	{"rekeyed_shared", func(b *dsl.Builder) {
		s := source(b)
		t := dsl.NewTable(b, "t", serde.String(), serde.String())
		r := dsl.SelectKey(s, value)
		dsl.Join(r, t, func(_, v, _ string) string { return v }).To("out")
		dsl.LeftJoin(r, t, func(_, v, _ string, _ bool) string { return v }).To("out")
		r.GroupByKey().Count().ToStream().To("out")
	}},
}

func keep(string, string) bool          { return true }
func drop(string, string) bool          { return false }
func swap(k, v string) (string, string) { return k, v }
func pair(k, v string) (string, string) { return k, v }
func same(v string) string              { return v }
func value(_, v string) string          { return v }

// TestDescribeAsKafkaStreams compares Describe() with Kafka Streams' text
// for the same program (see kafkaDescribeCases).
func TestDescribeAsKafkaStreams(t *testing.T) {
	for _, tc := range kafkaDescribeCases {
		t.Run(tc.name, func(t *testing.T) {
			b := dsl.NewBuilder()
			tc.build(b)
			top, err := b.Build()
			must(t, err)
			kafkaGolden(t, tc.name, top.Describe())
		})
	}
}

// kafkaGolden compares got with testdata/kafka/<name>.txt, Kafka Streams'
// Describe text for the same program. These files are not rewritten by
// -update: they come from Kafka Streams (see kafkaDescribeCases).
func kafkaGolden(t *testing.T, name, got string) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", "kafka", name+".txt"))
	must(t, err)
	if got != string(want) {
		t.Errorf("Describe() differs from Kafka Streams' (testdata/kafka/%s.txt):\n--- got\n%s--- want\n%s", name, got, want)
	}
}
