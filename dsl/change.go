package dsl

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sluicestreams/sluice/serde"
)

// ErrBadChange is matched by errors of ChangeSerde's Deserialize for bytes
// that are no Change in any format Kafka Streams reads, and of its
// Serialize for a Change with neither value (which has no encoding).
var ErrBadChange = errors.New("dsl: malformed change record")

// ChangeSerde returns the serde of Change[V] over a serde of V: the bytes
// Kafka Streams' ChangedSerializer and ChangedDeserializer use for table
// changes on repartition topics (GroupTableBy), so a Java application and
// a Sluice one can read each other's repartition records.
//
// The last byte says the format: 0 is the old value's bytes alone, 1 the
// new value's alone, and 2 a zigzag varint length of the new value's bytes,
// then those bytes, then the old value's. Serialize writes these, which is
// what Kafka Streams 4.x writes when upgrade.from is not set (Sluice has no
// rolling upgrade from Kafka Streams before 3.5, whose serializer refused
// format 2). Deserialize also reads formats 3, 4 and 5 (KIP-904), which are
// 0, 1 and 2 followed by an is-latest byte (0 or 1) before the format byte;
// Sluice has no versioned tables, so every change is the latest and the
// flag is checked and dropped.
//
// A Change with neither value is an error, as in Kafka Streams. The result
// is safe for concurrent use if inner is.
func ChangeSerde[V any](inner serde.Serde[V]) serde.Serde[Change[V]] {
	return changeSerde[V]{inner: inner}
}

type changeSerde[V any] struct{ inner serde.Serde[V] }

// The format bytes of ChangedSerializer/ChangedDeserializer.
const (
	changeOld         = 0
	changeNew         = 1
	changeBoth        = 2
	changeOldIsLatest = 3
	changeNewIsLatest = 4
	changeBothLatest  = 5
	maxVarint32       = 5 // bytes of a 32-bit varint at most (ByteUtils.readVarint)
)

func (s changeSerde[V]) Serialize(topic string, c Change[V]) ([]byte, error) {
	var nb, ob []byte
	var err error
	if c.HasNew {
		if nb, err = s.inner.Serialize(topic, c.New); err != nil {
			return nil, err
		}
	}
	if c.HasOld {
		if ob, err = s.inner.Serialize(topic, c.Old); err != nil {
			return nil, err
		}
	}
	switch {
	case c.HasNew && c.HasOld:
		out := make([]byte, 0, maxVarint32+len(nb)+len(ob)+1)
		out = binary.AppendVarint(out, int64(len(nb)))
		return append(append(append(out, nb...), ob...), changeBoth), nil
	case c.HasNew:
		return append(append(make([]byte, 0, len(nb)+1), nb...), changeNew), nil
	case c.HasOld:
		return append(append(make([]byte, 0, len(ob)+1), ob...), changeOld), nil
	}
	return nil, fmt.Errorf("%w: a change with neither a new nor an old value cannot be serialized", ErrBadChange)
}

func (s changeSerde[V]) Deserialize(topic string, data []byte) (Change[V], error) {
	var c Change[V]
	if len(data) < 1 {
		return c, fmt.Errorf("%w: empty", ErrBadChange)
	}
	format := data[len(data)-1]
	body := data[:len(data)-1]
	if format >= changeOldIsLatest && format <= changeBothLatest {
		if len(body) < 1 {
			return c, fmt.Errorf("%w: format %d without its is-latest byte", ErrBadChange, format)
		}
		if latest := body[len(body)-1]; latest > 1 {
			return c, fmt.Errorf("%w: is-latest byte %d", ErrBadChange, latest)
		}
		body = body[:len(body)-1]
		format -= changeOldIsLatest
	}
	var nb, ob []byte
	switch format {
	case changeOld:
		ob = body
	case changeNew:
		nb = body
	case changeBoth:
		n, size := binary.Varint(body)
		if size <= 0 || size > maxVarint32 || n < 0 || n > int64(len(body)-size) {
			return c, fmt.Errorf("%w: bad new-value length in %d bytes", ErrBadChange, len(body))
		}
		nb, ob = body[size:size+int(n):size+int(n)], body[size+int(n):]
	default:
		return c, fmt.Errorf("%w: unknown format byte %d", ErrBadChange, format)
	}
	var err error
	if nb != nil {
		if c.New, err = s.inner.Deserialize(topic, nb); err != nil {
			return Change[V]{}, err
		}
		c.HasNew = true
	}
	if ob != nil {
		if c.Old, err = s.inner.Deserialize(topic, ob); err != nil {
			return Change[V]{}, err
		}
		c.HasOld = true
	}
	return c, nil
}

// bufferChangeSerde is the suppression buffer's private encoding of a
// Change, which, unlike Kafka's, has a form for a Change with neither
// value (a window with nothing before its first held-back update): a flags
// byte (bit 0: new value present, bit 1: old value present), then for each
// value present, new first, its 4-byte big-endian length and its bytes.
type bufferChangeSerde[V any] struct{ inner serde.Serde[V] }

const (
	bufferHasNew = 1 << 0
	bufferHasOld = 1 << 1
)

func (s bufferChangeSerde[V]) Serialize(topic string, c Change[V]) ([]byte, error) {
	out := []byte{0}
	for _, side := range []struct {
		has  bool
		v    V
		flag byte
	}{{c.HasNew, c.New, bufferHasNew}, {c.HasOld, c.Old, bufferHasOld}} {
		if !side.has {
			continue
		}
		out[0] |= side.flag
		b, err := s.inner.Serialize(topic, side.v)
		if err != nil {
			return nil, err
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out, nil
}

func (s bufferChangeSerde[V]) Deserialize(topic string, data []byte) (Change[V], error) {
	var c Change[V]
	if len(data) < 1 {
		return c, fmt.Errorf("%w: empty", ErrBadChange)
	}
	flags, rest := data[0], data[1:]
	if flags&^(bufferHasNew|bufferHasOld) != 0 {
		return c, fmt.Errorf("%w: unknown flags %#x", ErrBadChange, flags)
	}
	next := func() (V, error) {
		var zero V
		if len(rest) < 4 {
			return zero, fmt.Errorf("%w: truncated length", ErrBadChange)
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return zero, fmt.Errorf("%w: value of %d bytes, %d left", ErrBadChange, n, len(rest))
		}
		v := rest[:n:n]
		rest = rest[n:]
		return s.inner.Deserialize(topic, v)
	}
	var err error
	if flags&bufferHasNew != 0 {
		if c.New, err = next(); err != nil {
			return Change[V]{}, err
		}
		c.HasNew = true
	}
	if flags&bufferHasOld != 0 {
		if c.Old, err = next(); err != nil {
			return Change[V]{}, err
		}
		c.HasOld = true
	}
	if len(rest) != 0 {
		return Change[V]{}, fmt.Errorf("%w: %d trailing bytes", ErrBadChange, len(rest))
	}
	return c, nil
}
