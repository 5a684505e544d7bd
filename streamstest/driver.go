package streamstest

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/task"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrClosed is returned by every operation on a closed Driver.
var ErrClosed = errors.New("streamstest: driver closed")

// DefaultApplicationID is the application id of a Driver whose Config
// names none. Internal topics are named "streamstest-<name>".
const DefaultApplicationID = "streamstest"

// Config configures a Driver. The zero value is ready to use.
type Config struct {
	// ApplicationID prefixes internal topic and changelog names. Default
	// DefaultApplicationID.
	ApplicationID string
	// WallClock is the simulated wall-clock time the driver starts at; the
	// zero value means the Unix epoch. It only moves with AdvanceWallClock.
	WallClock time.Time
	// CacheMaxBytes bounds each task's record cache (Kafka Streams'
	// statestore.cache.max.bytes). Default 10 MiB; negative means 0, which
	// writes every cached update through at once.
	CacheMaxBytes int64
	// ManualCommit stops the driver from committing after every piped
	// record and every AdvanceWallClock; call Commit instead. Committing
	// flushes the record caches, which is when cached aggregations send
	// their updates downstream, so with ManualCommit a test sees the fewer,
	// merged updates a real application sends between commits. By default
	// the driver commits after each record, as Kafka Streams'
	// TopologyTestDriver does.
	ManualCommit bool
	// Engine holds the persistent stores, for example a
	// statestore.OpenPebble engine in t.TempDir(). Nil keeps every store in
	// memory. The driver does not close it.
	Engine statestore.Engine
}

// Driver runs a processor.Topology with no broker: synchronously, on the
// caller's goroutine, through the same task code (task.Active) the runtime
// uses. Every topic has one partition, so each sub-topology runs as one
// task, 0_0, 1_0, .... Records written to topics the topology reads
// (repartition topics, or user topics that are both written and read) are
// routed back to their readers at once, so a record piped in has gone
// through every sub-topology when Pipe returns. Records written to topics
// other than internal ones are also kept for OutputTopic to read.
//
// A Driver is not safe for concurrent use.
type Driver struct {
	top      *processor.Topology
	cfg      Config
	now      int64
	tasks    []*testTask
	byTopic  map[string]*testTask // resolved source topic -> its task
	internal map[string]bool      // resolved internal topics
	offsets  map[string]int64
	outputs  map[string][]*kgo.Record
	pending  []*kgo.Record
	dropped  map[string]int64 // reason -> records processors dropped
	closed   bool
}

type testTask struct {
	active *task.Active
	stores *statestore.Manager
	nstore int
}

// New makes a driver running top. Close it when done.
func New(top *processor.Topology, cfg Config) (*Driver, error) {
	if cfg.ApplicationID == "" {
		cfg.ApplicationID = DefaultApplicationID
	}
	if cfg.CacheMaxBytes == 0 {
		cfg.CacheMaxBytes = 10 << 20
	} else if cfg.CacheMaxBytes < 0 {
		cfg.CacheMaxBytes = 0
	}
	subs, err := top.Subtopologies()
	if err != nil {
		return nil, err
	}
	sources, err := top.SourceTopics()
	if err != nil {
		return nil, err
	}
	d := &Driver{
		top: top, cfg: cfg, now: cfg.WallClock.UnixMilli(),
		byTopic: map[string]*testTask{}, internal: map[string]bool{},
		offsets: map[string]int64{}, outputs: map[string][]*kgo.Record{},
	}
	if cfg.WallClock.IsZero() {
		d.now = 0
	}
	for _, sub := range subs {
		id := task.ID{Subtopology: sub.ID, Partition: 0}
		var tps []task.TopicPartition
		for _, st := range sources {
			if st.Subtopology != sub.ID {
				continue
			}
			name := st.Topic
			if st.Internal {
				name = processor.InternalTopicName(cfg.ApplicationID, st.Topic)
				d.internal[name] = true
			}
			tps = append(tps, task.TopicPartition{Topic: name, Partition: 0})
		}
		t, err := d.newTask(id, tps)
		if err != nil {
			_ = d.Close()
			return nil, err
		}
		d.tasks = append(d.tasks, t)
		for _, tp := range tps {
			d.byTopic[tp.Topic] = t
		}
	}
	return d, nil
}

func (d *Driver) newTask(id task.ID, tps []task.TopicPartition) (*testTask, error) {
	builders, err := d.top.StoreBuilders(id.Subtopology)
	if err != nil {
		return nil, err
	}
	m, err := statestore.OpenManager(statestore.ManagerConfig{
		ApplicationID: d.cfg.ApplicationID, Task: id.String(), Partition: id.Partition,
		Engine: d.cfg.Engine, Stores: builders, CacheMaxBytes: d.cfg.CacheMaxBytes,
	})
	if err != nil {
		return nil, err
	}
	env := processor.TaskEnv{
		ApplicationID: d.cfg.ApplicationID,
		Collector:     collector{d},
		WallClock:     func() int64 { return d.now },
		OnDropped: func(_, reason string) {
			if d.dropped == nil {
				d.dropped = map[string]int64{}
			}
			d.dropped[reason]++
		},
	}
	a, err := task.NewActive(id, tps, d.top, env, task.Config{
		MaxTaskIdle: -1, // every partition's data is here: never wait
		Now:         func() time.Time { return time.UnixMilli(d.now) },
		Stores:      m,
	})
	if err != nil {
		_ = m.Close()
		return nil, err
	}
	if err := a.Init(); err != nil {
		_ = a.Close()
		return nil, err
	}
	return &testTask{active: a, stores: m, nstore: len(builders)}, nil
}

// collector captures what sinks write.
type collector struct{ d *Driver }

func (c collector) Send(topic string, _ int32, key, value []byte, headers []processor.Header, timestamp int64) error {
	d := c.d
	rec := &kgo.Record{
		Topic: topic, Key: key, Value: value, Headers: headers,
		Timestamp: time.UnixMilli(timestamp), Offset: d.offsets[topic],
	}
	d.offsets[topic]++
	if _, read := d.byTopic[topic]; read {
		d.pending = append(d.pending, rec)
	}
	if !d.internal[topic] {
		d.outputs[topic] = append(d.outputs[topic], rec)
	}
	return nil
}

func (collector) Partitions(string) (int32, error) { return 1, nil }

// pipe runs one record read from topic through the topology.
func (d *Driver) pipe(topic string, key, value []byte, headers []processor.Header, ts int64) error {
	if d.closed {
		return ErrClosed
	}
	if _, ok := d.byTopic[topic]; !ok {
		return fmt.Errorf("streamstest: topic %q is not read by the topology", topic)
	}
	rec := &kgo.Record{Topic: topic, Key: key, Value: value, Headers: headers, Timestamp: time.UnixMilli(ts), Offset: d.offsets[topic]}
	d.offsets[topic]++
	err := d.process(rec)
	if err == nil {
		err = d.drain()
	}
	if err == nil && !d.cfg.ManualCommit {
		err = d.commit()
	}
	return err
}

// process hands one record to the task reading its topic and processes it.
func (d *Driver) process(rec *kgo.Record) error {
	t := d.byTopic[rec.Topic]
	if _, err := t.active.AddRecords(rec.Topic, 0, []*kgo.Record{rec}, rec.Offset+1); err != nil {
		return err
	}
	_, err := t.active.Process(1, nil)
	return err
}

// drain processes routed records until none are left; it returns the
// first error after still draining, so the driver stays consistent.
func (d *Driver) drain() error {
	var first error
	for len(d.pending) > 0 {
		rec := d.pending[0]
		d.pending = d.pending[1:]
		if err := d.process(rec); err != nil && first == nil {
			first = err
		}
	}
	d.pending = nil
	return first
}

// Commit flushes every task's record caches, which sends cached updates
// downstream, routes what that writes, and repeats until nothing moves.
// Needed only with Config.ManualCommit.
func (d *Driver) Commit() error {
	if d.closed {
		return ErrClosed
	}
	return d.commit()
}

func (d *Driver) commit() error {
	for {
		for _, t := range d.tasks {
			// A flush forwards into downstream nodes of the same task whose
			// stores may already have been flushed; flushing once per store
			// moves every update through a chain of cached stores.
			for range max(t.nstore, 1) {
				if err := t.active.FlushState(); err != nil {
					return err
				}
			}
			t.active.Committed()
		}
		if len(d.pending) == 0 {
			return nil
		}
		if err := d.drain(); err != nil {
			return err
		}
	}
}

// AdvanceWallClock moves the simulated wall clock forward by step and fires
// the wall-clock punctuators that are due, then commits (unless
// ManualCommit).
func (d *Driver) AdvanceWallClock(step time.Duration) error {
	if d.closed {
		return ErrClosed
	}
	if step < 0 {
		return fmt.Errorf("streamstest: AdvanceWallClock(%v): time does not go back", step)
	}
	d.now += step.Milliseconds()
	for _, t := range d.tasks {
		if err := t.active.PunctuateWallClock(); err != nil {
			return err
		}
		if err := d.drain(); err != nil {
			return err
		}
	}
	if !d.cfg.ManualCommit {
		return d.commit()
	}
	return nil
}

// WallClock returns the simulated wall-clock time.
func (d *Driver) WallClock() time.Time { return time.UnixMilli(d.now) }

// DroppedRecords returns how many records processors dropped on purpose,
// by reason (Kafka Streams' dropped-records metric), for example records too
// late for their window.
func (d *Driver) DroppedRecords() map[string]int64 {
	out := make(map[string]int64, len(d.dropped))
	for k, v := range d.dropped {
		out[k] = v
	}
	return out
}

// ApplicationID returns the application id internal topics are prefixed
// with.
func (d *Driver) ApplicationID() string { return d.cfg.ApplicationID }

// store finds a store by name in any task.
func (d *Driver) store(name string) (statestore.Store, error) {
	if d.closed {
		return nil, ErrClosed
	}
	for _, t := range d.tasks {
		if s, ok := t.stores.Store(name); ok {
			return s, nil
		}
	}
	return nil, fmt.Errorf("streamstest: the topology has no store %q", name)
}

// Store returns the named store as type S, for example
//
//	counts, err := streamstest.Store[statestore.TimestampedKeyValueStore[string, int64]](d, "counts")
//
// Reads see cached writes that were not flushed yet. The DSL materializes
// tables and aggregations in timestamped key-value stores.
func Store[S any](d *Driver, name string) (S, error) {
	var zero S
	st, err := d.store(name)
	if err != nil {
		return zero, err
	}
	s, ok := st.(S)
	if !ok {
		return zero, fmt.Errorf("streamstest: store %q is a %T, not the type asked for", name, st)
	}
	return s, nil
}

// StoreNames lists the stores of the topology, sorted.
func (d *Driver) StoreNames() []string {
	var out []string
	for _, t := range d.tasks {
		for _, s := range t.stores.Specs() {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Close commits (flushing caches, so cached updates reach output topics)
// unless the driver was used with ManualCommit, then closes every task and
// its stores. Closing twice is a no-op.
func (d *Driver) Close() error {
	if d.closed {
		return nil
	}
	var errs []error
	if !d.cfg.ManualCommit {
		errs = append(errs, d.commit())
	}
	d.closed = true
	for _, t := range d.tasks {
		errs = append(errs, t.active.Close())
	}
	return errors.Join(errs...)
}
