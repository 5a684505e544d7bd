package dsl

import (
	"fmt"

	"github.com/sluicestreams/sluice/processor"
)

// Join joins each record of s with the current value of its key in table t
// (Kafka Streams' KStream#join(KTable)): the result has the stream record's
// key and timestamp and the value joiner returns. A stream record whose key
// has no value in the table is dropped; table updates produce nothing.
//
// The stream and the table must be co-partitioned: the table's topic and
// the stream's topics need the same partition count and the same
// partitioning of keys. If the stream's key may have changed (Map,
// SelectKey, ...), it is first written through the repartition topic
// "<application.id>-<name>-repartition" (name: the Named option, or the
// join node's generated name), which gets the table's partition count.
// Records are processed in timestamp order across the stream and the
// table, so a record joins the table as it was at its timestamp as far as
// the input allows (see max.task.idle.ms).
//
// t can be any table but a suppressed one: a table with a store (NewTable,
// ToTable, an aggregation) is read from it, and a Filter or
// MapTableValues of one through that store with its predicate or mapper
// applied, as Kafka Streams' value getters do. The join node is connected
// to the store. The result's key serde is the stream's; the value serde is
// set with WithSerdes. Options: Named.
func Join[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], joiner func(key K, value V, tableValue VT) VR, opts ...Option) Stream[K, VR] {
	return streamTableJoin(s, t, prefixJoin, func(k K, v V, tv VT, found bool) (VR, bool) {
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
func LeftJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], joiner func(key K, value V, tableValue VT, found bool) VR, opts ...Option) Stream[K, VR] {
	return streamTableJoin(s, t, prefixLeftJoin, func(k K, v V, tv VT, found bool) (VR, bool) {
		return joiner(k, v, tv, found), true
	}, opts)
}

func streamTableJoin[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], prefix string, join func(K, V, VT, bool) (VR, bool), opts []Option) Stream[K, VR] {
	b := s.b
	o := collect(opts)
	name := b.nodeName(o, prefix)
	out := Stream[K, VR]{b: b, node: name, keySerde: s.keySerde, valueSerde: same[VR](s.valueSerde)}
	if t.b != b {
		b.fail(fmt.Errorf("%w: join %s: the stream and the table come from different builders", processor.ErrInvalidTopology, name))
		return out
	}
	if t.view == nil {
		b.fail(fmt.Errorf("%w: join %s: table %s cannot be read by key (a suppressed table cannot be joined)", processor.ErrInvalidTopology, name, t.node))
		return out
	}
	in := s
	if s.keyChanged {
		base := o.name
		if base == "" {
			base = name
		}
		in = repartition(s, base, base+"-repartition-sink", base+"-repartition-source", 0)
	}
	view := t.view()
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[K, V, K, VR] {
		return &streamTableJoinProc[K, V, VT, VR]{view: view, join: join}
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
	tv, found, err := p.table.get(r.Key)
	if err != nil {
		return err
	}
	v, ok := p.join(r.Key, r.Value, tv.Value, found)
	if !ok {
		return nil
	}
	return p.ctx.Forward(processor.WithValue(r, v))
}

func (p *streamTableJoinProc[K, V, VT, VR]) Close() error { return nil }
