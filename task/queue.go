package task

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// queued is one consumed record waiting in a partition queue, with the
// timestamp its source's extractor gave it.
type queued struct {
	rec *kgo.Record
	ts  int64
}

// partitionQueue buffers the raw records of one input partition of a task,
// in offset order. It is a ring buffer so steady-state queueing does not
// allocate.
type partitionQueue struct {
	topic     string
	partition int32
	buf       []queued
	head, n   int

	// partitionTime is the largest timestamp extracted on this partition,
	// passed to timestamp extractors; -1 before the first.
	partitionTime int64
	// processedTime is the largest timestamp processed from this partition
	// (Kafka Streams' partition time, committed in the offset metadata); -1
	// before the first.
	processedTime int64
	// endOffset is the partition's end offset (high watermark, or last
	// stable offset under read_committed) as of the last fetch, -1 if not
	// known yet. With the fetched position it says whether an empty queue
	// means "no more data" (lag 0) or "data not fetched yet".
	endOffset int64
	fetched   int64 // offset after the last record queued, -1 if unknown
	// consumed is the consumer's position as records and transaction
	// markers showed it (after the last one delivered) or a reset set it;
	// -1 if unknown. Unlike fetched, no guess raises it, so it is safe to
	// commit.
	consumed int64
	// committed is the offset to commit: after the last record processed
	// (or skipped), -1 when nothing was processed since assignment.
	committed int64
	// lastCommit is the position as of the last commit (or, before any, the
	// position consumption started at); -1 if not known yet. Reset rewinds
	// to it.
	lastCommit int64
	paused     bool
	// idleDeadline is when max.task.idle.ms runs out for this partition,
	// empty with lag 0; zero when not idling.
	idleDeadline time.Time
	// blockedSince is when the partition started blocking the task with
	// nothing buffered and a lag above 0; zero when not.
	blockedSince time.Time
}

func newPartitionQueue(topic string, partition int32) *partitionQueue {
	return &partitionQueue{topic: topic, partition: partition, partitionTime: -1, processedTime: -1, endOffset: -1, fetched: -1, consumed: -1, committed: -1, lastCommit: -1}
}

func (q *partitionQueue) push(r queued) {
	if q.n == len(q.buf) {
		nb := make([]queued, max(16, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = r
	q.n++
}

func (q *partitionQueue) peek() *queued { return &q.buf[q.head] }

func (q *partitionQueue) pop() queued {
	r := q.buf[q.head]
	q.buf[q.head] = queued{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return r
}

// lag is how many offsets the broker holds beyond what was fetched (Kafka's
// consumer currentLag), or -1 while the end offset or the position is not
// known.
func (q *partitionQueue) lag() int64 {
	if q.endOffset < 0 || q.fetched < 0 {
		return -1
	}
	return max(0, q.endOffset-q.fetched)
}

// commitOffset is the offset to commit for a partition that processed
// something: its head record's, or the consumer's position when nothing is
// buffered (past markers), never below what was processed.
func (q *partitionQueue) commitOffset() int64 {
	if q.n > 0 {
		return max(q.committed, q.peek().rec.Offset)
	}
	return max(q.committed, q.consumed)
}

func (q *partitionQueue) clear() {
	for q.n > 0 {
		q.pop()
	}
}
