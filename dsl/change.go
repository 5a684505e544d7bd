package dsl

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sluicestreams/sluice/serde"
)

// ErrBadChange is matched by errors of ChangeSerde's Deserialize for bytes it
// did not write.
var ErrBadChange = errors.New("dsl: malformed change record")

// ChangeSerde returns the serde of Change[V] over a serde of V: the format
// of table changes on repartition topics. The encoding is a flags byte (bit
// 0: new value present, bit 1: old value present) followed, for each value
// present, new first, by its 4-byte big-endian length and its bytes. The
// result is safe for concurrent use if inner is.
func ChangeSerde[V any](inner serde.Serde[V]) serde.Serde[Change[V]] {
	return changeSerde[V]{inner: inner}
}

type changeSerde[V any] struct{ inner serde.Serde[V] }

const (
	changeHasNew = 1 << 0
	changeHasOld = 1 << 1
)

func (s changeSerde[V]) Serialize(topic string, c Change[V]) ([]byte, error) {
	var flags byte
	out := []byte{0}
	if c.HasNew {
		flags |= changeHasNew
		b, err := s.inner.Serialize(topic, c.New)
		if err != nil {
			return nil, err
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	if c.HasOld {
		flags |= changeHasOld
		b, err := s.inner.Serialize(topic, c.Old)
		if err != nil {
			return nil, err
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	out[0] = flags
	return out, nil
}

func (s changeSerde[V]) Deserialize(topic string, data []byte) (Change[V], error) {
	var c Change[V]
	if len(data) < 1 {
		return c, fmt.Errorf("%w: empty", ErrBadChange)
	}
	flags, rest := data[0], data[1:]
	if flags&^(changeHasNew|changeHasOld) != 0 {
		return c, fmt.Errorf("%w: unknown flags %#x", ErrBadChange, flags)
	}
	next := func() ([]byte, error) {
		if len(rest) < 4 {
			return nil, fmt.Errorf("%w: truncated length", ErrBadChange)
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return nil, fmt.Errorf("%w: value of %d bytes, %d left", ErrBadChange, n, len(rest))
		}
		v := rest[:n:n]
		rest = rest[n:]
		return v, nil
	}
	var err error
	if flags&changeHasNew != 0 {
		b, e := next()
		if e != nil {
			return Change[V]{}, e
		}
		if c.New, err = s.inner.Deserialize(topic, b); err != nil {
			return Change[V]{}, err
		}
		c.HasNew = true
	}
	if flags&changeHasOld != 0 {
		b, e := next()
		if e != nil {
			return Change[V]{}, e
		}
		if c.Old, err = s.inner.Deserialize(topic, b); err != nil {
			return Change[V]{}, err
		}
		c.HasOld = true
	}
	if len(rest) != 0 {
		return Change[V]{}, fmt.Errorf("%w: %d trailing bytes", ErrBadChange, len(rest))
	}
	return c, nil
}
