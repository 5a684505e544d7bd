package streams

import (
	"errors"
	"strconv"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/task"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead-letter record headers, added to the original record's headers.
const (
	HeaderDLQTopic     = "sluice.dlq.topic"
	HeaderDLQPartition = "sluice.dlq.partition"
	HeaderDLQOffset    = "sluice.dlq.offset"
	HeaderDLQError     = "sluice.dlq.error"
	HeaderDLQKind      = "sluice.dlq.kind" // "deserialization" or "processing"
	HeaderDLQNode      = "sluice.dlq.node"
)

// handleRecordError applies the configured handler to a record that failed
// in a task. It runs on the worker goroutine with w.mu held.
func (w *worker) handleRecordError(rec *kgo.Record, err error) error {
	kind, resp := "processing", w.app.cfg.ProcessingHandler
	var de *processor.DeserializationError
	var ite *task.InvalidTimestampError
	if errors.As(err, &de) || errors.As(err, &ite) {
		kind, resp = "deserialization", w.app.cfg.DeserializationHandler
	}
	switch resp {
	case Continue:
		w.log.Warn("skipping a record that failed", "kind", kind, "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		w.app.metrics.skipped(kind)
		return nil
	case DeadLetter:
		node := ""
		var ne *processor.NodeError
		switch {
		case de != nil:
			node = de.Node
		case errors.As(err, &ne):
			node = ne.Node
		}
		headers := append(append([]kgo.RecordHeader(nil), rec.Headers...),
			kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(rec.Topic)},
			kgo.RecordHeader{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
			kgo.RecordHeader{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
			kgo.RecordHeader{Key: HeaderDLQError, Value: []byte(err.Error())},
			kgo.RecordHeader{Key: HeaderDLQKind, Value: []byte(kind)},
			kgo.RecordHeader{Key: HeaderDLQNode, Value: []byte(node)},
		)
		dlq := &kgo.Record{Topic: w.app.cfg.DeadLetterTopic, Key: rec.Key, Value: rec.Value, Headers: headers, Timestamp: rec.Timestamp}
		w.cl.Produce(w.ctx, dlq, w.onProduced)
		w.log.Warn("sent a failed record to the dead-letter topic", "kind", kind, "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "dlq", w.app.cfg.DeadLetterTopic, "err", err)
		w.app.metrics.skipped(kind)
		return nil
	}
	return err
}
