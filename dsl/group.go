package dsl

import (
	"fmt"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
)

// Grouped is a stream grouped by key, ready to be aggregated (Kafka Streams'
// KGroupedStream). Count and Reduce are methods; Aggregate, which changes the
// value type, is a package function.
//
// If the key may have changed since the records were partitioned (after
// Map, SelectKey, GroupBy, ...), the aggregation first writes the records
// through the repartition topic "<application.id>-<name>-repartition",
// where name is the Named option of the grouping or else the store's name.
type Grouped[K, V any] struct {
	s    Stream[K, V]
	name string // Named option of the grouping: names the repartition topic
	part int32
	// shared is the repartition of a named grouping, made by its first
	// aggregation and read by the later ones (GroupedStreamAggregateBuilder
	// keeps one repartition node per named grouping); copies of a Grouped
	// share it.
	shared *Stream[K, V]
}

// GroupByKey groups the stream by its current key. Options: Named (the
// repartition topic, if one is needed), Partitions.
func (s Stream[K, V]) GroupByKey(opts ...Option) Grouped[K, V] {
	o := s.b.collect("GroupByKey", opts, optNamed|optPartitions)
	return Grouped[K, V]{s: s, name: o.name, part: o.partitions, shared: new(Stream[K, V])}
}

// GroupBy groups the stream by the key fn returns, which is serialized with
// keySerde for the repartition topic and the store (the value keeps the
// stream's serde). Grouping by a new key always repartitions. Options:
// Named (the key-selecting node and the repartition topic, as Kafka
// Streams' Grouped.as names both), Partitions.
func GroupBy[K, V, KR any](s Stream[K, V], fn func(key K, value V) KR, keySerde serde.Serde[KR], opts ...Option) Grouped[KR, V] {
	o := s.b.collect("GroupBy", opts, optNamed|optPartitions)
	name := s.b.nodeName(o, prefixKeySelect)
	addStateless(s.b, name, s.node, func(ctx processor.Context[KR, V], r processor.Record[K, V]) error {
		// The value passes unchanged, so a null one stays null
		// (KStreamImpl#selectKey maps the key only).
		out := processor.WithKeyValue(r, fn(r.Key, r.Value), r.Value)
		out.Null = r.Null & processor.NullValue
		return ctx.Forward(out)
	})
	ns := Stream[KR, V]{b: s.b, node: name, keySerde: keySerde, valueSerde: s.valueSerde, keyChanged: true}
	return Grouped[KR, V]{s: ns, name: o.name, part: o.partitions, shared: new(Stream[KR, V])}
}

// input returns the stream an aggregation reads: s itself, or s through a
// repartition topic named after the grouping or else the store
// (GroupedStreamAggregateBuilder): <name>-repartition with the nodes
// <name>-repartition-filter, -sink and -source, or generated names when
// the store's name is generated (see repartition). A named grouping
// aggregated twice repartitions once; the second aggregation takes the
// indexes of the names all the same.
func (g Grouped[K, V]) input(store string) Stream[K, V] {
	if !g.s.keyChanged {
		return g.s
	}
	if g.name == "" {
		return repartition(g.s, store, g.part)
	}
	if g.shared != nil && g.shared.b != nil {
		g.s.b.nextIndex()
		g.s.b.nextIndex()
		g.s.b.nextIndex()
		return *g.shared
	}
	in := repartition(g.s, g.name, g.part)
	if g.shared != nil {
		*g.shared = in
	}
	return in
}

// Count counts the records of each key in a table. As in Kafka Streams,
// Count, Reduce and Aggregate skip a record whose key or value is null
// (processor.Record.Null) and count it in the dropped-records metric
// (reason "null-key" or "null-value"); the windowed and session
// aggregations skip null keys only, and aggregate a null value as V's zero
// value. Options: Named (the
// aggregating node), StoreName, InMemory, Caching, Logging.
func (g Grouped[K, V]) Count(opts ...Option) Table[K, int64] {
	g.s.b.countIndex("Count", opts, optNamed|optStore)
	return aggregate(g, "Count", func() int64 { return 0 },
		func(_ K, _ V, agg int64) int64 { return agg + 1 }, serde.Int64(), opts)
}

// Reduce combines the values of each key with fn, starting from the first
// value: the table holds fn(...fn(v1, v2)..., vn). The value serde of the
// grouped stream serializes the store. Options as for Count.
func (g Grouped[K, V]) Reduce(fn func(agg, value V) V, opts ...Option) Table[K, V] {
	b := g.s.b
	o := b.collect("Reduce", opts, optNamed|optStore)
	store := b.storeName(o, prefixReduce)
	name := b.nodeName(o, prefixReduce)
	in := g.input(store)
	if g.s.keySerde == nil || g.s.valueSerde == nil {
		b.fail(fmt.Errorf("%w: Reduce %s: the grouped stream has no serdes for store %s; give them with WithSerdes", ErrNoSerde, name, store))
		return Table[K, V]{b: b, node: name}
	}
	tn := aggregateNode()
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[K, V, K, Change[V]] {
		return &streamAggProc[K, V, V]{store: store, tn: tn, add: func(_ K, v V, agg V, first bool) V {
			if first {
				return v
			}
			return fn(agg, v)
		}}
	}, in.node))
	b.check(b.top.AddStateStore(statestore.TimestampedKeyValue(store, g.s.keySerde, g.s.valueSerde, o.storeOpts()...), name))
	return Table[K, V]{b: b, node: name, store: store, keySerde: g.s.keySerde, valueSerde: g.s.valueSerde, tn: tn, view: aggregateView[K, V](store)}
}

// Aggregate folds the values of each key into an aggregate of type A:
// init() for a new key, then add(key, value, agg) for every record. aggSerde
// serializes the store. Options as for Count.
func Aggregate[K, V, A any](g Grouped[K, V], init func() A, add func(key K, value V, agg A) A, aggSerde serde.Serde[A], opts ...Option) Table[K, A] {
	return aggregate(g, "Aggregate", init, add, aggSerde, opts)
}

func aggregate[K, V, A any](g Grouped[K, V], op string, init func() A, add func(key K, value V, agg A) A, aggSerde serde.Serde[A], opts []Option) Table[K, A] {
	b := g.s.b
	o := b.collect(op, opts, optNamed|optStore)
	store := b.storeName(o, prefixAggregate)
	name := b.nodeName(o, prefixAggregate)
	in := g.input(store)
	if g.s.keySerde == nil || aggSerde == nil {
		b.fail(fmt.Errorf("%w: Aggregate %s: store %s needs a key serde (WithSerdes) and an aggregate serde", ErrNoSerde, name, store))
		return Table[K, A]{b: b, node: name}
	}
	tn := aggregateNode()
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[K, V, K, Change[A]] {
		return &streamAggProc[K, V, A]{store: store, tn: tn, add: func(k K, v V, agg A, first bool) A {
			if first {
				agg = init()
			}
			return add(k, v, agg)
		}}
	}, in.node))
	b.check(b.top.AddStateStore(statestore.TimestampedKeyValue(store, g.s.keySerde, aggSerde, o.storeOpts()...), name))
	return Table[K, A]{b: b, node: name, store: store, keySerde: g.s.keySerde, valueSerde: aggSerde, tn: tn, view: aggregateView[K, A](store)}
}

// streamAggProc aggregates a stream into a timestamped key-value store and
// forwards each changed aggregate as a Change, with the old aggregate if a
// downstream operation asked for old values (KStreamAggregate).
type streamAggProc[K, V, A any] struct {
	store string
	// add folds v into agg; first says the key has no aggregate yet.
	add func(k K, v V, agg A, first bool) A
	tn  *tableNode
	w   tableWriter[K, A]
}

func (p *streamAggProc[K, V, A]) Init(ctx processor.Context[K, Change[A]]) error {
	return p.w.open(ctx, p.store, p.tn.sendsOld(), false)
}

func (p *streamAggProc[K, V, A]) Process(r processor.Record[K, V]) error {
	// Kafka Streams' KStreamAggregate and KStreamReduce skip a record whose
	// key or value is null, as a dropped record.
	if droppedNull(p.w.ctx, r.Null, true) {
		return nil
	}
	old, oldTS, ok, err := p.w.get(r.Key)
	if err != nil {
		return err
	}
	agg := p.add(r.Key, r.Value, old, !ok)
	ts := r.Timestamp
	if ok && oldTS > ts {
		ts = oldTS
	}
	return p.w.put(r.Key, agg, ts, old, ok, r.Headers)
}

func (p *streamAggProc[K, V, A]) Close() error { return nil }

// droppedNull reports whether a record with these null marks is dropped
// by an aggregation: one with a null key always, one with a null value if
// values too says so (KStreamAggregate and KStreamReduce; the windowed and
// session aggregations aggregate null values). A dropped record is counted
// with the reason "null-key" or "null-value".
func droppedNull[K, V any](ctx processor.Context[K, V], n processor.Nulls, values bool) bool {
	switch {
	case n.Key():
		ctx.Dropped("null-key")
	case values && n.Value():
		ctx.Dropped("null-value")
	default:
		return false
	}
	return true
}

// tableWriter writes a DSL-materialized table to its store and forwards the
// changes: at once when the store is not cached, or as the record cache
// flushes (at commit, or when an entry is evicted) when it is. Changes
// carry old values only if sendOld (Kafka Streams' TimestampedTupleForwarder
// and TimestampedCacheFlushListener); without, the cache does not read and
// decode the replaced values as it flushes.
type tableWriter[K, V any] struct {
	store   statestore.TimestampedKeyValueStore[K, V]
	ctx     processor.Context[K, Change[V]]
	cached  bool
	sendOld bool
}

// open gets the store and registers the flush listener. deletes says the
// table deletes keys: the cache must then read a deleted key's old value
// to tell whether it existed (Kafka Streams' caching store forwards a
// deletion only of a key it had), even when the old value is not sent.
func (w *tableWriter[K, V]) open(ctx processor.Context[K, Change[V]], name string, sendOld, deletes bool) error {
	s, err := processor.GetStore[statestore.TimestampedKeyValueStore[K, V]](ctx, name)
	if err != nil {
		return err
	}
	w.store, w.ctx, w.sendOld = s, ctx, sendOld
	w.cached = s.SetFlushListener(func(f statestore.FlushedRecord[K, statestore.ValueAndTimestamp[V]]) error {
		if !f.HasNew && !f.HasOld {
			return nil
		}
		ts := f.Timestamp
		if f.HasNew {
			ts = f.New.Timestamp
		}
		c := Change[V]{New: f.New.Value, HasNew: f.HasNew}
		if sendOld {
			c.Old, c.HasOld = f.Old.Value, f.HasOld
		}
		return forwardFlushed(ctx, f.Context, processor.Record[K, Change[V]]{Key: f.Key, Timestamp: ts, Value: c})
	}, sendOld || deletes)
	return nil
}

// forwardFlushed forwards r, made from an entry that left a cached store,
// as the record that last wrote the entry: with its headers and, while r
// goes downstream, its record metadata, as Kafka Streams'
// Caching*Store.putAndMaybeForward sets the entry's record context.
func forwardFlushed[K, V any](ctx processor.Context[K, V], rc statestore.RecordContext, r processor.Record[K, V]) error {
	r.Headers = rc.Headers
	md := processor.RecordMetadata{Topic: rc.Topic, Partition: rc.Partition, Offset: rc.Offset}
	return processor.ForwardWithMetadata(ctx, md, rc.Topic != "", r)
}

// replace puts v as k's value, reading the value it replaces only if it is
// sent.
func (w *tableWriter[K, V]) replace(k K, v V, ts int64, headers []processor.Header) error {
	var old V
	var ok bool
	if w.sendOld && !w.cached {
		var err error
		if old, _, ok, err = w.get(k); err != nil {
			return err
		}
	}
	return w.put(k, v, ts, old, ok, headers)
}

func (w *tableWriter[K, V]) get(k K) (V, int64, bool, error) {
	vt, ok, err := w.store.Get(k)
	return vt.Value, vt.Timestamp, ok, err
}

func (w *tableWriter[K, V]) put(k K, v V, ts int64, old V, hasOld bool, headers []processor.Header) error {
	if err := w.store.Put(k, statestore.ValueAndTimestamp[V]{Value: v, Timestamp: ts}); err != nil {
		return err
	}
	if w.cached {
		return nil
	}
	c := Change[V]{New: v, HasNew: true}
	if w.sendOld {
		c.Old, c.HasOld = old, hasOld
	}
	return w.ctx.Forward(processor.Record[K, Change[V]]{Key: k, Timestamp: ts, Headers: headers, Value: c})
}

// delete deletes k. Uncached, the deletion is forwarded even if k had no
// value, as Kafka Streams' KTableSource forwards every tombstone.
func (w *tableWriter[K, V]) delete(k K, ts int64, headers []processor.Header) error {
	old, existed, err := w.store.Delete(k)
	if err != nil || w.cached {
		return err
	}
	var c Change[V]
	if w.sendOld {
		c.Old, c.HasOld = old.Value, existed
	}
	return w.ctx.Forward(processor.Record[K, Change[V]]{Key: k, Timestamp: ts, Headers: headers, Value: c})
}
