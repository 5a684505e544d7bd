package statestore

import (
	"encoding/binary"
	"fmt"
)

// KeyValueIterator walks entries in order. The caller must Close it;
// until then it pins engine resources (pebble memtables). Next returns
// false at the end or on error; check Err. It is not safe for concurrent
// use.
type KeyValueIterator[K, V any] interface {
	Next() bool
	Key() K
	Value() V
	Err() error
	Close() error
}

// KeyValueStore is a typed key-value store. Ranges follow the order of
// serialized key bytes (as in Kafka Streams), which equals the natural
// order only for serdes that preserve it (big-endian unsigned integers,
// strings). It is safe for concurrent use; writes belong on the task's
// goroutine.
type KeyValueStore[K, V any] interface {
	Store
	// Get returns the value of key and whether it exists.
	Get(key K) (V, bool, error)
	// Put writes key.
	Put(key K, value V) error
	// PutIfAbsent writes key only if it has no value, and returns the
	// existing value if it had one.
	PutIfAbsent(key K, value V) (existing V, existed bool, err error)
	// Delete removes key and returns its old value if it had one.
	Delete(key K) (old V, existed bool, err error)
	// Range iterates keys from from to to, both inclusive, in serialized
	// byte order. The caller must Close the iterator.
	Range(from, to K) (KeyValueIterator[K, V], error)
	// PrefixScan iterates keys whose serialized bytes start with the
	// serialized prefix. The caller must Close the iterator.
	PrefixScan(prefix K) (KeyValueIterator[K, V], error)
	// All iterates every key. The caller must Close the iterator.
	All() (KeyValueIterator[K, V], error)
	// ApproximateNumEntries estimates the number of keys; it may scan.
	ApproximateNumEntries() (int64, error)
	// SetFlushListener registers fn to receive entries as they leave the
	// record cache, with old values if sendOldValues. It returns false
	// (and registers nothing) if the store is not cached; then callers
	// forward changes themselves. fn runs on the goroutine that flushes.
	SetFlushListener(fn func(FlushedRecord[K, V]) error, sendOldValues bool) bool
}

// ValueAndTimestamp is the value of a timestamped key-value store.
type ValueAndTimestamp[V any] struct {
	Value     V
	Timestamp int64
}

// TimestampedKeyValueStore is a KeyValueStore whose values carry a
// timestamp.
type TimestampedKeyValueStore[K, V any] = KeyValueStore[K, ValueAndTimestamp[V]]

type timestampedSerde[V any] struct{ inner Serde[V] }

func (s timestampedSerde[V]) Serialize(topic string, v ValueAndTimestamp[V]) ([]byte, error) {
	b, err := s.inner.Serialize(topic, v.Value)
	if err != nil {
		return nil, err
	}
	return appendTimestamped(make([]byte, 0, 8+len(b)), v.Timestamp, b), nil
}

func (s timestampedSerde[V]) Deserialize(topic string, b []byte) (ValueAndTimestamp[V], error) {
	ts, vb, err := decodeTimestamped(b)
	if err != nil {
		return ValueAndTimestamp[V]{}, err
	}
	v, err := s.inner.Deserialize(topic, vb)
	return ValueAndTimestamp[V]{Value: v, Timestamp: ts}, err
}

type kvStore[K, V any] struct {
	c      *storeCore
	keys   Serde[K]
	values Serde[V]
}

func (s *kvStore[K, V]) Name() string { return s.c.spec.Name }

func (s *kvStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.keys.Serialize(s.c.topic, k)
	if err != nil {
		return nil, fmt.Errorf("statestore: %s: serializing key: %w", s.c.spec.Name, err)
	}
	return b, nil
}

func (s *kvStore[K, V]) value(b []byte) (V, error) {
	v, err := s.values.Deserialize(s.c.topic, b)
	if err != nil {
		return v, fmt.Errorf("statestore: %s: deserializing value: %w", s.c.spec.Name, err)
	}
	return v, nil
}

func (s *kvStore[K, V]) Get(key K) (V, bool, error) {
	var zero V
	kb, err := s.key(key)
	if err != nil {
		return zero, false, err
	}
	vb, ok, err := s.c.get(kb)
	if err != nil || !ok {
		return zero, false, err
	}
	v, err := s.value(vb)
	return v, err == nil, err
}

func (s *kvStore[K, V]) Put(key K, value V) error {
	kb, err := s.key(key)
	if err != nil {
		return err
	}
	vb, err := s.values.Serialize(s.c.topic, value)
	if err != nil {
		return fmt.Errorf("statestore: %s: serializing value: %w", s.c.spec.Name, err)
	}
	if vb == nil {
		// nil means delete below this layer; a serde that encodes a value
		// as nil bytes still stores a value.
		vb = []byte{}
	}
	return s.c.put(kb, vb)
}

func (s *kvStore[K, V]) PutIfAbsent(key K, value V) (V, bool, error) {
	old, ok, err := s.Get(key)
	if err != nil || ok {
		return old, ok, err
	}
	return old, false, s.Put(key, value)
}

func (s *kvStore[K, V]) Delete(key K) (V, bool, error) {
	kb, err := s.key(key)
	if err != nil {
		var zero V
		return zero, false, err
	}
	old, ok, err := s.Get(key)
	if err != nil {
		return old, false, err
	}
	return old, ok, s.c.put(kb, nil)
}

func (s *kvStore[K, V]) Range(from, to K) (KeyValueIterator[K, V], error) {
	lo, err := s.key(from)
	if err != nil {
		return nil, err
	}
	hi, err := s.key(to)
	if err != nil {
		return nil, err
	}
	// Inclusive upper bound: the smallest key after hi is hi+0x00.
	return s.iter(lo, append(hi, 0))
}

func (s *kvStore[K, V]) PrefixScan(prefix K) (KeyValueIterator[K, V], error) {
	p, err := s.key(prefix)
	if err != nil {
		return nil, err
	}
	end := prefixEnd(p)
	if len(p) == 0 {
		p = nil
	}
	return s.iter(p, end)
}

func (s *kvStore[K, V]) All() (KeyValueIterator[K, V], error) { return s.iter(nil, nil) }

func (s *kvStore[K, V]) iter(lo, hi []byte) (KeyValueIterator[K, V], error) {
	if lo != nil && hi != nil && string(lo) >= string(hi) {
		return &kvIter[K, V]{s: s}, nil
	}
	it, err := s.c.iter(lo, hi)
	if err != nil {
		return nil, err
	}
	return &kvIter[K, V]{s: s, it: it}, nil
}

func (s *kvStore[K, V]) ApproximateNumEntries() (int64, error) {
	if s.c.cache != nil {
		// Cached entries may add or hide keys; count exactly.
		it, err := s.c.iter(nil, nil)
		if err != nil {
			return 0, err
		}
		defer it.Close()
		var n int64
		for ok := it.First(); ok; ok = it.Next() {
			n++
		}
		return n, it.Err()
	}
	return s.c.raw.ApproximateCount()
}

func (s *kvStore[K, V]) SetFlushListener(fn func(FlushedRecord[K, V]) error, sendOldValues bool) bool {
	return s.c.setListener(func(kb, nb, ob []byte, ts int64, rc *RecordContext) error {
		r := FlushedRecord[K, V]{Timestamp: ts, Context: *rc}
		var err error
		if r.Key, err = s.keys.Deserialize(s.c.topic, kb); err != nil {
			return err
		}
		if nb != nil {
			if r.New, err = s.value(nb); err != nil {
				return err
			}
			r.HasNew = true
		}
		if ob != nil {
			if r.Old, err = s.value(ob); err != nil {
				return err
			}
			r.HasOld = true
		}
		return fn(r)
	}, sendOldValues)
}

type kvIter[K, V any] struct {
	s       *kvStore[K, V]
	it      RawIterator // nil: empty
	started bool
	k       K
	v       V
	err     error
}

func (i *kvIter[K, V]) Next() bool {
	if i.it == nil || i.err != nil {
		return false
	}
	var ok bool
	if !i.started {
		i.started = true
		ok = i.it.First()
	} else {
		ok = i.it.Next()
	}
	if !ok {
		return false
	}
	if i.k, i.err = i.s.keys.Deserialize(i.s.c.topic, i.it.Key()); i.err != nil {
		i.err = fmt.Errorf("statestore: %s: deserializing key: %w", i.s.c.spec.Name, i.err)
		return false
	}
	if i.v, i.err = i.s.value(i.it.Value()); i.err != nil {
		return false
	}
	return true
}

func (i *kvIter[K, V]) Key() K   { return i.k }
func (i *kvIter[K, V]) Value() V { return i.v }
func (i *kvIter[K, V]) Err() error {
	if i.err != nil {
		return i.err
	}
	if i.it == nil {
		return nil
	}
	return i.it.Err()
}

func (i *kvIter[K, V]) Close() error {
	if i.it == nil {
		return nil
	}
	err := i.it.Close()
	i.it = nil
	return err
}

var _ = binary.BigEndian
