package streams

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/statestore"
)

// Interactive queries: read-only views of the state stores of this
// instance's active tasks, as Kafka Streams' KafkaStreams#store gives. A
// view resolves the stores on every call, so it follows rebalances: a task
// that moved away is no longer read, one that arrived is (once restored).
// Each task holds the keys of its partition, so a key is in at most one of
// them. Under exactly-once the views read state not yet committed, as Kafka
// Streams' do.

// ErrStoreUnavailable is returned by queries when the store cannot be read
// on this instance right now: the App is not RUNNING or REBALANCING, or the
// store is not in the topology. Queries during a rebalance read the tasks
// this instance runs at that moment; retry a query that needs a task being
// restored or moved.
var ErrStoreUnavailable = errors.New("streams: state store not available for queries")

// localStores returns the named store of every active task of this
// instance that is not restoring.
func (a *App) localStores(name string) ([]statestore.Store, error) {
	a.mu.Lock()
	st := a.state
	workers := append([]*worker(nil), a.workers...)
	a.mu.Unlock()
	if st != Running && st != Rebalancing {
		return nil, fmt.Errorf("%w: store %q: the App is %s", ErrStoreUnavailable, name, st)
	}
	if !a.hasStore(name) {
		return nil, fmt.Errorf("%w: the topology has no store %q", ErrStoreUnavailable, name)
	}
	var out []statestore.Store
	for _, w := range workers {
		w.mu.Lock()
		for id, t := range w.tasks {
			if w.restoring[id] != nil || t.Stores() == nil {
				continue
			}
			if s, ok := t.Stores().Store(name); ok {
				out = append(out, s)
			}
		}
		w.mu.Unlock()
	}
	return out, nil
}

// hasStore reports whether the topology has a store called name; the set
// of names is computed on the first query.
func (a *App) hasStore(name string) bool {
	a.storeNamesOnce.Do(func() {
		a.storeNames = map[string]bool{}
		subs, _ := a.top.Subtopologies() // validated in New
		for _, sub := range subs {
			bs, _ := a.top.StoreBuilders(sub.ID)
			for _, b := range bs {
				a.storeNames[b.Spec().Name] = true
			}
		}
	})
	return a.storeNames[name]
}

// viewStores resolves the named store of every local task through adapt,
// which converts it to the type the view reads (false: not convertible).
func viewStores[S any](a *App, name string, adapt func(statestore.Store) (S, bool)) ([]S, error) {
	raw, err := a.localStores(name)
	if err != nil {
		return nil, err
	}
	out := make([]S, 0, len(raw))
	for _, r := range raw {
		st, ok := adapt(r)
		if !ok {
			return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable,
				&processor.StoreTypeError{Store: name, Want: reflect.TypeFor[S]().String(), Got: reflect.TypeOf(r).String()})
		}
		out = append(out, st)
	}
	return out, nil
}

// ReadOnlyKeyValueStore is a query view of a key-value store over this
// instance's active tasks (Kafka Streams' ReadOnlyKeyValueStore). Get it
// with QueryKeyValueStore. It is safe for concurrent use.
type ReadOnlyKeyValueStore[K, V any] struct {
	a    *App
	name string
}

// QueryKeyValueStore returns a query view of the key-value store name with
// keys K and values V. For a timestamped store (every DSL aggregation and
// table), V may be the plain value type, and the timestamps are dropped, or
// statestore.ValueAndTimestamp of it.
func QueryKeyValueStore[K, V any](a *App, name string) (*ReadOnlyKeyValueStore[K, V], error) {
	if _, err := a.localStores(name); err != nil {
		return nil, err
	}
	return &ReadOnlyKeyValueStore[K, V]{a: a, name: name}, nil
}

func (s *ReadOnlyKeyValueStore[K, V]) stores() ([]statestore.KeyValueStore[K, V], error) {
	return viewStores(s.a, s.name, func(r statestore.Store) (statestore.KeyValueStore[K, V], bool) {
		switch st := r.(type) {
		case statestore.KeyValueStore[K, V]:
			return st, true
		case statestore.KeyValueStore[K, statestore.ValueAndTimestamp[V]]:
			return plainKV[K, V]{st}, true
		}
		return nil, false
	})
}

// Get returns the value of key, looking in every local task.
func (s *ReadOnlyKeyValueStore[K, V]) Get(key K) (V, bool, error) {
	var zero V
	stores, err := s.stores()
	if err != nil {
		return zero, false, err
	}
	for _, st := range stores {
		v, ok, err := st.Get(key)
		if err != nil {
			return zero, false, fmt.Errorf("streams: querying store %q: %w", s.name, err)
		}
		if ok {
			return v, true, nil
		}
	}
	return zero, false, nil
}

// Range iterates keys from from to to, inclusive: each local task's keys in
// serialized order, one task after another, so not in one global order (as
// in Kafka Streams). The caller must Close the iterator.
func (s *ReadOnlyKeyValueStore[K, V]) Range(from, to K) (statestore.KeyValueIterator[K, V], error) {
	return s.chain(func(st statestore.KeyValueStore[K, V]) (statestore.KeyValueIterator[K, V], error) {
		return st.Range(from, to)
	})
}

// All iterates every key of every local task, task by task. The caller
// must Close the iterator.
func (s *ReadOnlyKeyValueStore[K, V]) All() (statestore.KeyValueIterator[K, V], error) {
	return s.chain(statestore.KeyValueStore[K, V].All)
}

// ApproximateNumEntries sums the local tasks' estimates.
func (s *ReadOnlyKeyValueStore[K, V]) ApproximateNumEntries() (int64, error) {
	stores, err := s.stores()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, st := range stores {
		m, err := st.ApproximateNumEntries()
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}

func (s *ReadOnlyKeyValueStore[K, V]) chain(open func(statestore.KeyValueStore[K, V]) (statestore.KeyValueIterator[K, V], error)) (statestore.KeyValueIterator[K, V], error) {
	stores, err := s.stores()
	if err != nil {
		return nil, err
	}
	its := make([]statestore.KeyValueIterator[K, V], 0, len(stores))
	for _, st := range stores {
		it, err := open(st)
		if err != nil {
			for _, o := range its {
				o.Close()
			}
			return nil, fmt.Errorf("streams: querying store %q: %w", s.name, err)
		}
		its = append(its, it)
	}
	return &chainIter[K, V]{its: its}, nil
}

// ReadOnlyWindowStore is a query view of a window store over this
// instance's active tasks (Kafka Streams' ReadOnlyWindowStore). Get it with
// QueryWindowStore. It is safe for concurrent use.
type ReadOnlyWindowStore[K, V any] struct {
	a    *App
	name string
}

// QueryWindowStore returns a query view of the window store name. As with
// QueryKeyValueStore, V may be the plain value type of a timestamped window
// store (every DSL windowed aggregation).
func QueryWindowStore[K, V any](a *App, name string) (*ReadOnlyWindowStore[K, V], error) {
	if _, err := a.localStores(name); err != nil {
		return nil, err
	}
	return &ReadOnlyWindowStore[K, V]{a: a, name: name}, nil
}

func (s *ReadOnlyWindowStore[K, V]) stores() ([]statestore.WindowStore[K, V], error) {
	return viewStores(s.a, s.name, func(r statestore.Store) (statestore.WindowStore[K, V], bool) {
		switch st := r.(type) {
		case statestore.WindowStore[K, V]:
			return st, true
		case statestore.WindowStore[K, statestore.ValueAndTimestamp[V]]:
			return plainWindow[K, V]{st}, true
		}
		return nil, false
	})
}

// Fetch iterates key's windows with start in [timeFrom, timeTo] (ms), in
// start order. The caller must Close the iterator.
func (s *ReadOnlyWindowStore[K, V]) Fetch(key K, timeFrom, timeTo int64) (statestore.KeyValueIterator[statestore.Windowed[K], V], error) {
	stores, err := s.stores()
	if err != nil {
		return nil, err
	}
	var its []statestore.KeyValueIterator[statestore.Windowed[K], V]
	for _, st := range stores {
		it, err := st.Fetch(key, timeFrom, timeTo)
		if err != nil {
			for _, o := range its {
				o.Close()
			}
			return nil, fmt.Errorf("streams: querying store %q: %w", s.name, err)
		}
		its = append(its, it)
	}
	return &chainIter[statestore.Windowed[K], V]{its: its}, nil
}

// chainIter walks iterators one after another.
type chainIter[K, V any] struct {
	its []statestore.KeyValueIterator[K, V]
	err error
}

func (c *chainIter[K, V]) Next() bool {
	for len(c.its) > 0 && c.err == nil {
		if c.its[0].Next() {
			return true
		}
		if err := c.its[0].Err(); err != nil {
			c.err = err
			return false
		}
		c.its[0].Close()
		c.its = c.its[1:]
	}
	return false
}

func (c *chainIter[K, V]) Key() K     { return c.its[0].Key() }
func (c *chainIter[K, V]) Value() V   { return c.its[0].Value() }
func (c *chainIter[K, V]) Err() error { return c.err }
func (c *chainIter[K, V]) Close() error {
	var errs []error
	for _, it := range c.its {
		errs = append(errs, it.Close())
	}
	c.its = nil
	return errors.Join(errs...)
}

// plainKV reads a timestamped key-value store without the timestamps.
type plainKV[K, V any] struct {
	statestore.KeyValueStore[K, statestore.ValueAndTimestamp[V]]
}

func (p plainKV[K, V]) Get(key K) (V, bool, error) {
	v, ok, err := p.KeyValueStore.Get(key)
	return v.Value, ok, err
}

func (p plainKV[K, V]) Range(from, to K) (statestore.KeyValueIterator[K, V], error) {
	it, err := p.KeyValueStore.Range(from, to)
	return plainIter[K, V]{it}, err
}

func (p plainKV[K, V]) All() (statestore.KeyValueIterator[K, V], error) {
	it, err := p.KeyValueStore.All()
	return plainIter[K, V]{it}, err
}

// The write methods are never called on a query view; they exist to make
// plainKV a KeyValueStore[K, V].
func (p plainKV[K, V]) Put(K, V) error { return errReadOnly }
func (p plainKV[K, V]) PutIfAbsent(K, V) (V, bool, error) {
	var zero V
	return zero, false, errReadOnly
}
func (p plainKV[K, V]) Delete(K) (V, bool, error) {
	var zero V
	return zero, false, errReadOnly
}
func (p plainKV[K, V]) PrefixScan(prefix K) (statestore.KeyValueIterator[K, V], error) {
	it, err := p.KeyValueStore.PrefixScan(prefix)
	return plainIter[K, V]{it}, err
}
func (p plainKV[K, V]) SetFlushListener(func(statestore.FlushedRecord[K, V]) error, bool) bool {
	return false
}

var errReadOnly = errors.New("streams: a query view is read-only")

// plainWindow reads a timestamped window store without the timestamps.
type plainWindow[K, V any] struct {
	statestore.WindowStore[K, statestore.ValueAndTimestamp[V]]
}

func (p plainWindow[K, V]) Fetch(key K, from, to int64) (statestore.KeyValueIterator[statestore.Windowed[K], V], error) {
	it, err := p.WindowStore.Fetch(key, from, to)
	return plainIter[statestore.Windowed[K], V]{it}, err
}

func (p plainWindow[K, V]) Put(K, V, int64) error { return errReadOnly }
func (p plainWindow[K, V]) Get(key K, start int64) (V, bool, error) {
	v, ok, err := p.WindowStore.Get(key, start)
	return v.Value, ok, err
}
func (p plainWindow[K, V]) FetchAll(from, to int64) (statestore.KeyValueIterator[statestore.Windowed[K], V], error) {
	it, err := p.WindowStore.FetchAll(from, to)
	return plainIter[statestore.Windowed[K], V]{it}, err
}
func (p plainWindow[K, V]) All() (statestore.KeyValueIterator[statestore.Windowed[K], V], error) {
	it, err := p.WindowStore.All()
	return plainIter[statestore.Windowed[K], V]{it}, err
}
func (p plainWindow[K, V]) SetFlushListener(func(statestore.FlushedRecord[statestore.Windowed[K], V]) error, bool) bool {
	return false
}

// plainIter drops the timestamps of a timestamped store's iterator.
type plainIter[K, V any] struct {
	statestore.KeyValueIterator[K, statestore.ValueAndTimestamp[V]]
}

func (p plainIter[K, V]) Value() V { return p.KeyValueIterator.Value().Value }
