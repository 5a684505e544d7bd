package dsl

import (
	"fmt"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/statestore"
)

// Join joins each record of s with the current value of its key in table t
// (Kafka Streams' KStream#join(KTable)): the result has the stream record's
// key and timestamp and the value joiner returns. A stream record whose key
// has no value in the table is dropped; table updates produce nothing. A
// stream record with a null key or value (processor.Record.Null) is dropped
// and counted in the dropped-records metric (reason "null-key" or
// "null-value"), as in Kafka Streams.
//
// The stream and the table must be co-partitioned: the table's topic and
// the stream's topics need the same partition count and the same
// partitioning of keys. If the stream's key may have changed (Map,
// SelectKey, ...), it is first written through the repartition topic
// "<application.id>-<name>-repartition" (name: the Named option, or the
// name of the stream's node, KSTREAM-KEY-SELECT-0000000004), which gets the
// table's partition count. Unnamed joins of one stream share its
// repartition topic, as in Kafka Streams without optimization.
// Records are processed in timestamp order across the stream and the
// table, so a record joins the table as it was at its timestamp as far as
// the input allows (see max.task.idle.ms).
//
// t can be any table but a suppressed one: a table with a store (NewTable,
// ToTable, an aggregation) is read from it, and a Filter or
// MapTableValues of one through that store with its predicate or mapper
// applied, as Kafka Streams' value getters do. The join node is connected
// to the store. The result's key serde is the stream's; the value serde is
// set with WithSerdes. Options: Named (the join node and the repartition
// topic).
func Join[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], joiner func(key K, value V, tableValue VT) VR, opts ...Option) Stream[K, VR] {
	return streamTableJoin(s, t, prefixJoin, false, func(k K, v V, tv VT, found bool) (VR, bool) {
		if !found {
			var zero VR
			return zero, false
		}
		return joiner(k, v, tv), true
	}, opts)
}

// LeftJoin is Join that keeps stream records whose key has no value in the
// table: joiner is called with found false and VT's zero value for them
// (Kafka Streams' KStream#leftJoin(KTable), where the table value is null).
// Unlike Join, it also keeps a stream record with a null key (and a value),
// joined with no table value (KIP-962).
func LeftJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], joiner func(key K, value V, tableValue VT, found bool) VR, opts ...Option) Stream[K, VR] {
	return streamTableJoin(s, t, prefixLeftJoin, true, func(k K, v V, tv VT, found bool) (VR, bool) {
		return joiner(k, v, tv, found), true
	}, opts)
}

func streamTableJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], prefix string, left bool, join func(K, V, VT, bool) (VR, bool), opts []Option) Stream[K, VR] {
	b := s.b
	op := "Join"
	if prefix == prefixLeftJoin {
		op = "LeftJoin"
	}
	o := b.collect(op, opts, optNamed)
	in := s
	if s.keyChanged && t.b == b && t.view != nil {
		in = joinRepartition(s, o.name)
	}
	name := b.nodeName(o, prefix)
	if left {
		// A left join keeps null keys (KIP-962): repartitions upstream of
		// it let them through (Kafka's NULL_KEY_RELAXED_JOIN label).
		b.relaxedJoin(name)
	}
	out := Stream[K, VR]{b: b, node: name, keySerde: s.keySerde, valueSerde: same[VR](s.valueSerde)}
	if t.b != b {
		b.fail(fmt.Errorf("%w: join %s: the stream and the table come from different builders", processor.ErrInvalidTopology, name))
		return out
	}
	if t.view == nil {
		b.fail(fmt.Errorf("%w: join %s: table %s cannot be read by key (a suppressed table cannot be joined)", processor.ErrInvalidTopology, name, t.node))
		return out
	}
	view := t.view()
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[K, V, K, VR] {
		return &streamTableJoinProc[K, V, VT, VR]{view: view, left: left, join: join}
	}, in.node))
	for _, store := range view.stores {
		b.check(b.top.ConnectStores(store, name))
	}
	return out
}

// streamTableJoinProc looks each record's key up in the table through its
// value getter (KStreamKTableJoinProcessor).
type streamTableJoinProc[K, V, VT, VR any] struct {
	view  tableView[K, VT]
	left  bool
	join  func(K, V, VT, bool) (VR, bool)
	ctx   processor.Context[K, VR]
	table valueGetter[K, VT]
}

func (p *streamTableJoinProc[K, V, VT, VR]) Init(ctx processor.Context[K, VR]) error {
	g, err := p.view.open(ctx)
	if err != nil {
		return err
	}
	p.ctx, p.table = ctx, g
	return nil
}

func (p *streamTableJoinProc[K, V, VT, VR]) Process(r processor.Record[K, V]) error {
	// As Kafka Streams' KStreamKTableJoinProcessor: a null value never
	// joins, and a null key joins nothing in the table, which only a left
	// join keeps (KIP-962); the others are dropped records.
	if r.Null.Value() || (r.Null.Key() && !p.left) {
		droppedNull(p.ctx, r.Null, true)
		return nil
	}
	var tv statestore.ValueAndTimestamp[VT]
	found := false
	if !r.Null.Key() {
		var err error
		if tv, found, err = p.table.get(r.Key); err != nil {
			return err
		}
	}
	v, ok := p.join(r.Key, r.Value, tv.Value, found)
	if !ok {
		return nil
	}
	return p.ctx.Forward(processor.WithValue(r, v))
}

func (p *streamTableJoinProc[K, V, VT, VR]) Close() error { return nil }

// joinRepartition is the stream a join reads when s must be repartitioned
// first (KStreamImpl.repartitionForJoin): the topic is named after the join
// (named) or after s's node. The first join of s makes the repartition;
// later unnamed joins of s read it, though they take the indexes of its
// names all the same.
func joinRepartition[K, V any](s Stream[K, V], name string) Stream[K, V] {
	b := s.b
	if src, ok := b.joinRepartitions[s.node]; ok && name == "" {
		b.nextIndex()
		b.nextIndex()
		b.nextIndex()
		out := s.derive(src)
		out.keyChanged = false
		return out
	}
	base := name
	if base == "" {
		base = s.node
	}
	in := repartition(s, base, 0)
	if b.joinRepartitions == nil {
		b.joinRepartitions = map[string]string{}
	}
	b.joinRepartitions[s.node] = in.node
	return in
}
