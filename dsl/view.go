package dsl

import (
	"fmt"
	"reflect"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/statestore"
)

// tableNode is the build-time state of a table node that its processors
// read when the topology is instantiated: whether the node sends old
// values downstream. It follows Kafka Streams'
// KTableImpl#enableSendingOldValues(forceMaterialization): an operation
// that needs old values (GroupTableBy, suppression, ChangeStream) asks its
// parent table for them when it is added, and the request travels up
// through Filter and MapTableValues to the node that can read them from a
// store. Without the request, nodes forward Kafka Streams' changes without
// old values, and skip reading and decoding them.
type tableNode struct {
	kind    tableKind
	parent  *tableNode // tableDerived: the table this one is computed from
	sendOld bool
	// queryable is, for tableSource, Kafka Streams' materialized(): the
	// user named the store (StoreName), or a join or a forced request for
	// old values made the table's store part of its contract. Only then
	// does the table have a store (added by materialize); without one it
	// forwards every update as it comes, with no old value, and declines
	// an unforced request for old values, as Kafka's KTableSource does.
	queryable bool
	// addStore adds a source table's store to the topology, once, when it
	// becomes queryable (KTableSource#materialize; TableSourceNode adds
	// the store only of a materialized table).
	addStore func()
}

type tableKind uint8

const (
	tableSource    tableKind = iota // NewTable, ToTable: Kafka's KTableSource
	tableAggregate                  // aggregations: always materialized
	tableDerived                    // Filter, MapTableValues, suppression: computed from parent
)

// sourceNode is the node of a source table whose store addStore adds to
// the topology; a table whose store is named is materialized at once.
func sourceNode(named bool, addStore func()) *tableNode {
	n := &tableNode{kind: tableSource, addStore: addStore}
	if named {
		n.materialize()
	}
	return n
}

// materialize makes a source table queryable and adds its store, once.
func (n *tableNode) materialize() {
	if n.queryable {
		return
	}
	n.queryable = true
	if n.addStore != nil {
		n.addStore()
	}
}

// materialized reports whether a source table has a store. Processors
// call it in Init, after Build.
func (n *tableNode) materialized() bool { return n != nil && n.queryable }

func aggregateNode() *tableNode { return &tableNode{kind: tableAggregate} }

func derivedNode(parent *tableNode) *tableNode {
	return &tableNode{kind: tableDerived, parent: parent}
}

// enableSendingOldValues asks the node to send old values and reports
// whether it will. force is Kafka's forceMaterialization: a source table
// that is not queryable agrees only when forced. A nil node (a table whose
// operation failed to build) declines.
func (n *tableNode) enableSendingOldValues(force bool) bool {
	if n == nil {
		return false
	}
	switch n.kind {
	case tableSource:
		if !n.sendOld {
			if !force && !n.queryable {
				return false
			}
			n.materialize()
			n.sendOld = true
		}
		return true
	case tableAggregate:
		n.sendOld = true
		return true
	default:
		if n.parent.enableSendingOldValues(force) {
			n.sendOld = true
		}
		return n.sendOld
	}
}

// sendsOld reports whether the node sends old values. Processors call it
// in Init, after Build, when no request can change it any more.
func (n *tableNode) sendsOld() bool { return n != nil && n.sendOld }

// storeLookup is what a value getter needs of the processor it runs in;
// every processor.Context has it.
type storeLookup interface {
	StateStore(name string) (processor.StateStore, error)
}

// valueGetter reads the current value of a key of a table (Kafka Streams'
// KTableValueGetter): from the table's own store, or, for a table computed
// from another (Filter, MapTableValues), from the nearest store upstream
// with the table's computation applied. A processor opens one in Init,
// through a tableView, and uses it from its own goroutine only.
type valueGetter[K, V any] interface {
	get(key K) (statestore.ValueAndTimestamp[V], bool, error)
}

// tableView is Kafka Streams' KTableValueGetterSupplier: the stores a
// table's value getter reads, which the reading processor must be
// connected to, and how to open the getter in that processor's Init.
type tableView[K, V any] struct {
	stores []string
	open   func(s storeLookup) (valueGetter[K, V], error)
}

// lookup returns the store called name as an S.
func lookup[S any](s storeLookup, name string) (S, error) {
	st, err := s.StateStore(name)
	if err != nil {
		var zero S
		return zero, err
	}
	typed, ok := st.(S)
	if !ok {
		return typed, &processor.StoreTypeError{Store: name, Want: reflect.TypeFor[S]().String(), Got: fmt.Sprintf("%T", st)}
	}
	return typed, nil
}

// getterFunc is a valueGetter made of a function.
type getterFunc[K, V any] func(K) (statestore.ValueAndTimestamp[V], bool, error)

func (f getterFunc[K, V]) get(k K) (statestore.ValueAndTimestamp[V], bool, error) { return f(k) }

// storeView reads a timestamped key-value store.
func storeView[K, V any](store string) tableView[K, V] {
	return tableView[K, V]{stores: []string{store}, open: func(s storeLookup) (valueGetter[K, V], error) {
		kv, err := lookup[statestore.TimestampedKeyValueStore[K, V]](s, store)
		if err != nil {
			return nil, err
		}
		return getterFunc[K, V](kv.Get), nil
	}}
}

// windowView reads a windowed aggregation's timestamped window store by
// key and window start (KStreamWindowAggregate's value getter).
func windowView[K, A any](store string) func() tableView[Windowed[K], A] {
	return func() tableView[Windowed[K], A] {
		return tableView[Windowed[K], A]{stores: []string{store}, open: func(s storeLookup) (valueGetter[Windowed[K], A], error) {
			ws, err := lookup[statestore.WindowStore[K, statestore.ValueAndTimestamp[A]]](s, store)
			if err != nil {
				return nil, err
			}
			return getterFunc[Windowed[K], A](func(w Windowed[K]) (statestore.ValueAndTimestamp[A], bool, error) {
				return ws.Get(w.Key, w.Start)
			}), nil
		}}
	}
}

// sessionView reads a session aggregation's store by session; a session's
// timestamp is its end (KStreamSessionWindowAggregate's value getter).
func sessionView[K, A any](store string) func() tableView[Windowed[K], A] {
	return func() tableView[Windowed[K], A] {
		return tableView[Windowed[K], A]{stores: []string{store}, open: func(s storeLookup) (valueGetter[Windowed[K], A], error) {
			ss, err := lookup[statestore.SessionStore[K, A]](s, store)
			if err != nil {
				return nil, err
			}
			return getterFunc[Windowed[K], A](func(w Windowed[K]) (statestore.ValueAndTimestamp[A], bool, error) {
				v, ok, err := ss.Get(w)
				return statestore.ValueAndTimestamp[A]{Value: v, Timestamp: w.End}, ok, err
			}), nil
		}}
	}
}

// derivedView is the view of a table computed from parent's: fn maps the
// parent's value of a key (found or not) to this table's.
func derivedView[K, V, VR any](parent tableView[K, V], fn func(K, statestore.ValueAndTimestamp[V], bool) (statestore.ValueAndTimestamp[VR], bool)) tableView[K, VR] {
	return tableView[K, VR]{stores: parent.stores, open: func(s storeLookup) (valueGetter[K, VR], error) {
		g, err := parent.open(s)
		if err != nil {
			return nil, err
		}
		return derivedGetter[K, V, VR]{parent: g, fn: fn}, nil
	}}
}

type derivedGetter[K, V, VR any] struct {
	parent valueGetter[K, V]
	fn     func(K, statestore.ValueAndTimestamp[V], bool) (statestore.ValueAndTimestamp[VR], bool)
}

func (g derivedGetter[K, V, VR]) get(k K) (statestore.ValueAndTimestamp[VR], bool, error) {
	v, ok, err := g.parent.get(k)
	if err != nil {
		var zero statestore.ValueAndTimestamp[VR]
		return zero, false, err
	}
	r, found := g.fn(k, v, ok)
	return r, found, nil
}
