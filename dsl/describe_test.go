package dsl_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streamstest"
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
	// TopologyTest.kGroupedStreamAnonymousMaterializedCountShouldPreserveTopologyStructure:
	// a store option without a StoreName is Java's count(Materialized)
	// naming no store, which takes an extra index.
	{"kGroupedStreamAnonymousMaterializedCount", func(b *dsl.Builder) {
		dsl.NewStream(b, []string{"input-topic"}, serde.String(), serde.String()).GroupByKey().Count(dsl.Logging(true))
	}},
	// TopologyTest.timeWindowAnonymousMaterializedCountShouldPreserveTopologyStructure
	{"timeWindowAnonymousMaterializedCount", func(b *dsl.Builder) {
		g := dsl.NewStream(b, []string{"input-topic"}, serde.String(), serde.String()).GroupByKey()
		dsl.WindowedBy(g, dsl.TumblingWindows(time.Millisecond, 0)).Count(dsl.Logging(true))
	}},
	// TopologyTest.sessionWindowAnonymousMaterializedCountShouldPreserveTopologyStructure
	{"sessionWindowAnonymousMaterializedCount", func(b *dsl.Builder) {
		g := dsl.NewStream(b, []string{"input-topic"}, serde.String(), serde.String()).GroupByKey()
		dsl.SessionWindowedBy(g, dsl.SessionWindowsWithGap(time.Millisecond, 0)).Count(dsl.Logging(true))
	}},
	// TopologyTest.tableAnonymousMaterializedCountShouldPreserveTopologyStructure:
	// no extra index for a table's count.
	{"tableAnonymousMaterializedCount", func(b *dsl.Builder) {
		t := dsl.NewTable(b, "input-topic", serde.String(), serde.String())
		dsl.GroupTableBy(t, func(string, string) (string, string) { return "", "" }, serde.String(), serde.String()).
			Count(dsl.Logging(true))
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
		dsl.ToStream(source(b).GroupByKey().Count()).To("out")
	}},
	{"count_materialized", func(b *dsl.Builder) {
		dsl.ToStream(source(b).GroupByKey().Count(dsl.StoreName("counts"))).To("out")
	}},
	{"count_named", func(b *dsl.Builder) {
		dsl.ToStream(source(b).GroupByKey().Count(dsl.Named("cnt"))).To("out")
	}},
	{"count_named_materialized", func(b *dsl.Builder) {
		dsl.ToStream(source(b).GroupByKey().Count(dsl.Named("cnt"), dsl.StoreName("counts"))).To("out")
	}},
	{"reduce_aggregate", func(b *dsl.Builder) {
		s := source(b)
		dsl.ToStream(s.GroupByKey().Reduce(func(_, v string) string { return v })).To("out")
		dsl.ToStream(dsl.Aggregate(s.GroupByKey(), func() string { return "" }, func(_, _, a string) string { return a },
			serde.String(), dsl.StoreName("agg"))).
			To("out")
	}},
	// A key change before grouping: the repartition topic is named after
	// the store, with a null-key filter before its sink.
	{"rekey_count", func(b *dsl.Builder) {
		dsl.ToStream(dsl.SelectKey(source(b), value).GroupByKey().Count()).To("out")
	}},
	{"rekey_count_grouped", func(b *dsl.Builder) {
		dsl.ToStream(dsl.SelectKey(source(b), value).GroupByKey(dsl.Named("g")).Count()).To("out")
	}},
	{"rekey_count_materialized", func(b *dsl.Builder) {
		dsl.ToStream(dsl.SelectKey(source(b), value).GroupByKey().Count(dsl.StoreName("counts"))).To("out")
	}},
	// A named GroupBy names its key-selecting node too.
	{"groupby_reduce_aggregate", func(b *dsl.Builder) {
		s := source(b)
		dsl.ToStream(dsl.GroupBy(s, value, serde.String(), dsl.Named("g")).Reduce(func(_, v string) string { return v })).To("out")
		dsl.ToStream(dsl.Aggregate(dsl.GroupBy(s, value, serde.String()), func() string { return "" }, func(_, _, a string) string { return a },
			serde.String(), dsl.Named("agg"), dsl.StoreName("aggs"))).
			To("out")
	}},
	// A named grouping aggregated twice repartitions once.
	{"named_grouping_twice", func(b *dsl.Builder) {
		g := dsl.SelectKey(source(b), value).GroupByKey(dsl.Named("g"))
		dsl.ToStream(g.Count()).To("out")
		dsl.ToStream(g.Reduce(func(_, v string) string { return v })).To("out")
	}},
	// StreamsBuilderTest.shouldUseSpecifiedNameForTableSourceProcessor
	// (a named table source is <name>-source and <name>) and
	// shouldUseSpecifiedNameForToStream.
	{"table_source", func(b *dsl.Builder) {
		dsl.ToStream(dsl.NewTable(b, "t2", serde.String(), serde.String(), dsl.StoreName("s"))).To("out")
		dsl.ToStream(dsl.NewTable(b, "t3", serde.String(), serde.String(), dsl.Named("src"), dsl.WithOffsetReset(processor.ResetEarliest),
			dsl.StoreName("s3")), dsl.Named("ts")).To("out")
	}},
	{"to_table", func(b *dsl.Builder) {
		s := source(b)
		dsl.ToStream(s.ToTable(dsl.StoreName("first"))).To("out")
		dsl.ToStream(s.ToTable(dsl.Named("tt"), dsl.StoreName("tts"))).To("out")
	}},
	// Tables without StoreName have no store unless a join or a
	// regrouping needs one (TopologyTest kTableNonMaterialized*).
	{"table_unmaterialized", func(b *dsl.Builder) {
		dsl.ToStream(dsl.NewTable(b, "t", serde.String(), serde.String())).To("out")
		s := source(b)
		dsl.ToStream(s.ToTable()).To("out")
		dsl.ToStream(s.ToTable(dsl.Named("tt"))).To("out")
		t2 := dsl.NewTable(b, "t2", serde.String(), serde.String())
		dsl.ToStream(dsl.MapTableValues(t2.Filter(keep), func(_, v string) string { return v })).
			WithSerdes(serde.String(), dsl.NullableSerde(serde.String())).To("out")
	}},
	{"table_join_materializes", func(b *dsl.Builder) {
		t := dsl.NewTable(b, "t", serde.String(), serde.String())
		dsl.Join(source(b), t, func(_, v, _ string) string { return v }).To("out")
		u := dsl.NewStream(b, []string{"in2"}, serde.String(), serde.String()).ToTable()
		dsl.Join(dsl.NewStream(b, []string{"in3"}, serde.String(), serde.String()), u.Filter(keep), func(_, v, _ string) string { return v }).To("out")
	}},
	{"table_ops", func(b *dsl.Builder) {
		t := dsl.NewTable(b, "t", serde.String(), serde.String(), dsl.StoreName("s"))
		dsl.ToStream(dsl.MapTableValues(t.Filter(keep).FilterNot(drop), func(_, v string) string { return v })).
			WithSerdes(serde.String(), dsl.NullableSerde(serde.String())).To("out")
		dsl.ToStream(dsl.MapTableValues(t.Filter(keep, dsl.Named("f")), func(_, v string) string { return v }, dsl.Named("mv")),
			dsl.Named("ts")).WithSerdes(serde.String(), dsl.NullableSerde(serde.String())).To("out")
	}},
	{"table_groupby", func(b *dsl.Builder) {
		t := dsl.NewTable(b, "t", serde.String(), serde.String())
		dsl.ToStream(dsl.GroupTableBy(t, pair, serde.String(), serde.String()).Count()).To("out")
	}},
	// StreamsBuilderTest.shouldUseSpecifiedNameForAggregateOperationGivenTable:
	// a named table aggregation names its repartition sink and source
	// after itself; the topic is named after the grouping or the store.
	{"table_groupby_named", func(b *dsl.Builder) {
		t := dsl.NewTable(b, "t", serde.String(), serde.String())
		dsl.ToStream(dsl.GroupTableBy(t, pair, serde.String(), serde.String(), dsl.Named("g")).Count(dsl.Named("cnt"))).To("out")
		dsl.ToStream(dsl.GroupTableBy(t, pair, serde.String(), serde.String()).
			Reduce(func(_, v string) string { return v }, func(a, _ string) string { return a }, dsl.StoreName("r"))).
			To("out")
		dsl.ToStream(dsl.AggregateTable(dsl.GroupTableBy(t, pair, serde.String(), serde.String()), func() string { return "" },
			func(_, _, a string) string { return a }, func(_, _, a string) string { return a }, serde.String())).
			To("out")
	}},
	{"named_table_grouping_twice", func(b *dsl.Builder) {
		g := dsl.GroupTableBy(dsl.NewTable(b, "t", serde.String(), serde.String()), pair, serde.String(), serde.String(), dsl.Named("g"))
		dsl.ToStream(g.Count()).To("out")
		dsl.ToStream(g.Reduce(func(_, v string) string { return v }, func(a, _ string) string { return a })).To("out")
	}},
	{"windowed", func(b *dsl.Builder) {
		s := source(b)
		w := dsl.TumblingWindows(10*time.Millisecond, 5*time.Millisecond)
		dsl.ToStream(dsl.WindowedBy(s.GroupByKey(), w).Count()).To("out")
		dsl.ToStream(dsl.WindowedBy(s.GroupByKey(), w).Reduce(func(_, v string) string { return v }, dsl.StoreName("w"))).To("out")
	}},
	{"suppress", func(b *dsl.Builder) {
		s := source(b)
		w := dsl.TumblingWindows(10*time.Millisecond, 5*time.Millisecond)
		dsl.ToStream(dsl.SuppressUntilWindowCloses(dsl.WindowedBy(s.GroupByKey(), w).Count())).To("out")
		dsl.ToStream(dsl.SuppressUntilWindowCloses(dsl.WindowedBy(s.GroupByKey(), w).Count(), dsl.Named("sup"))).To("out")
	}},
	{"session", func(b *dsl.Builder) {
		s := source(b)
		w := dsl.SessionWindowsWithGap(10*time.Millisecond, 5*time.Millisecond)
		dsl.ToStream(dsl.SessionWindowedBy(s.GroupByKey(), w).Count()).To("out")
		dsl.ToStream(dsl.SessionAggregate(dsl.SessionWindowedBy(dsl.SelectKey(s, value).GroupByKey(), w), func() string { return "" },
			func(_, _, a string) string { return a }, func(_, a, _ string) string { return a }, serde.String(),
			dsl.StoreName("sess"))).
			To("out")
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
		dsl.ToStream(r.GroupByKey().Count()).To("out")
	}},
	// Larger sub-topologies, where the arrows' order is not sorted: a
	// fan-out of different depths with merges, and more than 24 nodes.
	{"fanout", func(b *dsl.Builder) {
		s := source(b)
		s.Filter(keep).To("o1")
		dsl.MapValues(dsl.MapValues(s, same).Filter(keep), same).To("o2")
		s.Peek(func(string, string) {}).To("o3")
		m := dsl.SelectKey(s, value).WithSerdes(serde.String(), serde.String())
		dsl.ToStream(m.Merge(dsl.MapValues(s, same)).Merge(s.FilterNot(drop)).GroupByKey().Count()).To("o4")
		dsl.FlatMapValues(s, func(v string) []string { return []string{v} }).To("o5")
		dsl.MapValues(dsl.MapValues(dsl.MapValues(dsl.MapValues(s, same), same), same), same).To("o6")
	}},
	{"wide", func(b *dsl.Builder) {
		s := dsl.NewStream(b, []string{"a", "b", "c", "d", "e"}, serde.String(), serde.String())
		for i := range 9 {
			dsl.MapValues(s.Filter(keep), same).To("out" + strconv.Itoa(i))
		}
		sp := s.Split()
		for range 4 {
			sp.Branch("", keep)
		}
		sp.Default("")
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

// nodeNames returns the names of the nodes Describe lists, sorted.
func nodeNames(t *testing.T, b *dsl.Builder) []string {
	t.Helper()
	top, err := b.Build()
	must(t, err)
	var names []string
	for _, line := range strings.Split(top.Describe(), "\n") {
		line = strings.TrimSpace(line)
		for _, kind := range []string{"Source: ", "Processor: ", "Sink: "} {
			if rest, ok := strings.CutPrefix(line, kind); ok {
				names = append(names, rest[:strings.Index(rest, " (")])
			}
		}
	}
	slices.Sort(names)
	return names
}

// TestNamesAsStreamsBuilderTest ports the naming tests of Kafka's
// StreamsBuilderTest (shouldUseSpecifiedNameFor...): the nodes a program
// has, named and generated. Java lists them in build order; they are
// compared here as sets.
func TestNamesAsStreamsBuilderTest(t *testing.T) {
	const op = "stream-operation"
	str := serde.String()
	stream := func(b *dsl.Builder, topic string, opts ...dsl.Option) dsl.Stream[string, string] {
		return dsl.NewStream(b, []string{topic}, str, str, opts...)
	}
	cases := []struct {
		test  string
		build func(b *dsl.Builder)
		want  []string
	}{
		{"shouldUseSpecifiedNameForStreamSourceProcessor", func(b *dsl.Builder) {
			stream(b, "stream-topic", dsl.Named("source-node"))
			stream(b, "stream-topic-two")
		}, []string{"source-node", "KSTREAM-SOURCE-0000000001"}},
		{"shouldUseSpecifiedNameForTableSourceProcessor", func(b *dsl.Builder) {
			dsl.NewTable(b, "stream-topic", str, str, dsl.Named("source-node"))
			dsl.NewTable(b, "stream-topic-two", str, str)
		}, []string{"source-node-source", "source-node", "KSTREAM-SOURCE-0000000004", "KTABLE-SOURCE-0000000005"}},
		{"shouldUseSpecifiedNameForSinkProcessor", func(b *dsl.Builder) {
			s := stream(b, "stream-topic")
			s.To("stream-topic-two", dsl.Named("sink-processor"))
			s.To("stream-topic-two")
		}, []string{"KSTREAM-SOURCE-0000000000", "sink-processor", "KSTREAM-SINK-0000000002"}},
		{"shouldUseSpecifiedNameForMapOperation", func(b *dsl.Builder) {
			dsl.Map(stream(b, "stream-topic"), swap, dsl.Named(op))
		}, []string{"KSTREAM-SOURCE-0000000000", op}},
		{"shouldUseSpecifiedNameForMapValuesOperation", func(b *dsl.Builder) {
			dsl.MapValues(stream(b, "stream-topic"), same, dsl.Named(op))
		}, []string{"KSTREAM-SOURCE-0000000000", op}},
		{"shouldUseSpecifiedNameForFilterOperation", func(b *dsl.Builder) {
			stream(b, "stream-topic").Filter(keep, dsl.Named(op))
		}, []string{"KSTREAM-SOURCE-0000000000", op}},
		{"shouldUseSpecifiedNameForForEachOperation", func(b *dsl.Builder) {
			stream(b, "stream-topic").Foreach(func(string, string) {}, dsl.Named(op))
		}, []string{"KSTREAM-SOURCE-0000000000", op}},
		{"shouldUseSpecifiedNameForSplitOperation", func(b *dsl.Builder) {
			sp := stream(b, "stream-topic").Split(dsl.Named("branch-processor"))
			sp.Branch("-1", keep)
			sp.Branch("-2", drop)
		}, []string{"KSTREAM-SOURCE-0000000000", "branch-processor", "branch-processor-1", "branch-processor-2"}},
		{"shouldUseSpecifiedNameForJoinOperationBetweenKStreamAndKTable", func(b *dsl.Builder) {
			dsl.Join(stream(b, "stream-topic"), dsl.NewTable(b, "table-topic", str, str), func(_, v, _ string) string { return v }, dsl.Named(op))
		}, []string{"KSTREAM-SOURCE-0000000000", "KSTREAM-SOURCE-0000000002", "KTABLE-SOURCE-0000000003", op}},
		{"shouldUseSpecifiedNameForLeftJoinOperationBetweenKStreamAndKTable", func(b *dsl.Builder) {
			dsl.LeftJoin(stream(b, "stream-topic"), dsl.NewTable(b, "stream-topic-two", str, str),
				func(_, v, _ string, _ bool) string { return v }, dsl.Named(op))
		}, []string{"KSTREAM-SOURCE-0000000000", "KSTREAM-SOURCE-0000000002", "KTABLE-SOURCE-0000000003", op}},
		{"shouldUseSpecifiedNameForMergeOperation", func(b *dsl.Builder) {
			stream(b, "topic-1").Merge(stream(b, "topic-2"), dsl.Named("merge-processor"))
		}, []string{"KSTREAM-SOURCE-0000000000", "KSTREAM-SOURCE-0000000001", "merge-processor"}},
		{"shouldUseSpecifiedNameForProcessOperation", func(b *dsl.Builder) {
			dsl.Process(stream(b, "stream-topic"), processor.Func(func(processor.Context[string, string], processor.Record[string, string]) error { return nil }),
				dsl.Named("test-processor"))
		}, []string{"KSTREAM-SOURCE-0000000000", "test-processor"}},
		{"shouldUseSpecifiedNameForToStream", func(b *dsl.Builder) {
			dsl.ToStream(dsl.NewTable(b, "stream-topic", str, str), dsl.Named("to-stream"))
		}, []string{"KSTREAM-SOURCE-0000000001", "KTABLE-SOURCE-0000000002", "to-stream"}},
		{"shouldUseSpecifiedNameForAggregateOperationGivenTable", func(b *dsl.Builder) {
			dsl.GroupTableBy(dsl.NewTable(b, "stream-topic", str, str), pair, str, str, dsl.Named("group-operation")).
				Count(dsl.Named(op))
		}, []string{"KSTREAM-SOURCE-0000000001", "KTABLE-SOURCE-0000000002", "group-operation", op + "-sink", op + "-source", op}},
	}
	for _, tc := range cases {
		t.Run(tc.test, func(t *testing.T) {
			b := dsl.NewBuilder()
			tc.build(b)
			want := slices.Sorted(slices.Values(tc.want))
			if got := nodeNames(t, b); !slices.Equal(got, want) {
				t.Errorf("nodes %v, want %v", got, want)
			}
		})
	}
}

// TestSharedRepartitionsCarryEveryRecord: the joins sharing a re-keyed
// stream's repartition and the aggregations sharing a named grouping's
// each get every record (the sharing is Kafka Streams' naming, not a
// change of what is computed).
func TestSharedRepartitionsCarryEveryRecord(t *testing.T) {
	str := serde.String()
	b := dsl.NewBuilder()
	s := dsl.NewStream(b, []string{"in"}, str, str)
	tbl := dsl.NewTable(b, "t", str, str)
	r := dsl.SelectKey(s, value)
	dsl.Join(r, tbl, func(k, v, tv string) string { return "j:" + tv }).To("joined")
	dsl.LeftJoin(r, tbl, func(k, v, tv string, found bool) string { return fmt.Sprint("l:", found) }).To("left")
	g := dsl.SelectKey(s, value).GroupByKey(dsl.Named("g"))
	dsl.ToStream(g.Count(dsl.Caching(false))).WithSerdes(str, dsl.NullableSerde(serde.Int64())).To("counts")
	dsl.ToStream(g.Reduce(func(a, v string) string { return a + v }, dsl.Caching(false))).To("reduced")
	d := buildDriver(t, b, streamstest.Config{})
	must(t, streamstest.NewInputTopic(d, "t", str, str).PipeAt("x", "X", 0))
	in := streamstest.NewInputTopic(d, "in", str, str)
	must(t, in.PipeAt("a", "x", 1))
	must(t, in.PipeAt("b", "y", 2))
	must(t, in.PipeAt("c", "x", 3))
	read := func(topic string) string {
		recs, err := streamstest.NewOutputTopic(d, topic, str, str).ReadRecords()
		must(t, err)
		var out []string
		for _, r := range recs {
			out = append(out, r.Key+"="+r.Value)
		}
		return strings.Join(out, " ")
	}
	counts, err := streamstest.NewOutputTopic(d, "counts", str, serde.Int64()).ReadRecords()
	must(t, err)
	var cs []string
	for _, r := range counts {
		cs = append(cs, fmt.Sprintf("%s=%d", r.Key, r.Value))
	}
	for topic, want := range map[string]string{
		"joined":  "x=j:X x=j:X",
		"left":    "x=l:true y=l:false x=l:true",
		"reduced": "x=x y=y x=xx",
	} {
		if got := read(topic); got != want {
			t.Errorf("%s: %q, want %q", topic, got, want)
		}
	}
	if got := strings.Join(cs, " "); got != "x=1 y=1 x=2" {
		t.Errorf("counts: %q, want x=1 y=1 x=2", got)
	}
}
