// Package serde converts typed keys and values to and from the bytes of
// Kafka records.
//
// A [Serde] has two methods, Serialize and Deserialize, each given the
// topic; any type with them is a Serde, and [New] builds one from two
// functions. Serdes return errors and never panic; every error from this
// package is an [*Error] naming the serde, topic and direction, wrapping
// a cause such as [ErrInvalidLength] or [ErrNull].
//
// The built-ins share the wire formats of Kafka's Java serializers, so
// Sluice applications can read and write topics shared with Java clients
// and Kafka Streams applications:
//
//	String()   UTF-8 bytes                   StringSerializer
//	Bytes()    the bytes themselves          ByteArraySerializer
//	Int32()    4 bytes, big-endian           IntegerSerializer
//	Int64()    8 bytes, big-endian           LongSerializer
//	Float64()  8 bytes, big-endian IEEE 754  DoubleSerializer
//	JSON[T]()  encoding/json                 (JSON serdes in general)
//
// # Null and tombstones
//
// Kafka's null is a nil []byte; a record with a null value is a tombstone
// that deletes its key from a table. The runtime checks value bytes for nil
// before calling Deserialize, so value serdes see tombstones only when
// called directly. Each built-in documents its choice:
//
//	serde    Serialize gives nil for       Deserialize(nil)
//	String   never ("" is empty, not nil)  "", no error
//	Bytes    nil                           nil, no error
//	Int32    never                         error wrapping ErrNull
//	Int64    never                         error wrapping ErrNull
//	Float64  never                         error wrapping ErrNull
//	JSON[T]  values that encode as null    zero T, no error
//
// # Serializing into a reused buffer
//
// Serdes may also implement [Appender], which appends the encoding to a
// caller's buffer; all built-ins do. [Append] uses it when present:
//
//	buf := make([]byte, 0, 64)
//	out, err := serde.Append(serde.Int64(), buf[:0], "counts", 42)
//	// out is nil for a tombstone; otherwise it shares buf's storage.
//
// Built-in serdes are stateless and safe for concurrent use.
package serde
