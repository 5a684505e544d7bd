package serde

import "reflect"

// Serde converts values of type T to and from the bytes of a Kafka record
// key or value. Any type with these two methods is a Serde; [New] builds one
// from two functions.
//
// The topic is the one the bytes are written to or were read from (for
// state stores, the changelog topic); most serdes ignore it, but schema
// registry serdes use it to choose a subject.
//
// Implementations return errors, never panic, and must not retain data
// after Deserialize returns unless they document it (as [Bytes] does).
// A nil []byte is Kafka's null: Serialize returns nil for a value that
// should be written as a tombstone, and Deserialize documents what it does
// with nil. The runtime checks value bytes for nil before deserializing,
// so a tombstone never reaches a value serde on the record path.
type Serde[T any] interface {
	Serialize(topic string, v T) ([]byte, error)
	Deserialize(topic string, data []byte) (T, error)
}

// Appender is an optional fast path a [Serde] may implement so that sinks
// can serialize into a reused buffer. All built-in serdes implement it.
//
// AppendSerialize appends the encoding of v to dst and returns the extended
// slice, which is never nil on success, even when nothing was appended. If
// v encodes as Kafka's null (a tombstone), or on error, it returns nil and
// leaves dst's contents alone; callers that reuse a buffer should keep
// their own reference to it rather than assign the result over it blindly.
type Appender[T any] interface {
	AppendSerialize(dst []byte, topic string, v T) ([]byte, error)
}

// Append serializes v with s, appending to dst. It uses s's [Appender]
// fast path when s has one and otherwise calls Serialize and copies the
// result. Its results follow the [Appender] contract: nil for a tombstone
// or an error, otherwise a non-nil slice.
func Append[T any](s Serde[T], dst []byte, topic string, v T) ([]byte, error) {
	if a, ok := s.(Appender[T]); ok {
		return a.AppendSerialize(dst, topic, v)
	}
	b, err := s.Serialize(topic, v)
	if err != nil || b == nil {
		return nil, err
	}
	return nonNil(append(dst, b...)), nil
}

// New returns a Serde that calls ser and de. Errors they return are
// wrapped in an [*Error] whose Serde field is the Go name of T (an *Error
// they return is passed through unchanged). A nil ser or de makes that
// direction fail with [ErrUnsupported], which suits read-only or
// write-only topics. The result is safe for concurrent use if ser and de
// are.
func New[T any](ser func(topic string, v T) ([]byte, error), de func(topic string, data []byte) (T, error)) Serde[T] {
	return &funcSerde[T]{name: reflect.TypeFor[T]().String(), ser: ser, de: de}
}

type funcSerde[T any] struct {
	name string
	ser  func(topic string, v T) ([]byte, error)
	de   func(topic string, data []byte) (T, error)
}

func (s *funcSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	if s.ser == nil {
		return nil, serErr(s.name, topic, ErrUnsupported)
	}
	b, err := s.ser(topic, v)
	if err != nil {
		return nil, s.wrap(OpSerialize, topic, err)
	}
	return b, nil
}

func (s *funcSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	if s.de == nil {
		var zero T
		return zero, deErr(s.name, topic, ErrUnsupported)
	}
	v, err := s.de(topic, data)
	if err != nil {
		var zero T
		return zero, s.wrap(OpDeserialize, topic, err)
	}
	return v, nil
}

func (s *funcSerde[T]) wrap(op, topic string, err error) error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Serde: s.name, Topic: topic, Op: op, Err: err}
}

// nonNil turns a nil result of append into an empty non-nil slice, so that
// an empty encoding is not mistaken for a tombstone. The empty slice
// literal does not allocate.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
