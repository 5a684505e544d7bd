package task

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config holds the task settings that come from the application's config.
type Config struct {
	// MaxTaskIdle is max.task.idle.ms: how long a task with several input
	// partitions waits for an empty partition that may still have data before
	// processing the others out of timestamp order. 0 waits only while the
	// partition's lag is known to be non-zero (and never longer than the
	// fetch that tells); negative never waits.
	MaxTaskIdle time.Duration
	// BufferedRecordsPerPartition is buffered.records.per.partition: above
	// it, fetching pauses for the partition until the queue drains below it.
	BufferedRecordsPerPartition int
	// Now returns the wall-clock time; nil means time.Now.
	Now func() time.Time
	// Stores, if set, are the task's state stores: the task stamps them with
	// each record's timestamp, serves them to processors (unless
	// TaskEnv.Stores is set), and closes them with the task.
	Stores *statestore.Manager
}

// Active is a running task: its partition queues, stream time and the
// processor graph they feed. Kafka Streams' StreamTask with its
// PartitionGroup.
//
// An Active is not safe for concurrent use: one worker goroutine owns it.
type Active struct {
	id    ID
	graph *processor.TaskGraph
	cfg   Config
	parts []*partitionQueue
	byTP  map[string]map[int32]*partitionQueue
	extr  map[string]processor.TimestampExtractor

	streamTime int64
	buffered   int
	idleSince  time.Time // when processing first blocked on an empty partition

	commitNeeded    bool
	commitRequested bool

	stores *statestore.Manager
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// NewActive makes the task id of topology top, reading the given input
// partitions. env is passed to the task's processor graph, with StreamTime
// and RequestCommit filled in by the task. Call Init before processing.
func NewActive(id ID, partitions []TopicPartition, top *processor.Topology, env processor.TaskEnv, cfg Config) (*Active, error) {
	if cfg.BufferedRecordsPerPartition <= 0 {
		cfg.BufferedRecordsPerPartition = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sources, err := top.SourceTopics()
	if err != nil {
		return nil, err
	}
	a := &Active{id: id, cfg: cfg, byTP: map[string]map[int32]*partitionQueue{}, extr: map[string]processor.TimestampExtractor{}, streamTime: -1}
	for _, st := range sources {
		name := st.Topic
		if st.Internal {
			name = processor.InternalTopicName(env.ApplicationID, st.Topic)
		}
		a.extr[name] = st.Extractor
	}
	for _, tp := range partitions {
		if _, ok := a.extr[tp.Topic]; !ok {
			return nil, fmt.Errorf("task: %s: topic %q is not a source of the topology", id, tp.Topic)
		}
		q := newPartitionQueue(tp.Topic, tp.Partition)
		a.parts = append(a.parts, q)
		if a.byTP[tp.Topic] == nil {
			a.byTP[tp.Topic] = map[int32]*partitionQueue{}
		}
		a.byTP[tp.Topic][tp.Partition] = q
	}
	a.stores = cfg.Stores
	if a.stores != nil && env.Stores == nil {
		m := a.stores
		env.Stores = func(name string) (processor.StateStore, error) {
			st, ok := m.Store(name)
			if !ok {
				return nil, fmt.Errorf("task: %s has no state store %q: %w", id, name, processor.ErrUnknownStore)
			}
			return st, nil
		}
	}
	env.StreamTime = a.StreamTime
	userCommit := env.RequestCommit
	env.RequestCommit = func() {
		a.RequestCommit()
		if userCommit != nil {
			userCommit()
		}
	}
	if a.graph, err = top.NewTaskGraph(id, env); err != nil {
		return nil, err
	}
	return a, nil
}

// Init initializes the task's processors.
func (a *Active) Init() error {
	if err := a.graph.Init(); err != nil {
		return &Error{Task: a.id, Offset: -1, Err: err}
	}
	return nil
}

// ID is the task's id.
func (a *Active) ID() ID { return a.id }

// Graph is the task's processor graph.
func (a *Active) Graph() *processor.TaskGraph { return a.graph }

// Partitions lists the task's input partitions.
func (a *Active) Partitions() []TopicPartition {
	out := make([]TopicPartition, len(a.parts))
	for i, q := range a.parts {
		out[i] = TopicPartition{q.topic, q.partition}
	}
	return out
}

// StreamTime is the largest timestamp the task has processed, or -1.
func (a *Active) StreamTime() int64 { return a.streamTime }

// InitStreamTime restores stream time from committed offset metadata (see
// EncodeCommitMetadata); it never moves stream time backwards.
func (a *Active) InitStreamTime(ts int64) {
	if ts > a.streamTime {
		a.streamTime = ts
	}
}

// SetPosition records where consumption of a partition starts (the committed
// offset), so a task restarted with nothing to process still commits the same
// position and knows its lag.
func (a *Active) SetPosition(topic string, partition int32, offset int64) {
	if q := a.queue(topic, partition); q != nil {
		if q.fetched < 0 {
			q.fetched = offset
		}
		if q.lastCommit < 0 {
			q.lastCommit = offset
		}
	}
}

func (a *Active) queue(topic string, partition int32) *partitionQueue {
	return a.byTP[topic][partition]
}

// InvalidTimestampError is raised for a record whose timestamp extractor
// failed or returned a negative timestamp.
type InvalidTimestampError struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64
	Err       error
}

func (e *InvalidTimestampError) Error() string {
	msg := "task: invalid timestamp " + strconv.FormatInt(e.Timestamp, 10) + " for " + e.Topic + "[" + strconv.Itoa(int(e.Partition)) + "]@" + strconv.FormatInt(e.Offset, 10)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *InvalidTimestampError) Unwrap() error { return e.Err }

// AddRecords queues consumed records of one partition of the task, in offset
// order, and records the partition's end offset as the fetch reported it
// (pass -1 if unknown). It returns whether the partition's queue is now over
// buffered.records.per.partition, so the caller pauses fetching it.
//
// A record whose timestamp cannot be extracted is still queued; Process
// reports it through the error handler when its turn comes, so nothing is
// dropped silently.
func (a *Active) AddRecords(topic string, partition int32, recs []*kgo.Record, endOffset int64) (pause bool, err error) {
	q := a.queue(topic, partition)
	if q == nil {
		return false, fmt.Errorf("task: %s does not own %s[%d]", a.id, topic, partition)
	}
	ext := a.extr[topic]
	if ext == nil {
		ext = processor.RecordTimestamp
	}
	if len(recs) > 0 && q.lastCommit < 0 {
		q.lastCommit = recs[0].Offset
	}
	for _, r := range recs {
		ts, err := ext(r, q.partitionTime)
		if err != nil || ts < 0 {
			ts = invalidTS(err)
		} else if ts > q.partitionTime {
			q.partitionTime = ts
		}
		q.push(queued{rec: r, ts: ts})
		q.fetched = r.Offset + 1
	}
	a.buffered += len(recs)
	if endOffset >= 0 {
		q.endOffset = endOffset
	}
	if !q.paused && q.n > a.cfg.BufferedRecordsPerPartition {
		q.paused = true
		return true, nil
	}
	return false, nil
}

// invalid timestamps are queued with a marker so ordering still works (they
// sort first and fail in Process).
const invalidTimestamp = -1 << 62

func invalidTS(error) int64 { return invalidTimestamp }

// Buffered is the number of queued records over all partitions.
func (a *Active) Buffered() int { return a.buffered }

// Resumable returns the partitions that were paused and have drained to at
// most half of buffered.records.per.partition, and marks them resumed.
func (a *Active) Resumable() []TopicPartition {
	var out []TopicPartition
	for _, q := range a.parts {
		if q.paused && q.n <= a.cfg.BufferedRecordsPerPartition/2 {
			q.paused = false
			out = append(out, TopicPartition{q.topic, q.partition})
		}
	}
	return out
}

// ErrorHandler decides what happens to a record that fails: return nil to skip
// it (its offset is committed as processed) or an error to stop the task.
type ErrorHandler func(rec *kgo.Record, err error) error

// next picks the partition whose head record goes next: the lowest timestamp
// among partition heads (ties to the first partition), or nil when the task
// should wait for an empty partition.
func (a *Active) next() *partitionQueue {
	var best *partitionQueue
	waiting := false
	for _, q := range a.parts {
		if q.n == 0 {
			if !q.lagKnownZero() && a.cfg.MaxTaskIdle >= 0 {
				waiting = true
			}
			continue
		}
		if best == nil || q.peek().ts < best.peek().ts {
			best = q
		}
	}
	if best == nil {
		a.idleSince = time.Time{}
		return nil
	}
	if waiting && len(a.parts) > 1 {
		now := a.cfg.Now()
		if a.idleSince.IsZero() {
			a.idleSince = now
		}
		if now.Sub(a.idleSince) < a.cfg.MaxTaskIdle {
			return nil
		}
		// Waited max.task.idle.ms: process out of order (enforced processing).
		return best
	}
	a.idleSince = time.Time{}
	return best
}

// Process processes up to max records, picking by timestamp, and fires
// stream-time punctuators as stream time advances. It returns how many
// records it took from the queues (processed or skipped by onError).
// Errors are *Error values naming task, topic, partition and offset.
func (a *Active) Process(max int, onError ErrorHandler) (int, error) {
	done := 0
	for done < max {
		q := a.next()
		if q == nil {
			break
		}
		item := q.pop()
		a.buffered--
		done++
		var err error
		if item.ts == invalidTimestamp {
			ext := a.extr[item.rec.Topic]
			if ext == nil {
				ext = processor.RecordTimestamp
			}
			ts, xerr := ext(item.rec, q.partitionTime)
			err = &InvalidTimestampError{Topic: item.rec.Topic, Partition: item.rec.Partition, Offset: item.rec.Offset, Timestamp: ts, Err: xerr}
		} else {
			if item.ts > a.streamTime {
				a.streamTime = item.ts
			}
			if a.stores != nil {
				a.stores.SetTimestamp(item.ts)
			}
			err = a.graph.Process(item.rec, item.ts)
		}
		if err != nil {
			if onError == nil {
				return done, a.wrap(item.rec, err)
			}
			if herr := onError(item.rec, a.wrap(item.rec, err)); herr != nil {
				return done, herr
			}
		}
		q.committed = item.rec.Offset + 1
		a.commitNeeded = true
		if _, err := a.graph.PunctuateStreamTime(); err != nil {
			return done, &Error{Task: a.id, Topic: item.rec.Topic, Partition: item.rec.Partition, Offset: -1, Err: err}
		}
	}
	return done, nil
}

func (a *Active) wrap(rec *kgo.Record, err error) error {
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	return &Error{Task: a.id, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Err: err}
}

// PunctuateWallClock fires due wall-clock punctuators.
func (a *Active) PunctuateWallClock() error {
	if a.stores != nil {
		a.stores.SetTimestamp(a.cfg.Now().UnixMilli())
	}
	fired, err := a.graph.PunctuateWallClock()
	if fired {
		a.commitNeeded = true
	}
	if err != nil {
		return &Error{Task: a.id, Offset: -1, Err: err}
	}
	return nil
}

// RequestCommit marks that the processor asked for a commit
// (Context.Commit).
func (a *Active) RequestCommit() { a.commitRequested = true }

// CommitRequested reports whether a processor asked for a commit since the
// last one.
func (a *Active) CommitRequested() bool { return a.commitRequested }

// CommitNeeded reports whether the task processed anything since its last
// commit.
func (a *Active) CommitNeeded() bool { return a.commitNeeded || a.commitRequested }

// Offset is one partition's offset to commit, with the metadata that carries
// stream time.
type Offset struct {
	TopicPartition
	Offset   int64
	Metadata string
}

// CommitOffsets returns the offsets of the records processed so far, one per
// partition that processed anything, with stream time in the metadata.
// Records buffered but not processed are not included.
func (a *Active) CommitOffsets() []Offset {
	var out []Offset
	meta := EncodeCommitMetadata(a.streamTime)
	for _, q := range a.parts {
		if q.committed >= 0 {
			out = append(out, Offset{TopicPartition{q.topic, q.partition}, q.committed, meta})
		}
	}
	return out
}

// Committed tells the task its offsets were committed.
func (a *Active) Committed() {
	a.commitNeeded = false
	a.commitRequested = false
	for _, q := range a.parts {
		if q.committed >= 0 {
			q.lastCommit = q.committed
		}
	}
}

// Reset takes the task back to its last commit, after a transaction that
// included its work aborted: queued records are dropped, staged and cached
// store changes are discarded, stream time becomes streamTime (if larger
// than -1), and the returned positions say where fetching must restart, per
// partition (partitions whose position is unknown are left out: nothing of
// them was consumed).
func (a *Active) Reset(streamTime int64) (map[TopicPartition]int64, error) {
	out := map[TopicPartition]int64{}
	for _, q := range a.parts {
		q.clear()
		q.committed = -1
		q.paused = false
		if q.lastCommit >= 0 {
			out[TopicPartition{q.topic, q.partition}] = q.lastCommit
			q.fetched = q.lastCommit
		}
	}
	a.buffered = 0
	a.streamTime = streamTime
	a.commitNeeded, a.commitRequested = false, false
	if a.stores != nil {
		if err := a.stores.Abort(); err != nil {
			return out, &Error{Task: a.id, Offset: -1, Err: err}
		}
	}
	return out, nil
}

// Stores returns the task's state stores, or nil.
func (a *Active) Stores() *statestore.Manager { return a.stores }

// FlushState writes cached store changes to the engine and the changelogs.
// The commit sequence is: FlushState, flush the producer, commit offsets,
// then the stores' Commit with the changelog offsets.
func (a *Active) FlushState() error {
	if a.stores == nil {
		return nil
	}
	if err := a.stores.Flush(); err != nil {
		return &Error{Task: a.id, Offset: -1, Err: err}
	}
	return nil
}

// Close closes the processor graph, drops queued records, and releases the
// task's stores (without flushing them: flush and commit first for a clean
// close).
func (a *Active) Close() error {
	for _, q := range a.parts {
		q.clear()
	}
	a.buffered = 0
	err := a.graph.Close()
	if a.stores != nil {
		err = errors.Join(err, a.stores.Close())
	}
	if err != nil {
		return &Error{Task: a.id, Offset: -1, Err: err}
	}
	return nil
}

// Error is an error in a task, naming where it happened. Offset is -1 when
// no single record is to blame (punctuation, close).
type Error struct {
	Task      ID
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *Error) Error() string {
	if e.Offset < 0 {
		return "task " + e.Task.String() + ": " + e.Err.Error()
	}
	return "task " + e.Task.String() + " at " + e.Topic + "[" + strconv.Itoa(int(e.Partition)) + "]@" + strconv.FormatInt(e.Offset, 10) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// commitMetadataPrefix versions the offset-commit metadata. Kafka Streams
// stores a base64 blob; ours is readable: "sluice1:<streamTime>".
const commitMetadataPrefix = "sluice1:"

// EncodeCommitMetadata encodes stream time for the offset-commit metadata.
func EncodeCommitMetadata(streamTime int64) string {
	return commitMetadataPrefix + strconv.FormatInt(streamTime, 10)
}

// DecodeCommitMetadata decodes stream time from offset-commit metadata.
// Empty metadata (a group that committed without Sluice) gives -1 and no
// error; anything else unreadable is an error.
func DecodeCommitMetadata(md string) (int64, error) {
	if md == "" {
		return -1, nil
	}
	if len(md) <= len(commitMetadataPrefix) || md[:len(commitMetadataPrefix)] != commitMetadataPrefix {
		return -1, fmt.Errorf("task: offset commit metadata %q is not Sluice's", md)
	}
	ts, err := strconv.ParseInt(md[len(commitMetadataPrefix):], 10, 64)
	if err != nil || ts < -1 {
		return -1, fmt.Errorf("task: offset commit metadata %q has a bad stream time", md)
	}
	return ts, nil
}
