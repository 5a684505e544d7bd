package streams

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/task"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Exactly-once (exactly_once_v2): each worker's client is a
// kgo.GroupTransactSession with transactional.id
// <application.id>-<process id>-<worker>. Everything the worker produces
// between two commits (sink output, changelog records, dead letters) and the
// input offsets of the records it processed commit in one transaction. Store
// changes are staged until the transaction commits (statestore's
// transactional mode) and dropped if it aborts, so local state never holds
// uncommitted writes and a crash needs no wipe.

// errFenced ends a worker whose producer was fenced: another instance owns
// its transactional id or its tasks now. The App starts a fresh worker (new
// producer, new membership) in its place.
var errFenced = errors.New("streams: producer fenced")

func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed) ||
		// The coordinator already ended the transaction (it timed out
		// during a broker bounce, say): this producer cannot go on.
		errors.Is(err, kerr.InvalidTxnState)
}

// txnTimeout is transaction.timeout.ms: Kafka Streams' 10 s, but below the
// session timeout so that a crashed member's open transaction is aborted by
// the broker before the group gives its partitions to another member.
func txnTimeout(cfg Config) time.Duration {
	return max(time.Second, min(10*time.Second, cfg.SessionTimeout-time.Second))
}

func (w *worker) eos() bool { return w.sess != nil }

// beginTxn opens the worker's next transaction.
func (w *worker) beginTxn() error {
	if w.inTxn {
		return nil
	}
	if err := w.sess.Begin(); err != nil {
		if isFenced(err) {
			return fmt.Errorf("%w: %w", errFenced, err)
		}
		return fmt.Errorf("streams: worker %d: beginning a transaction: %w", w.index, err)
	}
	w.inTxn = true
	return nil
}

// endTxn ends the open transaction, if there is one.
func (w *worker) endTxn(ctx context.Context, try kgo.TransactionEndTry) (bool, error) {
	if !w.inTxn {
		return false, nil
	}
	w.inTxn = false
	return w.sess.End(ctx, try)
}

// commitTxn commits the worker's transaction: store changes are flushed to
// the changelogs, the producer is flushed, the offsets of the processed
// records (with stream time) join the transaction, and it commits. Then the
// staged store writes are applied with their checkpoints. If the transaction
// aborts instead (a rebalance began), every task goes back to its last
// committed state.
func (w *worker) commitTxn(ctx context.Context, reopen bool) error {
	offsets := map[string]map[int32]task.Offset{}
	for id, t := range w.tasks {
		if w.restoring[id] != nil {
			continue
		}
		if err := t.FlushState(); err != nil {
			return err
		}
		for _, o := range t.CommitOffsets() {
			if offsets[o.Topic] == nil {
				offsets[o.Topic] = map[int32]task.Offset{}
			}
			offsets[o.Topic][o.Partition] = o
		}
	}
	if err := w.cl.Flush(ctx); err != nil {
		return fmt.Errorf("streams: worker %d: flushing produced records: %w", w.index, err)
	}
	if perr := w.produced.take(); perr != nil {
		// A record of this transaction was not written: abort it. A
		// producer whose epoch was bumped (the coordinator aborted a
		// transaction that outlived its timeout, say during a broker
		// bounce) is fenced: the worker is replaced and its tasks go back
		// to their last commit. Anything else fails the worker.
		_, _ = w.endTxn(ctx, kgo.TryAbort)
		if isFenced(perr) {
			return fmt.Errorf("%w: %w", errFenced, perr)
		}
		return perr
	}
	cctx := kgo.PreTxnCommitFnContext(ctx, txnOffsets(offsets))
	if !w.inTxn {
		return nil // nothing open (a final commit after a failed reopen)
	}
	committed, err := w.endTxn(cctx, kgo.TryCommit)
	if err != nil {
		if isFenced(err) {
			return fmt.Errorf("%w: %w", errFenced, err)
		}
		if !kerr.IsRetriable(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			// Whatever the broker refused, a fresh producer and membership
			// (with every task back at its last commit) is the recovery.
			return fmt.Errorf("%w: streams: worker %d: ending the transaction: %w", errFenced, w.index, err)
		}
		w.log.Warn("transaction did not commit; going back to the last committed state", "err", err)
		committed = false
	}
	if !committed {
		w.resetToCommitted()
	} else {
		for topic, ps := range offsets {
			for p, o := range ps {
				st, _ := task.DecodeCommitMetadata(o.Metadata)
				if w.meta[topic] == nil {
					w.meta[topic] = map[int32]fetchedOffset{}
				}
				w.meta[topic][p] = fetchedOffset{offset: o.Offset, partitionTime: st, metadata: o.Metadata}
			}
		}
		var tasks []*task.Active
		for id, t := range w.tasks {
			if w.restoring[id] == nil {
				tasks = append(tasks, t)
				t.Committed()
			}
		}
		if err := w.checkpoint(tasks, true); err != nil {
			return err
		}
		w.app.metrics.commits.Add(1)
		committedOffs := map[string]map[int32]kgo.EpochOffset{}
		for topic, ps := range offsets {
			committedOffs[topic] = map[int32]kgo.EpochOffset{}
			for p, o := range ps {
				committedOffs[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o.Offset}
			}
		}
		w.purge(committedOffs)
	}
	if !reopen {
		return nil
	}
	return w.beginTxn()
}

// txnOffsets rewrites the transaction's offset commit to the offsets of the
// records processed (kgo would commit everything polled), adds stream time
// as metadata, and adds processed partitions kgo did not list because nothing
// new was polled from them.
func txnOffsets(offsets map[string]map[int32]task.Offset) func(*kmsg.TxnOffsetCommitRequest) error {
	return func(req *kmsg.TxnOffsetCommitRequest) error {
		seen := map[string]map[int32]bool{}
		kept := req.Topics[:0]
		for _, rt := range req.Topics {
			parts := rt.Partitions[:0]
			for _, p := range rt.Partitions {
				o, ok := offsets[rt.Topic][p.Partition]
				if !ok {
					continue // polled but not processed: not committed
				}
				p.Offset = o.Offset
				md := o.Metadata
				p.Metadata = &md
				parts = append(parts, p)
				if seen[rt.Topic] == nil {
					seen[rt.Topic] = map[int32]bool{}
				}
				seen[rt.Topic][p.Partition] = true
			}
			rt.Partitions = parts
			if len(parts) > 0 {
				kept = append(kept, rt)
			}
		}
		req.Topics = kept
		for topic, ps := range offsets {
			var rt *kmsg.TxnOffsetCommitRequestTopic
			for i := range req.Topics {
				if req.Topics[i].Topic == topic {
					rt = &req.Topics[i]
				}
			}
			for p, o := range ps {
				if seen[topic][p] {
					continue
				}
				if rt == nil {
					req.Topics = append(req.Topics, kmsg.NewTxnOffsetCommitRequestTopic())
					rt = &req.Topics[len(req.Topics)-1]
					rt.Topic = topic
				}
				np := kmsg.NewTxnOffsetCommitRequestTopicPartition()
				np.Partition = p
				np.Offset = o.Offset
				np.LeaderEpoch = -1
				md := o.Metadata
				np.Metadata = &md
				rt.Partitions = append(rt.Partitions, np)
			}
		}
		return nil
	}
}

// resetToCommitted undoes everything since the last committed transaction:
// queued records are dropped, staged store writes and cached entries are
// discarded, stream time goes back, and fetching restarts at the committed
// offsets (kgo's own rewind goes to what it last polled, which may be past
// what was processed).
func (w *worker) resetToCommitted() {
	rewind := map[string]map[int32]kgo.EpochOffset{}
	resume := map[string][]int32{}
	for id, t := range w.tasks {
		if w.restoring[id] != nil {
			continue // its Manager belongs to the restorer until it is done; it processed nothing
		}
		// Its queues are emptied: a partition paused for a full queue
		// must fetch again (the task forgets that it paused it).
		for _, tp := range t.Partitions() {
			resume[tp.Topic] = append(resume[tp.Topic], tp.Partition)
		}
		times := map[task.TopicPartition]int64{}
		for _, tp := range t.Partitions() {
			if fo, ok := w.meta[tp.Topic][tp.Partition]; ok {
				times[tp] = fo.partitionTime
			}
		}
		pos, err := t.Reset(times)
		if err != nil {
			w.log.Warn("resetting a task after an aborted transaction", "task", t.ID().String(), "err", err)
		}
		for tp, off := range pos {
			if rewind[tp.Topic] == nil {
				rewind[tp.Topic] = map[int32]kgo.EpochOffset{}
			}
			rewind[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
	}
	if len(rewind) > 0 {
		w.cl.SetOffsets(rewind)
	}
	if len(resume) > 0 {
		w.cl.ResumeFetchPartitions(resume)
	}
}

// abortForRebalance aborts the open transaction after a revocation: the
// transaction may hold work of tasks this worker no longer owns.
func (w *worker) abortForRebalance(ctx context.Context) error {
	_, err := w.endTxn(ctx, kgo.TryAbort)
	if err != nil && isFenced(err) {
		return fmt.Errorf("%w: %w", errFenced, err)
	}
	if err != nil {
		w.log.Warn("aborting the transaction after a rebalance", "err", err)
	}
	w.resetToCommitted()
	return w.beginTxn()
}

// processIDFile keeps an instance's process id across restarts, next to its
// state, so that under exactly-once its transactional ids stay the same and a
// restart fences (and aborts) the transactions its previous run left open,
// instead of leaving them to time out.
func (a *App) loadProcessID() error {
	path := filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID+".process-id")
	if data, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(data)); id != "" {
			a.cfg.ProcessID = id
			return nil
		}
	}
	if err := os.MkdirAll(a.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("streams: state dir: %w", err)
	}
	return os.WriteFile(path, []byte(a.cfg.ProcessID+"\n"), 0o644)
}
