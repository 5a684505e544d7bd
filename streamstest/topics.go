package streamstest

import (
	"errors"
	"fmt"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
)

// ErrNoRecord is returned by OutputTopic.ReadRecord when the topic has no
// record left to read.
var ErrNoRecord = errors.New("streamstest: no record to read")

// InputTopic writes typed records into a topic the topology reads.
// It is not safe for concurrent use.
type InputTopic[K, V any] struct {
	d          *Driver
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// NewInputTopic returns an input topic for topic, serializing with the given
// serdes.
func NewInputTopic[K, V any](d *Driver, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *InputTopic[K, V] {
	return &InputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde}
}

// Pipe writes one record stamped with the driver's wall-clock time and runs
// it through the topology; see PipeAt.
func (in *InputTopic[K, V]) Pipe(key K, value V) error {
	return in.PipeAt(key, value, in.d.now)
}

// PipeAt writes one record with timestamp ts (milliseconds) and runs it
// through the topology, including every sub-topology it reaches through
// repartition topics, then commits unless the driver uses ManualCommit. The
// error is the one the task reported (a *task.Error naming topic and
// offset), if any; the driver stays usable after it.
func (in *InputTopic[K, V]) PipeAt(key K, value V, ts int64) error {
	kb, err := in.keySerde.Serialize(in.topic, key)
	if err != nil {
		return fmt.Errorf("streamstest: serializing key for %s: %w", in.topic, err)
	}
	vb, err := in.valueSerde.Serialize(in.topic, value)
	if err != nil {
		return fmt.Errorf("streamstest: serializing value for %s: %w", in.topic, err)
	}
	return in.d.pipe(in.topic, kb, vb, nil, ts)
}

// PipeTombstone writes a record with key and a null value (a deletion, for
// a table) with timestamp ts.
func (in *InputTopic[K, V]) PipeTombstone(key K, ts int64) error {
	kb, err := in.keySerde.Serialize(in.topic, key)
	if err != nil {
		return fmt.Errorf("streamstest: serializing key for %s: %w", in.topic, err)
	}
	return in.d.pipe(in.topic, kb, nil, nil, ts)
}

// PipeRaw writes one record of raw bytes (nil key or value is null), for
// testing how the topology handles input its serdes would not write.
func (in *InputTopic[K, V]) PipeRaw(key, value []byte, headers []processor.Header, ts int64) error {
	return in.d.pipe(in.topic, key, value, headers, ts)
}

// Record is one record read from an output topic. Tombstone reports a null
// value (Value is then the zero value).
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp int64
	Headers   []processor.Header
	Tombstone bool
	// NullKey says the key was null (nil bytes); Key is then K's zero value.
	NullKey bool
}

// OutputTopic reads typed records the topology wrote to a topic, in the
// order they were written. Reading consumes: two OutputTopics of one topic
// share its records. It is not safe for concurrent use.
type OutputTopic[K, V any] struct {
	d          *Driver
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// NewOutputTopic returns an output topic for topic, deserializing with the
// given serdes.
func NewOutputTopic[K, V any](d *Driver, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *OutputTopic[K, V] {
	return &OutputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde}
}

// Len returns the number of records waiting to be read.
func (o *OutputTopic[K, V]) Len() int { return len(o.d.outputs[o.topic]) }

// ReadRecord reads the next record, or fails with ErrNoRecord.
func (o *OutputTopic[K, V]) ReadRecord() (Record[K, V], error) {
	q := o.d.outputs[o.topic]
	if len(q) == 0 {
		return Record[K, V]{}, fmt.Errorf("%w on %s", ErrNoRecord, o.topic)
	}
	rec := q[0]
	o.d.outputs[o.topic] = q[1:]
	out := Record[K, V]{Timestamp: rec.Timestamp.UnixMilli(), Headers: rec.Headers, Tombstone: rec.Value == nil, NullKey: rec.Key == nil}
	var err error
	if rec.Key != nil {
		if out.Key, err = o.keySerde.Deserialize(o.topic, rec.Key); err != nil {
			return out, fmt.Errorf("streamstest: deserializing key from %s@%d: %w", o.topic, rec.Offset, err)
		}
	}
	if rec.Value != nil {
		if out.Value, err = o.valueSerde.Deserialize(o.topic, rec.Value); err != nil {
			return out, fmt.Errorf("streamstest: deserializing value from %s@%d: %w", o.topic, rec.Offset, err)
		}
	}
	return out, nil
}

// ReadRecords reads every waiting record.
func (o *OutputTopic[K, V]) ReadRecords() ([]Record[K, V], error) {
	var out []Record[K, V]
	for o.Len() > 0 {
		r, err := o.ReadRecord()
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ReadKeyValues reads every waiting record as key and value pairs (Kafka
// Streams' readKeyValuesToList).
func (o *OutputTopic[K, V]) ReadKeyValues() ([]KeyValue[K, V], error) {
	recs, err := o.ReadRecords()
	out := make([]KeyValue[K, V], len(recs))
	for i, r := range recs {
		out[i] = KeyValue[K, V]{r.Key, r.Value}
	}
	return out, err
}

// KeyValue is a key and its value.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// ReadMap reads every waiting record and returns the last value of each key,
// a tombstone removing the key (Kafka Streams' readKeyValuesToMap).
func ReadMap[K comparable, V any](o *OutputTopic[K, V]) (map[K]V, error) {
	recs, err := o.ReadRecords()
	out := make(map[K]V, len(recs))
	for _, r := range recs {
		if r.Tombstone {
			delete(out, r.Key)
		} else {
			out[r.Key] = r.Value
		}
	}
	return out, err
}
