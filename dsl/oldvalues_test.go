package dsl_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// changeRecorder is Kafka Streams' MockApiProcessor as the KTable*Test
// classes use it: a processor added to the built topology under a table's
// node, which records what the node forwards as "key:(new<-old)@ts"
// (Change#toString, null for an absent value). Being added after Build, it
// asks the table for nothing, as topology.addProcessor(..., table.name)
// does not.
type changeRecorder[V any] struct{ got *[]string }

func (p changeRecorder[V]) Init(processor.Context[string, string]) error { return nil }
func (p changeRecorder[V]) Close() error                                 { return nil }
func (p changeRecorder[V]) Process(r processor.Record[string, dsl.Change[V]]) error {
	side := func(has bool, v V) string {
		if !has {
			return "null"
		}
		return fmt.Sprint(v)
	}
	*p.got = append(*p.got, fmt.Sprintf("%s:(%s<-%s)@%d", r.Key, side(r.Value.HasNew, r.Value.New), side(r.Value.HasOld, r.Value.Old), r.Timestamp))
	return nil
}

// recordChanges builds b and adds a recorder under each table node.
func recordChanges[V any](t *testing.T, b *dsl.Builder, nodes ...string) (*streamstest.Driver, []*[]string) {
	t.Helper()
	top, err := b.Build()
	must(t, err)
	var logs []*[]string
	for i, node := range nodes {
		log := new([]string)
		logs = append(logs, log)
		must(t, processor.AddProcessor(top, "proc"+strconv.Itoa(i+1), func() processor.Processor[string, dsl.Change[V], string, string] {
			return changeRecorder[V]{got: log}
		}, node))
	}
	d, err := streamstest.New(top, streamstest.Config{})
	must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d, logs
}

// checkAndClear compares a recorder's log with want and clears it, as
// MockApiProcessor#checkAndClearProcessResult does.
func checkAndClear(t *testing.T, what string, log *[]string, want ...string) {
	t.Helper()
	if !slices.Equal(*log, want) {
		t.Errorf("%s forwarded\n %q\nwant\n %q", what, *log, want)
	}
	*log = nil
}

// pipeInt32 pipes key=value@ts into topic, a nil value as a tombstone.
func pipeInt32(t *testing.T, in *streamstest.InputTopic[string, int32], key string, value *int32, ts int64) {
	t.Helper()
	if value == nil {
		must(t, in.PipeTombstone(key, ts))
		return
	}
	must(t, in.PipeAt(key, *value, ts))
}

func i32(v int32) *int32 { return &v }

// pipeStrings pipes records written "key=value@ts" into in, "key=null@ts"
// as a tombstone.
func pipeStrings(t *testing.T, in *streamstest.InputTopic[string, string], recs ...string) {
	t.Helper()
	for _, r := range recs {
		kv, ts, _ := strings.Cut(r, "@")
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(ts, 10, 64)
		must(t, err)
		if v == "null" {
			must(t, in.PipeTombstone(k, n))
		} else {
			must(t, in.PipeAt(k, v, n))
		}
	}
}

// oldOr returns v if sendOld, else "null".
func oldOr(sendOld bool, v string) string {
	if sendOld {
		return v
	}
	return "null"
}

// TestTableSourceOldValues follows KTableSourceTest#testNotSendingOldValue
// (a source table asked for nothing forwards no old values, and every
// tombstone as (null<-null)) and #testSendingOldValue (asked with force,
// here by ChangeStream, it forwards them).
func TestTableSourceOldValues(t *testing.T) {
	for _, sendOld := range []bool{false, true} {
		t.Run(fmt.Sprintf("sendOld=%v", sendOld), func(t *testing.T) {
			b := dsl.NewBuilder()
			table1 := dsl.NewTable(b, "topic1", serde.String(), serde.String(), dsl.Caching(false))
			if sendOld {
				dsl.ChangeStream(table1)
			}
			d, logs := recordChanges[string](t, b, table1.Name())
			in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
			old := func(v string) string { return oldOr(sendOld, v) }
			pipeStrings(t, in, "A=01@10", "B=01@20", "C=01@15")
			checkAndClear(t, "table1", logs[0], "A:(01<-null)@10", "B:(01<-null)@20", "C:(01<-null)@15")
			pipeStrings(t, in, "A=02@8", "B=02@22")
			checkAndClear(t, "table1", logs[0], "A:(02<-"+old("01")+")@8", "B:(02<-"+old("01")+")@22")
			pipeStrings(t, in, "A=03@12")
			checkAndClear(t, "table1", logs[0], "A:(03<-"+old("02")+")@12")
			pipeStrings(t, in, "A=null@15", "B=null@20")
			checkAndClear(t, "table1", logs[0], "A:(null<-"+old("03")+")@15", "B:(null<-"+old("02")+")@20")
		})
	}
}

// TestTableSourceForwardsEveryTombstone: an uncached source table forwards
// the tombstone of a key it never had as (null<-null), with old values or
// without, and so does MapTableValues: Kafka Streams' KTableSource#process
// forwards whatever its store's put answers, and KeyValueStoreWrapper#put
// answers PUT_RETURN_CODE_IS_LATEST for every put into a timestamped
// store (KTableSourceTest and KTableMapValuesTest pipe only tombstones of
// keys the table has).
func TestTableSourceForwardsEveryTombstone(t *testing.T) {
	for _, sendOld := range []bool{false, true} {
		t.Run(fmt.Sprintf("sendOld=%v", sendOld), func(t *testing.T) {
			b := dsl.NewBuilder()
			table1 := dsl.NewTable(b, "topic1", serde.String(), serde.String(), dsl.Caching(false))
			table2 := dsl.MapTableValues(table1, func(_, v string) string { return v })
			if sendOld {
				dsl.ChangeStream(table2)
			}
			d, logs := recordChanges[string](t, b, table1.Name(), table2.Name())
			pipeStrings(t, streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String()), "zz=null@1")
			checkAndClear(t, "table1", logs[0], "zz:(null<-null)@1")
			checkAndClear(t, "table2", logs[1], "zz:(null<-null)@1")
		})
	}
}

// even is KTableFilterTest's predicate.
func even(_ string, v int32) bool { return v%2 == 0 }

// TestTableFilterPassThrough follows KTableFilterTest#
// shouldPassThroughWithoutMaterialization: a filter of a source table
// whose store is not named gets no old values, so every update it filters
// out becomes a deletion downstream (six records each for filter and
// filterNot, where a filter with old values forwards three).
func TestTableFilterPassThrough(t *testing.T) {
	b := dsl.NewBuilder()
	table1 := dsl.NewTable(b, "topic1", serde.String(), serde.Int32(), dsl.Caching(false))
	table1.Filter(even).To("out2")
	table1.FilterNot(even).To("out3")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.Int32())
	for _, r := range []struct {
		k  string
		v  *int32
		ts int64
	}{{"A", i32(1), 10}, {"B", i32(2), 5}, {"C", i32(3), 8}, {"D", i32(4), 14}, {"A", nil, 18}, {"B", nil, 15}} {
		pipeInt32(t, in, r.k, r.v, r.ts)
	}
	read := func(topic string) []string {
		recs, err := streamstest.NewOutputTopic(d, topic, serde.String(), serde.Int32()).ReadRecords()
		must(t, err)
		var got []string
		for _, r := range recs {
			v := strconv.Itoa(int(r.Value))
			if r.Tombstone {
				v = "null"
			}
			got = append(got, fmt.Sprintf("%s:%s@%d", r.Key, v, r.Timestamp))
		}
		return got
	}
	if got, want := read("out2"), []string{"A:null@10", "B:2@5", "C:null@8", "D:4@14", "A:null@18", "B:null@15"}; !slices.Equal(got, want) {
		t.Errorf("filter wrote %q, want %q", got, want)
	}
	if got, want := read("out3"), []string{"A:1@10", "B:null@5", "C:3@8", "D:null@14", "A:null@18", "B:null@15"}; !slices.Equal(got, want) {
		t.Errorf("filterNot wrote %q, want %q", got, want)
	}
}

// TestTableFilterOldValues follows KTableFilterTest's doTestNotSendingOldValue
// (shouldNotSendOldValuesWithoutMaterialization) and doTestSendingOldValue
// (shouldEnableSendOldValuesWhenNotMaterializedAlreadyButForcedToMaterialize,
// shouldSendOldValuesWhenEnabledOnUpStreamMaterialization): what the source
// table and its filter forward with and without old values.
func TestTableFilterOldValues(t *testing.T) {
	cases := []struct {
		name string
		// build returns the source and the filtered table.
		build   func(b *dsl.Builder) (dsl.Table[string, int32], dsl.Table[string, int32])
		sendOld bool // the filter sends old values, and so its parent
	}{
		{"not materialized", func(b *dsl.Builder) (dsl.Table[string, int32], dsl.Table[string, int32]) {
			table1 := dsl.NewTable(b, "topic1", serde.String(), serde.Int32(), dsl.Caching(false))
			return table1, table1.Filter(even)
		}, false},
		{"not materialized, forced", func(b *dsl.Builder) (dsl.Table[string, int32], dsl.Table[string, int32]) {
			table1 := dsl.NewTable(b, "topic1", serde.String(), serde.Int32(), dsl.Caching(false))
			table2 := table1.Filter(even)
			dsl.ChangeStream(table2) // enableSendingOldValues(true)
			return table1, table2
		}, true},
		{"materialized upstream", func(b *dsl.Builder) (dsl.Table[string, int32], dsl.Table[string, int32]) {
			// The filter asks its parent, unforced, when it is added.
			table1 := dsl.NewTable(b, "topic1", serde.String(), serde.Int32(), dsl.Caching(false), dsl.StoreName("store2"))
			return table1, table1.Filter(even)
		}, true},
		{"joined upstream", func(b *dsl.Builder) (dsl.Table[string, int32], dsl.Table[string, int32]) {
			// A join reads the table through its value getter, which
			// materializes a source table (KTableImpl#valueGetterSupplier
			// calls KTableSource#materialize), so a filter added later gets
			// old values.
			table1 := dsl.NewTable(b, "topic1", serde.String(), serde.Int32(), dsl.Caching(false))
			dsl.Join(dsl.NewStream(b, []string{"probe"}, serde.String(), serde.String()), table1,
				func(_, v string, _ int32) string { return v }).To("joined")
			return table1, table1.Filter(even)
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := dsl.NewBuilder()
			table1, table2 := tc.build(b)
			d, logs := recordChanges[int32](t, b, table1.Name(), table2.Name())
			in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.Int32())
			p1, p2 := logs[0], logs[1]
			old := func(v string) string { return oldOr(tc.sendOld, v) }
			pipeInt32(t, in, "A", i32(1), 5)
			pipeInt32(t, in, "B", i32(1), 10)
			pipeInt32(t, in, "C", i32(1), 15)
			checkAndClear(t, "table1", p1, "A:(1<-null)@5", "B:(1<-null)@10", "C:(1<-null)@15")
			if tc.sendOld {
				checkAndClear(t, "table2", p2)
			} else {
				checkAndClear(t, "table2", p2, "A:(null<-null)@5", "B:(null<-null)@10", "C:(null<-null)@15")
			}
			pipeInt32(t, in, "A", i32(2), 15)
			pipeInt32(t, in, "B", i32(2), 8)
			checkAndClear(t, "table1", p1, "A:(2<-"+old("1")+")@15", "B:(2<-"+old("1")+")@8")
			checkAndClear(t, "table2", p2, "A:(2<-null)@15", "B:(2<-null)@8")
			pipeInt32(t, in, "A", i32(3), 20)
			checkAndClear(t, "table1", p1, "A:(3<-"+old("2")+")@20")
			checkAndClear(t, "table2", p2, "A:(null<-"+old("2")+")@20")
			pipeInt32(t, in, "A", nil, 10)
			pipeInt32(t, in, "B", nil, 20)
			checkAndClear(t, "table1", p1, "A:(null<-"+old("3")+")@10", "B:(null<-"+old("2")+")@20")
			if tc.sendOld {
				checkAndClear(t, "table2", p2, "B:(null<-2)@20")
			} else {
				checkAndClear(t, "table2", p2, "A:(null<-null)@10", "B:(null<-null)@20")
			}
		})
	}
}

// TestTableFilterSkipsNullToRepartition follows KTableFilterTest#
// shouldSkipNullToRepartitionWithoutMaterialization: a re-grouping
// downstream makes the filter send old values, so updates it filters out
// of a key it never had send nothing to the repartition topic.
func TestTableFilterSkipsNullToRepartition(t *testing.T) {
	b := dsl.NewBuilder()
	table1 := dsl.NewTable(b, "topic1", serde.String(), serde.String(), dsl.Caching(false))
	table2 := table1.Filter(func(_, v string) bool { return v == "accept" })
	dsl.GroupTableBy(table2, func(k, v string) (string, string) { return k, v }, serde.String(), serde.String()).
		Reduce(func(a, v string) string { return a + v }, func(a, v string) string { return a }, dsl.Caching(false))
	d, logs := recordChanges[string](t, b, table1.Name(), table2.Name())
	in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
	pipeStrings(t, in, "A=reject@5", "B=reject@10", "C=reject@20")
	checkAndClear(t, "table1", logs[0], "A:(reject<-null)@5", "B:(reject<-null)@10", "C:(reject<-null)@20")
	checkAndClear(t, "table2", logs[1])
}

// TestTableMapValuesOldValues follows KTableMapValuesTest#
// testNotSendingOldValue and
// #shouldEnableSendingOldValuesOnParentIfMapValuesNotMaterialized (through
// testSendingOldValues): MapTableValues maps old values only when asked
// for them, and asks its parent for them.
func TestTableMapValuesOldValues(t *testing.T) {
	for _, sendOld := range []bool{false, true} {
		t.Run(fmt.Sprintf("sendOld=%v", sendOld), func(t *testing.T) {
			b := dsl.NewBuilder()
			table1 := dsl.NewTable(b, "topic1", serde.String(), serde.String(), dsl.Caching(false))
			table2 := dsl.MapTableValues(table1, func(_, s string) int32 { n, _ := strconv.Atoi(s); return int32(n) })
			if sendOld {
				dsl.ChangeStream(table2)
			}
			d, logs := recordChanges[int32](t, b, table2.Name())
			in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
			old := func(v string) string { return oldOr(sendOld, v) }
			pipeStrings(t, in, "A=01@5", "B=01@10", "C=01@15")
			checkAndClear(t, "table2", logs[0], "A:(1<-null)@5", "B:(1<-null)@10", "C:(1<-null)@15")
			pipeStrings(t, in, "A=02@10", "B=02@8")
			checkAndClear(t, "table2", logs[0], "A:(2<-"+old("1")+")@10", "B:(2<-"+old("1")+")@8")
			pipeStrings(t, in, "A=03@20")
			checkAndClear(t, "table2", logs[0], "A:(3<-"+old("2")+")@20")
			pipeStrings(t, in, "A=null@30")
			checkAndClear(t, "table2", logs[0], "A:(null<-"+old("3")+")@30")
		})
	}
}

// TestAggregationOldValues: a count forwards its old count only when a
// downstream operation asks (KStreamAggregate#process forwards
// sendOldValues ? oldAgg : null), cached or not.
func TestAggregationOldValues(t *testing.T) {
	for _, cached := range []bool{false, true} {
		for _, sendOld := range []bool{false, true} {
			t.Run(fmt.Sprintf("cached=%v,sendOld=%v", cached, sendOld), func(t *testing.T) {
				b := dsl.NewBuilder()
				counts := dsl.NewStream(b, []string{"in"}, serde.String(), serde.String()).GroupByKey().Count(dsl.Caching(cached))
				if sendOld {
					dsl.ChangeStream(counts)
				}
				d, logs := recordChanges[int64](t, b, counts.Name())
				in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
				must(t, in.PipeAt("A", "x", 1))
				must(t, d.Commit())
				must(t, in.PipeAt("A", "y", 2))
				must(t, d.Commit())
				want := []string{"A:(1<-null)@1", "A:(2<-null)@2"}
				if sendOld {
					want[1] = "A:(2<-1)@2"
				}
				checkAndClear(t, "count", logs[0], want...)
			})
		}
	}
}

// BenchmarkWordCountFlush times the commits of the cached word count,
// which flush the count store's cache downstream, with the count table
// sending old values (a ChangeStream asks for them) and without (a
// MapTableValues, which asks for nothing, in its place, so both tables have
// two children). Without old
// values the flush neither reads the replaced counts from the store nor
// decodes them. records/s counts flushed input lines (1000 lines of 8
// words per commit; the piping is not timed).
func BenchmarkWordCountFlush(b *testing.B) {
	lines := benchLines(10_000)
	for _, sendOld := range []bool{false, true} {
		b.Run(fmt.Sprintf("sendOld=%v", sendOld), func(b *testing.B) {
			bl := dsl.NewBuilder()
			ls := dsl.NewStream(bl, []string{"in"}, serde.String(), serde.String())
			counts := dsl.GroupBy(dsl.FlatMapValues(ls, words), func(_, w string) string { return w }, serde.String()).
				Count(dsl.StoreName("counts"))
			counts.To("out")
			if sendOld {
				dsl.ChangeStream(counts)
			} else {
				dsl.MapTableValues(counts, func(_ string, n int64) int64 { return n })
			}
			top, err := bl.Build()
			must(b, err)
			d, err := streamstest.New(top, streamstest.Config{ManualCommit: true})
			must(b, err)
			defer d.Close()
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			out := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64())
			const perCommit = 1000
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				for j := range perCommit {
					n := i*perCommit + j
					must(b, in.PipeAt("", lines[n%len(lines)], int64(n)))
				}
				b.StartTimer()
				must(b, d.Commit())
				b.StopTimer()
				_, _ = out.ReadRecords() // drop the output so it does not pile up
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*perCommit)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// TestGroupTableByKeepsKey follows KTableAggregateTest#
// testShouldNotSendTransientStateIfNotUpgrading: when an update maps to the
// same group key, KTableRepartitionMap sends one change with both values
// (ChangedSerializer's format 2), so the count never shows the transient
// 0; and #testRemoveOldBeforeAddNew: when the group key changes, the old
// value is retracted before the new one is added.
func TestGroupTableByKeepsKey(t *testing.T) {
	t.Run("same key", func(t *testing.T) {
		b := dsl.NewBuilder()
		dsl.GroupTableBy(dsl.NewTable(b, "in", serde.String(), serde.String()),
			func(k, v string) (string, string) { return k, v }, serde.String(), serde.String()).
			Count(dsl.Caching(false)).To("out")
		d := buildDriver(t, b, streamstest.Config{})
		in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
		pipeStrings(t, in, "1=@8", "1=@9")
		recs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadRecords()
		must(t, err)
		var got []string
		for _, r := range recs {
			got = append(got, fmt.Sprintf("%s:%d@%d", r.Key, r.Value, r.Timestamp))
		}
		if want := []string{"1:1@8", "1:1@9"}; !slices.Equal(got, want) {
			t.Errorf("counts %q, want %q", got, want)
		}
	})
	t.Run("remove old before add new", func(t *testing.T) {
		b := dsl.NewBuilder()
		dsl.AggregateTable(
			dsl.GroupTableBy(dsl.NewTable(b, "in", serde.String(), serde.String()),
				func(k, _ string) (string, string) { return k[:1], k[1:2] }, serde.String(), serde.String()),
			func() string { return "" },
			func(_, v, agg string) string { return agg + v },
			func(_, v, agg string) string { return strings.ReplaceAll(agg, v, "") },
			serde.String(), dsl.StoreName("someStore"), dsl.Caching(false)).To("out")
		d := buildDriver(t, b, streamstest.Config{})
		in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
		pipeStrings(t, in, "11=A@10", "12=B@8", "11=null@12", "12=C@6")
		recs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadRecords()
		must(t, err)
		var got []string
		for _, r := range recs {
			got = append(got, fmt.Sprintf("%s:%s@%d", r.Key, r.Value, r.Timestamp))
		}
		if want := []string{"1:1@10", "1:12@10", "1:2@12", "1:2@12"}; !slices.Equal(got, want) {
			t.Errorf("aggregates %q, want %q", got, want)
		}
	})
}

// TestUnmaterializedTableForwardsEveryUpdate follows KTableSourceTest#
// testKTable: a table from a topic or a stream without StoreName, that
// nothing reads, has no store, so no cache merges its updates: every
// update and every tombstone is forwarded at once, without old values,
// even with a cache and no commit (Kafka's KTableSource without
// queryableName forwards Change(value, null) for each record). A second A
// before any commit shows that nothing merged it with the first.
func TestUnmaterializedTableForwardsEveryUpdate(t *testing.T) {
	b := dsl.NewBuilder()
	table1 := dsl.NewTable(b, "topic1", serde.String(), serde.String())
	table2 := dsl.NewStream(b, []string{"topic2"}, serde.String(), serde.String()).ToTable()
	top, err := b.Build()
	must(t, err)
	var logs [2]*[]string
	for i, node := range []string{table1.Name(), table2.Name()} {
		log := new([]string)
		logs[i] = log
		must(t, processor.AddProcessor(top, "proc"+strconv.Itoa(i+1), func() processor.Processor[string, dsl.Change[string], string, string] {
			return changeRecorder[string]{got: log}
		}, node))
	}
	d, err := streamstest.New(top, streamstest.Config{ManualCommit: true})
	must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	pipeStrings(t, streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String()),
		"A=1@10", "B=2@11", "C=3@12", "D=4@13", "A=5@14", "A=null@14", "B=null@15")
	checkAndClear(t, "table1", logs[0], "A:(1<-null)@10", "B:(2<-null)@11", "C:(3<-null)@12", "D:(4<-null)@13",
		"A:(5<-null)@14", "A:(null<-null)@14", "B:(null<-null)@15")
	pipeStrings(t, streamstest.NewInputTopic(d, "topic2", serde.String(), serde.String()), "A=1@10", "A=2@11")
	checkAndClear(t, "table2", logs[1], "A:(1<-null)@10", "A:(2<-null)@11")
}

// TestToTableForwardsEveryTombstone: ToTable, a KTableSource in Kafka
// Streams as NewTable is, forwards the deletion of a key it never had as
// (null<-null) when its store is not cached or it has none, with old
// values or without (KTableSource#process forwards whatever
// KeyValueStoreWrapper#put answers, PUT_RETURN_CODE_IS_LATEST for every
// put into a timestamped store; KTableSourceTest#testKTable forwards (A,
// null) from an unmaterialized table); a cached store forwards no deletion
// of a key it did not have (CachingKeyValueStore forwards only when the new
// or the old value is not null).
func TestToTableForwardsEveryTombstone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []dsl.Option
		sendOld bool
		want    []string
	}{
		{"unmaterialized", nil, false, []string{"zz:(null<-null)@1"}},
		{"uncached", []dsl.Option{dsl.StoreName("s"), dsl.Caching(false)}, false, []string{"zz:(null<-null)@1"}},
		{"uncached-sendOld", []dsl.Option{dsl.StoreName("s"), dsl.Caching(false)}, true, []string{"zz:(null<-null)@1"}},
		{"cached", []dsl.Option{dsl.StoreName("s")}, false, nil},
		{"cached-sendOld", []dsl.Option{dsl.StoreName("s")}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := dsl.NewBuilder()
			table := source(b).ToTable(tc.opts...)
			if tc.sendOld {
				dsl.ChangeStream(table)
			}
			d, logs := recordChanges[string](t, b, table.Name())
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			pipeStrings(t, in, "zz=null@1")
			must(t, d.Commit())
			checkAndClear(t, "table", logs[0], tc.want...)
			// The deletion of a key the table has is forwarded in every
			// case, cached too.
			pipeStrings(t, in, "A=1@2")
			must(t, d.Commit())
			pipeStrings(t, in, "A=null@3")
			must(t, d.Commit())
			checkAndClear(t, "table", logs[0], "A:(1<-null)@2", "A:(null<-"+oldOr(tc.sendOld, "1")+")@3")
		})
	}
}
