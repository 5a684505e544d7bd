package task

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config holds the task settings that come from the application's config.
type Config struct {
	// MaxTaskIdle is max.task.idle.ms. While one of the task's partitions
	// has nothing buffered, the task does not process at all if that
	// partition's lag is unknown (not fetched yet) or above 0 (records are on
	// the broker but not here yet); once its lag is known to be 0 the task
	// waits MaxTaskIdle more, then processes the other partitions out of
	// timestamp order ("enforced processing"). So 0 still waits for the
	// lag to be known, as in Kafka Streams; negative (Kafka's -1) never
	// waits. The lag comes from AddRecords and SetEndOffset.
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
	enforced   int64 // times the task processed past an empty partition

	commitNeeded    bool
	commitRequested bool

	stores *statestore.Manager

	// procMeta is Kafka Streams' processor metadata (ProcessorMetadata:
	// keys to int64 values) read from the committed offsets' metadata,
	// merged over the partitions; committed back with every offset, as
	// Kafka Streams does. procMetaRaw is its encoding as read when a single
	// section was read, written back byte for byte.
	procMeta    map[string]int64
	procMetaRaw []byte
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

// InitPartitionTime restores a partition's time (the largest timestamp
// processed from it) from its committed offset's metadata (see
// DecodeCommitMetadata), as Kafka Streams' StreamTask does on
// initialization; the task's stream time becomes the largest of them. It
// never moves either backwards.
func (a *Active) InitPartitionTime(topic string, partition int32, ts int64) {
	q := a.queue(topic, partition)
	if q == nil {
		return
	}
	if ts > q.processedTime {
		q.processedTime = ts
	}
	if ts > q.partitionTime {
		q.partitionTime = ts
	}
	if ts > a.streamTime {
		a.streamTime = ts
	}
}

// InitProcessorMetadata takes the processor metadata (the section after the
// partition time) of a partition's committed offset metadata, merging it
// into the task's, as Kafka Streams' StreamTask merges every input
// partition's on initialization; the task commits it back unchanged with its
// offsets (Sluice writes no keys of its own). Metadata without such a
// section, or that does not decode, changes nothing.
func (a *Active) InitProcessorMetadata(md string) {
	raw := processorMetadataSection(md)
	if len(raw) == 0 {
		return
	}
	entries, err := parseProcessorMetadata(raw)
	if err != nil || len(entries) == 0 {
		return
	}
	if a.procMeta == nil {
		a.procMeta, a.procMetaRaw = map[string]int64{}, raw
	} else if !bytes.Equal(raw, a.procMetaRaw) {
		a.procMetaRaw = nil
	}
	for _, e := range entries {
		a.procMeta[e.key] = e.value
	}
}

// processorMetadataBytes is the task's processor metadata, encoded.
func (a *Active) processorMetadataBytes() []byte {
	if len(a.procMeta) == 0 {
		return nil
	}
	if a.procMetaRaw != nil {
		return a.procMetaRaw
	}
	keys := make([]string, 0, len(a.procMeta))
	for k := range a.procMeta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := binary.BigEndian.AppendUint32(nil, uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint64(b, uint64(a.procMeta[k]))
	}
	return b
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

// ResetPosition tells the task the consumer was moved to offset on a
// partition (its position was out of range and the reset policy picked
// offset): records are fetched from there on. Nothing buffered for it is
// kept.
func (a *Active) ResetPosition(topic string, partition int32, offset int64) {
	q := a.queue(topic, partition)
	if q == nil {
		return
	}
	a.buffered -= q.n
	q.clear()
	q.fetched, q.consumed = offset, offset
	q.blockedSince, q.idleDeadline = time.Time{}, time.Time{}
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
	added := 0
	if len(recs) > 0 {
		q.blockedSince = time.Time{}
	}
	for _, r := range recs {
		if r.Attrs.IsControl() {
			// A transaction marker: not data, but the position moves past
			// it, or the lag would never reach 0.
			q.fetched = r.Offset + 1
			q.consumed = r.Offset + 1
			continue
		}
		added++
		ts, err := ext(r, q.partitionTime)
		if err != nil || ts < 0 {
			ts = invalidTS(err)
		} else if ts > q.partitionTime {
			q.partitionTime = ts
		}
		q.push(queued{rec: r, ts: ts})
		q.fetched = r.Offset + 1
		q.consumed = r.Offset + 1
	}
	a.buffered += added
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
// must wait (readyToProcess says no, or nothing is buffered).
func (a *Active) next() *partitionQueue {
	if a.buffered == 0 || !a.readyToProcess() {
		return nil
	}
	var best *partitionQueue
	for _, q := range a.parts {
		if q.n > 0 && (best == nil || q.peek().ts < best.peek().ts) {
			best = q
		}
	}
	return best
}

// readyToProcess decides whether the task may process now, as Kafka
// Streams' PartitionGroup.readyToProcess: every empty partition must have a
// lag known to be 0, and have been empty that way for max.task.idle.ms; a
// partition whose lag is unknown or above 0 blocks the task (and restarts its
// idle time). Processing with some partitions empty after their idle time is
// enforced processing, counted once per call.
func (a *Active) readyToProcess() bool {
	if a.cfg.MaxTaskIdle < 0 {
		return true
	}
	var now time.Time
	queued, enforced := false, false
	for _, q := range a.parts {
		if q.n > 0 {
			q.idleDeadline = time.Time{}
			queued = true
			continue
		}
		if lag := q.lag(); lag != 0 { // unknown (-1) or records still on the broker
			q.idleDeadline = time.Time{}
			if lag > 0 && q.blockedSince.IsZero() {
				q.blockedSince = a.cfg.Now()
			}
			return false
		}
		if now.IsZero() {
			now = a.cfg.Now()
		}
		if q.idleDeadline.IsZero() {
			q.idleDeadline = now.Add(a.cfg.MaxTaskIdle)
		}
		if now.Before(q.idleDeadline) {
			return false
		}
		enforced = true
	}
	if !enforced {
		return true
	}
	if !queued {
		return false
	}
	a.enforced++
	return true
}

// EnforcedProcessing is how many times the task went on processing with an
// empty partition whose max.task.idle.ms had passed (Kafka Streams'
// enforced-processing-total).
func (a *Active) EnforcedProcessing() int64 { return a.enforced }

// lagRecheckAfter is how long a partition with nothing buffered may block
// its task with a known lag above 0 before WaitingForLag asks for its
// offsets again: its position may have moved without a record (a reset past
// data retention deleted), which only a fresh listing shows.
const lagRecheckAfter = time.Second

// WaitingForLag lists the task's partitions that block it because nothing
// is buffered for them and their lag is not known, or is above 0 and no
// record came for lagRecheckAfter: the caller learns their end and start
// offsets (SetEndOffset) so the task can decide whether to wait. Empty
// when max.task.idle.ms is negative or nothing is buffered.
func (a *Active) WaitingForLag() []TopicPartition {
	if a.cfg.MaxTaskIdle < 0 || a.buffered == 0 {
		return nil
	}
	var out []TopicPartition
	var now time.Time
	for _, q := range a.parts {
		if q.n != 0 {
			continue
		}
		lag := q.lag()
		if lag > 0 && !q.blockedSince.IsZero() {
			if now.IsZero() {
				now = a.cfg.Now()
			}
			if now.Sub(q.blockedSince) < lagRecheckAfter {
				continue
			}
		}
		if lag != 0 {
			out = append(out, TopicPartition{q.topic, q.partition})
		}
	}
	return out
}

// Position is where the task takes a partition's consumer to be (after the
// last record or marker fetched, or where consumption started), or -1 if
// not known.
func (a *Active) Position(topic string, partition int32) int64 {
	if q := a.queue(topic, partition); q != nil {
		return q.fetched
	}
	return -1
}

// StalledPartitions lists the partitions that have blocked the task for
// longer than after with nothing buffered and a lag above 0 that no fetch
// has brought records for. Kafka's consumer would see its position move
// past what it skips there (a compacted-away batch at the end of the log
// advances the position but returns nothing); kgo does not tell, so the
// caller may declare them caught up (AssumeCaughtUp) rather than wait
// forever.
func (a *Active) StalledPartitions(after time.Duration) []TopicPartition {
	var out []TopicPartition
	var now time.Time
	for _, q := range a.parts {
		if q.n == 0 && !q.blockedSince.IsZero() && q.lag() > 0 {
			if now.IsZero() {
				now = a.cfg.Now()
			}
			if now.Sub(q.blockedSince) >= after {
				out = append(out, TopicPartition{q.topic, q.partition})
			}
		}
	}
	return out
}

// AssumeCaughtUp takes a stalled partition's position to its end offset, so
// its lag is 0. Records that do arrive later still move the position to
// after them.
func (a *Active) AssumeCaughtUp(topic string, partition int32) {
	if q := a.queue(topic, partition); q != nil && q.endOffset >= 0 {
		q.fetched = max(q.fetched, q.endOffset)
		q.blockedSince = time.Time{}
	}
}

// SetEndOffset records a partition's end offset (high watermark, or last
// stable offset under read_committed) as a fetch or an offset listing
// reported it, and position, an offset the consumer's position is known to
// be at or past, or -1: for a partition whose position the task does not
// know, the offset the reset policy picked (no committed offset); for one it
// knows, the partition's log start offset. A known position below it is
// raised to it while nothing is buffered: a committed offset whose records
// retention deleted is never fetched, and Kafka's consumer lag
// (currentLag) is measured from where the consumer really is. Together they
// give the partition's lag.
func (a *Active) SetEndOffset(topic string, partition int32, end, position int64) {
	q := a.queue(topic, partition)
	if q == nil || end < 0 {
		return
	}
	q.endOffset = end
	switch {
	case position < 0:
	case q.fetched < 0:
		q.fetched = position
	case q.n == 0 && position > q.fetched:
		q.fetched = position
		q.blockedSince = time.Time{}
	}
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
			if item.ts > q.processedTime {
				q.processedTime = item.ts
			}
			if a.stores != nil {
				a.stores.SetRecord(item.ts, statestore.RecordContext{Topic: item.rec.Topic, Partition: item.rec.Partition, Offset: item.rec.Offset, Headers: item.rec.Headers})
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
// commit, or the consumer moved past transaction markers after what it
// processed (Kafka Streams' StreamTask.commitNeeded checks the consumer
// position the same way).
func (a *Active) CommitNeeded() bool {
	if a.commitNeeded || a.commitRequested {
		return true
	}
	for _, q := range a.parts {
		if q.committed >= 0 && q.commitOffset() > q.lastCommit {
			return true
		}
	}
	return false
}

// Offset is one partition's offset to commit, with the metadata that carries
// the partition's time (Kafka Streams' TopicPartitionMetadata).
type Offset struct {
	TopicPartition
	Offset   int64
	Metadata string
}

// CommitOffsets returns the offsets to commit, one per partition that
// processed anything, each with its partition's time in the metadata: the
// offset of the first record buffered and not processed, or, with nothing
// buffered, the consumer's position, which is past any transaction marker
// after the last record (Kafka Streams'
// StreamTask.committableOffsetsAndMetadata, KAFKA-6607), so a transactional
// input's committed offset reaches its end.
func (a *Active) CommitOffsets() []Offset {
	var out []Offset
	pm := a.processorMetadataBytes()
	for _, q := range a.parts {
		if q.committed >= 0 {
			out = append(out, Offset{TopicPartition{q.topic, q.partition}, q.commitOffset(), encodeCommitMetadata(q.processedTime, pm)})
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
			q.lastCommit = q.commitOffset()
		}
	}
}

// Reset takes the task back to its last commit, after a transaction that
// included its work aborted: queued records are dropped, staged and cached
// store changes are discarded, each partition's time becomes the one in
// partitionTimes (-1 if absent) and stream time their maximum, and the
// returned positions say where fetching must restart, per partition
// (partitions whose position is unknown are left out: nothing of them was
// consumed).
func (a *Active) Reset(partitionTimes map[TopicPartition]int64) (map[TopicPartition]int64, error) {
	out := map[TopicPartition]int64{}
	streamTime := int64(-1)
	for _, q := range a.parts {
		q.clear()
		q.processedTime, q.partitionTime, q.idleDeadline, q.blockedSince = -1, -1, time.Time{}, time.Time{}
		if ts, ok := partitionTimes[TopicPartition{q.topic, q.partition}]; ok && ts >= 0 {
			q.processedTime, q.partitionTime = ts, ts
			streamTime = max(streamTime, ts)
		}
		q.committed = -1
		q.paused = false
		q.consumed = -1
		if q.lastCommit >= 0 {
			out[TopicPartition{q.topic, q.partition}] = q.lastCommit
			q.fetched, q.consumed = q.lastCommit, q.lastCommit
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

// Offset-commit metadata carries a partition's time so it survives a
// restart. Kafka Streams writes TopicPartitionMetadata.encode(): base64 of a
// magic byte (2), the partition time as a big-endian int64, and the
// serialized processor metadata (Sluice writes no keys of its own, but
// commits back what it read: InitProcessorMetadata). Version 1
// had no processor metadata. Sluice before this wrote "sluice1:<time>".
const (
	commitMetadataV1     = 1
	commitMetadataLatest = 2
	oldCommitMetadata    = "sluice1:"
)

// EncodeCommitMetadata encodes a partition time for the offset-commit
// metadata exactly as Kafka Streams does, so either can take over the
// other's committed offsets.
func EncodeCommitMetadata(partitionTime int64) string {
	return encodeCommitMetadata(partitionTime, nil)
}

// encodeCommitMetadata encodes a partition time followed by serialized
// processor metadata.
func encodeCommitMetadata(partitionTime int64, processorMetadata []byte) string {
	b := make([]byte, 9, 9+len(processorMetadata))
	b[0] = commitMetadataLatest
	binary.BigEndian.PutUint64(b[1:], uint64(partitionTime))
	return base64.StdEncoding.EncodeToString(append(b, processorMetadata...))
}

// processorMetadataSection is the serialized processor metadata of
// version-2 offset commit metadata, or nil.
func processorMetadataSection(md string) []byte {
	b, err := base64.StdEncoding.DecodeString(md)
	if err != nil || len(b) <= 9 || b[0] != commitMetadataLatest {
		return nil
	}
	return b[9:]
}

// DecodeCommitMetadata decodes a partition time from offset-commit
// metadata, as Kafka Streams' TopicPartitionMetadata.decode (versions 1 and
// 2) does, and Sluice's older "sluice1:<time>". Empty metadata gives -1
// (unknown) and no error. Metadata Kafka Streams would warn about (an
// unknown version, bytes that do not decode) gives the time Kafka Streams
// would take (-1, or the time read before the damage) with an error saying
// why; Kafka Streams' processor metadata after the time is skipped.
func DecodeCommitMetadata(md string) (int64, error) {
	if md == "" {
		return -1, nil
	}
	if rest, ok := strings.CutPrefix(md, oldCommitMetadata); ok {
		ts, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || ts < -1 {
			return -1, fmt.Errorf("task: offset commit metadata %q has a bad stream time", md)
		}
		return ts, nil
	}
	b, err := base64.StdEncoding.DecodeString(md)
	if err != nil || len(b) == 0 {
		return -1, fmt.Errorf("task: offset commit metadata %q is neither Kafka Streams' nor Sluice's", md)
	}
	switch b[0] {
	case commitMetadataV1, commitMetadataLatest:
		if len(b) < 9 {
			return -1, fmt.Errorf("task: offset commit metadata %q is too short for a partition time", md)
		}
		ts := int64(binary.BigEndian.Uint64(b[1:9]))
		if b[0] == commitMetadataLatest && len(b) > 9 {
			if err := checkProcessorMetadata(b[9:]); err != nil {
				return ts, fmt.Errorf("task: offset commit metadata %q: %w", md, err)
			}
		}
		return ts, nil
	default:
		return -1, fmt.Errorf("task: offset commit metadata %q has version %d; versions up to %d are known", md, b[0], commitMetadataLatest)
	}
}

// checkProcessorMetadata checks the layout of Kafka Streams' serialized
// ProcessorMetadata (see parseProcessorMetadata).
func checkProcessorMetadata(b []byte) error {
	_, err := parseProcessorMetadata(b)
	return err
}

type processorMetadataEntry struct {
	key   string
	value int64
}

// parseProcessorMetadata decodes Kafka Streams' serialized
// ProcessorMetadata: an int32 count, then per entry an int32 key length, the
// UTF-8 key and an int64 value.
func parseProcessorMetadata(b []byte) ([]processorMetadataEntry, error) {
	if len(b) < 4 {
		return nil, errors.New("truncated processor metadata")
	}
	n := int32(binary.BigEndian.Uint32(b))
	b = b[4:]
	var out []processorMetadataEntry
	for range max(n, 0) {
		if len(b) < 4 {
			return nil, errors.New("truncated processor metadata")
		}
		kl := int32(binary.BigEndian.Uint32(b))
		if kl < 0 || int64(len(b)) < 4+int64(kl)+8 {
			return nil, errors.New("truncated processor metadata")
		}
		out = append(out, processorMetadataEntry{string(b[4 : 4+kl]), int64(binary.BigEndian.Uint64(b[4+kl:]))})
		b = b[4+int(kl)+8:]
	}
	return out, nil
}
