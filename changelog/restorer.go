package changelog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/sluicestreams/sluice/statestore"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Listener hears about restoration, as Kafka Streams' StateRestoreListener.
// Its methods are called on the Restorer's goroutine, one at a time; they
// must not block.
type Listener interface {
	// OnRestoreStart: restoring store (of task) from offset from up to end
	// (exclusive) of its changelog partition.
	OnRestoreStart(task, store, topic string, partition int32, from, end int64)
	// OnBatchRestored: n records up to offset batchEnd were applied.
	OnBatchRestored(task, store, topic string, partition int32, batchEnd int64, n int)
	// OnRestoreEnd: the store is at the changelog end.
	OnRestoreEnd(task, store, topic string, partition int32, restored int64, took time.Duration)
}

// StandbyListener hears about standby tasks tailing their changelogs, as
// Kafka Streams' StandbyUpdateListener. Called on the Restorer's goroutine
// (OnUpdateSuspended on the caller of Cancel); must not block.
type StandbyListener interface {
	OnUpdateStart(task, store, topic string, partition int32, from int64)
	OnBatchLoaded(task, store, topic string, partition int32, batchEnd int64, n int)
	OnUpdateSuspended(task, store, topic string, partition int32, applied int64, reason string)
}

// StoreRestore is one store of a job: its changelog partition and the range
// of offsets to apply.
type StoreRestore struct {
	Store     string
	Topic     string
	Partition int32
	From, End int64 // From < 0: the log start
	// Headers are the store's own changelog headers
	// (statestore.Spec.ChangelogHeaders): a store that writes a format
	// version header reads only records of that version.
	Headers  []kgo.RecordHeader
	restored int64
	done     bool
}

// Job restores the stores of one task. Its Manager must not be used by the
// task's goroutine until Done is closed (or the job is cancelled).
type Job struct {
	Task    string
	Manager *statestore.Manager
	Stores  []*StoreRestore
	// Standby jobs never finish: they keep applying what arrives on the
	// changelogs until cancelled (a standby or warmup task).
	Standby bool

	mu        sync.Mutex // held while a batch is applied; Cancel takes it
	cancelled bool
	remaining int
	start     time.Time
	restored  int64
	err       error
	done      chan struct{}
}

// Done is closed when every store of the job reached its changelog end, or
// restoring failed (see Err).
func (j *Job) Done() <-chan struct{} { return j.done }

// Err is the error that ended the job, if any. Valid after Done.
func (j *Job) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Restored is the number of changelog records applied.
func (j *Job) Restored() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.restored
}

// Restorer reads changelog partitions with a client of its own (direct
// partition consumption, not a group member) and applies them to the stores
// of tasks that are being restored. One Restorer serves an instance.
//
// Its methods are safe for concurrent use; Run must run on one goroutine.
type Restorer struct {
	cl       *kgo.Client
	adm      *kadm.Client
	readCmtd bool
	listener Listener
	log      *slog.Logger

	mu      sync.Mutex
	parts   map[string]map[int32]*partJob
	standby StandbyListener
}

// SetStandbyListener sets the listener of standby jobs. Call it before Run.
func (r *Restorer) SetStandbyListener(l StandbyListener) { r.standby = l }

type partJob struct {
	job   *Job
	store *StoreRestore
}

// RestoreClientOpts are the options the restore client needs on top of the
// seed brokers and the caller's own.
func RestoreClientOpts(readCommitted bool) []kgo.Opt {
	iso := kgo.ReadUncommitted()
	if readCommitted {
		iso = kgo.ReadCommitted()
	}
	return []kgo.Opt{
		kgo.FetchIsolationLevel(iso),
		// Transaction markers arrive as control records, so a partition
		// whose last offsets are markers still reaches its end.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(32 << 20),
		kgo.FetchMaxPartitionBytes(16 << 20),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
}

// NewRestorer returns a Restorer over cl, a client made with
// RestoreClientOpts and no topics to consume. listener and log may be nil.
func NewRestorer(cl *kgo.Client, readCommitted bool, listener Listener, log *slog.Logger) *Restorer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Restorer{cl: cl, adm: kadm.NewClient(cl), readCmtd: readCommitted, listener: listener, log: log, parts: map[string]map[int32]*partJob{}}
}

// Prepare works out what a task's logged stores need: from each store's
// checkpoint (or the log start, for in-memory stores and stores without
// one) to the changelog's high watermark; under read_committed, restoring waits
// for transactions open below it to be decided.
// A checkpoint beyond the end (the changelog was deleted and recreated)
// wipes the task's stores, which are then restored from the start.
func (r *Restorer) Prepare(ctx context.Context, task string, partition int32, applicationID string, m *statestore.Manager) (*Job, error) {
	job := &Job{Task: task, Manager: m, done: make(chan struct{})}
	var topics []string
	sourced := map[*StoreRestore]bool{}
	for _, spec := range m.Specs() {
		if !spec.Logging && spec.SourceTopic == "" {
			continue
		}
		sr := &StoreRestore{Store: spec.Name, Topic: statestore.ChangelogTopic(applicationID, spec.Name), Partition: partition, From: -1, Headers: spec.ChangelogHeaders}
		if spec.SourceTopic != "" {
			sr.Topic = spec.SourceTopic
			sourced[sr] = true
		}
		if !spec.InMemory {
			cp, ok, err := m.Checkpoint(spec.Name)
			if err != nil {
				return nil, err
			}
			if ok {
				sr.From = cp
			}
		}
		job.Stores = append(job.Stores, sr)
		topics = append(topics, sr.Topic)
	}
	if len(job.Stores) == 0 {
		return job, nil
	}
	// The high watermark tells whether a checkpoint is past the log (the
	// changelog was recreated).
	hwm, err := r.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("changelog: end offsets for task %s: %w", task, err)
	}
	// The restore target is the high watermark under either isolation:
	// under read_committed the restore client then waits for transactions
	// still open below it (another instance's, a dead one's until its
	// timeout) to be decided, rather than stopping at the last stable
	// offset and missing what other producers committed after it.
	ends := hwm
	// A store materializing a source topic is restored up to the offset the
	// application committed: records after it are processed again.
	var committed kadm.OffsetResponses
	if len(sourced) > 0 {
		if committed, err = r.adm.FetchOffsets(ctx, applicationID); err != nil {
			return nil, fmt.Errorf("changelog: committed offsets for task %s: %w", task, err)
		}
	}
	wipe := false
	for _, sr := range job.Stores {
		lo, ok := ends.Lookup(sr.Topic, sr.Partition)
		if !ok || lo.Err != nil {
			e := error(kerr.UnknownTopicOrPartition)
			if ok {
				e = lo.Err
			}
			return nil, fmt.Errorf("changelog: end offset of %s[%d] (store %q of task %s): %w", sr.Topic, sr.Partition, sr.Store, task, e)
		}
		sr.End = lo.Offset
		if sourced[sr] {
			sr.End = 0 // nothing committed yet: processing builds the store
			if o, ok := committed.Lookup(sr.Topic, sr.Partition); ok && o.Err == nil && o.At > 0 {
				sr.End = min(o.At, lo.Offset)
			}
		}
		if h, ok := hwm.Lookup(sr.Topic, sr.Partition); ok && h.Err == nil && sr.From > h.Offset {
			r.log.Warn("checkpoint is beyond the changelog end (was the changelog recreated?); restoring the task from scratch", "task", task, "store", sr.Store, "checkpoint", sr.From, "end", sr.End)
			wipe = true
		}
	}
	if wipe {
		if err := m.Wipe(); err != nil {
			return nil, err
		}
		for _, sr := range job.Stores {
			sr.From = -1
		}
	}
	return job, nil
}

// Add starts restoring job. A job with nothing to restore is done at once.
func (r *Restorer) Add(job *Job) {
	job.start = time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	add := map[string]map[int32]kgo.Offset{}
	for _, sr := range job.Stores {
		if job.Standby {
			sr.End = math.MaxInt64
		} else if sr.End <= 0 || (sr.From >= 0 && sr.From >= sr.End) {
			sr.done = true
			continue
		}
		job.remaining++
		if r.parts[sr.Topic] == nil {
			r.parts[sr.Topic] = map[int32]*partJob{}
		}
		r.parts[sr.Topic][sr.Partition] = &partJob{job: job, store: sr}
		off := kgo.NewOffset().AtStart()
		if sr.From >= 0 {
			off = kgo.NewOffset().At(sr.From)
		}
		if add[sr.Topic] == nil {
			add[sr.Topic] = map[int32]kgo.Offset{}
		}
		add[sr.Topic][sr.Partition] = off
		switch {
		case job.Standby && r.standby != nil:
			r.standby.OnUpdateStart(job.Task, sr.Store, sr.Topic, sr.Partition, sr.From)
		case !job.Standby && r.listener != nil:
			r.listener.OnRestoreStart(job.Task, sr.Store, sr.Topic, sr.Partition, sr.From, sr.End)
		}
	}
	if job.remaining == 0 {
		close(job.done)
		return
	}
	r.cl.AddConsumePartitions(add)
}

// Cancel stops restoring job (its task was revoked). It waits for a batch
// being applied to finish, so the caller may close the Manager afterwards.
func (r *Restorer) Cancel(job *Job) {
	r.mu.Lock()
	rm := map[string][]int32{}
	for _, sr := range job.Stores {
		if pj := r.parts[sr.Topic][sr.Partition]; pj != nil && pj.job == job {
			delete(r.parts[sr.Topic], sr.Partition)
			rm[sr.Topic] = append(rm[sr.Topic], sr.Partition)
		}
	}
	r.mu.Unlock()
	if len(rm) > 0 {
		r.cl.RemoveConsumePartitions(rm)
	}
	job.mu.Lock()
	job.cancelled = true
	if job.Standby && r.standby != nil {
		for _, sr := range job.Stores {
			r.standby.OnUpdateSuspended(job.Task, sr.Store, sr.Topic, sr.Partition, sr.restored, "cancelled")
		}
	}
	job.mu.Unlock()
}

// Run polls changelogs and applies them until ctx ends.
func (r *Restorer) Run(ctx context.Context) {
	var batch []statestore.ChangelogRecord
	lastCheck := time.Now()
	for ctx.Err() == nil {
		if time.Since(lastCheck) >= logStartCheckInterval {
			lastCheck = time.Now()
			r.finishDeleted(ctx)
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fetches := r.cl.PollRecords(pctx, 100000)
		cancel()
		if fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			if kerr.IsRetriable(err) {
				r.log.Debug("restore fetch error (retrying)", "topic", topic, "partition", p, "err", err)
				return
			}
			r.fail(topic, p, fmt.Errorf("changelog: reading %s[%d]: %w", topic, p, err))
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			r.mu.Lock()
			pj := r.parts[fp.Topic][fp.Partition]
			r.mu.Unlock()
			if pj == nil {
				return
			}
			batch = r.apply(pj, fp.Records, batch[:0])
		})
	}
}

// apply restores one fetched batch of one partition.
func (r *Restorer) apply(pj *partJob, recs []*kgo.Record, batch []statestore.ChangelogRecord) []statestore.ChangelogRecord {
	job, sr := pj.job, pj.store
	job.mu.Lock()
	defer job.mu.Unlock()
	if job.cancelled || sr.done || job.err != nil {
		return batch
	}
	last := int64(-1)
	reached := false
	for _, rec := range recs {
		if rec.Offset >= sr.End {
			// The record at End-1 may be one read_committed hides (an
			// aborted one whose marker lies beyond End): reaching past End
			// proves the target was passed.
			reached = true
			break
		}
		last = rec.Offset
		if rec.Attrs.IsControl() {
			continue
		}
		if err := checkFormat(rec, sr.Headers); err != nil {
			r.finishLocked(job, fmt.Errorf("changelog: restoring store %q of task %s: %w", sr.Store, job.Task, err))
			return batch
		}
		batch = append(batch, statestore.ChangelogRecord{Key: rec.Key, Value: rec.Value, Offset: rec.Offset, Timestamp: rec.Timestamp.UnixMilli()})
	}
	if len(batch) > 0 {
		if err := job.Manager.Restore(sr.Store, batch); err != nil {
			r.finishLocked(job, fmt.Errorf("changelog: restoring store %q of task %s: %w", sr.Store, job.Task, err))
			return batch
		}
		sr.restored += int64(len(batch))
		job.restored += int64(len(batch))
		switch {
		case job.Standby && r.standby != nil:
			r.standby.OnBatchLoaded(job.Task, sr.Store, sr.Topic, sr.Partition, batch[len(batch)-1].Offset, len(batch))
		case !job.Standby && r.listener != nil:
			r.listener.OnBatchRestored(job.Task, sr.Store, sr.Topic, sr.Partition, batch[len(batch)-1].Offset, len(batch))
		}
	}
	if reached || (last >= 0 && last+1 >= sr.End) {
		r.partDoneLocked(pj)
	}
	return batch
}

// partDoneLocked ends the restoration of one store partition that reached
// its target; job.mu is held.
func (r *Restorer) partDoneLocked(pj *partJob) {
	job, sr := pj.job, pj.store
	sr.done = true
	r.mu.Lock()
	delete(r.parts[sr.Topic], sr.Partition)
	r.mu.Unlock()
	r.cl.RemoveConsumePartitions(map[string][]int32{sr.Topic: {sr.Partition}})
	if r.listener != nil {
		r.listener.OnRestoreEnd(job.Task, sr.Store, sr.Topic, sr.Partition, sr.restored, time.Since(job.start))
	}
	job.remaining--
	if job.remaining == 0 {
		r.finishLocked(job, nil)
	}
}

// logStartCheckInterval is how often Run checks the log starts of the
// partitions being restored.
const logStartCheckInterval = time.Second

// finishDeleted ends the restoration of store partitions whose changelog's
// log start reached the target end: retention deleted every record below
// it after the target was taken, so the consumer's position is at the end
// with no record to deliver (Kafka Streams' StoreChangelogReader takes a
// restore as complete once the restore consumer's position reaches the end
// offset, records or not).
func (r *Restorer) finishDeleted(ctx context.Context) {
	r.mu.Lock()
	var pjs []*partJob
	topics := map[string]bool{}
	for topic, ps := range r.parts {
		for _, pj := range ps {
			if !pj.job.Standby {
				pjs = append(pjs, pj)
				topics[topic] = true
			}
		}
	}
	r.mu.Unlock()
	if len(pjs) == 0 {
		return
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	starts, err := r.adm.ListStartOffsets(lctx, names...)
	if err != nil {
		return
	}
	for _, pj := range pjs {
		s, ok := starts.Lookup(pj.store.Topic, pj.store.Partition)
		if !ok || s.Err != nil || s.Offset < pj.store.End {
			continue
		}
		pj.job.mu.Lock()
		r.mu.Lock()
		current := r.parts[pj.store.Topic][pj.store.Partition] == pj
		r.mu.Unlock()
		if current && !pj.job.cancelled && !pj.store.done && pj.job.err == nil {
			r.log.Info("changelog records below the restore target were deleted; the store is at the changelog end", "task", pj.job.Task, "store", pj.store.Store, "topic", pj.store.Topic, "partition", pj.store.Partition, "log_start", s.Offset, "end", pj.store.End)
			r.partDoneLocked(pj)
		}
		pj.job.mu.Unlock()
	}
}

func (r *Restorer) fail(topic string, p int32, err error) {
	r.mu.Lock()
	pj := r.parts[topic][p]
	r.mu.Unlock()
	if pj == nil {
		return
	}
	pj.job.mu.Lock()
	defer pj.job.mu.Unlock()
	r.finishLocked(pj.job, err)
}

// finishLocked ends a job; job.mu is held.
func (r *Restorer) finishLocked(job *Job, err error) {
	select {
	case <-job.done:
		return
	default:
	}
	job.err = err
	if err != nil {
		rm := map[string][]int32{}
		r.mu.Lock()
		for _, sr := range job.Stores {
			if pj := r.parts[sr.Topic][sr.Partition]; pj != nil && pj.job == job {
				delete(r.parts[sr.Topic], sr.Partition)
				rm[sr.Topic] = append(rm[sr.Topic], sr.Partition)
			}
		}
		r.mu.Unlock()
		r.cl.RemoveConsumePartitions(rm)
	}
	close(job.done)
}
