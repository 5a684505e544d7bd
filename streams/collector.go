package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/twmb/franz-go/pkg/kgo"
)

// collector is a task's processor.RecordCollector: it produces through the
// worker's client. Production errors surface at the next commit (or are
// skipped under the Continue production handler).
type collector struct {
	w *worker
}

// manualPartition marks records whose sink chose the partition; every other
// record goes through Kafka's default key hashing.
var manualPartition = context.WithValue(context.Background(), manualKey{}, true)

type manualKey struct{}

func (c *collector) Send(topic string, partition int32, key, value []byte, headers []processor.Header, timestamp int64) error {
	r := &kgo.Record{Topic: topic, Key: key, Value: value, Headers: headers, Timestamp: time.UnixMilli(timestamp)}
	if partition >= 0 {
		r.Partition = partition
		r.Context = manualPartition
	}
	c.w.cl.Produce(c.w.ctx, r, c.w.onProduced)
	return nil
}

func (c *collector) Partitions(topic string) (int32, error) {
	return c.w.app.partitionCount(topic)
}

// onProduced runs on a kgo goroutine for every produced record.
func (w *worker) onProduced(r *kgo.Record, err error) {
	if err == nil || errors.Is(err, kgo.ErrAborting) {
		return // ErrAborting: its transaction is being aborted on purpose
	}
	// Kept even after a hard stop: a final commit in flight must see it.
	if w.app.cfg.ProductionHandler == Continue && !w.killed.Load() {
		w.log.Warn("dropping a record that could not be produced (production.exception.handler=continue)", "topic", r.Topic, "partition", r.Partition, "err", err)
		return
	}
	w.produced.set(fmt.Errorf("streams: producing to %s: %w", r.Topic, err))
}

// partitionCount returns a topic's partition count, cached: a topic's
// partition count is fixed while the App runs.
func (a *App) partitionCount(topic string) (int32, error) {
	a.partMu.Lock()
	n, ok := a.partitions[topic]
	a.partMu.Unlock()
	if ok {
		return n, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tds, err := a.adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("streams: partitions of %q: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil {
		return 0, fmt.Errorf("streams: topic %q does not exist", topic)
	}
	n = int32(len(td.Partitions))
	a.partMu.Lock()
	a.partitions[topic] = n
	a.partMu.Unlock()
	return n, nil
}

// partitioner sends records whose sink chose a partition there, and others
// by Kafka's default: murmur2 of the key, as Java's producer and Kafka
// Streams do, so Go and Java writers of a topic agree.
type partitioner struct{ def kgo.Partitioner }

func newPartitioner() kgo.Partitioner { return partitioner{def: kgo.StickyKeyPartitioner(nil)} }

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &topicPartitioner{def: p.def.ForTopic(topic)}
}

type topicPartitioner struct{ def kgo.TopicPartitioner }

func (t *topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Context == manualPartition || t.def.RequiresConsistency(r)
}

func (t *topicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Context == manualPartition {
		return int(r.Partition)
	}
	return t.def.Partition(r, n)
}

func (t *topicPartitioner) OnNewBatch() {
	if nb, ok := t.def.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}
