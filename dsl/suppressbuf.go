package dsl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sluicestreams/sluice/processor"
)

// The suppression buffer's values in Kafka Streams' layout (BufferValue
// and ProcessorRecordContext, as InMemoryTimeOrderedKeyValueChangeBuffer
// logs them with the header v=3), all integers big-endian:
//
//	record context: timestamp int64, offset int64, topic (int32 length,
//	    UTF-8), partition int32, header count int32, then per header the
//	    key (int32 length, UTF-8) and the value (int32 length or -1 for
//	    null, bytes)
//	prior value: int32 length or -1 for null, bytes
//	old value: int32 length, -1 for null or -2 for "equal to the prior
//	    value", bytes
//	new value: int32 length or -1 for null, bytes
//	buffer time: int64
const (
	nullSentinel      = -1
	duplicateSentinel = -2
)

// suppressChangelogHeaders is the header Kafka Streams puts on every value
// record of a suppression buffer's changelog: the layout's version.
var suppressChangelogHeaders = []processor.Header{{Key: "v", Value: []byte{3}}}

type recordContext struct {
	timestamp, offset int64
	topic             string
	partition         int32
	headers           []processor.Header
}

type bufferValue struct {
	ctx                            recordContext
	priorValue, oldValue, newValue []byte // nil is null
}

func appendInt32(b []byte, n int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(n)) }

func appendSized(b, v []byte) []byte {
	if v == nil {
		return appendInt32(b, nullSentinel)
	}
	return append(binary.BigEndian.AppendUint32(b, uint32(len(v))), v...)
}

// appendTo appends the value and the buffer time to b.
func (v bufferValue) appendTo(b []byte, time int64) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(v.ctx.timestamp))
	b = binary.BigEndian.AppendUint64(b, uint64(v.ctx.offset))
	b = appendSized(b, []byte(v.ctx.topic))
	b = binary.BigEndian.AppendUint32(b, uint32(v.ctx.partition))
	b = binary.BigEndian.AppendUint32(b, uint32(len(v.ctx.headers)))
	for _, h := range v.ctx.headers {
		b = appendSized(b, []byte(h.Key))
		b = appendSized(b, h.Value)
	}
	b = appendSized(b, v.priorValue)
	switch {
	case v.oldValue == nil:
		b = appendInt32(b, nullSentinel)
	case v.priorValue != nil && bytes.Equal(v.priorValue, v.oldValue):
		b = appendInt32(b, duplicateSentinel)
	default:
		b = appendSized(b, v.oldValue)
	}
	b = appendSized(b, v.newValue)
	return binary.BigEndian.AppendUint64(b, uint64(time))
}

var errShortBuffer = errors.New("truncated buffer value")

type bufReader struct {
	b   []byte
	err error
}

func (r *bufReader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = errShortBuffer
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *bufReader) int32() int32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (r *bufReader) int64() int64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// sized reads a length-prefixed array; -1 is null, other negatives are
// corrupt.
func (r *bufReader) sized() []byte {
	n := r.int32()
	if n == nullSentinel || r.err != nil {
		return nil
	}
	b := r.take(int(n))
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// decodeBufferValue reads a value in the version 3 layout and its buffer
// time.
func decodeBufferValue(data []byte) (bufferValue, int64, error) {
	r := &bufReader{b: data}
	var v bufferValue
	v.ctx.timestamp = r.int64()
	v.ctx.offset = r.int64()
	v.ctx.topic = string(r.sized())
	v.ctx.partition = r.int32()
	if n := r.int32(); n > 0 && r.err == nil {
		if n > int32(len(r.b)/8) { // every header takes at least 8 bytes
			return v, 0, fmt.Errorf("%w: %d headers", errShortBuffer, n)
		}
		v.ctx.headers = make([]processor.Header, n)
		for i := range v.ctx.headers {
			v.ctx.headers[i] = processor.Header{Key: string(r.sized()), Value: r.sized()}
		}
	}
	v.priorValue = r.sized()
	switch n := r.int32(); {
	case r.err != nil:
	case n == duplicateSentinel:
		v.oldValue = v.priorValue
	case n == nullSentinel:
	default:
		if b := r.take(int(n)); b != nil {
			v.oldValue = append([]byte{}, b...)
		}
	}
	v.newValue = r.sized()
	time := r.int64()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the buffer time", len(r.b))
	}
	return v, time, r.err
}

// bufferKey orders the buffer: by time, then by key bytes, as Kafka
// Streams' BufferKey.
type bufferKey struct {
	time int64
	key  []byte
}

// bufferOrder is a min-heap of bufferKeys (container/heap).
type bufferOrder []bufferKey

func (h bufferOrder) Len() int { return len(h) }
func (h bufferOrder) Less(i, j int) bool {
	if h[i].time != h[j].time {
		return h[i].time < h[j].time
	}
	return bytes.Compare(h[i].key, h[j].key) < 0
}
func (h bufferOrder) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *bufferOrder) Push(x any)   { *h = append(*h, x.(bufferKey)) }
func (h *bufferOrder) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
