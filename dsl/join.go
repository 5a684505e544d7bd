package dsl

import (
	"fmt"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/statestore"
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
// name of the stream's node, KSTREAM-KEY-SELECT-0000000004), which gets the
// table's partition count. Unnamed joins of one stream share its
// repartition topic, as in Kafka Streams without optimization.
// Records are processed in timestamp order across the stream and the
// table, so a record joins the table as it was at its timestamp as far as
// the input allows (see max.task.idle.ms).
//
// t must be materialized in a store: a table from NewTable, ToTable or an
// aggregation (a Filter or MapValues of one is not). The result's key serde
// is the stream's; the value serde is set with WithSerdes. Options: Named
// (the join node and the repartition topic).
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
	op := "Join"
	if prefix == prefixLeftJoin {
		op = "LeftJoin"
	}
	o := b.collect(op, opts, optNamed)
	in := s
	if s.keyChanged && t.b == b && t.store != "" {
		in = joinRepartition(s, o.name)
	}
	name := b.nodeName(o, prefix)
	out := Stream[K, VR]{b: b, node: name, keySerde: s.keySerde, valueSerde: same[VR](s.valueSerde)}
	if t.b != b {
		b.fail(fmt.Errorf("%w: join %s: the stream and the table come from different builders", processor.ErrInvalidTopology, name))
		return out
	}
	if t.store == "" {
		b.fail(fmt.Errorf("%w: join %s: table %s is not materialized in a store; join a table from NewTable, ToTable or an aggregation", processor.ErrInvalidTopology, name, t.node))
		return out
	}
	store := t.store
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[K, V, K, VR] {
		return &streamTableJoinProc[K, V, VT, VR]{store: store, join: join}
	}, in.node))
	b.check(b.top.ConnectStores(store, name))
	return out
}

// streamTableJoinProc looks each record's key up in the table's store.
type streamTableJoinProc[K, V, VT, VR any] struct {
	store string
	join  func(K, V, VT, bool) (VR, bool)
	ctx   processor.Context[K, VR]
	table statestore.TimestampedKeyValueStore[K, VT]
}

func (p *streamTableJoinProc[K, V, VT, VR]) Init(ctx processor.Context[K, VR]) error {
	s, err := processor.GetStore[statestore.TimestampedKeyValueStore[K, VT]](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.table = ctx, s
	return nil
}

func (p *streamTableJoinProc[K, V, VT, VR]) Process(r processor.Record[K, V]) error {
	tv, found, err := p.table.Get(r.Key)
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
