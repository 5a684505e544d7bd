package serde

import (
	"errors"
	"fmt"
	"strings"
)

// Op values name the direction of a failed conversion in [Error.Op].
const (
	OpSerialize   = "serialize"
	OpDeserialize = "deserialize"
)

// Sentinel errors wrapped by [*Error]; test for them with [errors.Is].
var (
	// ErrInvalidLength reports that a fixed-width decoder (Int32, Int64,
	// Float64) was given input of the wrong length. The wrapping message
	// names the expected and the actual length.
	ErrInvalidLength = errors.New("serde: invalid length")

	// ErrNull reports that a decoder with no Go value for Kafka's null
	// (Int32, Int64, Float64) was given nil bytes. The runtime treats nil
	// values as tombstones before it deserializes, so this surfaces only
	// when a serde is called directly or a null key reaches a numeric key
	// serde.
	ErrNull = errors.New("serde: null data")

	// ErrUnsupported reports a direction a serde does not implement, for
	// example Serialize on a serde built by [New] with a nil ser function.
	ErrUnsupported = errors.New("serde: operation not supported")
)

// Error describes a failed serialization or deserialization. Every error
// returned by the built-in serdes and by serdes made with [New] is an
// *Error, so callers can recover the serde, topic and direction with
// [errors.As] and the cause with [errors.Unwrap].
type Error struct {
	// Serde names the serde: "string", "bytes", "int32", "int64",
	// "float64", "json", or the Go type name for serdes made with [New].
	Serde string
	// Topic is the topic passed to the failing call; it may be empty.
	Topic string
	// Op is [OpSerialize] or [OpDeserialize].
	Op string
	// Err is the cause.
	Err error
}

// Error returns a message of the form
// `serde: int64 deserialize (topic "orders"): invalid length: want 8 bytes, got 3`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("serde: ")
	b.WriteString(e.Serde)
	b.WriteByte(' ')
	b.WriteString(e.Op)
	if e.Topic != "" {
		fmt.Fprintf(&b, " (topic %q)", e.Topic)
	}
	if e.Err != nil {
		b.WriteString(": ")
		// The package prefix is already at the front; drop the cause's
		// own copy so the message reads once.
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "serde: "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func serErr(serde, topic string, err error) error {
	return &Error{Serde: serde, Topic: topic, Op: OpSerialize, Err: err}
}

func deErr(serde, topic string, err error) error {
	return &Error{Serde: serde, Topic: topic, Op: OpDeserialize, Err: err}
}

// lengthErr builds the error for a fixed-width decoder whose input is nil or
// not want bytes long. Decoders call it only on that path, so their success
// path stays allocation-free.
func lengthErr(serde, topic string, data []byte, want int) error {
	if data == nil {
		return deErr(serde, topic, fmt.Errorf("%w (tombstone): want %d bytes", ErrNull, want))
	}
	return deErr(serde, topic, fmt.Errorf("%w: want %d bytes, got %d", ErrInvalidLength, want, len(data)))
}
