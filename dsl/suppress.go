package dsl

import (
	"container/heap"
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
// that reached the suppression, as in Kafka Streams. The emitted change is
// the latest held-back one (its new and old value), with the timestamp and
// headers of the record that brought it, as in Kafka Streams. Windows close in
// order of their end (then of their serialized keys); a window whose last
// change is a deletion (a Filter upstream dropped it) emits nothing.
//
// Options: Named (the node, KTABLE-SUPPRESS-0000000003 by default; a
// named suppression takes no index, as in Kafka Streams), StoreName,
// InMemory, Logging. The updates wait in a logged key-value store
// (StoreName, else "<name>-store" when the suppression is Named, else a
// generated KTABLE-SUPPRESS-STATE-STORE- name, as in Kafka Streams; it is
// never cached), so after a crash or a move the
// buffer is restored with the rest of the task's state. t must be the
// table of a windowed aggregation, or a Filter or MapTableValues of one,
// with a value serde. As in Kafka Streams, the buffer is unbounded, and its
// changelog records are Kafka Streams' (the serialized windowed key; the
// buffered change and record context in the version 3 layout of
// InMemoryTimeOrderedKeyValueChangeBuffer), so a Kafka Streams application
// and a Sluice one can restore each other's buffer.
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
	// Kafka Streams names the buffer <name>-store when the suppression is
	// named (taking no index), else KTABLE-SUPPRESS-STATE-STORE-<index>.
	var store string
	switch {
	case o.storeName != "":
		store = o.storeName
	case o.name != "":
		store = o.name + "-store"
	default:
		store = b.newName(prefixSuppress + "STATE-STORE-")
	}
	off := false
	o.caching = &off
	keys, values := t.keySerde, t.valueSerde
	grace := t.window.grace
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[Windowed[K], Change[V], Windowed[K], Change[V]] {
		return &suppressProc[K, V]{store: store, keys: keys, values: values, grace: grace}
	}, t.node))
	b.check(b.top.AddStateStore(statestore.KeyValue(store, serde.Bytes(), serde.Bytes(),
		append(o.storeOpts(), statestore.ChangelogHeaders(suppressChangelogHeaders...))...), name))
	return out
}

// suppressProc is Kafka Streams' KTableSuppressProcessor over its
// InMemoryTimeOrderedKeyValueChangeBuffer. The store holds what Kafka's
// buffer logs to its changelog: the key is the serialized windowed key and
// the value is a bufferValue in Kafka's version 3 layout, ending with the
// buffer time (the window's end), so the changelog has Kafka's bytes. The
// order of eviction, by (buffer time, key bytes), is kept in memory in a
// heap, rebuilt from the store at Init (after a restore): a key's buffer
// time never changes, so an entry is pushed once, when its key is first
// buffered, and popped when it is evicted.
type suppressProc[K, V any] struct {
	store  string
	keys   serde.Serde[Windowed[K]]
	values serde.Serde[V]
	grace  int64

	ctx processor.Context[Windowed[K], Change[V]]
	buf statestore.KeyValueStore[[]byte, []byte]
	// observed is the largest timestamp of the records that reached this
	// node. Not the task's stream time: with a cached aggregation upstream,
	// the task is ahead of the changes the cache has yet to flush here, and
	// closing windows by its time would emit a value that is not final.
	observed int64
	order    bufferOrder
}

func (p *suppressProc[K, V]) Init(ctx processor.Context[Windowed[K], Change[V]]) error {
	s, err := processor.GetStore[statestore.KeyValueStore[[]byte, []byte]](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.buf, p.observed, p.order = ctx, s, -1, nil
	it, err := s.All()
	if err != nil {
		return err
	}
	for it.Next() {
		v := it.Value()
		if len(v) < 8 {
			err = fmt.Errorf("dsl: suppression buffer %s: corrupt entry of %d bytes", p.store, len(v))
			break
		}
		p.order = append(p.order, bufferKey{time: int64(binary.BigEndian.Uint64(v[len(v)-8:])), key: append([]byte(nil), it.Key()...)})
	}
	if err == nil {
		err = it.Err()
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	heap.Init(&p.order)
	return err
}

func (p *suppressProc[K, V]) Process(r processor.Record[Windowed[K], Change[V]]) error {
	p.observed = max(p.observed, r.Timestamp)
	kb, err := p.keys.Serialize(p.store, r.Key)
	if err != nil {
		return err
	}
	bv := bufferValue{ctx: recordContext{timestamp: r.Timestamp, offset: -1, partition: -1, headers: r.Headers}}
	if md, ok := p.ctx.RecordMetadata(); ok {
		bv.ctx.topic, bv.ctx.partition, bv.ctx.offset = md.Topic, md.Partition, md.Offset
	}
	if r.Value.HasNew {
		if bv.newValue, err = serializeNonNil(p.values, p.store, r.Value.New); err != nil {
			return err
		}
	}
	if r.Value.HasOld {
		if bv.oldValue, err = serializeNonNil(p.values, p.store, r.Value.Old); err != nil {
			return err
		}
	}
	// The prior value is the one from before the first buffered update of
	// the key (Kafka's priorValue); the old value is the latest update's.
	bv.priorValue = bv.oldValue
	prev, buffered, err := p.buf.Get(kb)
	if err != nil {
		return err
	}
	if buffered {
		old, _, err := decodeBufferValue(prev)
		if err != nil {
			return fmt.Errorf("dsl: suppression buffer %s: %w", p.store, err)
		}
		bv.priorValue = old.priorValue
	}
	if err := p.buf.Put(kb, bv.appendTo(nil, r.Key.End)); err != nil {
		return err
	}
	if !buffered {
		heap.Push(&p.order, bufferKey{time: r.Key.End, key: kb})
	}
	return p.emitClosed()
}

// serializeNonNil serializes v, an empty value rather than nil when the
// serde writes nothing (nil is null in the buffer's layout).
func serializeNonNil[V any](s serde.Serde[V], topic string, v V) ([]byte, error) {
	b, err := s.Serialize(topic, v)
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, err
}

// emitClosed forwards and removes, oldest first, every buffered window
// whose buffer time (its end) is at or before the observed stream time
// minus grace (KTableSuppressProcessor's evictWhile(minTimestamp <=
// expiryTime)).
func (p *suppressProc[K, V]) emitClosed() error {
	expiry := p.observed - p.grace
	for len(p.order) > 0 && p.order[0].time <= expiry {
		k := heap.Pop(&p.order).(bufferKey).key
		v, ok, err := p.buf.Get(k)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := p.emit(k, v); err != nil {
			return err
		}
		if _, _, err := p.buf.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// emit forwards a buffered window as Kafka Streams does: the latest
// update's new and old values, with the timestamp and headers of the record
// that buffered it. A window that ends deleted (a Filter upstream dropped
// it) has no final result and emits nothing.
func (p *suppressProc[K, V]) emit(k, v []byte) error {
	bv, _, err := decodeBufferValue(v)
	if err != nil {
		return fmt.Errorf("dsl: suppression buffer %s: %w", p.store, err)
	}
	if bv.newValue == nil {
		return nil
	}
	key, err := p.keys.Deserialize(p.store, k)
	if err != nil {
		return err
	}
	var c Change[V]
	if c.New, err = p.values.Deserialize(p.store, bv.newValue); err != nil {
		return err
	}
	c.HasNew = true
	if bv.oldValue != nil {
		if c.Old, err = p.values.Deserialize(p.store, bv.oldValue); err != nil {
			return err
		}
		c.HasOld = true
	}
	return p.ctx.Forward(processor.Record[Windowed[K], Change[V]]{Key: key, Value: c,
		Timestamp: bv.ctx.timestamp, Headers: bv.ctx.headers})
}

func (p *suppressProc[K, V]) Close() error { return nil }
