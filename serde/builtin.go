package serde

import (
	"encoding/binary"
	"math"
)

// String returns the serde for UTF-8 text, compatible with Kafka's
// StringSerializer and StringDeserializer in their default UTF-8 encoding.
//
// Bytes pass through unchanged in both directions: invalid UTF-8 is kept
// as is (Java would replace it with U+FFFD). Serialize of "" returns an
// empty, non-nil slice, which is an empty value and not a tombstone; a
// string cannot express null. Deserialize of nil or empty bytes returns ""
// and no error. Deserialize allocates only the string itself. The serde is
// stateless and safe for concurrent use.
func String() Serde[string] { return stringSerde{} }

type stringSerde struct{}

func (stringSerde) Serialize(_ string, v string) ([]byte, error) {
	return nonNil([]byte(v)), nil
}

func (stringSerde) AppendSerialize(dst []byte, _ string, v string) ([]byte, error) {
	return nonNil(append(dst, v...)), nil
}

func (stringSerde) Deserialize(_ string, data []byte) (string, error) {
	return string(data), nil
}

// Bytes returns the identity serde for raw bytes, compatible with Kafka's
// ByteArraySerializer and ByteArrayDeserializer.
//
// Nil stays nil in both directions (a tombstone), and an empty non-nil
// slice stays empty and non-nil. Like its Java counterparts it does not
// copy: Serialize returns v itself and Deserialize returns data itself, so
// the caller must not modify a slice after handing it over. AppendSerialize
// copies v into dst. The serde is stateless and safe for concurrent use.
func Bytes() Serde[[]byte] { return bytesSerde{} }

type bytesSerde struct{}

func (bytesSerde) Serialize(_ string, v []byte) ([]byte, error) { return v, nil }

func (bytesSerde) AppendSerialize(dst []byte, _ string, v []byte) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return nonNil(append(dst, v...)), nil
}

func (bytesSerde) Deserialize(_ string, data []byte) ([]byte, error) { return data, nil }

// Int32 returns the serde for 4-byte big-endian two's-complement integers,
// the wire format of Kafka's IntegerSerializer and IntegerDeserializer.
//
// Deserialize fails with [ErrNull] for nil bytes (Java would return null,
// which int32 cannot hold) and with [ErrInvalidLength] for any length
// other than 4. Deserialize does not allocate. The serde is stateless and
// safe for concurrent use.
func Int32() Serde[int32] { return int32Serde{} }

type int32Serde struct{}

func (int32Serde) Serialize(_ string, v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), uint32(v)), nil
}

func (int32Serde) AppendSerialize(dst []byte, _ string, v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(dst, uint32(v)), nil
}

func (int32Serde) Deserialize(topic string, data []byte) (int32, error) {
	if len(data) != 4 {
		return 0, lengthErr("int32", topic, data, 4)
	}
	return int32(binary.BigEndian.Uint32(data)), nil
}

// Int64 returns the serde for 8-byte big-endian two's-complement integers,
// the wire format of Kafka's LongSerializer and LongDeserializer (and of
// the counts Kafka Streams' count() writes).
//
// Deserialize fails with [ErrNull] for nil bytes and with
// [ErrInvalidLength] for any length other than 8. Deserialize does not
// allocate. The serde is stateless and safe for concurrent use.
func Int64() Serde[int64] { return int64Serde{} }

type int64Serde struct{}

func (int64Serde) Serialize(_ string, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)), nil
}

func (int64Serde) AppendSerialize(dst []byte, _ string, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, uint64(v)), nil
}

func (int64Serde) Deserialize(topic string, data []byte) (int64, error) {
	if len(data) != 8 {
		return 0, lengthErr("int64", topic, data, 8)
	}
	return int64(binary.BigEndian.Uint64(data)), nil
}

// canonicalNaN is the bit pattern Java's Double.doubleToLongBits gives for
// every NaN.
const canonicalNaN = 0x7ff8000000000000

// Float64 returns the serde for IEEE 754 doubles as 8 big-endian bytes, the
// wire format of Kafka's DoubleSerializer and DoubleDeserializer.
//
// Serialize writes every NaN as 0x7ff8000000000000, as Java's
// Double.doubleToLongBits does, so equal values give equal bytes (which
// matters for keys). Deserialize keeps the bits it is given, including NaN
// payloads. It fails with [ErrNull] for nil bytes and with
// [ErrInvalidLength] for any length other than 8, and does not allocate.
// The serde is stateless and safe for concurrent use.
func Float64() Serde[float64] { return float64Serde{} }

type float64Serde struct{}

func float64Bits(v float64) uint64 {
	if v != v {
		return canonicalNaN
	}
	return math.Float64bits(v)
}

func (float64Serde) Serialize(_ string, v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), float64Bits(v)), nil
}

func (float64Serde) AppendSerialize(dst []byte, _ string, v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, float64Bits(v)), nil
}

func (float64Serde) Deserialize(topic string, data []byte) (float64, error) {
	if len(data) != 8 {
		return 0, lengthErr("float64", topic, data, 8)
	}
	return math.Float64frombits(binary.BigEndian.Uint64(data)), nil
}
