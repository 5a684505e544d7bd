package dsl

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// getterProbe is the value getter of a table opened in a processor, as
// Kafka's KTable*Test classes open one with getterSupplier.get() and
// init(driver.setCurrentNodeForProcessorContext(...)): each record on the
// probe topic is a key to read, and get reports "value@timestamp" or
// "null".
type getterProbe[K, V any] struct {
	view tableView[K, V]
	g    valueGetter[K, V]
	got  *[]string
}

func (p *getterProbe[K, V]) Init(ctx processor.Context[string, string]) error {
	g, err := p.view.open(ctx)
	p.g = g
	return err
}

func (p *getterProbe[K, V]) Process(r processor.Record[K, string]) error {
	v, ok, err := p.g.get(r.Key)
	if err != nil {
		return err
	}
	if !ok {
		*p.got = append(*p.got, "null")
		return nil
	}
	*p.got = append(*p.got, fmt.Sprintf("%v@%d", v.Value, v.Timestamp))
	return nil
}

func (p *getterProbe[K, V]) Close() error { return nil }

// addGetterProbe adds a source of topic (keys in keySerde) and a probe of
// t's value getter under it, connected to the getter's stores.
func addGetterProbe[K, V any](t *testing.T, b *Builder, table Table[K, V], topic string, keySerde serde.Serde[K]) *[]string {
	t.Helper()
	got := new([]string)
	view := table.view()
	src, name := topic+"-source", topic+"-getter"
	if err := processor.AddSource(b.top, src, processor.SourceSpec[K, string]{Topics: []string{topic}, KeySerde: keySerde, ValueSerde: serde.String()}); err != nil {
		t.Fatal(err)
	}
	if err := processor.AddProcessor(b.top, name, func() processor.Processor[K, string, string, string] {
		return &getterProbe[K, V]{view: view, got: got}
	}, src); err != nil {
		t.Fatal(err)
	}
	for _, s := range view.stores {
		if err := b.top.ConnectStores(s, name); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// getters reads keys through each probe (topic "probe<i+1>" feeds probes[i])
// and returns what each saw, probes separated by " | ".
func getters[K any](t *testing.T, d *streamstest.Driver, keySerde serde.Serde[K], probes []*[]string, keys ...K) string {
	t.Helper()
	var out []string
	for i, p := range probes {
		out = append(out, getter(t, d, keySerde, "probe"+strconv.Itoa(i+1), p, keys...))
	}
	return strings.Join(out, " | ")
}

// getter reads keys through the probe fed by topic.
func getter[K any](t *testing.T, d *streamstest.Driver, keySerde serde.Serde[K], topic string, p *[]string, keys ...K) string {
	t.Helper()
	in := streamstest.NewInputTopic(d, topic, keySerde, serde.String())
	for _, k := range keys {
		if err := in.PipeAt(k, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Join(*p, " ")
	*p = nil
	return got
}

func newDriver(t *testing.T, b *Builder) *streamstest.Driver {
	t.Helper()
	top, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(top, streamstest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// pipe pipes "key=value@ts" records, "key=null@ts" as tombstones.
func pipe(t *testing.T, in *streamstest.InputTopic[string, string], recs ...string) {
	t.Helper()
	for _, r := range recs {
		kv, ts, _ := strings.Cut(r, "@")
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.ParseInt(ts, 10, 64)
		var err error
		if v == "null" {
			err = in.PipeTombstone(k, n)
		} else {
			err = in.PipeAt(k, v, n)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func checkGetters(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("getters read\n %s\nwant\n %s", got, want)
	}
}

// TestSourceValueGetter follows KTableSourceTest#testValueGetter: the
// getter of a source table reads its store, timestamps included.
func TestSourceValueGetter(t *testing.T) {
	b := NewBuilder()
	table1 := NewTable(b, "topic1", serde.String(), serde.String(), StoreName("store"))
	probes := []*[]string{addGetterProbe(t, b, table1, "probe1", serde.String())}
	d := newDriver(t, b)
	in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
	read := func() string { return getters(t, d, serde.String(), probes, "A", "B", "C") }
	pipe(t, in, "A=01@10", "B=01@20", "C=01@15")
	checkGetters(t, read(), "01@10 01@20 01@15")
	pipe(t, in, "A=02@30", "B=02@5")
	checkGetters(t, read(), "02@30 02@5 01@15")
	pipe(t, in, "A=03@29")
	checkGetters(t, read(), "03@29 02@5 01@15")
	pipe(t, in, "A=null@50", "B=null@3")
	checkGetters(t, read(), "null null 01@15")
}

// TestFilterValueGetter follows KTableFilterTest#doTestValueGetter: the
// getters of a Filter and a FilterNot read the source's store and apply
// the predicate, returning the source's timestamps.
func TestFilterValueGetter(t *testing.T) {
	b := NewBuilder()
	table1 := NewTable(b, "topic1", serde.String(), serde.Int32())
	even := func(_ string, v int32) bool { return v%2 == 0 }
	probes := []*[]string{
		addGetterProbe(t, b, table1.Filter(even), "probe1", serde.String()),
		addGetterProbe(t, b, table1.FilterNot(even), "probe2", serde.String()),
	}
	d := newDriver(t, b)
	in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.Int32())
	put := func(k string, v int32, ts int64) {
		if err := in.PipeAt(k, v, ts); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string { return getters(t, d, serde.String(), probes, "A", "B", "C") }
	put("A", 1, 5)
	put("B", 1, 10)
	put("C", 1, 15)
	checkGetters(t, read(), "null null null | 1@5 1@10 1@15")
	put("A", 2, 10)
	put("B", 2, 5)
	checkGetters(t, read(), "2@10 2@5 null | null null 1@15")
	put("A", 3, 15)
	checkGetters(t, read(), "null 2@5 null | 3@15 null 1@15")
	if err := in.PipeTombstone("A", 10); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeTombstone("B", 20); err != nil {
		t.Fatal(err)
	}
	checkGetters(t, read(), "null null null | null null 1@15")
}

// TestMapValuesValueGetter follows KTableMapValuesTest#doTestValueGetter:
// the getters of MapTableValues tables read the source's store and apply
// the mapper, keeping the source's timestamps.
func TestMapValuesValueGetter(t *testing.T) {
	b := NewBuilder()
	table1 := NewTable(b, "topic1", serde.String(), serde.String())
	parse := func(_, s string) int32 { n, _ := strconv.Atoi(s); return int32(n) }
	probes := []*[]string{
		addGetterProbe(t, b, MapTableValues(table1, parse), "probe1", serde.String()),
		addGetterProbe(t, b, MapTableValues(table1, func(k, s string) int32 { return -parse(k, s) }), "probe2", serde.String()),
	}
	d := newDriver(t, b)
	in := streamstest.NewInputTopic(d, "topic1", serde.String(), serde.String())
	read := func() string { return getters(t, d, serde.String(), probes, "A", "B", "C") }
	pipe(t, in, "A=01@50", "B=01@10", "C=01@30")
	checkGetters(t, read(), "1@50 1@10 1@30 | -1@50 -1@10 -1@30")
	pipe(t, in, "A=02@25", "B=02@20")
	checkGetters(t, read(), "2@25 2@20 1@30 | -2@25 -2@20 -1@30")
	pipe(t, in, "A=03@35")
	checkGetters(t, read(), "3@35 2@20 1@30 | -3@35 -2@20 -1@30")
	pipe(t, in, "A=null@1")
	checkGetters(t, read(), "null 2@20 1@30 | null -2@20 -1@30")
}

// TestAggregationValueGetters: the getter of a count reads its store
// (KTableAggregate's KTableMaterializedValueGetterSupplier), of a windowed
// count its window store by key and window start (KStreamWindowAggregate's
// view), and of a session count its session store, timestamped with the
// session's end (KStreamSessionWindowAggregateProcessorTest#
// shouldGetAggregatedValuesFromValueGetter, gap 100ms).
func TestAggregationValueGetters(t *testing.T) {
	b := NewBuilder()
	grouped := NewStream(b, []string{"in"}, serde.String(), serde.String()).GroupByKey()
	counts := grouped.Count(Caching(false))
	windowed := WindowedBy(grouped, TumblingWindows(10*time.Millisecond, time.Hour)).Count(Caching(false))
	const gap = 100
	sessions := SessionWindowedBy(grouped, SessionWindowsWithGap(gap*time.Millisecond, time.Hour)).Count(Caching(false))
	kv := addGetterProbe(t, b, counts, "probe1", serde.String())
	ws := addGetterProbe(t, b, windowed, "probe2", TimeWindowedSerde(serde.String(), 10*time.Millisecond))
	ss := addGetterProbe(t, b, sessions, "probe3", SessionWindowedSerde(serde.String()))
	d := newDriver(t, b)
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	pipe(t, in, "a=1@0", "a=1@101", "a=2@101")
	checkGetters(t, getter(t, d, serde.String(), "probe1", kv, "a", "b"), "3@101 null")
	checkGetters(t, getter(t, d, TimeWindowedSerde(serde.String(), 10*time.Millisecond), "probe2", ws,
		Windowed[string]{Key: "a", Start: 0, End: 10}, Windowed[string]{Key: "a", Start: 100, End: 110}, Windowed[string]{Key: "a", Start: 10, End: 20}),
		"1@0 2@101 null")
	checkGetters(t, getter(t, d, SessionWindowedSerde(serde.String()), "probe3", ss,
		Windowed[string]{Key: "a", Start: 0, End: 0}, Windowed[string]{Key: "a", Start: gap + 1, End: gap + 1}),
		"1@0 2@101")
}
