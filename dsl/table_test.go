package dsl_test

import (
	"errors"
	"fmt"
	"maps"
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

// op is one input record for a table test: a value, or a tombstone.
type op struct {
	key, value string
	tombstone  bool
}

func set(k, v string) op { return op{key: k, value: v} }
func del(k string) op    { return op{key: k, tombstone: true} }

// runTable pipes ops into "in" and returns what reached "out" as
// "key=value" strings, tombstones as "key=<nil>".
func runTable(t *testing.T, b *dsl.Builder, cfg streamstest.Config, ops []op) ([]string, *streamstest.Driver) {
	t.Helper()
	top, err := b.Build()
	must(t, err)
	d, err := streamstest.New(top, cfg)
	must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for i, o := range ops {
		if o.tombstone {
			must(t, in.PipeTombstone(o.key, int64(i)))
		} else {
			must(t, in.PipeAt(o.key, o.value, int64(i)))
		}
	}
	if cfg.ManualCommit {
		must(t, d.Commit())
	}
	return readOut(t, d, false), d
}

// readOut reads topic "out" as "key=value", or "key=value@ts" if withTS,
// a tombstone's value as <nil>.
func readOut(t *testing.T, d *streamstest.Driver, withTS bool) []string {
	t.Helper()
	recs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.String()).ReadRecords()
	must(t, err)
	var got []string
	for _, r := range recs {
		v := r.Value
		if r.Tombstone {
			v = "<nil>"
		}
		if withTS {
			v += "@" + strconv.FormatInt(r.Timestamp, 10)
		}
		got = append(got, r.Key+"="+v)
	}
	return got
}

// changes writes a table's changes to "out" as "new/old" with "-" for an
// absent value.
func changes(t dsl.Table[string, string]) {
	s := dsl.MapValues(dsl.ChangeStream(t), func(c dsl.Change[string]) string {
		n, o := "-", "-"
		if c.HasNew {
			n = c.New
		}
		if c.HasOld {
			o = c.Old
		}
		return n + "/" + o
	})
	s.WithSerdes(serde.String(), serde.String()).To("out")
}

func TestTableOperations(t *testing.T) {
	ops := []op{set("a", "1"), set("b", "22"), set("a", "333"), set("c", ""), del("b"), del("zz"), set("a", "4")}
	cases := []struct {
		name  string
		build func(t dsl.Table[string, string])
		want  []string
	}{
		// The table forwards the tombstone of zz, which it never had
		// (TestTableSourceForwardsEveryTombstone), but ChangeStream drops a
		// change with neither value.
		{"changes with tombstones and an empty value", changes,
			[]string{"a=1/-", "b=22/-", "a=333/1", "c=/-", "b=-/22", "a=4/333"}},
		// KTableImplTest / KTableSourceTest: toStream forwards a deletion as
		// (key, null), that of zz too: an uncached source forwards every
		// tombstone (TestTableSourceForwardsEveryTombstone).
		{"toStream forwards deletions as tombstones", func(t dsl.Table[string, string]) { dsl.ToStream(t).To("out") },
			[]string{"a=1", "b=22", "a=333", "c=", "b=<nil>", "zz=<nil>", "a=4"}},
		{"filter turns a failing update into a deletion", func(t dsl.Table[string, string]) {
			changes(t.Filter(func(_, v string) bool { return len(v) == 1 }))
		}, []string{"a=1/-", "a=-/1", "a=4/-"}},
		{"filterNot", func(t dsl.Table[string, string]) {
			changes(t.FilterNot(func(_, v string) bool { return len(v) == 1 }))
		}, []string{"b=22/-", "a=333/-", "c=/-", "b=-/22", "a=-/333"}},
		{"mapValues maps old values too", func(t dsl.Table[string, string]) {
			changes(dsl.MapTableValues(t, func(k, v string) string { return k + strings.Repeat("*", len(v)) }))
		}, []string{"a=a*/-", "b=b**/-", "a=a***/a*", "c=c/-", "b=-/b**", "a=a*/a***"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := dsl.NewBuilder()
			tc.build(dsl.NewTable(b, "in", serde.String(), serde.String(), dsl.Caching(false)))
			got, _ := runTable(t, b, streamstest.Config{}, ops)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTableStoreAndNames: a table's store name takes its index whether or
// not the table is materialized (InternalStreamsBuilder#table generates
// it first); the store exists only when something reads the table, here a
// join (KTableSource#materialize), as in Kafka Streams'
// KStreamImplTest#shouldNotMaterializedKTableFromKStream and
// TopologyTest#kTableNonMaterializedFilterShouldPreserveTopologyStructure.
func TestTableStoreAndNames(t *testing.T) {
	b := dsl.NewBuilder()
	tab := dsl.NewTable(b, "in", serde.String(), serde.String())
	if tab.StoreName() != "in-STATE-STORE-0000000000" || tab.Name() != "KTABLE-SOURCE-0000000002" {
		t.Fatalf("store %q node %q", tab.StoreName(), tab.Name())
	}
	dsl.ToStream(tab).To("out")
	_, d := runTable(t, b, streamstest.Config{}, []op{set("a", "1")})
	if _, err := streamstest.Store[statestore.TimestampedKeyValueStore[string, string]](d, tab.StoreName()); err == nil {
		t.Fatal("a table nothing reads has a store")
	}

	b = dsl.NewBuilder()
	tab = dsl.NewTable(b, "in", serde.String(), serde.String())
	dsl.ToStream(tab).To("out")
	dsl.Join(dsl.NewStream(b, []string{"s"}, serde.String(), serde.String()), tab, func(_, v, tv string) string { return v + tv }).To("joined")
	_, d = runTable(t, b, streamstest.Config{}, []op{set("a", "1"), set("b", "2"), del("a")})
	s, err := streamstest.Store[statestore.TimestampedKeyValueStore[string, string]](d, tab.StoreName())
	must(t, err)
	if _, ok, _ := s.Get("a"); ok {
		t.Fatal("a deleted by a tombstone is still in the store")
	}
	if v, ok, _ := s.Get("b"); !ok || v.Value != "2" || v.Timestamp != 1 {
		t.Fatalf("b = %+v %v", v, ok)
	}
}

// TestTableBadValue: a value the table's serde rejects is a
// deserialization error naming the node and the record.
func TestTableBadValue(t *testing.T) {
	b := dsl.NewBuilder()
	dsl.ToStream(dsl.NewTable(b, "in", serde.String(), serde.Int64())).To("out")
	top, err := b.Build()
	must(t, err)
	d, err := streamstest.New(top, streamstest.Config{})
	must(t, err)
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.Int64())
	must(t, in.Pipe("a", 1))
	err = in.PipeRaw([]byte("b"), []byte("xyz"), nil, 0)
	var de *processor.DeserializationError
	if !errors.As(err, &de) || de.Node != "KTABLE-SOURCE-0000000002" || de.Topic != "in" || de.Offset != 1 {
		t.Fatalf("error %v, want a deserialization error at in@1", err)
	}
}

// regions is the re-aggregation under test: users (key) live in a region
// (value); count users per region.
func regions(b *dsl.Builder, opts ...dsl.Option) dsl.Table[string, int64] {
	users := dsl.NewTable(b, "in", serde.String(), serde.String(), opts...)
	return dsl.GroupTableBy(users, func(user, region string) (string, string) { return region, user },
		serde.String(), serde.String()).Count(append(opts, dsl.StoreName("users-per-region"))...)
}

func TestTableReaggregation(t *testing.T) {
	ops := []op{
		set("alice", "eu"), set("bob", "eu"), set("carol", "us"),
		set("bob", "us"),    // moves: eu 2->1, us 1->2
		set("alice", "eu"),  // same region again: retract and add, eu stays 1
		del("carol"),        // us 2->1
		set("dave", "apac"), // apac 1
		del("dave"),         // apac 0, kept as 0
		del("nobody"),       // nothing
	}
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprint("caching=", caching), func(t *testing.T) {
			b := dsl.NewBuilder()
			format(dsl.ToStream(regions(b, dsl.Caching(caching)))).To("out")
			got, d := runTable(t, b, streamstest.Config{}, ops)
			// The driver commits after every record, flushing the caches, so
			// with caching too every update shows, even alice's, which leaves
			// eu's count as it was.
			want := []string{"eu=1", "eu=2", "us=1", "eu=1", "us=2", "eu=1", "us=1", "apac=1", "apac=0"}
			if !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			s, err := streamstest.Store[statestore.TimestampedKeyValueStore[string, int64]](d, "users-per-region")
			must(t, err)
			final := map[string]int64{}
			it, err := s.All()
			must(t, err)
			for it.Next() {
				final[it.Key()] = it.Value().Value
			}
			must(t, it.Err())
			must(t, it.Close())
			if want := map[string]int64{"eu": 1, "us": 1, "apac": 0}; !maps.Equal(final, want) {
				t.Fatalf("store %v, want %v", final, want)
			}
		})
	}
}

// TestTableReaggregationCachedMerges: with commits under control, the
// record caches merge every update between two commits, upstream table
// included, and the final result is the same.
func TestTableReaggregationCachedMerges(t *testing.T) {
	b := dsl.NewBuilder()
	format(dsl.ToStream(regions(b))).To("out")
	got, _ := runTable(t, b, streamstest.Config{ManualCommit: true}, []op{
		set("alice", "eu"), set("bob", "eu"), set("carol", "us"), set("bob", "us"), del("carol"),
	})
	slices.Sort(got)
	if want := []string{"eu=1", "us=1"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestTableReduceAndAggregate(t *testing.T) {
	// Key: item; value: "<shop>:<price>". Sum prices per shop, and list
	// items per shop.
	ops := []op{set("pen", "a:2"), set("ink", "a:5"), set("cup", "b:7"), set("pen", "b:3"), del("ink")}
	parse := func(v string) (string, int64) {
		shop, price, _ := strings.Cut(v, ":")
		var n int64
		fmt.Sscan(price, &n)
		return shop, n
	}
	b := dsl.NewBuilder()
	items := dsl.NewTable(b, "in", serde.String(), serde.String(), dsl.Caching(false))
	sums := dsl.GroupTableBy(items, func(_ string, v string) (string, int64) { return parse(v) }, serde.String(), serde.Int64()).
		Reduce(func(agg, v int64) int64 { return agg + v }, func(agg, v int64) int64 { return agg - v }, dsl.Caching(false))
	format(dsl.ToStream(sums)).To("out")
	lists := dsl.AggregateTable(
		dsl.GroupTableBy(items, func(item string, v string) (string, string) { shop, _ := parse(v); return shop, item }, serde.String(), serde.String(), dsl.Named("items-by-shop")),
		func() string { return "" },
		func(_ string, item, agg string) string { return agg + "+" + item },
		func(_ string, item, agg string) string { return agg + "-" + item },
		serde.String(), dsl.Caching(false))
	dsl.ToStream(lists).To("lists")
	top, err := b.Build()
	must(t, err)
	if sinks, _ := top.InternalSinks(); len(sinks) != 2 || sinks[1].Topic != "items-by-shop-repartition" {
		t.Fatalf("internal sinks %+v", sinks)
	}
	got, d := runTable(t, b, streamstest.Config{}, ops)
	if want := []string{"a=2", "a=7", "b=7", "a=5", "b=10", "a=0"}; !slices.Equal(got, want) {
		t.Fatalf("sums %q, want %q", got, want)
	}
	kv, err := streamstest.ReadMap(streamstest.NewOutputTopic(d, "lists", serde.String(), serde.String()))
	must(t, err)
	if want := map[string]string{"a": "+pen+ink-pen-ink", "b": "+cup+pen"}; !maps.Equal(kv, want) {
		t.Fatalf("lists %v, want %v", kv, want)
	}
}

// TestChangeSerdeKafkaBytes follows Kafka Streams' ChangedSerdeTest
// (shouldSerializeAndDeserializeChangeWith{NonNullNewAndOldValues,
// NonNullNewValueAndNullOldValue,NullNewValueAndNonNullOldValue},
// serializerShouldThrowIfGivenAChangeWithBothNewAndOldValuesAsNull): the
// bytes are ChangedSerializer's, format byte last.
func TestChangeSerdeKafkaBytes(t *testing.T) {
	s := dsl.ChangeSerde(serde.String())
	for _, tc := range []struct {
		c    dsl.Change[string]
		want string
	}{
		{dsl.Change[string]{New: "hello", HasNew: true}, "hello\x01"},
		{dsl.Change[string]{Old: "world", HasOld: true}, "world\x00"},
		{dsl.Change[string]{New: "hello", HasNew: true, Old: "world", HasOld: true}, "\x0ahelloworld\x02"},
		{dsl.Change[string]{New: "", HasNew: true, Old: "world", HasOld: true}, "\x00world\x02"},
		{dsl.Change[string]{New: "", HasNew: true}, "\x01"},
	} {
		b, err := s.Serialize("some-topic", tc.c)
		must(t, err)
		if string(b) != tc.want {
			t.Errorf("Serialize(%+v) = %q, want %q", tc.c, b, tc.want)
		}
		got, err := s.Deserialize("some-topic", b)
		must(t, err)
		if got != tc.c {
			t.Errorf("round trip of %+v gave %+v", tc.c, got)
		}
	}
	if _, err := s.Serialize("some-topic", dsl.Change[string]{}); !errors.Is(err, dsl.ErrBadChange) {
		t.Errorf("Serialize of a change with neither value = %v, want ErrBadChange", err)
	}
}

// TestChangeSerdeReadsKafkaFormats follows ChangedSerdeTest's
// shouldDeserializeReservedVersions3Through5 (the is-latest byte before the
// format byte, either value) and
// shouldThrowErrorIfEncountersAnUnknownByteValueForOldNewFlag.
func TestChangeSerdeReadsKafkaFormats(t *testing.T) {
	s := dsl.ChangeSerde(serde.String())
	newOnly := dsl.Change[string]{New: "hello", HasNew: true}
	oldOnly := dsl.Change[string]{Old: "world", HasOld: true}
	both := dsl.Change[string]{New: "hello", HasNew: true, Old: "world", HasOld: true}
	for _, latest := range []string{"\x00", "\x01"} {
		for data, want := range map[string]dsl.Change[string]{
			"hello" + latest + "\x04":          newOnly,
			"world" + latest + "\x03":          oldOnly,
			"\x0ahelloworld" + latest + "\x05": both,
		} {
			got, err := s.Deserialize("some-topic", []byte(data))
			must(t, err)
			if got != want {
				t.Errorf("Deserialize(%q) = %+v, want %+v", data, got, want)
			}
		}
	}
	for _, bad := range []string{"", "world\xff", "world\x06", "hello\x02\x04", "\x05", "\x0ahell\x02", "\x01hello\x02", "\x80\x80\x80\x80\x80\x00\x02"} {
		if _, err := s.Deserialize("some-topic", []byte(bad)); !errors.Is(err, dsl.ErrBadChange) {
			t.Errorf("Deserialize(%q) = %v, want ErrBadChange", bad, err)
		}
	}
}

func FuzzChangeSerde(f *testing.F) {
	s := dsl.ChangeSerde(serde.String())
	for _, c := range []dsl.Change[string]{{New: "n", HasNew: true}, {Old: "o", HasOld: true, New: "x", HasNew: true}} {
		b, _ := s.Serialize("t", c)
		f.Add(b)
	}
	f.Add([]byte("\x02ab\x01\x05"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := s.Deserialize("t", data)
		if err != nil {
			return
		}
		again, err := s.Serialize("t", c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := s.Deserialize("t", again)
		if err != nil || c2 != c {
			t.Fatalf("%x decoded to %+v, which encodes as %x, which decodes to %+v (%v)", data, c, again, c2, err)
		}
	})
}

// TestTableTo: a table written to a topic carries its deletions as
// tombstones, including the ones a filter makes.
func TestTableTo(t *testing.T) {
	b := dsl.NewBuilder()
	dsl.NewTable(b, "in", serde.String(), serde.String(), dsl.Caching(false)).
		Filter(func(_, v string) bool { return v != "hide" }).
		To("out")
	got, _ := runTable(t, b, streamstest.Config{}, []op{set("a", "1"), set("b", ""), set("a", "hide"), del("b"), set("c", "3"), del("c")})
	if want := []string{"a=1", "b=", "a=<nil>", "b=<nil>", "c=3", "c=<nil>"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}

	b = dsl.NewBuilder()
	dsl.MapTableValues(dsl.NewTable(b, "in", serde.String(), serde.String()), func(_, v string) int { return len(v) }).To("out")
	if _, err := b.Build(); !errors.Is(err, dsl.ErrNoSerde) {
		t.Fatalf("To without a value serde: %v", err)
	}
}

// TestTableReaggregationRandom runs seeded random moves and deletions of
// users under different cache settings, cache sizes (small ones evict in
// the middle of processing) and commit points, and demands the counts of a
// replay every time. With caching, a region only ever visited between two
// commits may never be counted at all, so absent and 0 are the same.
func TestTableReaggregationRandom(t *testing.T) {
	type config struct {
		tableCache, aggCache bool
		cacheBytes           int64
		commitEvery          int // 0: the driver commits after every record
	}
	configs := []config{
		{false, false, 0, 0},
		{true, true, 0, 0},
		{true, true, 0, 17},
		{true, false, 0, 50},
		{false, true, 0, 50},
		{true, true, 600, 7}, // a few entries fit: evictions flush mid-stream
		{true, true, -1, 13}, // no room at all: every write goes through
	}
	for seed := uint64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		regionNames := []string{"eu", "us", "apac", "latam", "mea"}
		var ops []op
		where := map[string]string{}
		for range 400 {
			u := "u" + strconv.Itoa(rng.IntN(40))
			if rng.IntN(6) == 0 {
				ops = append(ops, del(u))
				delete(where, u)
			} else {
				r := regionNames[rng.IntN(len(regionNames))]
				ops = append(ops, set(u, r))
				where[u] = r
			}
		}
		want := map[string]int64{}
		for _, r := range where {
			want[r]++
		}
		for _, c := range configs {
			t.Run(fmt.Sprintf("seed=%d/%+v", seed, c), func(t *testing.T) {
				b := dsl.NewBuilder()
				users := dsl.NewTable(b, "in", serde.String(), serde.String(), dsl.Caching(c.tableCache))
				dsl.GroupTableBy(users, func(u, r string) (string, string) { return r, u }, serde.String(), serde.String()).
					Count(dsl.StoreName("n"), dsl.Caching(c.aggCache)).To("out")
				top, err := b.Build()
				must(t, err)
				d, err := streamstest.New(top, streamstest.Config{CacheMaxBytes: c.cacheBytes, ManualCommit: c.commitEvery > 0})
				must(t, err)
				defer d.Close()
				in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
				for i, o := range ops {
					if o.tombstone {
						must(t, in.PipeTombstone(o.key, int64(i)))
					} else {
						must(t, in.PipeAt(o.key, o.value, int64(i)))
					}
					if c.commitEvery > 0 && i%c.commitEvery == 0 {
						must(t, d.Commit())
					}
				}
				must(t, d.Commit())
				got, err := streamstest.ReadMap(streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()))
				must(t, err)
				maps.DeleteFunc(got, func(_ string, n int64) bool { return n == 0 })
				if !maps.Equal(got, want) {
					t.Fatalf("output %v, want %v", got, want)
				}
				s, err := streamstest.Store[statestore.TimestampedKeyValueStore[string, int64]](d, "n")
				must(t, err)
				for r, n := range want {
					if v, _, err := s.Get(r); err != nil || v.Value != n {
						t.Fatalf("store %s=%d (%v), want %d", r, v.Value, err, n)
					}
				}
			})
		}
	}
}
