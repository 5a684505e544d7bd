package dsl_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// ordersJoin builds orders (stream, keyed by customer) joined with customers
// (table) into "enriched"; left selects LeftJoin.
func ordersJoin(t *testing.T, left bool) *streamstest.Driver {
	t.Helper()
	b := dsl.NewBuilder()
	orders := dsl.NewStream(b, []string{"orders"}, serde.String(), serde.String())
	customers := dsl.NewTable(b, "customers", serde.String(), serde.String(), dsl.StoreName("customers"))
	var out dsl.Stream[string, string]
	if left {
		out = dsl.LeftJoin(orders, customers, func(_, order, name string, found bool) string {
			if !found {
				name = "?"
			}
			return order + " for " + name
		})
	} else {
		out = dsl.Join(orders, customers, func(_, order, name string) string { return order + " for " + name })
	}
	out.To("enriched")
	return buildDriver(t, b, streamstest.Config{})
}

// TestStreamTableJoin: each order joins the customer's name as of its
// timestamp; an order of an unknown customer is dropped by Join and kept by
// LeftJoin; table updates and deletions produce nothing themselves but
// change what later orders join.
func TestStreamTableJoin(t *testing.T) {
	for _, left := range []bool{false, true} {
		t.Run(map[bool]string{false: "join", true: "leftJoin"}[left], func(t *testing.T) {
			d := ordersJoin(t, left)
			orders := streamstest.NewInputTopic(d, "orders", serde.String(), serde.String())
			customers := streamstest.NewInputTopic(d, "customers", serde.String(), serde.String())
			must(t, orders.PipeAt("c1", "o1", 10))     // no customer yet
			must(t, customers.PipeAt("c1", "Ann", 20)) // the table update emits nothing
			must(t, orders.PipeAt("c1", "o2", 30))
			must(t, customers.PipeAt("c1", "Anna", 40))
			must(t, orders.PipeAt("c1", "o3", 50))
			must(t, orders.PipeAt("c2", "o4", 60))
			must(t, customers.PipeTombstone("c1", 70))
			must(t, orders.PipeAt("c1", "o5", 80))
			recs, err := streamstest.NewOutputTopic(d, "enriched", serde.String(), serde.String()).ReadRecords()
			must(t, err)
			var got []string
			for _, r := range recs {
				got = append(got, fmt.Sprintf("%s:%s@%d", r.Key, r.Value, r.Timestamp))
			}
			want := "c1:o2 for Ann@30 c1:o3 for Anna@50"
			if left {
				want = "c1:o1 for ?@10 " + want + " c2:o4 for ?@60 c1:o5 for ?@80"
			}
			if g := strings.Join(got, " "); g != want {
				t.Errorf("output\n got %s\nwant %s", g, want)
			}
		})
	}
}

// TestJoinAfterKeyChangeRepartitions: a stream whose key changed is written
// through a repartition topic before the join, sized at run time like the
// table's topic (no partition count of its own); the join still sees the
// table.
func TestJoinAfterKeyChangeRepartitions(t *testing.T) {
	b := dsl.NewBuilder()
	orders := dsl.NewStream(b, []string{"orders"}, serde.String(), serde.String()) // key: order id; value: "customer item"
	byCustomer := dsl.SelectKey(orders, func(_, v string) string { c, _, _ := strings.Cut(v, " "); return c })
	customers := dsl.NewTable(b, "customers", serde.String(), serde.String(), dsl.StoreName("customers"))
	dsl.Join(byCustomer, customers, func(_, order, name string) string { return name + " ordered " + order }, dsl.Named("enrich")).To("enriched")
	top, err := b.Build()
	must(t, err)
	sinks, err := top.InternalSinks()
	must(t, err)
	if len(sinks) != 1 || sinks[0].Topic != "enrich-repartition" || sinks[0].Partitions != 0 {
		t.Fatalf("internal sinks %+v, want enrich-repartition sized at run time", sinks)
	}
	d, err := streamstest.New(top, streamstest.Config{})
	must(t, err)
	defer d.Close()
	must(t, streamstest.NewInputTopic(d, "customers", serde.String(), serde.String()).PipeAt("c7", "Bo", 1))
	must(t, streamstest.NewInputTopic(d, "orders", serde.String(), serde.String()).PipeAt("order-1", "c7 tea", 2))
	kvs, err := streamstest.NewOutputTopic(d, "enriched", serde.String(), serde.String()).ReadKeyValues()
	must(t, err)
	if fmt.Sprint(kvs) != "[{c7 Bo ordered c7 tea}]" {
		t.Errorf("output %v", kvs)
	}
}

// probeJoin left-joins the stream probe with table and writes "key=value"
// of the table as the join saw it ("null" when not found) to "seen".
func probeJoin[V any](probe dsl.Stream[string, string], table dsl.Table[string, V]) {
	dsl.LeftJoin(probe, table, func(k, _ string, v V, found bool) string {
		if !found {
			return k + "=null"
		}
		return fmt.Sprintf("%s=%v", k, v)
	}).WithSerdes(serde.String(), serde.String()).To("seen")
}

// probe pipes one record per key into "probe" and returns what the join
// saw.
func probe(t *testing.T, d *streamstest.Driver, keys ...string) string {
	t.Helper()
	in := streamstest.NewInputTopic(d, "probe", serde.String(), serde.String())
	for _, k := range keys {
		must(t, in.PipeAt(k, "", 1000))
	}
	kvs, err := streamstest.NewOutputTopic(d, "seen", serde.String(), serde.String()).ReadKeyValues()
	must(t, err)
	var got []string
	for _, kv := range kvs {
		got = append(got, kv.Value)
	}
	return strings.Join(got, " ")
}

// TestJoinFilteredTable follows KTableFilterTest#doTestValueGetter
// (shouldGetValuesOnMaterialization): a stream joins a Filter and a
// FilterNot of a source table through the source's store, the predicate
// applied, where Sluice used to refuse to build the join.
func TestJoinFilteredTable(t *testing.T) {
	for _, not := range []bool{false, true} {
		t.Run(map[bool]string{false: "filter", true: "filterNot"}[not], func(t *testing.T) {
			b := dsl.NewBuilder()
			table1 := dsl.NewTable(b, "topic1", serde.String(), serde.Int32())
			table := table1.Filter(even)
			if not {
				table = table1.FilterNot(even)
			}
			probeJoin(dsl.NewStream(b, []string{"probe"}, serde.String(), serde.String()), table)
			d := buildDriver(t, b, streamstest.Config{})
			in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.Int32())
			steps := []struct {
				records   func()
				filter    string // getter2 of the Java test
				filterNot string // getter3
			}{
				{func() {
					pipeInt32(t, in, "A", i32(1), 5)
					pipeInt32(t, in, "B", i32(1), 10)
					pipeInt32(t, in, "C", i32(1), 15)
				}, "A=null B=null C=null", "A=1 B=1 C=1"},
				{func() {
					pipeInt32(t, in, "A", i32(2), 10)
					pipeInt32(t, in, "B", i32(2), 5)
				}, "A=2 B=2 C=null", "A=null B=null C=1"},
				{func() { pipeInt32(t, in, "A", i32(3), 15) }, "A=null B=2 C=null", "A=3 B=null C=1"},
				{func() {
					pipeInt32(t, in, "A", nil, 10)
					pipeInt32(t, in, "B", nil, 20)
				}, "A=null B=null C=null", "A=null B=null C=1"},
			}
			for i, st := range steps {
				st.records()
				want := st.filter
				if not {
					want = st.filterNot
				}
				if got := probe(t, d, "A", "B", "C"); got != want {
					t.Errorf("step %d: the join saw %q, want %q", i, got, want)
				}
			}
		})
	}
}

// TestJoinMappedTable follows KTableMapValuesTest#doTestValueGetter: a
// stream joins MapTableValues tables of a source table (the value parsed,
// and negated) through the source's store, the mapper applied.
func TestJoinMappedTable(t *testing.T) {
	b := dsl.NewBuilder()
	table1 := dsl.NewTable(b, "topic1", serde.String(), serde.String())
	parse := func(_, s string) int32 { n, _ := strconv.Atoi(s); return int32(n) }
	table2 := dsl.MapTableValues(table1, parse)
	table3 := dsl.MapTableValues(table1, func(k, s string) int32 { return -parse(k, s) })
	probes := dsl.NewStream(b, []string{"probe"}, serde.String(), serde.String())
	probeJoin(probes, table2)
	probeJoin(probes, table3)
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
	check := func(step int, want string) {
		t.Helper()
		if got := probe(t, d, "A", "B", "C"); got != want {
			t.Errorf("step %d: the joins saw %q, want %q", step, got, want)
		}
	}
	// Each probe record goes to both joins, table2's first.
	must(t, in.PipeAt("A", "01", 50))
	must(t, in.PipeAt("B", "01", 10))
	must(t, in.PipeAt("C", "01", 30))
	check(1, "A=1 A=-1 B=1 B=-1 C=1 C=-1")
	must(t, in.PipeAt("A", "02", 25))
	must(t, in.PipeAt("B", "02", 20))
	check(2, "A=2 A=-2 B=2 B=-2 C=1 C=-1")
	must(t, in.PipeAt("A", "03", 35))
	check(3, "A=3 A=-3 B=2 B=-2 C=1 C=-1")
	must(t, in.PipeTombstone("A", 1))
	check(4, "A=null A=null B=2 B=-2 C=1 C=-1")
}

// TestJoinTableKafkaCases follows KStreamKTableJoinTest#
// shouldNotJoinOnTableUpdates and #shouldClearTableEntryOnNullValueUpdates
// (with the table's timestamps 0, as pushToTableNonRandom), against a
// source table and against a MapTableValues of one, which joins the same.
func TestJoinTableKafkaCases(t *testing.T) {
	for _, mapped := range []bool{false, true} {
		t.Run(map[bool]string{false: "source", true: "mapValues"}[mapped], func(t *testing.T) {
			b := dsl.NewBuilder()
			stream := dsl.NewStream(b, []string{"streamTopic"}, serde.Int32(), serde.String())
			table := dsl.NewTable(b, "tableTopic", serde.Int32(), serde.String())
			if mapped {
				table = dsl.MapTableValues(table, func(_ int32, v string) string { return v })
			}
			dsl.Join(stream, table, func(_ int32, v, tv string) string { return v + "+" + tv }).To("out")
			d := buildDriver(t, b, streamstest.Config{})
			sIn := streamstest.NewInputTopic(d, "streamTopic", serde.Int32(), serde.String())
			tIn := streamstest.NewInputTopic(d, "tableTopic", serde.Int32(), serde.String())
			out := streamstest.NewOutputTopic(d, "out", serde.Int32(), serde.String())
			pushStream := func(n int, prefix string) string {
				for i := range n {
					must(t, sIn.PipeAt(int32(i), fmt.Sprintf("%s%d", prefix, i), int64(i)))
				}
				recs, err := out.ReadRecords()
				must(t, err)
				var got []string
				for _, r := range recs {
					got = append(got, fmt.Sprintf("%d:%s@%d", r.Key, r.Value, r.Timestamp))
				}
				return strings.Join(got, " ")
			}
			pushTable := func(n int, prefix string) {
				for i := range n {
					must(t, tIn.PipeAt(int32(i), fmt.Sprintf("%s%d", prefix, i), 0))
				}
				if out.Len() != 0 {
					t.Errorf("table updates produced %d records", out.Len())
				}
			}
			if got := pushStream(2, "X"); got != "" {
				t.Errorf("joined an empty table: %s", got)
			}
			pushTable(2, "Y")
			if got, want := pushStream(4, "X"), "0:X0+Y0@0 1:X1+Y1@1"; got != want {
				t.Errorf("got %s, want %s", got, want)
			}
			pushTable(4, "YY")
			if got, want := pushStream(4, "X"), "0:X0+YY0@0 1:X1+YY1@1 2:X2+YY2@2 3:X3+YY3@3"; got != want {
				t.Errorf("got %s, want %s", got, want)
			}
			for i := range 2 {
				must(t, tIn.PipeTombstone(int32(i), 0))
			}
			if got, want := pushStream(4, "XX"), "2:XX2+YY2@2 3:XX3+YY3@3"; got != want {
				t.Errorf("after deletions got %s, want %s", got, want)
			}
		})
	}
}

// TestJoinSuppressedTableFails: a suppressed table has no value getter in
// Sluice, so joining it is a build error.
func TestJoinSuppressedTableFails(t *testing.T) {
	b := dsl.NewBuilder()
	counts := dsl.WindowedBy(dsl.NewStream(b, []string{"in"}, serde.String(), serde.String()).GroupByKey(),
		dsl.TumblingWindows(time.Minute, 0)).Count()
	final := dsl.SuppressUntilWindowCloses(counts)
	probe := dsl.NewStream(b, []string{"probe"}, dsl.TimeWindowedSerde(serde.String(), time.Minute), serde.String())
	dsl.Join(probe, final, func(_ dsl.Windowed[string], v string, n int64) string { return v }).To("out")
	_, err := b.Build()
	if err == nil || !errors.Is(err, processor.ErrInvalidTopology) || !strings.Contains(err.Error(), "suppressed") {
		t.Fatalf("error %v, want one saying a suppressed table cannot be joined", err)
	}
}
