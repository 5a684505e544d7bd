package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicestreams/sluice/assignor"
	"github.com/sluicestreams/sluice/changelog"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/task"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// errKilled ends a worker stopped without committing.
var errKilled = errors.New("streams: worker killed")

// worker is one stream thread: a goroutine that owns one Kafka client (one
// group member), polls, feeds its tasks, and commits.
//
// Lock order: kgo's transact-session lock (held around the partition
// callbacks under exactly-once), then worker.mu, then App.mu. kgo calls the
// partition callbacks on its own goroutines; with BlockRebalanceOnPoll they
// only run while run() is inside PollRecords or after AllowRebalance. Every
// commit (which takes the session lock in End while holding w.mu) therefore
// runs between a poll's return and AllowRebalance.
type worker struct {
	app   *App
	index int
	log   *slog.Logger
	cl    *kgo.Client
	sess  *kgo.GroupTransactSession // exactly_once_v2 only
	// ctx lives until a hard stop: records produced with it are failed if
	// it is cancelled before they are sent. wake is cancelled by any stop,
	// to end a poll in progress.
	ctx        context.Context
	kill       context.CancelFunc
	wake       context.Context
	wakeCancel context.CancelFunc

	stopping    atomic.Bool
	killed      atomic.Bool
	rebalancing atomic.Bool
	// needAbort is set by a revocation under exactly-once: the open
	// transaction may hold work of tasks this worker no longer owns.
	needAbort atomic.Bool
	inTxn     bool // a transaction is open (worker goroutine only)

	asgMu     sync.Mutex
	asg       assignor.AssignmentInfo
	probeDone bool

	// ready is closed once w.cl is set: kgo may call the partition
	// callbacks as soon as NewClient returns, before newWorker has stored
	// the client.
	ready chan struct{}

	mu        sync.Mutex
	restoring map[task.ID]*changelog.Job
	loggers   map[task.ID]*changeLogger
	tasks     map[task.ID]*task.Active
	byTP      map[string]map[int32]*task.Active
	meta      map[string]map[int32]fetchedOffset
	fatal     error
	lastCmt   time.Time
	produced  produceErrors
	lastProbe time.Time
}

// fetchedOffset is a committed offset read back on assignment, with the
// partition time in its metadata, and the metadata itself (it may carry
// Kafka Streams' processor metadata).
type fetchedOffset struct {
	offset        int64
	partitionTime int64
	metadata      string
}

// produceErrors keeps the first production error; kgo reports them on its
// own goroutines.
type produceErrors struct {
	mu  sync.Mutex
	err error
}

func (p *produceErrors) set(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

func (p *produceErrors) take() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.err
	p.err = nil
	return err
}

func newWorker(a *App, index int) (*worker, error) {
	w := &worker{
		app: a, index: index, log: a.log.With("worker", index),
		tasks: map[task.ID]*task.Active{}, byTP: map[string]map[int32]*task.Active{},
		restoring: map[task.ID]*changelog.Job{}, loggers: map[task.ID]*changeLogger{},
		meta: map[string]map[int32]fetchedOffset{},
	}
	w.ctx, w.kill = context.WithCancel(context.Background())
	w.wake, w.wakeCancel = context.WithCancel(w.ctx)
	w.ready = make(chan struct{})
	w.rebalancing.Store(true)
	// Kafka's fetch.max.wait.ms (500 ms) rather than kgo's 5 s: a fetch
	// that names only partitions with nothing new (others paused) would
	// otherwise hold the worker for seconds. ClientOpts may override it.
	opts := []kgo.Opt{kgo.SeedBrokers(a.cfg.Brokers...), kgo.FetchMaxWait(500 * time.Millisecond)}
	opts = append(opts, a.cfg.ClientOpts...)
	opts = append(opts,
		kgo.ClientID(a.cfg.ApplicationID+"-"+a.cfg.ProcessID+"-"+strconv.Itoa(index)),
		kgo.ConsumerGroup(a.cfg.ApplicationID),
		kgo.ConsumeTopics(a.plan.sourceTopics...),
		kgo.Balancers(a.balancer(w)),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(a.cfg.SessionTimeout),
		kgo.RebalanceTimeout(a.cfg.RebalanceTimeout),
		// Partitions with no committed offset start at the log start
		// here; adjustOffsets then applies each topic's reset policy, as
		// Kafka Streams resets per topic itself. A committed offset out
		// of range comes back as a fetch error instead of a silent reset,
		// and resetOutOfRange applies that topic's policy (Kafka Streams
		// sets the consumer's auto.offset.reset to none and resets in
		// StreamThread.resetOffsets).
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.AdjustFetchOffsetsFn(w.adjustOffsets),
		// Transaction markers come back as control records, so the task
		// sees the position move past them and knows when its lag is 0.
		kgo.KeepControlRecords(),
		kgo.RecordPartitioner(newPartitioner()),
		kgo.OnPartitionsAssigned(w.onAssigned),
		kgo.OnPartitionsRevoked(w.onRevoked),
		kgo.OnPartitionsLost(w.onLost),
		kgo.OnOffsetsFetched(w.onOffsetsFetched),
	)
	if a.cfg.Rack != "" {
		opts = append(opts, kgo.Rack(a.cfg.Rack))
	}
	if a.cfg.Guarantee == ExactlyOnceV2 {
		opts = append(opts,
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.TransactionalID(a.cfg.ApplicationID+"-"+a.cfg.ProcessID+"-"+strconv.Itoa(index)),
			kgo.TransactionTimeout(txnTimeout(a.cfg)),
		)
		sess, err := kgo.NewGroupTransactSession(opts...)
		if err != nil {
			return nil, fmt.Errorf("streams: worker %d client: %w", index, err)
		}
		w.sess, w.cl = sess, sess.Client()
		close(w.ready)
		return w, nil
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("streams: worker %d client: %w", index, err)
	}
	w.cl = cl
	close(w.ready)
	return w, nil
}

// stop asks the worker to stop: gracefully (commit, leave) or, if hard, at
// once without committing.
func (w *worker) stop(hard bool) {
	if hard {
		w.killed.Store(true)
		w.kill()
	}
	if w.stopping.CompareAndSwap(false, true) {
		w.wakeCancel() // end a poll in progress; the loop checks killed to choose
	}
}

// maxPollRecords bounds one poll, so a worker returns to commit and
// punctuate regularly.
const maxPollRecords = 10000

func (w *worker) run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("streams: worker %d panicked: %v", w.index, r)
			w.killed.Store(true)
			w.closeTasks(false)
			w.cl.Close()
		}
	}()
	w.lastCmt = time.Now()
	if w.eos() {
		if err := w.beginTxn(); err != nil {
			return w.fail(err)
		}
	}
	for {
		pctx, cancel := context.WithTimeout(w.wake, w.pollTimeout())
		fetches := w.cl.PollRecords(pctx, maxPollRecords)
		cancel()
		if fetches.IsClientClosed() {
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, kerr.OffsetOutOfRange) {
				return // OffsetOutOfRange: step resets the partition
			}
			w.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		err := w.step(fetches)
		final := err == nil && w.stopping.Load() && !w.killed.Load()
		if final {
			// The last commit runs before AllowRebalance, while the poll
			// still holds rebalances back. Let a rebalance in, and its
			// revocation (which takes w.mu inside the transact session's
			// own lock) would deadlock against a commit that holds w.mu
			// and waits for that session lock in End.
			err = w.finalCommit()
		}
		w.cl.AllowRebalance()
		if final {
			w.closeTasks(err == nil)
			w.cl.Close()
			return err
		}
		if err != nil {
			if w.killed.Load() {
				// A hard stop cancelled what the step was doing (a commit's
				// flush): that is the stop, not a failure.
				w.closeTasks(false)
				w.cl.Close()
				return errKilled
			}
			return w.fail(err)
		}
		if w.stopping.Load() && w.killed.Load() {
			break
		}
	}
	w.closeTasks(false)
	w.cl.Close()
	if w.killed.Load() {
		return errKilled
	}
	return fmt.Errorf("streams: worker %d: client closed unexpectedly", w.index)
}

// testHookFinalCommit, if set, runs inside the final commit with the worker
// lock held, given the application id (tests use it to hold the commit open
// across a rebalance).
var testHookFinalCommit atomic.Pointer[func(appID string)]

// finalCommit commits what the worker processed before it leaves the group.
// It gives up when a hard stop cancels w.ctx (Close's deadline passed), so
// Close keeps its promise.
func (w *worker) finalCommit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if hook := testHookFinalCommit.Load(); hook != nil {
		(*hook)(w.app.cfg.ApplicationID)
	}
	cctx, cancel := context.WithTimeout(w.ctx, shutdownTimeout)
	defer cancel()
	if w.eos() {
		w.lastCmt = time.Now()
		return w.commitTxn(cctx, false)
	}
	return w.commitLocked(cctx)
}

// fail stops the worker after an error without committing what followed the
// last commit.
func (w *worker) fail(err error) error {
	w.killed.Store(true)
	w.closeTasks(false)
	w.cl.Close()
	return err
}

// step handles one poll's records: route, process, punctuate, commit.
func (w *worker) step(fetches kgo.Fetches) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fatal != nil {
		return w.fatal
	}
	if w.eos() && w.needAbort.Swap(false) {
		// Records polled with this batch were fetched before the rewind;
		// they are fetched again from the committed offsets. A partition
		// with no position yet (nothing committed, nothing consumed) is
		// rewound to the first of them, or they would be skipped.
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if t := w.byTP[p.Topic][p.Partition]; t != nil && len(p.Records) > 0 {
				t.SetPosition(p.Topic, p.Partition, p.Records[0].Offset)
			}
		})
		return w.abortForRebalance(w.ctx)
	}
	var pause map[string][]int32
	var outOfRange []task.TopicPartition
	readCommitted := w.app.cfg.Guarantee == ExactlyOnceV2
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		t := w.byTP[p.Topic][p.Partition]
		if t != nil && errors.Is(p.Err, kerr.OffsetOutOfRange) {
			outOfRange = append(outOfRange, task.TopicPartition{Topic: p.Topic, Partition: p.Partition})
			return
		}
		if t == nil || p.Err != nil {
			// Not ours any more; kgo drops buffered data of revoked
			// partitions, so this is only a race we can ignore: the new
			// owner reads from the committed offset.
			return
		}
		end := p.HighWatermark
		if readCommitted {
			end = p.LastStableOffset
		}
		if len(p.Records) == 0 {
			// Nothing new, but the fetch says how far the partition goes:
			// the task's lag for max.task.idle.ms.
			t.SetEndOffset(p.Topic, p.Partition, end, -1)
			return
		}
		doPause, err := t.AddRecords(p.Topic, p.Partition, p.Records, end)
		if err != nil && w.fatal == nil {
			w.fatal = err
		}
		if doPause {
			if pause == nil {
				pause = map[string][]int32{}
			}
			pause[p.Topic] = append(pause[p.Topic], p.Partition)
		}
	})
	if w.fatal != nil {
		return w.fatal
	}
	if len(outOfRange) > 0 {
		if err := w.resetOutOfRange(outOfRange); err != nil {
			return err
		}
	}
	if pause != nil {
		w.cl.PauseFetchPartitions(pause)
	}
	if err := w.finishRestores(); err != nil {
		return err
	}
	w.probeLags()
	if err := w.processLocked(); err != nil {
		return err
	}
	var resume map[string][]int32
	for id, t := range w.tasks {
		if w.restoring[id] != nil {
			continue
		}
		for _, tp := range t.Resumable() {
			if resume == nil {
				resume = map[string][]int32{}
			}
			resume[tp.Topic] = append(resume[tp.Topic], tp.Partition)
		}
		if err := t.PunctuateWallClock(); err != nil {
			return err
		}
	}
	if resume != nil {
		w.cl.ResumeFetchPartitions(resume)
	}
	if w.commitDue() {
		if err := w.commitLocked(w.ctx); err != nil {
			return err
		}
	}
	w.maybeProbe()
	return nil
}

// onAssignmentInfo receives this member's assignment userdata, on kgo's
// group goroutine, before onAssigned for the same generation.
func (w *worker) onAssignmentInfo(info assignor.AssignmentInfo) {
	w.asgMu.Lock()
	w.asg = info
	w.probeDone = false
	w.asgMu.Unlock()
	switch info.Error {
	case assignor.ErrorNone:
	case assignor.ErrorShutdownApplication:
		w.log.Warn("the group asked every instance to shut down (an uncaught-error handler answered ShutdownApplication)")
		w.app.shutdownByGroup()
	default:
		w.setFatal(fmt.Errorf("streams: worker %d: the group leader could not assign tasks: %s", w.index, info.Error))
	}
}

func (w *worker) setFatal(err error) {
	w.mu.Lock()
	if w.fatal == nil {
		w.fatal = err
	}
	w.mu.Unlock()
}

// maybeProbe triggers the probing rebalance the leader scheduled, once.
func (w *worker) maybeProbe() {
	w.asgMu.Lock()
	due := !w.asg.NextProbingRebalance.IsZero() && !w.probeDone && time.Now().After(w.asg.NextProbingRebalance)
	if due {
		w.probeDone = true
	}
	w.asgMu.Unlock()
	if due {
		w.log.Info("probing rebalance: checking whether warmed-up tasks can move")
		w.cl.ForceRebalance()
	}
}

// processBatch is how many records a task processes before the worker moves
// to the next task, so tasks share the worker fairly.
const processBatch = 1000

// processLocked processes the queued records of every task until no task
// can make progress or a commit is due.
func (w *worker) processLocked() error {
	for {
		progress := false
		for id, t := range w.tasks {
			if w.restoring[id] != nil {
				continue
			}
			enforced := t.EnforcedProcessing()
			n, err := t.Process(processBatch, w.handleRecordError)
			w.app.metrics.processed.Add(int64(n))
			w.app.metrics.enforced.Add(t.EnforcedProcessing() - enforced)
			if err != nil {
				return err
			}
			progress = progress || n > 0
		}
		if !progress || w.commitDue() || w.stopping.Load() {
			return nil
		}
	}
}

func (w *worker) commitDue() bool {
	if time.Since(w.lastCmt) >= w.app.cfg.CommitInterval {
		return true
	}
	for _, t := range w.tasks {
		if t.CommitRequested() {
			return true
		}
	}
	return false
}

// pollTimeout is how long a poll may wait: short while tasks hold records
// they could not process yet (waiting on max.task.idle.ms), otherwise until
// the next commit or wall-clock punctuation is due.
func (w *worker) pollTimeout() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.app.cfg.CommitInterval - time.Since(w.lastCmt)
	now := time.Now().UnixMilli()
	if len(w.restoring) > 0 {
		d = min(d, 50*time.Millisecond)
	}
	for id, t := range w.tasks {
		if t.Buffered() > 0 && w.restoring[id] == nil {
			return 5 * time.Millisecond
		}
		if next, ok := t.Graph().NextWallClock(); ok {
			d = min(d, time.Duration(next-now)*time.Millisecond)
		}
	}
	return max(time.Millisecond, min(d, 250*time.Millisecond))
}

// commitLocked commits every task that processed something: produced records
// are acknowledged first, then offsets are committed with stream time in
// their metadata (at-least-once: nothing acknowledged is lost).
func (w *worker) commitLocked(ctx context.Context) error {
	w.lastCmt = time.Now()
	if w.eos() {
		return w.commitTxn(ctx, true)
	}
	var tasks []*task.Active
	for _, t := range w.tasks {
		if t.CommitNeeded() {
			tasks = append(tasks, t)
		}
	}
	return w.commitTasks(ctx, tasks)
}

func (w *worker) commitTasks(ctx context.Context, tasks []*task.Active) error {
	if len(tasks) == 0 {
		return nil
	}
	for _, t := range tasks {
		if err := t.FlushState(); err != nil {
			return err
		}
	}
	if err := w.cl.Flush(ctx); err != nil {
		return fmt.Errorf("streams: worker %d: flushing produced records: %w", w.index, err)
	}
	if err := w.produced.take(); err != nil {
		return err
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	meta := map[string]map[int32]string{}
	for _, t := range tasks {
		for _, o := range t.CommitOffsets() {
			if offsets[o.Topic] == nil {
				offsets[o.Topic] = map[int32]kgo.EpochOffset{}
				meta[o.Topic] = map[int32]string{}
			}
			offsets[o.Topic][o.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o.Offset}
			meta[o.Topic][o.Partition] = o.Metadata
		}
	}
	if len(offsets) > 0 {
		cctx := kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
			for i := range req.Topics {
				rt := &req.Topics[i]
				for j := range rt.Partitions {
					if md, ok := meta[rt.Topic][rt.Partitions[j].Partition]; ok {
						rt.Partitions[j].Metadata = &md
					}
				}
			}
			return nil
		})
		var cerr error
		w.cl.CommitOffsetsSync(cctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil && cerr == nil {
						cerr = fmt.Errorf("%s[%d]: %w", rt.Topic, rp.Partition, err)
					}
				}
			}
		})
		if cerr != nil && !isRebalanceError(cerr) {
			return fmt.Errorf("streams: worker %d: committing offsets: %w", w.index, cerr)
		}
		if cerr != nil {
			// The group moved on: the new owners start from the last
			// commit and redo this work (at-least-once). The checkpoints
			// below still hold: they describe the changelogs, not the input.
			w.log.Warn("offset commit lost to a rebalance; records since the last commit will be reprocessed", "err", cerr)
			_ = w.checkpoint(tasks, false)
			return nil
		}
	}
	if err := w.checkpoint(tasks, true); err != nil {
		return err
	}
	w.purge(offsets)
	for _, t := range tasks {
		t.Committed()
	}
	w.app.metrics.commits.Add(1)
	return nil
}

// purge passes committed offsets of repartition topics on for deletion.
func (w *worker) purge(offsets map[string]map[int32]kgo.EpochOffset) {
	m := map[string]map[int32]int64{}
	for topic, ps := range offsets {
		if !w.app.plan.internal[topic] {
			continue
		}
		m[topic] = map[int32]int64{}
		for p, eo := range ps {
			m[topic][p] = eo.Offset
		}
	}
	if len(m) > 0 {
		w.app.purgeRepartition(m)
	}
}

// checkpoint makes the tasks' state durable with the changelog offsets it
// corresponds to (one synced batch per task). inputCommitted says whether the
// input offsets were committed too: only then may stores that materialize a
// source topic be checkpointed at them.
func (w *worker) checkpoint(tasks []*task.Active, inputCommitted bool) error {
	for _, t := range tasks {
		cl := w.loggers[t.ID()]
		if t.Stores() == nil || cl == nil {
			continue
		}
		offs := cl.offsets()
		// A store materializing a source topic is checkpointed at the
		// input offset just committed.
		for _, spec := range t.Stores().Specs() {
			if spec.SourceTopic == "" || !inputCommitted {
				continue
			}
			for _, o := range t.CommitOffsets() {
				if o.Topic == spec.SourceTopic {
					if offs == nil {
						offs = map[string]int64{}
					}
					offs[spec.Name] = o.Offset
				}
			}
		}
		// Under exactly-once, Commit is also what applies the staged writes
		// (of unlogged stores too), so it runs even with no offsets.
		if len(offs) == 0 && !w.eos() {
			continue
		}
		if err := t.Stores().Commit(offs); err != nil {
			return &task.Error{Task: t.ID(), Offset: -1, Err: err}
		}
	}
	return nil
}

// finishRestores starts the tasks whose restoration finished.
func (w *worker) finishRestores() error {
	for id, job := range w.restoring {
		select {
		case <-job.Done():
		default:
			continue
		}
		if err := job.Err(); err != nil {
			return err
		}
		delete(w.restoring, id)
		t := w.tasks[id]
		if err := t.Init(); err != nil {
			return err
		}
		resume := map[string][]int32{}
		for _, tp := range t.Partitions() {
			resume[tp.Topic] = append(resume[tp.Topic], tp.Partition)
		}
		w.cl.ResumeFetchPartitions(resume)
		w.log.Info("task restored", "task", id.String(), "records", job.Restored())
	}
	return nil
}

func isRebalanceError(err error) bool {
	return errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.IllegalGeneration) ||
		errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.FencedInstanceID) ||
		errors.Is(err, kerr.StaleMemberEpoch) || errors.Is(err, kgo.ErrClientClosed)
}

// closeTasks closes every task (clean: after a successful commit) and
// releases the worker's standbys.
func (w *worker) closeTasks(clean bool) {
	if w.app.standbys != nil {
		w.app.standbys.ReleaseOwner(w.index)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, t := range w.tasks {
		if job := w.restoring[id]; job != nil {
			w.app.restorer.Cancel(job)
		}
		if err := t.Close(); err != nil {
			w.log.Warn("closing task", "task", id.String(), "clean", clean, "err", err)
		}
	}
	clear(w.tasks)
	clear(w.byTP)
	clear(w.restoring)
	clear(w.loggers)
}

// splitCache gives each task of the worker an equal share of the worker's
// part of statestore.cache.max.bytes.
func (w *worker) splitCache() {
	if len(w.tasks) == 0 {
		return
	}
	share := w.app.cfg.CacheMaxBytes / int64(w.app.cfg.NumStreamThreads) / int64(len(w.tasks))
	for id, t := range w.tasks {
		if m := t.Stores(); m != nil {
			if err := m.Cache().SetMaxBytes(share); err != nil {
				w.log.Warn("resizing a task's record cache", "task", id.String(), "err", err)
			}
		}
	}
}

// newTask creates a task with its stores. If the stores need restoring, the
// returned job restores them and the task is initialized when it is done;
// otherwise the task is initialized now.
func (w *worker) newTask(ctx context.Context, id task.ID, tps []task.TopicPartition) (*task.Active, *changelog.Job, error) {
	cl := newChangeLogger(w, id.Partition)
	mgr, err := w.openStores(id, cl)
	if err != nil {
		return nil, nil, err
	}
	t, err := task.NewActive(id, tps, w.app.top, processor.TaskEnv{
		ApplicationID: w.app.cfg.ApplicationID,
		Collector:     &collector{w: w},
		Logger:        w.log,
		OnDropped: func(node, reason string) {
			w.app.metrics.dropped(reason)
			w.log.Debug("record dropped", "task", id.String(), "node", node, "reason", reason)
		},
	}, task.Config{MaxTaskIdle: w.app.cfg.MaxTaskIdle, BufferedRecordsPerPartition: w.app.cfg.BufferedRecordsPerPartition, Stores: mgr})
	if err != nil {
		if mgr != nil {
			_ = mgr.Close()
		}
		return nil, nil, err
	}
	w.loggers[id] = cl
	if mgr != nil && w.app.restorer != nil {
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		job, err := w.app.restorer.Prepare(pctx, id.String(), id.Partition, w.app.cfg.ApplicationID, mgr)
		cancel()
		if err != nil {
			_ = t.Close()
			return nil, nil, err
		}
		if len(job.Stores) > 0 {
			for _, sr := range job.Stores {
				if sr.From < 0 {
					w.log.Info("restoring a store from the start of its changelog (no local checkpoint: new, in-memory, or its state was lost)", "task", id.String(), "store", sr.Store)
				}
			}
			w.app.restorer.Add(job)
			return t, job, nil
		}
	}
	if err := t.Init(); err != nil {
		_ = t.Close()
		return nil, nil, err
	}
	return t, nil, nil
}

// recoverCallback turns a panic in user code run from a kgo callback
// (processor Init or Close) into the worker's fatal error, so the
// uncaught-error handler decides instead of the process dying.
func (w *worker) recoverCallback(locked bool) {
	if r := recover(); r != nil {
		err := fmt.Errorf("streams: worker %d: panic in a rebalance callback: %v", w.index, r)
		if locked {
			if w.fatal == nil {
				w.fatal = err
			}
			return
		}
		w.setFatal(err)
	}
}

func (w *worker) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	<-w.ready
	w.mu.Lock()
	defer func() {
		w.recoverCallback(true)
		w.mu.Unlock()
		w.rebalancing.Store(false)
		w.app.updateRebalancing()
	}()
	if w.fatal != nil {
		return
	}
	byTask := map[task.ID][]task.TopicPartition{}
	for topic, parts := range assigned {
		sub, ok := w.app.plan.topicSub[topic]
		if !ok {
			w.fatal = fmt.Errorf("streams: worker %d was assigned topic %q, which the topology does not read", w.index, topic)
			return
		}
		for _, p := range parts {
			id := task.ID{Subtopology: sub, Partition: p}
			byTask[id] = append(byTask[id], task.TopicPartition{Topic: topic, Partition: p})
		}
	}
	for id, tps := range byTask {
		if w.app.standbys != nil {
			w.app.standbys.Release(id)
		}
		if _, exists := w.tasks[id]; exists {
			w.fatal = fmt.Errorf("streams: worker %d: task %s assigned again while running", w.index, id)
			return
		}
		if want := len(w.app.plan.subTopics[id.Subtopology]); len(tps) != want {
			w.fatal = fmt.Errorf("streams: worker %d: task %s got %d of its %d input partitions: co-partitioned topics must be assigned together", w.index, id, len(tps), want)
			return
		}
		t, job, err := w.newTask(ctx, id, tps)
		if err != nil {
			w.fatal = fmt.Errorf("streams: worker %d: creating task %s: %w", w.index, id, err)
			return
		}
		parts := map[string][]int32{}
		for _, tp := range tps {
			parts[tp.Topic] = append(parts[tp.Topic], tp.Partition)
		}
		if job != nil {
			w.restoring[id] = job
			w.cl.PauseFetchPartitions(parts)
		} else {
			// Left paused by an earlier owner of this client, perhaps.
			w.cl.ResumeFetchPartitions(parts)
		}
		for _, tp := range tps {
			if fo, ok := w.meta[tp.Topic][tp.Partition]; ok {
				t.InitPartitionTime(tp.Topic, tp.Partition, fo.partitionTime)
				t.InitProcessorMetadata(fo.metadata)
				t.SetPosition(tp.Topic, tp.Partition, fo.offset)
			}
			if w.byTP[tp.Topic] == nil {
				w.byTP[tp.Topic] = map[int32]*task.Active{}
			}
			w.byTP[tp.Topic][tp.Partition] = t
		}
		w.tasks[id] = t
	}
	w.splitCache()
	if w.app.standbys != nil {
		w.asgMu.Lock()
		var want []task.ID
		for _, id := range append(append([]task.ID(nil), w.asg.Standby...), w.asg.Warmup...) {
			// Never a standby of a task this worker runs: both would
			// write the same state.
			if w.tasks[id] == nil {
				want = append(want, id)
			}
		}
		w.asgMu.Unlock()
		if err := w.app.standbys.Sync(ctx, w.index, want); err != nil {
			w.fatal = err
			return
		}
	}
	w.log.Info("tasks assigned", "tasks", len(byTask), "total", len(w.tasks))
}

func (w *worker) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	<-w.ready
	defer w.recoverCallback(false)
	w.rebalancing.Store(true)
	w.app.updateRebalancing()
	if w.eos() {
		// The open transaction cannot be committed from inside a rebalance
		// callback; it is aborted before the next record is processed, and
		// the revoked tasks close with their uncommitted work dropped.
		w.needAbort.Store(true)
		w.dropTasks(ctx, revoked, false)
		return
	}
	w.dropTasks(ctx, revoked, !w.killed.Load())
}

func (w *worker) onLost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	<-w.ready
	defer w.recoverCallback(false)
	w.needAbort.Store(true)
	w.rebalancing.Store(true)
	w.app.updateRebalancing()
	w.dropTasks(ctx, lost, false)
}

// dropTasks closes the tasks owning the given partitions, committing them
// first if commit is set.
func (w *worker) dropTasks(ctx context.Context, parts map[string][]int32, commit bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var tasks []*task.Active
	seen := map[task.ID]bool{}
	for topic, ps := range parts {
		for _, p := range ps {
			if t := w.byTP[topic][p]; t != nil && !seen[t.ID()] {
				seen[t.ID()] = true
				tasks = append(tasks, t)
			}
		}
	}
	if commit && w.fatal == nil {
		var dirty []*task.Active
		for _, t := range tasks {
			if w.restoring[t.ID()] == nil && t.CommitNeeded() {
				dirty = append(dirty, t)
			}
		}
		if err := w.commitTasks(ctx, dirty); err != nil {
			w.log.Warn("commit on revocation failed; the new owner reprocesses from the last commit", "err", err)
		}
	}
	// kgo keeps partitions paused until resumed, across assignments: a
	// partition paused for a full queue or a restore must not stay paused
	// if it comes back to this worker.
	resume := map[string][]int32{}
	for _, t := range tasks {
		for _, tp := range t.Partitions() {
			resume[tp.Topic] = append(resume[tp.Topic], tp.Partition)
		}
	}
	if len(resume) > 0 {
		w.cl.ResumeFetchPartitions(resume)
	}
	for _, t := range tasks {
		if job := w.restoring[t.ID()]; job != nil {
			w.app.restorer.Cancel(job)
			delete(w.restoring, t.ID())
		}
		if err := t.Close(); err != nil {
			w.log.Warn("closing task", "task", t.ID().String(), "err", err)
		}
		for _, tp := range t.Partitions() {
			delete(w.byTP[tp.Topic], tp.Partition)
		}
		delete(w.tasks, t.ID())
		delete(w.loggers, t.ID())
	}
	for topic, ps := range parts {
		for _, p := range ps {
			delete(w.meta[topic], p)
		}
	}
}

// onOffsetsFetched reads the partition times stored in the committed
// offsets' metadata (by Sluice or by Kafka Streams).
func (w *worker) onOffsetsFetched(_ context.Context, _ *kgo.Client, resp *kmsg.OffsetFetchResponse) error {
	<-w.ready
	w.mu.Lock()
	defer w.mu.Unlock()
	add := func(topic string, p int32, offset int64, md *string) {
		if topic == "" || offset < 0 {
			return
		}
		st := int64(-1)
		if md != nil {
			var err error
			if st, err = task.DecodeCommitMetadata(*md); err != nil {
				w.log.Warn("offset commit metadata not fully readable; taking the partition time Kafka Streams would", "topic", topic, "partition", p, "partition_time", st, "err", err)
			}
		}
		if w.meta[topic] == nil {
			w.meta[topic] = map[int32]fetchedOffset{}
		}
		fo := fetchedOffset{offset: offset, partitionTime: st}
		if md != nil {
			fo.metadata = *md
		}
		w.meta[topic][p] = fo
		if t := w.byTP[topic][p]; t != nil {
			t.InitPartitionTime(topic, p, st)
			t.InitProcessorMetadata(fo.metadata)
			t.SetPosition(topic, p, offset)
		}
	}
	for _, g := range resp.Groups {
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				add(t.Topic, p.Partition, p.Offset, p.Metadata)
			}
		}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			add(t.Topic, p.Partition, p.Offset, p.Metadata)
		}
	}
	return nil
}

// lagProbeInterval bounds how often a worker lists offsets for partitions
// whose lag its tasks wait to learn.
const lagProbeInterval = 200 * time.Millisecond

// stalledLagTimeout is how long a partition may block its task with a lag
// above 0 and no records arriving before it is taken as caught up: kgo
// advances past a batch it fetched with nothing to return (a compacted-away
// tail) without telling, so the lag it left would never reach 0.
const stalledLagTimeout = 10 * time.Second

// probeLags lists the end and start offsets of the input partitions that
// block a task because nothing is buffered for them and their lag is unknown
// (or known but not shrinking: see task.Active.WaitingForLag). Kafka's
// consumer learns them from every fetch response, even an empty one; kgo
// hands a fetch to the caller only when it has records or errors, so a
// partition that is empty on the broker would otherwise never get a known
// lag and block its task forever under max.task.idle.ms >= 0. A partition
// whose position is not known yet (no committed offset, nothing fetched) is
// given the one its reset policy picks.
func (w *worker) probeLags() {
	if w.app.cfg.MaxTaskIdle < 0 || time.Since(w.lastProbe) < lagProbeInterval {
		return
	}
	type waiting struct {
		t  *task.Active
		tp task.TopicPartition
	}
	var need []waiting
	topicSet := map[string]bool{}
	for id, t := range w.tasks {
		if w.restoring[id] != nil {
			continue
		}
		for _, tp := range t.WaitingForLag() {
			need = append(need, waiting{t, tp})
			topicSet[tp.Topic] = true
		}
	}
	for id, t := range w.tasks {
		if w.restoring[id] != nil {
			continue
		}
		for _, tp := range t.StalledPartitions(stalledLagTimeout) {
			w.log.Warn("an input partition shows a lag but no records arrive for it; taking it as caught up (a compacted or aborted tail, say)", "task", id.String(), "topic", tp.Topic, "partition", tp.Partition)
			t.AssumeCaughtUp(tp.Topic, tp.Partition)
		}
	}
	if len(need) == 0 {
		return
	}
	w.lastProbe = time.Now()
	var topics []string
	for t := range topicSet {
		topics = append(topics, t)
	}
	ctx, cancel := context.WithTimeout(w.wake, 5*time.Second)
	defer cancel()
	list := w.app.adm.ListEndOffsets
	if w.app.cfg.Guarantee == ExactlyOnceV2 {
		list = w.app.adm.ListCommittedOffsets // the last stable offset
	}
	ends, err := list(ctx, topics...)
	if err != nil {
		w.log.Debug("listing end offsets of partitions a task waits on", "err", err)
		return
	}
	// Positions the reset policies would pick, for partitions not started,
	// and the log starts, for partitions started below them.
	starts, _ := w.app.adm.ListStartOffsets(ctx, topics...)
	after := map[time.Duration]kadm.ListedOffsets{}
	for _, n := range need {
		e, ok := ends.Lookup(n.tp.Topic, n.tp.Partition)
		if !ok || e.Err != nil {
			continue
		}
		if n.t.Position(n.tp.Topic, n.tp.Partition) >= 0 {
			// A known position below the log start is raised to it:
			// nothing below it can be fetched any more.
			pos := int64(-1)
			if s, ok := starts.Lookup(n.tp.Topic, n.tp.Partition); ok && s.Err == nil {
				pos = s.Offset
			}
			n.t.SetEndOffset(n.tp.Topic, n.tp.Partition, e.Offset, pos)
			continue
		}
		pos := int64(-1)
		p := w.policy(n.tp.Topic)
		switch p.kind {
		case ResetEarliest:
			if s, ok := starts.Lookup(n.tp.Topic, n.tp.Partition); ok && s.Err == nil {
				pos = s.Offset
			}
		case ResetLatest:
			pos = e.Offset
		case "by_duration":
			if _, ok := after[p.d]; !ok {
				after[p.d], _ = w.app.adm.ListOffsetsAfterMilli(ctx, time.Now().Add(-p.d).UnixMilli(), topics...)
			}
			if s, ok := after[p.d].Lookup(n.tp.Topic, n.tp.Partition); ok && s.Err == nil {
				pos = s.Offset
				if pos < 0 {
					pos = e.Offset
				}
			}
		}
		n.t.SetEndOffset(n.tp.Topic, n.tp.Partition, e.Offset, pos)
	}
}
