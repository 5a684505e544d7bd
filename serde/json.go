package serde

import (
	"bytes"
	"encoding/json"
)

// JSON returns a serde that encodes T with [encoding/json], so struct tags
// and json.Marshaler/json.Unmarshaler implementations apply.
//
// Null maps to null, as with Kafka's JSON serdes: a value that encodes as
// JSON null (a nil pointer, map, slice or interface) serializes to nil
// bytes, a tombstone, and nil bytes deserialize to the zero T with no
// error, which is what the JSON text null would decode to. Empty non-nil
// bytes are not null and fail to decode. Decoding follows json.Unmarshal:
// unknown fields are ignored and trailing data is an error. Its
// AppendSerialize saves no allocations, since encoding/json allocates its
// own output. The serde is stateless and safe for concurrent use.
func JSON[T any]() Serde[T] { return jsonSerde[T]{} }

type jsonSerde[T any] struct{}

var jsonNull = []byte("null")

func (jsonSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, serErr("json", topic, err)
	}
	if bytes.Equal(b, jsonNull) {
		return nil, nil
	}
	return b, nil
}

func (s jsonSerde[T]) AppendSerialize(dst []byte, topic string, v T) ([]byte, error) {
	b, err := s.Serialize(topic, v)
	if err != nil || b == nil {
		return nil, err
	}
	return nonNil(append(dst, b...)), nil
}

func (jsonSerde[T]) Deserialize(topic string, data []byte) (T, error) {
	var v T
	if data == nil {
		return v, nil
	}
	if err := json.Unmarshal(data, &v); err != nil {
		var zero T
		return zero, deErr("json", topic, err)
	}
	return v, nil
}
