package streams

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/sluicestreams/sluice/changelog"
	"github.com/sluicestreams/sluice/standby"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/task"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// openState opens the instance's pebble engine (if the topology has
// persistent stores), creates the changelog topics, and starts the restorer.
// A corrupt state directory is wiped, with a log line saying so; its tasks
// are then restored from their changelogs.
func (a *App) openState(ctx context.Context) error {
	subs, err := a.top.Subtopologies()
	if err != nil {
		return err
	}
	persistent, logged := false, false
	for _, sub := range subs {
		builders, err := a.top.StoreBuilders(sub.ID)
		if err != nil {
			return err
		}
		var tasks int32
		for _, t := range a.plan.subTopics[sub.ID] {
			tasks = max(tasks, a.plan.partitions[t])
		}
		for _, b := range builders {
			spec := b.Spec()
			persistent = persistent || !spec.InMemory
			if !spec.Logging {
				continue
			}
			logged = true
			if err := a.ensureTopic(ctx, statestore.ChangelogTopic(a.cfg.ApplicationID, spec.Name), tasks, topicConfig(a.changelogTopicConfig(spec))); err != nil {
				return err
			}
		}
	}
	if persistent {
		opts := statestore.PebbleOptions{
			Dir: a.cfg.StateDir, ApplicationID: a.cfg.ApplicationID,
			CacheBytes: a.cfg.PebbleCacheBytes, MemTableBytes: a.cfg.PebbleMemTableBytes,
			Logger: a.log,
		}
		eng, err := statestore.OpenPebble(opts)
		if errors.Is(err, statestore.ErrCorrupt) {
			a.log.Warn("the state directory is corrupt; deleting it and restoring every task from its changelogs", "dir", a.cfg.StateDir, "err", err)
			if rerr := os.RemoveAll(stateDir(a.cfg)); rerr != nil {
				return fmt.Errorf("streams: removing corrupt state dir: %w", rerr)
			}
			eng, err = statestore.OpenPebble(opts)
		}
		if err != nil {
			return fmt.Errorf("streams: opening state: %w", err)
		}
		a.engine = eng
	}
	if logged {
		opts := append([]kgo.Opt{kgo.SeedBrokers(a.cfg.Brokers...)}, a.cfg.ClientOpts...)
		opts = append(opts, kgo.ClientID(a.cfg.ApplicationID+"-"+a.cfg.ProcessID+"-restore"))
		opts = append(opts, changelog.RestoreClientOpts(a.cfg.Guarantee == ExactlyOnceV2)...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return fmt.Errorf("streams: restore client: %w", err)
		}
		a.restoreCl = cl
		a.restorer = changelog.NewRestorer(cl, a.cfg.Guarantee == ExactlyOnceV2, a.cfg.RestoreListener, a.log)
		if a.cfg.StandbyListener != nil {
			a.restorer.SetStandbyListener(a.cfg.StandbyListener)
		}
		a.standbys = standby.New(a.restorer, a.cfg.ApplicationID, a.openStandbyStores, a.log)
		rctx, cancel := context.WithCancel(context.Background())
		a.stopRestorer = cancel
		a.restorerDone = make(chan struct{})
		go func() {
			defer close(a.restorerDone)
			a.restorer.Run(rctx)
		}()
	}
	return nil
}

// hasPersistentState reports whether any store of the topology is
// persistent (so the instance owns a state directory).
func (a *App) hasPersistentState() bool {
	subs, err := a.top.Subtopologies()
	if err != nil {
		return false
	}
	for _, sub := range subs {
		builders, _ := a.top.StoreBuilders(sub.ID)
		for _, b := range builders {
			if !b.Spec().InMemory {
				return true
			}
		}
	}
	return false
}

// purgeRepartition deletes the records of repartition topics below the
// offsets just committed, at most every repartition.purge.interval.ms, on
// a goroutine of its own (one at a time), as Kafka Streams does: those
// records are consumed for good.
func (a *App) purgeRepartition(committed map[string]map[int32]int64) {
	a.purgeMu.Lock()
	defer a.purgeMu.Unlock()
	for topic, ps := range committed {
		if !a.plan.internal[topic] {
			continue
		}
		if a.purgePending == nil {
			a.purgePending = map[string]map[int32]int64{}
		}
		if a.purgePending[topic] == nil {
			a.purgePending[topic] = map[int32]int64{}
		}
		for p, off := range ps {
			a.purgePending[topic][p] = max(a.purgePending[topic][p], off)
		}
	}
	if len(a.purgePending) == 0 || a.purging || time.Since(a.lastPurge) < a.cfg.RepartitionPurgeInterval {
		return
	}
	var offs kadm.Offsets
	for topic, ps := range a.purgePending {
		for p, off := range ps {
			offs.AddOffset(topic, p, off, -1)
		}
	}
	a.purgePending = nil
	a.purging, a.lastPurge = true, time.Now()
	a.purgeWG.Add(1)
	go func() {
		defer a.purgeWG.Done()
		defer func() {
			a.purgeMu.Lock()
			a.purging = false
			a.purgeMu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := a.adm.DeleteRecords(ctx, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			a.log.Warn("deleting consumed repartition records", "err", err)
		}
	}()
}

// closeState stops the restorer and closes the engine, after every worker
// has stopped.
func (a *App) closeState() {
	a.purgeWG.Wait()
	if a.standbys != nil {
		a.standbys.Close()
	}
	if a.stopRestorer != nil {
		a.stopRestorer()
		<-a.restorerDone
		a.restoreCl.Close()
	}
	if a.engine != nil {
		if err := a.engine.Close(); err != nil {
			a.log.Warn("closing the state engine", "err", err)
		}
	}
}

// topicConfig converts topic settings to kadm's form.
func topicConfig(cfg map[string]string) map[string]*string {
	out := make(map[string]*string, len(cfg))
	for k, v := range cfg {
		out[k] = &v
	}
	return out
}

func stateDir(cfg Config) string {
	return cfg.StateDir + string(os.PathSeparator) + cfg.ApplicationID
}

// openStandbyStores opens a task's stores for a standby: persistent ones in
// the instance's engine, no change logging, no staging.
func (a *App) openStandbyStores(id task.ID) (*statestore.Manager, error) {
	builders, err := a.top.StoreBuilders(id.Subtopology)
	if err != nil || len(builders) == 0 {
		return nil, err
	}
	var eng statestore.Engine
	if a.engine != nil {
		eng = a.engine
	}
	return statestore.OpenManager(statestore.ManagerConfig{
		ApplicationID: a.cfg.ApplicationID,
		Task:          id.String(),
		Partition:     id.Partition,
		Engine:        eng,
		Stores:        builders,
	})
}

// offsetSums sums, per task with state on this instance's disk, the
// changelog offsets its stores are checkpointed at: what the assignor
// compares with the changelog ends to find caught-up instances.
func (a *App) offsetSums() map[task.ID]int64 {
	if a.engine == nil {
		return nil
	}
	tasks, err := a.engine.Tasks()
	if err != nil {
		a.log.Warn("listing local task state", "err", err)
		return nil
	}
	out := make(map[task.ID]int64, len(tasks))
	for _, ts := range tasks {
		id, err := task.ParseID(ts)
		if err != nil {
			continue
		}
		cps, err := a.engine.Checkpoints(ts)
		if err != nil {
			continue
		}
		var sum int64
		for _, cp := range cps {
			for _, off := range cp {
				sum += off
			}
		}
		out[id] = sum
	}
	return out
}

// changelogEnds sums the changelog end offsets per stateful task, for the
// assignor's lag computation. It runs on the group leader.
func (a *App) changelogEnds() (map[task.ID]int64, error) {
	subs, err := a.top.Subtopologies()
	if err != nil {
		return nil, err
	}
	storeSub := map[string]int32{}
	var topics []string
	for _, sub := range subs {
		builders, err := a.top.StoreBuilders(sub.ID)
		if err != nil {
			return nil, err
		}
		for _, b := range builders {
			if spec := b.Spec(); spec.Logging {
				t := statestore.ChangelogTopic(a.cfg.ApplicationID, spec.Name)
				topics = append(topics, t)
				storeSub[t] = sub.ID
			}
		}
	}
	if len(topics) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ends, err := a.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	out := map[task.ID]int64{}
	ends.Each(func(lo kadm.ListedOffset) {
		if lo.Err != nil {
			return
		}
		id := task.ID{Subtopology: storeSub[lo.Topic], Partition: lo.Partition}
		out[id] += lo.Offset
	})
	return out, nil
}

// openStores opens the stores of a new task, or returns nil if it has none.
func (w *worker) openStores(id task.ID, cl *changeLogger) (*statestore.Manager, error) {
	builders, err := w.app.top.StoreBuilders(id.Subtopology)
	if err != nil || len(builders) == 0 {
		return nil, err
	}
	var eng statestore.Engine
	if w.app.engine != nil {
		eng = w.app.engine
	}
	return statestore.OpenManager(statestore.ManagerConfig{
		ApplicationID: w.app.cfg.ApplicationID,
		Task:          id.String(),
		Partition:     id.Partition,
		Engine:        eng,
		Stores:        builders,
		ChangeLogger:  cl,
		CacheMaxBytes: w.app.cfg.CacheMaxBytes,
		Transactional: w.eos(),
	})
}

// changeLogger produces one task's store changes to their changelogs and
// remembers the offsets the broker gave them, for the checkpoints.
type changeLogger struct {
	w         *worker
	partition int32
	targets   map[string]*logTarget
}

type logTarget struct {
	topic string
	mu    sync.Mutex
	next  int64 // offset after the last acknowledged change; -1 if none since the last commit
	onAck func(*kgo.Record, error)
}

func newChangeLogger(w *worker, partition int32) *changeLogger {
	return &changeLogger{w: w, partition: partition, targets: map[string]*logTarget{}}
}

func (c *changeLogger) LogChange(store string, key, value []byte, timestamp int64) error {
	t := c.targets[store]
	if t == nil {
		t = &logTarget{topic: statestore.ChangelogTopic(c.w.app.cfg.ApplicationID, store), next: -1}
		t.onAck = func(r *kgo.Record, err error) {
			if errors.Is(err, kgo.ErrAborting) {
				return // the transaction it belonged to is being aborted on purpose
			}
			if err != nil {
				// A lost change would make the changelog disagree with the
				// store: never skipped, whatever the production handler.
				c.w.produced.set(fmt.Errorf("streams: writing store %q's changelog %s: %w", store, r.Topic, err))
				return
			}
			t.mu.Lock()
			if r.Offset+1 > t.next {
				t.next = r.Offset + 1
			}
			t.mu.Unlock()
		}
		c.targets[store] = t
	}
	// The store may reuse key and value; one allocation holds both copies.
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	r := &kgo.Record{Topic: t.topic, Partition: c.partition, Context: manualPartition, Key: buf[:len(key):len(key)], Timestamp: time.UnixMilli(timestamp)}
	if value != nil {
		r.Value = buf[len(key):]
	}
	c.w.cl.Produce(c.w.ctx, r, t.onAck)
	return nil
}

// offsets returns the changelog offsets acknowledged since the last call,
// per store: the checkpoints to write after a commit. Call it after the
// producer was flushed.
func (c *changeLogger) offsets() map[string]int64 {
	var out map[string]int64
	for store, t := range c.targets {
		t.mu.Lock()
		if t.next >= 0 {
			if out == nil {
				out = map[string]int64{}
			}
			out[store] = t.next
			t.next = -1
		}
		t.mu.Unlock()
	}
	return out
}
