package statestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// This file holds every byte encoding the package writes: the escaped key
// form used inside window and session keys, order-preserving timestamps, the
// pebble (task, store) prefix and the checkpoint value.

// errEncoding is wrapped by every decoder failure.
var errEncoding = errors.New("statestore: malformed encoding")

// Escaped keys. A user key is written with every 0x00 byte replaced by
// 0x00 0xFF and terminated by 0x00 0x01. The form is order-preserving
// (bytes.Compare of two escaped keys equals bytes.Compare of the originals)
// and prefix-free (no escaped key is a prefix of another), so that when a
// timestamp follows the key, all entries of key "a" sort before every entry
// of key "a\x00" or "ab": entries of different keys never interleave, and a
// time-range scan of one key is one contiguous range.
const (
	escByte   = 0x00
	escEscape = 0xFF
	escTerm   = 0x01
)

// appendEscaped appends the escaped form of key to dst.
func appendEscaped(dst, key []byte) []byte {
	for {
		i := indexZero(key)
		if i < 0 {
			dst = append(dst, key...)
			break
		}
		dst = append(dst, key[:i+1]...)
		dst = append(dst, escEscape)
		key = key[i+1:]
	}
	return append(dst, escByte, escTerm)
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// escapedLen returns the length of the escaped form of key.
func escapedLen(key []byte) int {
	n := len(key) + 2
	for _, c := range key {
		if c == 0 {
			n++
		}
	}
	return n
}

// decodeEscaped reads one escaped key from the front of b and returns the key
// and the rest of b.
func decodeEscaped(b []byte) (key, rest []byte, err error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != escByte {
			out = append(out, c)
			continue
		}
		if i+1 >= len(b) {
			return nil, nil, fmt.Errorf("%w: escaped key without terminator", errEncoding)
		}
		switch b[i+1] {
		case escEscape:
			out = append(out, 0)
			i++
		case escTerm:
			return out, b[i+2:], nil
		default:
			return nil, nil, fmt.Errorf("%w: bad escape 0x00 0x%02x", errEncoding, b[i+1])
		}
	}
	return nil, nil, fmt.Errorf("%w: escaped key without terminator", errEncoding)
}

// Timestamps are written as 8 big-endian bytes with the sign bit flipped, so
// that byte order equals numeric order for negative values too.
func appendTime(dst []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(t)^(1<<63))
}

func readTime(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
}

// windowKey is the engine key of one window: segment, escaped key, start.
// The segment prefix makes expiry a range delete; within a segment the
// entries of one key are contiguous and ordered by start.
func appendWindowKey(dst []byte, segment int64, key []byte, start int64) []byte {
	dst = appendTime(dst, segment)
	dst = appendEscaped(dst, key)
	return appendTime(dst, start)
}

// decodeWindowKey splits a window engine key.
func decodeWindowKey(b []byte) (segment int64, key []byte, start int64, err error) {
	if len(b) < 8+2+8 {
		return 0, nil, 0, fmt.Errorf("%w: window key of %d bytes", errEncoding, len(b))
	}
	segment = readTime(b)
	key, rest, err := decodeEscaped(b[8:])
	if err != nil {
		return 0, nil, 0, err
	}
	if len(rest) != 8 {
		return 0, nil, 0, fmt.Errorf("%w: window key has %d trailing bytes, want 8", errEncoding, len(rest))
	}
	return segment, key, readTime(rest), nil
}

// sessionKey is the engine key of one session: segment (by end time),
// escaped key, end, start. Ordering by end first lets FindSessions seek to
// the earliest end it wants.
func appendSessionKey(dst []byte, segment int64, key []byte, end, start int64) []byte {
	dst = appendTime(dst, segment)
	dst = appendEscaped(dst, key)
	dst = appendTime(dst, end)
	return appendTime(dst, start)
}

func decodeSessionKey(b []byte) (segment int64, key []byte, end, start int64, err error) {
	if len(b) < 8+2+16 {
		return 0, nil, 0, 0, fmt.Errorf("%w: session key of %d bytes", errEncoding, len(b))
	}
	segment = readTime(b)
	key, rest, err := decodeEscaped(b[8:])
	if err != nil {
		return 0, nil, 0, 0, err
	}
	if len(rest) != 16 {
		return 0, nil, 0, 0, fmt.Errorf("%w: session key has %d trailing bytes, want 16", errEncoding, len(rest))
	}
	return segment, key, readTime(rest), readTime(rest[8:]), nil
}

// Changelog keys of windowed stores carry no segment (it is derived from the
// time on restore) and are Kafka Streams' layouts: window = key ||
// start(8, big-endian) || seqnum(4, big-endian) as WindowKeySchema.toStoreKeyBinary
// (the seqnum is 0: Sluice's window stores do not retain duplicates);
// session = key || end(8) || start(8) as SessionKeySchema.toBinary.
const windowSeqnumLen = 4

func appendWindowLogKey(dst, key []byte, start int64) []byte {
	dst = append(dst, key...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(start))
	return binary.BigEndian.AppendUint32(dst, 0)
}

func decodeWindowLogKey(b []byte) (key []byte, start int64, err error) {
	if len(b) < 8+windowSeqnumLen {
		return nil, 0, fmt.Errorf("%w: window changelog key of %d bytes, want the key, an 8-byte start and a 4-byte sequence number", errEncoding, len(b))
	}
	n := len(b) - 8 - windowSeqnumLen
	return b[:n:n], int64(binary.BigEndian.Uint64(b[n:])), nil
}

func appendSessionLogKey(dst, key []byte, end, start int64) []byte {
	dst = append(dst, key...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(end))
	return binary.BigEndian.AppendUint64(dst, uint64(start))
}

func decodeSessionLogKey(b []byte) (key []byte, end, start int64, err error) {
	if len(b) < 16 {
		return nil, 0, 0, fmt.Errorf("%w: session changelog key of %d bytes", errEncoding, len(b))
	}
	n := len(b) - 16
	return b[:n:n], int64(binary.BigEndian.Uint64(b[n:])), int64(binary.BigEndian.Uint64(b[n+8:])), nil
}

// Timestamped values: 8-byte big-endian timestamp, then the value bytes, as
// Kafka Streams lays out ValueAndTimestamp.
func appendTimestamped(dst []byte, ts int64, value []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(ts))
	return append(dst, value...)
}

func decodeTimestamped(b []byte) (ts int64, value []byte, err error) {
	if len(b) < 8 {
		return 0, nil, fmt.Errorf("%w: timestamped value of %d bytes", errEncoding, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), b[8:], nil
}

// Pebble layout. Every key of the shared DB starts with the task prefix
//
//	uvarint(len(task)) task
//
// so all state of one task is one contiguous range (one DeleteRange drops
// it). Then a kind byte: kindData followed by uvarint(len(store)) store and
// the store's own key; or kindCheckpoint followed by the same store part,
// whose value is the store's checkpoint. Length prefixes make the encoding
// prefix-free: no (task, store) prefix is a prefix of another.
const (
	kindData       = 'd'
	kindCheckpoint = 'c'
)

func appendTaskPrefix(dst []byte, task string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(task)))
	return append(dst, task...)
}

func appendStorePrefix(dst []byte, task string, kind byte, store string) []byte {
	dst = appendTaskPrefix(dst, task)
	dst = append(dst, kind)
	dst = binary.AppendUvarint(dst, uint64(len(store)))
	return append(dst, store...)
}

// decodeStorePrefix splits a full engine key into task, kind, store and the
// store's key.
func decodeStorePrefix(b []byte) (task string, kind byte, store string, key []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", 0, "", nil, fmt.Errorf("%w: bad task prefix", errEncoding)
	}
	task = string(b[k : k+int(n)])
	b = b[k+int(n):]
	if len(b) < 1 {
		return "", 0, "", nil, fmt.Errorf("%w: missing kind byte", errEncoding)
	}
	kind = b[0]
	b = b[1:]
	n, k = binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", 0, "", nil, fmt.Errorf("%w: bad store prefix", errEncoding)
	}
	return task, kind, string(b[k : k+int(n)]), b[k+int(n):], nil
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil if there is none (p is all 0xFF).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// TopicPartition names one partition of a changelog topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Checkpoint maps changelog partitions to the offset the local state
// corresponds to. By convention the offset is the next one to read on
// restore (last applied offset + 1). A nil or empty Checkpoint means
// "no checkpoint".
type Checkpoint map[TopicPartition]int64

// checkpointVersion is the first byte of an encoded checkpoint.
const checkpointVersion = 1

// encodeCheckpoint writes version, uvarint count, then per entry
// uvarint(len(topic)) topic varint(partition) varint(offset), sorted by
// topic and partition so that equal checkpoints encode equally.
func encodeCheckpoint(cp Checkpoint) []byte {
	tps := make([]TopicPartition, 0, len(cp))
	for tp := range cp {
		tps = append(tps, tp)
	}
	sortTPs(tps)
	b := []byte{checkpointVersion}
	b = binary.AppendUvarint(b, uint64(len(tps)))
	for _, tp := range tps {
		b = binary.AppendUvarint(b, uint64(len(tp.Topic)))
		b = append(b, tp.Topic...)
		b = binary.AppendVarint(b, int64(tp.Partition))
		b = binary.AppendVarint(b, cp[tp])
	}
	return b
}

func sortTPs(tps []TopicPartition) {
	for i := 1; i < len(tps); i++ {
		for j := i; j > 0 && tpLess(tps[j], tps[j-1]); j-- {
			tps[j], tps[j-1] = tps[j-1], tps[j]
		}
	}
}

func tpLess(a, b TopicPartition) bool {
	if a.Topic != b.Topic {
		return a.Topic < b.Topic
	}
	return a.Partition < b.Partition
}

// decodeCheckpoint is the inverse of encodeCheckpoint.
func decodeCheckpoint(b []byte) (Checkpoint, error) {
	if len(b) < 1 || b[0] != checkpointVersion {
		return nil, fmt.Errorf("%w: checkpoint version", errEncoding)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: checkpoint count", errEncoding)
	}
	b = b[k:]
	cp := make(Checkpoint, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: checkpoint topic", errEncoding)
		}
		topic := string(b[k : k+int(l)])
		b = b[k+int(l):]
		p, k := binary.Varint(b)
		if k <= 0 || p < math.MinInt32 || p > math.MaxInt32 {
			return nil, fmt.Errorf("%w: checkpoint partition", errEncoding)
		}
		b = b[k:]
		off, k := binary.Varint(b)
		if k <= 0 {
			return nil, fmt.Errorf("%w: checkpoint offset", errEncoding)
		}
		b = b[k:]
		tp := TopicPartition{Topic: topic, Partition: int32(p)}
		if _, dup := cp[tp]; dup {
			return nil, fmt.Errorf("%w: checkpoint repeats %s/%d", errEncoding, topic, p)
		}
		cp[tp] = off
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing checkpoint bytes", errEncoding, len(b))
	}
	return cp, nil
}
