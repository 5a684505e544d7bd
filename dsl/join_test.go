package dsl_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

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

func TestJoinNeedsMaterializedTable(t *testing.T) {
	b := dsl.NewBuilder()
	orders := dsl.NewStream(b, []string{"orders"}, serde.String(), serde.String())
	names := dsl.NewTable(b, "customers", serde.String(), serde.String()).Filter(func(_, v string) bool { return v != "" })
	dsl.Join(orders, names, func(_, o, n string) string { return o + n }).To("out")
	_, err := b.Build()
	if err == nil || !errors.Is(err, processor.ErrInvalidTopology) || !strings.Contains(err.Error(), "not materialized") {
		t.Fatalf("error %v, want one saying the table is not materialized", err)
	}
}
