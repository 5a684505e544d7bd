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
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp int64
	Headers   []Header
}

// WithValue returns a copy of r with its value replaced, keeping key,
// timestamp and headers. Value-changing processors use it to forward.
func WithValue[K, V, V2 any](r Record[K, V], v V2) Record[K, V2] {
	return Record[K, V2]{Key: r.Key, Value: v, Timestamp: r.Timestamp, Headers: r.Headers}
}

// WithKeyValue returns a copy of r with key and value replaced, keeping
// timestamp and headers.
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
