package processor

import "github.com/twmb/franz-go/pkg/kgo"

// Header is one record header. It is kgo's header type, so headers pass from
// the consumed record to produced records without copying.
type Header = kgo.RecordHeader

// Record is one typed record flowing between nodes: key, value, timestamp and
// headers. Timestamp is in milliseconds since the Unix epoch, as Kafka stores
// it.
//
// Records are values; a processor that keeps one beyond its Process call must
// not modify the Headers slice it shares with the record that was forwarded.
//
// Null marks a key or value that is Kafka's null, which a Go type cannot
// hold: Key or Value is then K's or V's zero value and Null says it stands
// for null. Sources set it for nil key or value bytes; a sink writes a
// marked key or value as nil bytes (a null value is a tombstone) without
// calling its serde; processors that pass a record on unchanged (filters,
// Peek, Merge, branches, repartitioning) keep it; WithValue and
// WithKeyValue clear what they replace. The DSL's aggregations and joins
// skip null keys and values as Kafka Streams does.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp int64
	Headers   []Header
	Null      Nulls
}

// Nulls says which of a record's key and value are Kafka's null. The zero
// value marks neither.
type Nulls uint8

const (
	// NullKey marks the key as null.
	NullKey Nulls = 1 << iota
	// NullValue marks the value as null: a tombstone.
	NullValue
)

// Key reports whether the key is null.
func (n Nulls) Key() bool { return n&NullKey != 0 }

// Value reports whether the value is null.
func (n Nulls) Value() bool { return n&NullValue != 0 }

// WithValue returns a copy of r with its value replaced, keeping key,
// timestamp, headers and a null key mark; the new value is not null.
// Value-changing processors use it to forward.
func WithValue[K, V, V2 any](r Record[K, V], v V2) Record[K, V2] {
	return Record[K, V2]{Key: r.Key, Value: v, Timestamp: r.Timestamp, Headers: r.Headers, Null: r.Null &^ NullValue}
}

// WithKeyValue returns a copy of r with key and value replaced, keeping
// timestamp and headers; neither the new key nor the new value is null.
func WithKeyValue[K, V, K2, V2 any](r Record[K, V], k K2, v V2) Record[K2, V2] {
	return Record[K2, V2]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers}
}

// RecordMetadata says where the record being processed came from. It is only
// known while a record that was read from a topic is being processed, not in
// punctuators.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
}
