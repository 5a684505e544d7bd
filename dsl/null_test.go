package dsl_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streamstest"
)

// pipeGroupedData pipes KGroupedStreamImplTest's processData: six values
// and, last, a null value for "3".
func pipeGroupedData(t *testing.T, d *streamstest.Driver) {
	t.Helper()
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, r := range []struct {
		k, v string
		ts   int64
	}{{"1", "A", 5}, {"2", "B", 1}, {"1", "C", 3}, {"1", "D", 10}, {"3", "E", 8}, {"3", "F", 9}} {
		must(t, in.PipeAt(r.k, r.v, r.ts))
	}
	must(t, in.PipeTombstone("3", 10))
}

func storeGet[V any](t *testing.T, d *streamstest.Driver, store, key string) string {
	t.Helper()
	s, err := streamstest.Store[statestore.TimestampedKeyValueStore[string, V]](d, store)
	must(t, err)
	vt, ok, err := s.Get(key)
	must(t, err)
	if !ok {
		return "absent"
	}
	return fmt.Sprintf("%v@%d", vt.Value, vt.Timestamp)
}

// TestAggregationsSkipNullValues follows KGroupedStreamImplTest
// shouldCountAndMaterializeResults, shouldReduceAndMaterializeResults,
// shouldAggregateAndMaterializeResults and shouldLogAndMeasureSkipsIn
// Aggregate / ...InReduce: the null value of "3" is skipped (count 2, not 3)
// and counted as a dropped record, once per aggregation.
func TestAggregationsSkipNullValues(t *testing.T) {
	b := dsl.NewBuilder()
	g := source(b).GroupByKey()
	g.Count(dsl.StoreName("count"), dsl.Caching(false))
	g.Reduce(func(agg, v string) string { return agg + "+" + v }, dsl.StoreName("reduce"), dsl.Caching(false))
	dsl.Aggregate(g, func() string { return "0" }, func(_, v, agg string) string { return agg + "+" + v },
		serde.String(), dsl.StoreName("aggregate"), dsl.Caching(false))
	d := buildDriver(t, b, streamstest.Config{})
	pipeGroupedData(t, d)
	for _, c := range []struct{ got, want string }{
		{storeGet[int64](t, d, "count", "1"), "3@10"},
		{storeGet[int64](t, d, "count", "2"), "1@1"},
		{storeGet[int64](t, d, "count", "3"), "2@9"},
		{storeGet[string](t, d, "reduce", "1"), "A+C+D@10"},
		{storeGet[string](t, d, "reduce", "2"), "B@1"},
		{storeGet[string](t, d, "reduce", "3"), "E+F@9"},
		{storeGet[string](t, d, "aggregate", "1"), "0+A+C+D@10"},
		{storeGet[string](t, d, "aggregate", "3"), "0+E+F@9"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	if n := d.DroppedRecords()["null-value"]; n != 3 {
		t.Errorf("%d records dropped for a null value, want 3 (one per aggregation)", n)
	}
}

// TestAggregationsSkipNullKeys: a record with a null key is not aggregated
// under K's zero value but dropped: KStreamAggregate and KStreamReduce skip
// a null key or value, KStreamWindowAggregate and
// KStreamSessionWindowAggregate a null key (KStreamWindowAggregateTest
// shouldLogAndMeterWhenSkippingNullKey,
// KStreamSessionWindowAggregateProcessorTest
// shouldLogAndMeterWhenSkippingNullKeyWithBuiltInMetrics); the windowed
// ones aggregate a null value, as their process methods do not look at it.
func TestAggregationsSkipNullKeys(t *testing.T) {
	b := dsl.NewBuilder()
	g := source(b).GroupByKey()
	g.Count(dsl.StoreName("count"), dsl.Caching(false))
	windowed := dsl.WindowedBy(g, dsl.TumblingWindows(10*time.Second, 0)).Count(dsl.Caching(false))
	sessions := dsl.SessionWindowedBy(g, dsl.SessionWindowsWithGap(time.Second, 0)).Count(dsl.Caching(false))
	windowOut := func(t dsl.Table[dsl.Windowed[string], int64], topic string) {
		dsl.Map(dsl.ChangeStream(t), func(k dsl.Windowed[string], c dsl.Change[int64]) (string, int64) {
			return fmt.Sprintf("%s@%d", k.Key, k.Start), c.New
		}).WithSerdes(serde.String(), serde.Int64()).To(topic)
	}
	windowOut(windowed, "windowed")
	windowOut(sessions, "sessions")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeRaw(nil, []byte("x"), nil, 1))
	must(t, in.PipeRaw([]byte(""), []byte("x"), nil, 2)) // an empty key is a key
	must(t, in.PipeTombstone("v", 3))
	if got := storeGet[int64](t, d, "count", ""); got != "1@2" {
		t.Errorf("count of the empty key: %s, want 1@2 (the null key not counted)", got)
	}
	if got := storeGet[int64](t, d, "count", "v"); got != "absent" {
		t.Errorf("count of a null value: %s", got)
	}
	for topic, want := range map[string]string{"windowed": "[{@0 1} {v@0 1}]", "sessions": "[{@2 1} {v@3 1}]"} {
		recs, err := streamstest.NewOutputTopic(d, topic, serde.String(), serde.Int64()).ReadKeyValues()
		must(t, err)
		if got := fmt.Sprint(recs); got != want {
			t.Errorf("%s: %s, want %s: the empty key and the null value of v counted, the null key not", topic, got, want)
		}
	}
	if n := d.DroppedRecords()["null-key"]; n != 3 {
		t.Errorf("%d records dropped for a null key, want 3 (one per aggregation)", n)
	}
	if n := d.DroppedRecords()["null-value"]; n != 1 {
		t.Errorf("%d records dropped for a null value, want 1 (Count only)", n)
	}
}

// TestTombstoneThroughFilterAndRepartition: a null value stays null
// through value-preserving operations (Filter, Peek, Merge, a branch,
// Repartition) and reaches the sink as a tombstone; a null key is dropped
// by the repartition, as Kafka's rewritten repartition filter does with no
// left join downstream (TestRepartitionDropsNullKeys); MapValues computes a
// value, which is no longer null, and keeps a null key.
func TestTombstoneThroughFilterAndRepartition(t *testing.T) {
	b := dsl.NewBuilder()
	s := source(b)
	s.Filter(func(_, v string) bool { return v == "" }).Peek(func(_, _ string) {}).
		Merge(dsl.NewStream(b, []string{"in2"}, serde.String(), serde.String())).
		Split().Default("rest").Repartition().To("out")
	dsl.MapValues(s, func(v string) string { return "mapped:" + v }).To("mapped")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeTombstone("k", 1))
	must(t, in.PipeAt("k", "", 2))
	must(t, in.PipeRaw(nil, []byte(""), nil, 3))
	recs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadRecords()
	must(t, err)
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%q(null key %v)=%q(tombstone %v)", r.Key, r.NullKey, r.Value, r.Tombstone))
	}
	want := `"k"(null key false)=""(tombstone true) "k"(null key false)=""(tombstone false)`
	if strings.Join(got, " ") != want {
		t.Errorf("out\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	mapped, err := streamstest.NewOutputTopic(d, "mapped", serde.String(), serde.String()).ReadRecords()
	must(t, err)
	if len(mapped) != 3 || mapped[0].Tombstone || mapped[0].Value != "mapped:" || !mapped[2].NullKey {
		t.Errorf("mapped %+v: MapValues makes a value of a null, keeps a null key", mapped)
	}
}

// TestStreamTableJoinSkipsNulls follows KStreamKTableJoinTest
// shouldLogAndMeterWhenSkippingNullLeftKey and
// shouldLogAndMeterWhenSkippingNullLeftValue: a stream record with a null
// key or value joins nothing and is dropped; a left join keeps a null key
// with a non-null value and calls the joiner without a table value
// (KStreamKTableJoinProcessor, KIP-962).
func TestStreamTableJoinSkipsNulls(t *testing.T) {
	b := dsl.NewBuilder()
	tab := dsl.NewTable(b, "table", serde.String(), serde.String())
	s := source(b)
	dsl.Join(s, tab, func(_, v, tv string) string { return v + "+" + tv }).WithSerdes(serde.String(), serde.String()).To("inner")
	dsl.LeftJoin(s, tab, func(_, v, tv string, found bool) string { return fmt.Sprintf("%s+%s(%v)", v, tv, found) }).
		WithSerdes(serde.String(), serde.String()).To("left")
	d := buildDriver(t, b, streamstest.Config{})
	must(t, streamstest.NewInputTopic(d, "table", serde.String(), serde.String()).PipeAt("", "Y", 0))
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeRaw(nil, []byte("A"), nil, 1)) // null key
	must(t, in.PipeTombstone("", 2))              // null value
	must(t, in.PipeAt("", "B", 3))
	inner, err := streamstest.NewOutputTopic(d, "inner", serde.String(), serde.String()).ReadRecords()
	must(t, err)
	if len(inner) != 1 || inner[0].Value != "B+Y" {
		t.Errorf("inner join %+v, want B+Y only", inner)
	}
	left, err := streamstest.NewOutputTopic(d, "left", serde.String(), serde.String()).ReadRecords()
	must(t, err)
	if len(left) != 2 || !left[0].NullKey || left[0].Value != "A+(false)" || left[1].Value != "B+Y(true)" {
		t.Errorf("left join %+v, want the null key joined with nothing, then B+Y", left)
	}
	if n := d.DroppedRecords(); n["null-key"] != 1 || n["null-value"] != 2 {
		t.Errorf("dropped %v, want 1 null key (inner join) and 2 null values (both joins)", n)
	}
}

// TestToStreamForwardsDeletions: ToStream forwards a table's deletion as a
// null value (KTableImpl.toStream maps a Change to its new value, null for
// a deletion), which a sink writes as a tombstone and an aggregation after
// it skips as a null value (KStreamAggregate), while an update to V's zero
// value stays a value.
func TestToStreamForwardsDeletions(t *testing.T) {
	b := dsl.NewBuilder()
	tab := dsl.NewTable(b, "in", serde.String(), serde.String(), dsl.Caching(false))
	s := dsl.ToStream(tab)
	s.To("out")
	dsl.MapValues(s, func(v dsl.Nullable[string]) string { return v.String() }).WithSerdes(serde.String(), serde.String()).To("seen")
	s.GroupByKey().Count(dsl.StoreName("count"), dsl.Caching(false))
	dsl.NonNull(s).To("updates")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeAt("a", "1", 1))
	must(t, in.PipeAt("a", "", 2))
	must(t, in.PipeTombstone("a", 3))
	recs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadRecords()
	must(t, err)
	if len(recs) != 3 || recs[1].Tombstone || !recs[2].Tombstone {
		t.Errorf("out %+v: want 1, an empty value, a tombstone", recs)
	}
	seen, err := streamstest.NewOutputTopic(d, "seen", serde.String(), serde.String()).ReadKeyValues()
	must(t, err)
	if fmt.Sprint(seen) != "[{a 1} {a } {a null}]" {
		t.Errorf("the stream's values %v: a function must see the deletion as null", seen)
	}
	if got := storeGet[int64](t, d, "count", "a"); got != "2@2" {
		t.Errorf("count %s, want 2@2: the deletion skipped as a null value", got)
	}
	updates, err := streamstest.NewOutputTopic(d, "updates", serde.String(), serde.String()).ReadRecords()
	must(t, err)
	if len(updates) != 2 || updates[1].Tombstone {
		t.Errorf("NonNull %+v: want the two updates", updates)
	}
}

// TestNullableSerde: null is nil bytes both ways; a value serializing to
// nothing is an empty value, not a tombstone.
func TestNullableSerde(t *testing.T) {
	s := dsl.NullableSerde(serde.String())
	for _, c := range []struct {
		v    dsl.Nullable[string]
		want []byte
	}{{dsl.Nullable[string]{}, nil}, {dsl.NotNull(""), []byte{}}, {dsl.NotNull("x"), []byte("x")}} {
		b, err := s.Serialize("t", c.v)
		must(t, err)
		if (b == nil) != (c.want == nil) || string(b) != string(c.want) {
			t.Errorf("Serialize(%v) = %q (nil %v), want %q", c.v, b, b == nil, c.want)
		}
		ab, err := serde.Append(s, make([]byte, 0, 4), "t", c.v)
		must(t, err)
		if (ab == nil) != (c.want == nil) || string(ab) != string(c.want) {
			t.Errorf("Append(%v) = %q (nil %v), want %q", c.v, ab, ab == nil, c.want)
		}
		back, err := s.Deserialize("t", b)
		must(t, err)
		if back != c.v {
			t.Errorf("round trip of %v: %v", c.v, back)
		}
	}
}

// TestTableSourcesDropNullKeys follows KTableSourceTest#
// kTableShouldLogAndMeterOnSkippedRecords: a table source drops a record
// with a null key and counts it as a dropped record ("null-key"), whether
// the table reads a topic (NewTable) or a stream (ToTable: Kafka Streams'
// KStreamImpl#toTable adds a KTableSource, which skips null keys).
func TestTableSourcesDropNullKeys(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("materialized=%v", named), func(t *testing.T) {
			var o1, o2 []dsl.Option
			if named {
				o1, o2 = []dsl.Option{dsl.StoreName("s1"), dsl.Caching(false)}, []dsl.Option{dsl.StoreName("s2"), dsl.Caching(false)}
			}
			b := dsl.NewBuilder()
			dsl.ToStream(dsl.NewTable(b, "topic", serde.String(), serde.String(), o1...)).To("out")
			dsl.ToStream(source(b).ToTable(o2...)).To("out")
			d := buildDriver(t, b, streamstest.Config{})
			for _, topic := range []string{"topic", "in"} {
				must(t, streamstest.NewInputTopic(d, topic, serde.String(), serde.String()).PipeRaw(nil, []byte("value"), nil, 0))
			}
			recs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadRecords()
			must(t, err)
			if len(recs) != 0 {
				t.Errorf("null keys forwarded: %+v", recs)
			}
			if n := d.DroppedRecords()["null-key"]; n != 2 {
				t.Errorf("%d records dropped for a null key, want 2", n)
			}
		})
	}
}

// TestToTableNullValueDeletes: a null value in the stream deletes its key
// from ToTable's table, and the deletion goes downstream as a tombstone, as
// Kafka Streams' toTable does with its KTableSource (KTableSourceTest#
// testKTable: A and B deleted, forwarded as (A, null) and (B, null));
// materialized, the store loses the key.
func TestToTableNullValueDeletes(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("materialized=%v", named), func(t *testing.T) {
			var opts []dsl.Option
			if named {
				opts = []dsl.Option{dsl.StoreName("s"), dsl.Caching(false)}
			}
			b := dsl.NewBuilder()
			dsl.ToStream(source(b).ToTable(opts...)).To("out")
			d := buildDriver(t, b, streamstest.Config{})
			pipeStrings(t, streamstest.NewInputTopic(d, "in", serde.String(), serde.String()), "A=1@10", "B=2@11", "A=null@14", "B=null@15")
			got := readOut(t, d, true)
			want := []string{"A=1@10", "B=2@11", "A=<nil>@14", "B=<nil>@15"}
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
			if named {
				if got := storeGet[string](t, d, "s", "A"); got != "absent" {
					t.Errorf("A deleted by a null value is %s in the store", got)
				}
			}
		})
	}
}

// TestRepartitionDropsNullKeys: Kafka Streams 4.4 rewrites the filter of
// every repartition with no left join downstream to drop null keys
// (InternalStreamsBuilder.rewriteRepartitionNodes,
// NodesWithRelaxedNullKeyJoinDownstream; RelaxedNullKeyRequirementJoinTest
// testDropNullKeyRecordsForRepartitionNodesWithNoRelaxedJoinDownstream),
// and keeps them where a left join is downstream, through the repartition
// topic (testRelaxedLeftStreamTableJoin). SelectKey keeps a null value null.
func TestRepartitionDropsNullKeys(t *testing.T) {
	build := func(left bool) *streamstest.Driver {
		b := dsl.NewBuilder()
		s := dsl.NewStream(b, []string{"in"}, serde.Bytes(), serde.String())
		// A key function that gives nil for an empty value: a null key.
		r := dsl.SelectKey(s, func(_ []byte, v string) []byte {
			if v == "" {
				return nil
			}
			return []byte(v[:1])
		}).Repartition()
		if left {
			tab := dsl.NewTable(b, "table", serde.Bytes(), serde.String())
			dsl.LeftJoin(dsl.MapValues(r, strings.ToUpper), tab, func(_ []byte, v, tv string, found bool) string { return v }).
				WithSerdes(serde.Bytes(), serde.String()).To("out")
		} else {
			dsl.MapValues(r, strings.ToUpper).To("out")
		}
		return buildDriver(t, b, streamstest.Config{})
	}
	for _, left := range []bool{false, true} {
		d := build(left)
		in := streamstest.NewInputTopic(d, "in", serde.Bytes(), serde.String())
		must(t, in.PipeAt([]byte("k"), "abc", 1))
		must(t, in.PipeAt([]byte("k"), "", 2)) // re-keyed to a null key
		recs, err := streamstest.NewOutputTopic(d, "out", serde.Bytes(), serde.String()).ReadRecords()
		must(t, err)
		var got []string
		for _, r := range recs {
			got = append(got, fmt.Sprintf("%s=%s null-key=%v", r.Key, r.Value, r.NullKey))
		}
		want := []string{"a=ABC null-key=false"}
		if left {
			want = append(want, "= null-key=true")
		}
		if !slices.Equal(got, want) {
			t.Errorf("left join downstream %v: got %q, want %q", left, got, want)
		}
	}
}

// TestSelectKeyKeepsNullValue: a re-keyed tombstone is still null after a
// repartition, so the aggregation skips it (KStreamImpl#selectKey keeps the
// value; KStreamAggregate skips null values) instead of counting it.
func TestSelectKeyKeepsNullValue(t *testing.T) {
	b := dsl.NewBuilder()
	s := source(b)
	dsl.ToStream(dsl.SelectKey(s, func(k, _ string) string { return "g" + k }).GroupByKey().Count(dsl.Caching(false))).
		To("out")
	dsl.ToStream(dsl.GroupBy(s, func(k, _ string) string { return "h" + k }, serde.String()).Count(dsl.Caching(false))).
		To("out")
	d := buildDriver(t, b, streamstest.Config{})
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeAt("a", "x", 1))
	must(t, in.PipeTombstone("a", 2))
	if got := strings.Join(readText(t, d), " "); got != "ga=1 ha=1" {
		t.Errorf("got %s, want each count 1 (the tombstone skipped)", got)
	}
	if n := d.DroppedRecords()["null-value"]; n != 2 {
		t.Errorf("dropped %d null values, want 2", n)
	}
}
