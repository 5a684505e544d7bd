package dsl

import (
	"fmt"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
)

// Nullable is a value that may be Kafka's null, the element type of
// Table.ToStream's stream, where null is a deletion. Valid false means
// null; the zero Nullable is null, as with database/sql.Null. A Nullable is
// a value.
type Nullable[V any] struct {
	Value V
	Valid bool
}

// String formats the value with fmt.Sprint, or "null".
func (n Nullable[V]) String() string {
	if !n.Valid {
		return "null"
	}
	return fmt.Sprint(n.Value)
}

// NotNull returns v as a Nullable that is not null.
func NotNull[V any](v V) Nullable[V] { return Nullable[V]{Value: v, Valid: true} }

// NullableSerde serializes a Nullable with inner, a null as nil bytes (a
// tombstone), and reads nil bytes as null. A value that inner serializes
// to nil is written as an empty value, not a tombstone. It is safe for
// concurrent use if inner is.
func NullableSerde[V any](inner serde.Serde[V]) serde.Serde[Nullable[V]] {
	return nullableSerde[V]{inner: inner}
}

type nullableSerde[V any] struct{ inner serde.Serde[V] }

func (s nullableSerde[V]) Serialize(topic string, v Nullable[V]) ([]byte, error) {
	if !v.Valid {
		return nil, nil
	}
	b, err := s.inner.Serialize(topic, v.Value)
	if b == nil && err == nil {
		b = []byte{} // a value, not a deletion
	}
	return b, err
}

func (s nullableSerde[V]) Deserialize(topic string, data []byte) (Nullable[V], error) {
	if data == nil {
		return Nullable[V]{}, nil
	}
	v, err := s.inner.Deserialize(topic, data)
	return Nullable[V]{Value: v, Valid: err == nil}, err
}

// AppendSerialize is the sink's fast path when inner has one.
func (s nullableSerde[V]) AppendSerialize(dst []byte, topic string, v Nullable[V]) ([]byte, error) {
	if !v.Valid {
		return nil, nil
	}
	out, err := serde.Append(s.inner, dst, topic, v.Value)
	if out == nil && err == nil {
		out = dst[:len(dst):len(dst)] // an empty value, not a deletion
		if out == nil {
			out = []byte{}
		}
	}
	return out, err
}

// ToStream returns the stream of t's changes as Kafka Streams'
// KTable.toStream does: one record per update, with the key's new value, and one
// per deletion, with a null value, so written to a topic a deletion is a
// tombstone. The value type is Nullable[V], so a function over the stream
// cannot take a deletion for V's zero value; the record of a deletion is
// also marked null (processor.Record.Null), so an aggregation after it
// skips it as Kafka Streams does. The stream keeps the table's key serde
// and carries NullableSerde of its value serde. NonNull keeps the updates
// only, as V. Options: Named.
//
// ToStream is a function, not a method of Table, for the reason given at
// WindowedBy: a method returning Stream[K, Nullable[V]] would make Go
// instantiate Table[K, Nullable[Nullable[...]]] forever.
func ToStream[K, V any](t Table[K, V], opts ...Option) Stream[K, Nullable[V]] {
	name := t.b.nodeName(t.b.collect("ToStream", opts, optNamed), prefixTableToStream)
	addStateless(t.b, name, t.node, func(ctx processor.Context[K, Nullable[V]], r processor.Record[K, Change[V]]) error {
		out := processor.WithValue(r, Nullable[V]{Value: r.Value.New, Valid: r.Value.HasNew})
		if !r.Value.HasNew {
			var zero V
			out.Value.Value = zero
			out.Null |= processor.NullValue
		}
		return ctx.Forward(out)
	})
	s := Stream[K, Nullable[V]]{b: t.b, node: name, keySerde: t.keySerde}
	if t.valueSerde != nil {
		s.valueSerde = NullableSerde(t.valueSerde)
	}
	return s
}

// NonNull keeps the records of s whose value is not null and unwraps them
// (Kafka Streams' filter((k, v) -> v != null) after toStream, and its node
// is a filter: KSTREAM-FILTER-, or Named). The result keeps s's key serde
// and, if s carries a NullableSerde, its inner value serde.
func NonNull[K, V any](s Stream[K, Nullable[V]], opts ...Option) Stream[K, V] {
	name := s.b.nodeName(s.b.collect("NonNull", opts, optNamed), prefixFilter)
	addStateless(s.b, name, s.node, func(ctx processor.Context[K, V], r processor.Record[K, Nullable[V]]) error {
		if !r.Value.Valid || r.Null.Value() {
			return nil
		}
		return ctx.Forward(processor.WithValue(r, r.Value.Value))
	})
	out := Stream[K, V]{b: s.b, node: name, keySerde: s.keySerde, keyChanged: s.keyChanged}
	if ns, ok := s.valueSerde.(nullableSerde[V]); ok {
		out.valueSerde = ns.inner
	}
	return out
}
