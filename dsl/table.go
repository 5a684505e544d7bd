package dsl

import (
	"bytes"
	"fmt"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
)

// Change is what flows between table nodes: the new value of a key and the
// value it replaces (Kafka Streams' Change<V>). HasNew false means the key
// was deleted; HasOld false means it had no value before, or that no
// operation downstream asked for old values (see Table), so the node did
// not send it; a Change with neither is a deletion of a key whose old value
// is not sent. Table aggregations use Old to retract what a key
// contributed before its update.
type Change[V any] struct {
	New, Old       V
	HasNew, HasOld bool
}

// Table is a changelog stream (Kafka Streams' KTable) of keys K and values
// V: each record is the latest value of its key, replacing the one before.
// Tables come from topics (NewTable), streams (ToTable) and aggregations.
// Between table nodes records carry a Change[V], so a downstream
// re-aggregation can retract old values. A node sends old values only when
// an operation downstream needs them, as Kafka Streams decides with
// enableSendingOldValues: GroupTableBy, SuppressUntilWindowCloses and
// ChangeStream ask with force, which reaches up through Filter and
// MapTableValues to the table with a store; a Filter asks without force
// when it is added, which a source table grants only if its store was
// named with StoreName or it was joined. Without old values, nodes skip
// reading and decoding them.
//
// Any table but a suppressed one can be joined (Join, LeftJoin): a Filter
// or MapTableValues is read through the store of the table it is computed
// from, its predicate or mapper applied.
//
// Like Stream, a Table is a small value naming a node of the topology.
type Table[K, V any] struct {
	b    *Builder
	node string
	// store is the name of the store the table is materialized in, "" for
	// tables computed from their parent (Filter, MapValues).
	store      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	// window is set for the tables of windowed aggregations (and tables
	// filtered or mapped from them): what suppression needs to know.
	window *windowInfo
	// tn says whether the node sends old values; nil for a table whose
	// operation failed.
	tn *tableNode
	// view returns how to read the table's current values (Kafka Streams'
	// valueGetterSupplier(), which materializes a source table); nil for
	// a table that cannot be read by key.
	view func() tableView[K, V]
}

// windowInfo describes the windows of a windowed table's keys.
type windowInfo struct {
	grace int64 // ms after a window's end that records are still accepted
}

// sourceView is the view of a source table (NewTable, ToTable): its store,
// which a reader makes part of the table's contract, as Kafka Streams'
// KTableSource#materialize does.
func sourceView[K, V any](tn *tableNode, store string) func() tableView[K, V] {
	return func() tableView[K, V] {
		tn.materialize()
		return storeView[K, V](store)
	}
}

// Name is the name of the topology node the table's changes come from.
func (t Table[K, V]) Name() string { return t.node }

// StoreName is the name of the store the table is materialized in, or ""
// for a table computed from another (Filter, MapValues). A source table
// (NewTable, ToTable) that nothing materializes reports the name its
// store would have, and has no store.
func (t Table[K, V]) StoreName() string { return t.store }

// NewTable reads topic as a table. As in Kafka Streams, the table has a
// store only if it is materialized: its store is named with StoreName, or a
// join or an operation that needs old values (GroupTableBy, suppression,
// ChangeStream) reads it; the store's generated name
// ("<topic>-STATE-STORE-<index>") takes its index either way. Without a
// store, the table forwards every update and tombstone as it comes, with no
// old value and no cache. A store is a timestamped key-value store whose
// changelog is the topic itself: nothing is logged, and after a move or a
// lost state directory the store is restored from the topic up to the
// committed offset (so Logging does not apply). Options: Named (the
// KTABLE-SOURCE node; the source node is then <name>-source, as with Kafka
// Streams' Consumed.as), StoreName, InMemory, Caching,
// WithTimestampExtractor, WithOffsetReset.
//
// A record with a null key is dropped (Context.Dropped, "null-key"), as
// Kafka Streams' KTableSource drops it. Tombstones: a record whose value is
// null (nil bytes) deletes its key. The
// source reads values as raw bytes and the KTABLE-SOURCE node deserializes
// them with valueSerde itself, so it can tell null from a value that
// deserializes to V's zero value (for example an empty string); a value it
// cannot deserialize fails as a *processor.DeserializationError, which
// goes to the deserialization error handler as a source's would. A
// deletion goes downstream as a Change with HasNew false, even of a key
// the table did not have (unless the store is cached), as in Kafka
// Streams.
//
// Old values: the table sends them downstream only when an operation that
// needs them asks (GroupTableBy, suppression, ChangeStream), or when a
// Filter is added to a table whose store was named with StoreName or that
// was joined before (Kafka Streams' materialized source table).
func NewTable[K, V any](b *Builder, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...Option) Table[K, V] {
	o := b.collect("NewTable", opts, optSource|optStoreName|optInMemory|optCaching)
	store := b.storeName(o, topic+"-")
	src := b.newName(prefixSource)
	if o.name != "" {
		src = o.name + "-source"
	}
	b.check(processor.AddSource(b.top, src, processor.SourceSpec[K, []byte]{
		Topics: []string{topic}, KeySerde: keySerde, ValueSerde: serde.Bytes(),
		TimestampExtractor: o.extractor, OffsetReset: o.reset,
	}))
	name := b.nodeName(o, prefixTableSource)
	if keySerde == nil || valueSerde == nil {
		b.fail(fmt.Errorf("%w: NewTable %s: a key serde and a value serde are required", ErrNoSerde, topic))
		return Table[K, V]{b: b, node: name}
	}
	var tn *tableNode
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[K, []byte, K, Change[V]] {
		return &tableSourceProc[K, V]{node: name, store: store, values: valueSerde, tn: tn}
	}, src))
	tn = sourceNode(o.storeName != "", func() {
		// The topic itself is the store's changelog (Kafka Streams'
		// source-topic optimization): nothing is logged, and the store is
		// restored from it.
		storeOpts := append(o.storeOpts(), statestore.SourceTopic(topic))
		b.check(b.top.AddStateStore(statestore.TimestampedKeyValue(store, keySerde, valueSerde, storeOpts...), name))
	})
	return Table[K, V]{b: b, node: name, store: store, keySerde: keySerde, valueSerde: valueSerde, tn: tn, view: sourceView[K, V](tn, store)}
}

type tableSourceProc[K, V any] struct {
	node, store string
	values      serde.Serde[V]
	tn          *tableNode
	ctx         processor.Context[K, Change[V]]
	w           sourceWriter[K, V]
}

func (p *tableSourceProc[K, V]) Init(ctx processor.Context[K, Change[V]]) error {
	p.ctx = ctx
	return p.w.openSource(ctx, p.store, p.tn, true)
}

func (p *tableSourceProc[K, V]) Process(r processor.Record[K, []byte]) error {
	if r.Null.Key() {
		p.ctx.Dropped("null-key")
		return nil
	}
	if r.Value == nil {
		return p.w.deleteSource(r.Key, r.Timestamp, r.Headers)
	}
	md, _ := p.ctx.RecordMetadata()
	v, err := p.values.Deserialize(md.Topic, r.Value)
	if err != nil {
		return &processor.DeserializationError{Node: p.node, Topic: md.Topic, Partition: md.Partition, Offset: md.Offset, Err: err}
	}
	return p.w.replaceSource(r.Key, v, r.Timestamp, r.Headers)
}

func (p *tableSourceProc[K, V]) Close() error { return nil }

// ToTable turns the stream into a table: each record becomes the latest
// value of its key. The table has a store (StoreName; default
// KSTREAM-TOTABLE-STATE-STORE-<index>, which takes its index either way)
// only if it is materialized, as for NewTable. It needs the stream's
// serdes. Options:
// Named, StoreName, InMemory, Caching, Logging. Nulls are as for NewTable
// (Kafka Streams' toTable is a KTableSource too): a record with a null key
// (processor.NullKey) is dropped, one with a null value (NullValue, a
// tombstone from a source or dsl.ToStream) deletes its key, and the
// deletion goes downstream even of a key the table did not have unless
// the store is cached. Old values are sent as for NewTable.
func (s Stream[K, V]) ToTable(opts ...Option) Table[K, V] {
	b := s.b
	o := b.collect("ToTable", opts, optNamed|optStore)
	name := b.nodeName(o, prefixToTable)
	store := b.storeName(o, prefixToTable)
	if s.keySerde == nil || s.valueSerde == nil {
		b.fail(fmt.Errorf("%w: ToTable %s: store %s needs the stream's serdes; give them with WithSerdes", ErrNoSerde, name, store))
		return Table[K, V]{b: b, node: name}
	}
	var tn *tableNode
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[K, V, K, Change[V]] {
		return &toTableProc[K, V]{store: store, tn: tn}
	}, s.node))
	tn = sourceNode(o.storeName != "", func() {
		b.check(b.top.AddStateStore(statestore.TimestampedKeyValue(store, s.keySerde, s.valueSerde, o.storeOpts()...), name))
	})
	return Table[K, V]{b: b, node: name, store: store, keySerde: s.keySerde, valueSerde: s.valueSerde, tn: tn, view: sourceView[K, V](tn, store)}
}

type toTableProc[K, V any] struct {
	store string
	tn    *tableNode
	ctx   processor.Context[K, Change[V]]
	w     sourceWriter[K, V]
}

func (p *toTableProc[K, V]) Init(ctx processor.Context[K, Change[V]]) error {
	p.ctx = ctx
	return p.w.openSource(ctx, p.store, p.tn, true)
}

// Process is KTableSource's, which Kafka Streams' toTable uses: a null key
// is dropped, a null value deletes the key.
func (p *toTableProc[K, V]) Process(r processor.Record[K, V]) error {
	switch {
	case r.Null.Key():
		p.ctx.Dropped("null-key")
		return nil
	case r.Null.Value():
		return p.w.deleteSource(r.Key, r.Timestamp, r.Headers)
	}
	return p.w.replaceSource(r.Key, r.Value, r.Timestamp, r.Headers)
}

// sourceWriter writes a source table (NewTable, ToTable): to its store
// through a tableWriter if the table is materialized, else straight
// downstream, every update as it comes with no old value, as Kafka
// Streams' KTableSource does without a store.
type sourceWriter[K, V any] struct {
	tableWriter[K, V]
	unmaterialized bool
}

func (w *sourceWriter[K, V]) openSource(ctx processor.Context[K, Change[V]], store string, tn *tableNode, deletes bool) error {
	if !tn.materialized() {
		w.ctx, w.unmaterialized = ctx, true
		return nil
	}
	return w.open(ctx, store, tn.sendsOld(), deletes)
}

func (w *sourceWriter[K, V]) replaceSource(k K, v V, ts int64, headers []processor.Header) error {
	if w.unmaterialized {
		return w.ctx.Forward(processor.Record[K, Change[V]]{Key: k, Timestamp: ts, Headers: headers, Value: Change[V]{New: v, HasNew: true}})
	}
	return w.replace(k, v, ts, headers)
}

func (w *sourceWriter[K, V]) deleteSource(k K, ts int64, headers []processor.Header) error {
	if w.unmaterialized {
		return w.ctx.Forward(processor.Record[K, Change[V]]{Key: k, Timestamp: ts, Headers: headers})
	}
	return w.delete(k, ts, headers)
}

func (p *toTableProc[K, V]) Close() error { return nil }

// Filter keeps the keys whose value satisfies pred: an update to a value
// that fails pred deletes the key downstream. The result is computed from
// this table's changes, not materialized; a join reads it through this
// table's store, applying pred. Options: Named.
//
// As in Kafka Streams' KTableFilter, a filter that does not receive old
// values (see NewTable) forwards a deletion for every update it filters
// out, since it cannot tell whether the key was in the filtered table; one
// that does forwards only changes of the filtered table, with old values.
func (t Table[K, V]) Filter(pred func(key K, value V) bool, opts ...Option) Table[K, V] {
	return t.filter(pred, false, t.b.collect("Table.Filter", opts, optNamed))
}

// FilterNot drops the keys whose value satisfies pred, as Filter with the
// predicate negated. Options: Named.
func (t Table[K, V]) FilterNot(pred func(key K, value V) bool, opts ...Option) Table[K, V] {
	return t.filter(pred, true, t.b.collect("Table.FilterNot", opts, optNamed))
}

func (t Table[K, V]) filter(pred func(K, V) bool, not bool, o *options) Table[K, V] {
	name := t.b.nodeName(o, prefixTableFilter)
	keep := func(k K, v V) bool { return pred(k, v) != not }
	tn := derivedNode(t.tn)
	// A filter asks for old values without forcing them (KTableFilter's
	// constructor): it gets them from a queryable table.
	tn.sendOld = t.tn.enableSendingOldValues(false)
	addStateless(t.b, name, t.node, func(ctx processor.Context[K, Change[V]], r processor.Record[K, Change[V]]) error {
		c := r.Value
		c.HasNew = c.HasNew && keep(r.Key, c.New)
		c.HasOld = c.HasOld && tn.sendOld && keep(r.Key, c.Old)
		if tn.sendOld && !c.HasNew && !c.HasOld {
			return nil
		}
		if !c.HasNew {
			var zero V
			c.New = zero
		}
		if !c.HasOld {
			var zero V
			c.Old = zero
		}
		return ctx.Forward(processor.WithValue(r, c))
	})
	out := Table[K, V]{b: t.b, node: name, keySerde: t.keySerde, valueSerde: t.valueSerde, window: t.window, tn: tn}
	if t.view != nil {
		parent := t.view
		out.view = func() tableView[K, V] {
			return derivedView(parent(), func(k K, v statestore.ValueAndTimestamp[V], ok bool) (statestore.ValueAndTimestamp[V], bool) {
				return v, ok && keep(k, v.Value)
			})
		}
	}
	return out
}

// MapTableValues maps every value of the table with fn (new and old values
// alike, so downstream retractions stay right; old values only when a
// downstream operation asks for them, as in Kafka Streams'
// KTableMapValues). The result is computed, not materialized, and carries
// the key serde only; a join reads it through this table's store, applying
// fn. Options: Named.
func MapTableValues[K, V, VR any](t Table[K, V], fn func(key K, value V) VR, opts ...Option) Table[K, VR] {
	name := t.b.nodeName(t.b.collect("MapTableValues", opts, optNamed), prefixTableMapVals)
	tn := derivedNode(t.tn)
	addStateless(t.b, name, t.node, func(ctx processor.Context[K, Change[VR]], r processor.Record[K, Change[V]]) error {
		var c Change[VR]
		if r.Value.HasNew {
			c.New, c.HasNew = fn(r.Key, r.Value.New), true
		}
		if r.Value.HasOld && tn.sendOld {
			c.Old, c.HasOld = fn(r.Key, r.Value.Old), true
		}
		return ctx.Forward(processor.WithValue(r, c))
	})
	out := Table[K, VR]{b: t.b, node: name, keySerde: t.keySerde, window: t.window, tn: tn}
	if t.view != nil {
		parent := t.view
		out.view = func() tableView[K, VR] {
			return derivedView(parent(), func(k K, v statestore.ValueAndTimestamp[V], ok bool) (statestore.ValueAndTimestamp[VR], bool) {
				if !ok {
					return statestore.ValueAndTimestamp[VR]{}, false
				}
				return statestore.ValueAndTimestamp[VR]{Value: fn(k, v.Value), Timestamp: v.Timestamp}, true
			})
		}
	}
	return out
}

// ChangeStream returns the stream of the table's changes, deletions
// included (HasNew false), with old values: it asks the table to send them
// (forcing it, as a downstream GroupTableBy does in Kafka Streams), so the
// table's other children get them too. A change with neither value (the
// deletion of a key the table did not have) says nothing and is dropped,
// so every record can be written with ChangeSerde. Options: Named.
func ChangeStream[K, V any](t Table[K, V], opts ...Option) Stream[K, Change[V]] {
	t.tn.enableSendingOldValues(true)
	name := t.b.nodeName(t.b.collect("ChangeStream", opts, optNamed), prefixTableToStream)
	addStateless(t.b, name, t.node, func(ctx processor.Context[K, Change[V]], r processor.Record[K, Change[V]]) error {
		if !r.Value.HasNew && !r.Value.HasOld {
			return nil
		}
		return ctx.Forward(r)
	})
	s := Stream[K, Change[V]]{b: t.b, node: name, keySerde: t.keySerde}
	if t.valueSerde != nil {
		s.valueSerde = ChangeSerde(t.valueSerde)
	}
	return s
}

// GroupedTable is a table regrouped by a new key, ready for re-aggregation
// (Kafka Streams' KGroupedTable): each update of the source table subtracts
// the old value from the aggregate of its old group and adds the new value
// to the aggregate of its new group.
type GroupedTable[K, V any] struct {
	b          *Builder
	node       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	name       string
	part       int32
	// shared is the repartition source of a named grouping, made by its
	// first aggregation and read by the later ones (KGroupedTableImpl keeps
	// one repartition node per named grouping); copies share it.
	shared *string
}

// GroupTableBy regroups the table by the key and value fn returns, which
// keySerde and valueSerde serialize for the repartition topic
// "<application.id>-<name>-repartition" (name: the Named option, else the
// aggregation's store name). Regrouping always repartitions. Options: Named
// (the KTABLE-SELECT node and the repartition topic, as Kafka Streams'
// Grouped.as names both), Partitions.
func GroupTableBy[K, V, KR, VR any](t Table[K, V], fn func(key K, value V) (KR, VR), keySerde serde.Serde[KR], valueSerde serde.Serde[VR], opts ...Option) GroupedTable[KR, VR] {
	b := t.b
	o := b.collect("GroupTableBy", opts, optNamed|optPartitions)
	name := b.nodeName(o, prefixTableSelect)
	// The selector retracts old values from their old group
	// (KGroupedTable needs them; KTableImpl#groupBy forces them).
	t.tn.enableSendingOldValues(true)
	if keySerde == nil || valueSerde == nil {
		b.fail(fmt.Errorf("%w: GroupTableBy %s: a key serde and a value serde are required", ErrNoSerde, name))
	}
	b.check(processor.AddProcessor(b.top, name, processor.Func(func(ctx processor.Context[KR, Change[VR]], r processor.Record[K, Change[V]]) error {
		var oldK, newK KR
		var oldV, newV VR
		if r.Value.HasOld {
			oldK, oldV = fn(r.Key, r.Value.Old)
		}
		if r.Value.HasNew {
			newK, newV = fn(r.Key, r.Value.New)
		}
		if r.Value.HasOld && r.Value.HasNew {
			same, err := sameKey(keySerde, oldK, newK)
			if err != nil {
				return err
			}
			if same {
				return ctx.Forward(processor.WithKeyValue(r, newK, Change[VR]{New: newV, HasNew: true, Old: oldV, HasOld: true}))
			}
		}
		// Retract first, then add, as Kafka Streams does.
		if r.Value.HasOld {
			if err := ctx.Forward(processor.WithKeyValue(r, oldK, Change[VR]{Old: oldV, HasOld: true})); err != nil {
				return err
			}
		}
		if r.Value.HasNew {
			return ctx.Forward(processor.WithKeyValue(r, newK, Change[VR]{New: newV, HasNew: true}))
		}
		return nil
	}), t.node))
	return GroupedTable[KR, VR]{b: b, node: name, keySerde: keySerde, valueSerde: valueSerde, name: o.name, part: o.partitions, shared: new(string)}
}

// sameKey compares keys by their serialized bytes, which is how Kafka
// partitions and stores them (K need not be comparable).
func sameKey[K any](s serde.Serde[K], a, b K) (bool, error) {
	ab, err := s.Serialize("", a)
	if err != nil {
		return false, err
	}
	bb, err := s.Serialize("", b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ab, bb), nil
}

// input writes the regrouped changes through the repartition topic
// <grouping name or store>-repartition, with no filter, as Kafka Streams'
// KGroupedTableImpl does: the sink and source are <aggName>-sink and
// <aggName>-source for a Named aggregation (aggName), else generated, and
// take their indexes either way. A named grouping aggregated twice
// repartitions once.
func (g GroupedTable[K, V]) input(store, aggName string) Stream[K, Change[V]] {
	b := g.b
	s := Stream[K, Change[V]]{b: b, node: g.node, keySerde: g.keySerde}
	if g.valueSerde != nil {
		s.valueSerde = ChangeSerde(g.valueSerde)
	}
	sinkName, sourceName := b.newName(prefixSink), b.newName(prefixSource)
	if aggName != "" {
		sinkName, sourceName = aggName+"-sink", aggName+"-source"
	}
	if g.name != "" && g.shared != nil && *g.shared != "" {
		out := s.derive(*g.shared)
		out.keyChanged = false
		return out
	}
	prefix := g.name
	if prefix == "" {
		prefix = store
	}
	topic := prefix + "-repartition"
	if s.keySerde == nil || s.valueSerde == nil {
		b.fail(fmt.Errorf("%w: repartition topic %s: a key serde and a value serde are required", ErrNoSerde, topic))
		return s
	}
	b.check(processor.AddSink(b.top, sinkName, processor.SinkSpec[K, Change[V]]{
		Topic: topic, KeySerde: s.keySerde, ValueSerde: s.valueSerde, Internal: true, Partitions: g.part,
	}, s.node))
	in := repartitionSource(s, topic, sourceName)
	if g.name != "" && g.shared != nil {
		*g.shared = sourceName
	}
	return in
}

// Count counts the source-table keys in each group; a key moving to another
// group decrements the old group's count. Options: Named (the aggregating
// node; its repartition sink and source are then <name>-sink and
// <name>-source), StoreName, InMemory, Caching, Logging.
func (g GroupedTable[K, V]) Count(opts ...Option) Table[K, int64] {
	return aggregateTable(g, "GroupedTable.Count", prefixTableAgg, serde.Int64(), func(_ K, _ V, agg int64, _ bool) int64 { return agg + 1 },
		func(_ K, _ V, agg int64) int64 { return agg - 1 }, opts)
}

// Reduce combines the values of each group: adder folds a new value in,
// subtractor takes an old one out. The first value of a group is its
// aggregate. Options as for Count.
func (g GroupedTable[K, V]) Reduce(adder, subtractor func(agg, value V) V, opts ...Option) Table[K, V] {
	return aggregateTable(g, "GroupedTable.Reduce", prefixTableReduce, g.valueSerde, func(_ K, v V, agg V, first bool) V {
		if first {
			return v
		}
		return adder(agg, v)
	}, func(_ K, v V, agg V) V { return subtractor(agg, v) }, opts)
}

// AggregateTable folds each group's values into an aggregate of type A:
// init() for a new group, adder for every new value, subtractor for every
// value retracted by an update or deletion of the source table. aggSerde
// serializes the store. Options as for Count.
func AggregateTable[K, V, A any](g GroupedTable[K, V], init func() A, adder, subtractor func(key K, value V, agg A) A, aggSerde serde.Serde[A], opts ...Option) Table[K, A] {
	return aggregateTable(g, "AggregateTable", prefixTableAgg, aggSerde, func(k K, v V, agg A, first bool) A {
		if first {
			agg = init()
		}
		return adder(k, v, agg)
	}, subtractor, opts)
}

func aggregateTable[K, V, A any](g GroupedTable[K, V], op, prefix string, aggSerde serde.Serde[A], add func(K, V, A, bool) A, sub func(K, V, A) A, opts []Option) Table[K, A] {
	b := g.b
	o := b.collect(op, opts, optNamed|optStore)
	// Reduce's store is named KTABLE-AGGREGATE-STATE-STORE- too
	// (KGroupedTableImpl.reduce).
	store := b.storeName(o, prefixTableAgg)
	in := g.input(store, o.name)
	name := b.nodeName(o, prefix)
	if g.keySerde == nil || aggSerde == nil {
		b.fail(fmt.Errorf("%w: %s: store %s needs a key serde and an aggregate serde", ErrNoSerde, name, store))
		return Table[K, A]{b: b, node: name}
	}
	tn := aggregateNode()
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[K, Change[V], K, Change[A]] {
		return &tableAggProc[K, V, A]{store: store, add: add, sub: sub, tn: tn}
	}, in.node))
	b.check(b.top.AddStateStore(statestore.TimestampedKeyValue(store, g.keySerde, aggSerde, o.storeOpts()...), name))
	return Table[K, A]{b: b, node: name, store: store, keySerde: g.keySerde, valueSerde: aggSerde, tn: tn, view: aggregateView[K, A](store)}
}

// aggregateView is the view of an aggregation's table: its store (Kafka
// Streams' KTableMaterializedValueGetterSupplier).
func aggregateView[K, A any](store string) func() tableView[K, A] {
	return func() tableView[K, A] { return storeView[K, A](store) }
}

type tableAggProc[K, V, A any] struct {
	store string
	add   func(K, V, A, bool) A
	sub   func(K, V, A) A
	tn    *tableNode
	w     tableWriter[K, A]
}

func (p *tableAggProc[K, V, A]) Init(ctx processor.Context[K, Change[A]]) error {
	return p.w.open(ctx, p.store, p.tn.sendsOld(), false)
}

func (p *tableAggProc[K, V, A]) Process(r processor.Record[K, Change[V]]) error {
	old, oldTS, ok, err := p.w.get(r.Key)
	if err != nil {
		return err
	}
	agg, has := old, ok
	if r.Value.HasOld && has {
		agg = p.sub(r.Key, r.Value.Old, agg)
	}
	if r.Value.HasNew {
		agg = p.add(r.Key, r.Value.New, agg, !has)
		has = true
	}
	if !has {
		return nil
	}
	ts := r.Timestamp
	if ok && oldTS > ts {
		ts = oldTS
	}
	return p.w.put(r.Key, agg, ts, old, ok, r.Headers)
}

func (p *tableAggProc[K, V, A]) Close() error { return nil }

// To writes the table to topic with its serdes: each update as the key's new
// value and each deletion as a tombstone (a null value), as Kafka Streams'
// table.toStream().to(topic) does. Options: Named (the sink node). Tables
// computed by MapTableValues carry no value serde; use ToWith.
func (t Table[K, V]) To(topic string, opts ...Option) {
	t.ToWith(Produced[K, V]{Topic: topic, Name: t.b.collect("Table.To", opts, optNamed).name})
}

// ToWith writes the table as p says, deletions as tombstones. A
// partitioner sees V's zero value for a deletion.
func (t Table[K, V]) ToWith(p Produced[K, V]) {
	b := t.b
	ks, vs := p.KeySerde, p.ValueSerde
	if ks == nil {
		ks = t.keySerde
	}
	if vs == nil {
		vs = t.valueSerde
	}
	node := b.newName(prefixTableToStream)
	name := b.nodeName(&options{name: p.Name}, prefixSink)
	if ks == nil || vs == nil {
		b.fail(fmt.Errorf("%w: sink %s: give the table's serdes in Produced", ErrNoSerde, name))
		return
	}
	addStateless(b, node, t.node, func(ctx processor.Context[K, Change[V]], r processor.Record[K, Change[V]]) error {
		return ctx.Forward(r)
	})
	spec := processor.SinkSpec[K, Change[V]]{Topic: p.Topic, KeySerde: ks, ValueSerde: latestSerde[V]{vs}}
	if p.TopicFunc != nil {
		fn := p.TopicFunc
		spec.TopicFunc = func(r processor.Record[K, Change[V]]) string { return fn(r.Key, r.Value.New) }
	}
	if p.Partitioner != nil {
		fn := p.Partitioner
		spec.Partitioner = func(topic string, k K, c Change[V], n int32) int32 { return fn(topic, k, c.New, n) }
	}
	b.check(processor.AddSink(b.top, name, spec, node))
}

// latestSerde writes a Change as its new value, or null for a deletion.
type latestSerde[V any] struct{ inner serde.Serde[V] }

func (s latestSerde[V]) Serialize(topic string, c Change[V]) ([]byte, error) {
	if !c.HasNew {
		return nil, nil
	}
	b, err := s.inner.Serialize(topic, c.New)
	if b == nil && err == nil {
		b = []byte{} // a value, not a deletion
	}
	return b, err
}

func (s latestSerde[V]) Deserialize(topic string, data []byte) (Change[V], error) {
	if data == nil {
		return Change[V]{}, nil
	}
	v, err := s.inner.Deserialize(topic, data)
	return Change[V]{New: v, HasNew: true}, err
}
