package dsl

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
)

// SuppressUntilWindowCloses holds back the updates of a windowed table and
// emits each window once, with its final value, when the window closes:
// when stream time passes the window's end plus the grace of the windowed
// aggregation (Kafka Streams' suppress(Suppressed.untilWindowCloses(
// unbounded()))). Stream time here is the largest timestamp of the changes
// that reached the suppression, as in Kafka Streams. The emitted change's
// old value is the one before the first held-back update. Windows close in
// order of their end; a window whose last change is a deletion (a Filter
// upstream dropped it) emits nothing.
//
// Options: Named (the node, KTABLE-SUPPRESS-0000000003 by default; a
// named suppression takes no index, as in Kafka Streams), StoreName,
// InMemory, Logging. The updates wait in a logged key-value store
// (<name>-store when Named, else a generated
// KTABLE-SUPPRESS-STATE-STORE- name; it is never cached), so after a crash or a move the
// buffer is restored with the rest of the task's state. t must be the
// table of a windowed aggregation, or a Filter or MapTableValues of one,
// with a value serde. As in Kafka Streams, the buffer is unbounded.
func SuppressUntilWindowCloses[K, V any](t Table[Windowed[K], V], opts ...Option) Table[Windowed[K], V] {
	b := t.b
	o := b.collect("SuppressUntilWindowCloses", opts, optNamed|optStoreName|optInMemory|optLogging)
	// A named suppression takes no index (KTableImpl.suppress).
	name := o.name
	if name == "" {
		name = b.newName(prefixSuppress)
	}
	out := Table[Windowed[K], V]{b: b, node: name, keySerde: t.keySerde, valueSerde: t.valueSerde, window: t.window}
	// The buffer emits each window with its value from before the first
	// held-back update (KTableSuppressProcessorSupplier forces old values).
	t.tn.enableSendingOldValues(true)
	out.tn = derivedNode(t.tn)
	if t.window == nil {
		b.fail(fmt.Errorf("%w: suppress %s: %s is not the table of a windowed aggregation", processor.ErrInvalidTopology, name, t.node))
		return out
	}
	if t.keySerde == nil || t.valueSerde == nil {
		b.fail(fmt.Errorf("%w: suppress %s: the table has no serdes for the suppression buffer", ErrNoSerde, name))
		return out
	}
	// The buffer of a named suppression is <name>-store, taking no index.
	if o.storeName == "" && o.name != "" {
		o.storeName = o.name + "-store"
	}
	store := b.storeName(o, prefixSuppress)
	off := false
	o.caching = &off
	keys, changes := t.keySerde, bufferChangeSerde[V]{t.valueSerde}
	grace := t.window.grace
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[Windowed[K], Change[V], Windowed[K], Change[V]] {
		return &suppressProc[K, V]{store: store, keys: keys, changes: changes, grace: grace}
	}, t.node))
	b.check(b.top.AddStateStore(statestore.KeyValue(store, serde.Bytes(), serde.Bytes(), o.storeOpts()...), name))
	return out
}

// suppressProc buffers windowed changes keyed by (window end, windowed key)
// so that a range scan up to the close time finds the closed windows in
// order. A buffered value is the record timestamp (8 bytes), the old value
// before buffering began (a Change serialized with its old side only), and
// the latest change.
type suppressProc[K, V any] struct {
	store   string
	keys    serde.Serde[Windowed[K]]
	changes serde.Serde[Change[V]]
	grace   int64

	ctx processor.Context[Windowed[K], Change[V]]
	buf statestore.KeyValueStore[[]byte, []byte]
	// observed is the largest timestamp of the records that reached this
	// node. Not the task's stream time: with a cached aggregation upstream,
	// the task is ahead of the changes the cache has yet to flush here, and
	// closing windows by its time would emit a value that is not final.
	observed int64
}

func (p *suppressProc[K, V]) Init(ctx processor.Context[Windowed[K], Change[V]]) error {
	s, err := processor.GetStore[statestore.KeyValueStore[[]byte, []byte]](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.buf, p.observed = ctx, s, -1
	return nil
}

func (p *suppressProc[K, V]) Process(r processor.Record[Windowed[K], Change[V]]) error {
	p.observed = max(p.observed, r.Timestamp)
	kb, err := p.keys.Serialize(p.store, r.Key)
	if err != nil {
		return err
	}
	bk := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(kb)), uint64(r.Key.End))
	bk = append(bk, kb...)
	prior := Change[V]{Old: r.Value.Old, HasOld: r.Value.HasOld}
	if old, ok, err := p.buf.Get(bk); err != nil {
		return err
	} else if ok {
		// Keep the value from before the first held-back update.
		if prior, err = p.decodePrior(old); err != nil {
			return err
		}
	}
	pb, err := p.changes.Serialize(p.store, prior)
	if err != nil {
		return err
	}
	cb, err := p.changes.Serialize(p.store, r.Value)
	if err != nil {
		return err
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 12+len(pb)+len(cb)), uint64(r.Timestamp))
	v = binary.BigEndian.AppendUint32(v, uint32(len(pb)))
	v = append(append(v, pb...), cb...)
	if err := p.buf.Put(bk, v); err != nil {
		return err
	}
	return p.emitClosed()
}

func (p *suppressProc[K, V]) decodePrior(v []byte) (Change[V], error) {
	if len(v) < 12 || len(v) < 12+int(binary.BigEndian.Uint32(v[8:])) {
		return Change[V]{}, fmt.Errorf("dsl: suppression buffer %s: corrupt entry of %d bytes", p.store, len(v))
	}
	return p.changes.Deserialize(p.store, v[12:12+binary.BigEndian.Uint32(v[8:])])
}

// emitClosed forwards and removes every buffered window whose end plus
// grace is at or before the observed stream time.
func (p *suppressProc[K, V]) emitClosed() error {
	closeTime := p.observed - p.grace
	if closeTime < 0 {
		return nil
	}
	// Every key of a window ending at or before closeTime sorts below the
	// 8 bytes of closeTime+1 (keys are longer than 8 bytes).
	from := make([]byte, 8)
	to := binary.BigEndian.AppendUint64(nil, uint64(closeTime+1))
	it, err := p.buf.Range(from, to)
	if err != nil {
		return err
	}
	type entry struct{ k, v []byte }
	var closed []entry
	for it.Next() {
		if int64(binary.BigEndian.Uint64(it.Key())) > closeTime {
			break
		}
		closed = append(closed, entry{append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)})
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for _, e := range closed {
		if err := p.emit(e.k, e.v); err != nil {
			return err
		}
		if _, _, err := p.buf.Delete(e.k); err != nil {
			return err
		}
	}
	return nil
}

func (p *suppressProc[K, V]) emit(k, v []byte) error {
	key, err := p.keys.Deserialize(p.store, k[8:])
	if err != nil {
		return err
	}
	prior, err := p.decodePrior(v)
	if err != nil {
		return err
	}
	latest, err := p.changes.Deserialize(p.store, v[12+binary.BigEndian.Uint32(v[8:]):])
	if err != nil {
		return err
	}
	if !latest.HasNew {
		return nil // a window that ends deleted (filtered out) has no final result, as in Kafka Streams
	}
	latest.Old, latest.HasOld = prior.Old, prior.HasOld
	return p.ctx.Forward(processor.Record[Windowed[K], Change[V]]{Key: key, Timestamp: int64(binary.BigEndian.Uint64(v)), Value: latest})
}

func (p *suppressProc[K, V]) Close() error { return nil }
