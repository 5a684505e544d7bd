package statestore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ManagerConfig configures OpenManager.
type ManagerConfig struct {
	// ApplicationID names changelog topics. Required.
	ApplicationID string
	// Task is the task id string, "<subtopology>_<partition>". Required.
	Task string
	// Partition is the task's partition: the changelog partition of every
	// store of the task.
	Partition int32
	// Engine holds persistent stores: the instance's shared PebbleEngine.
	// Nil keeps persistent stores in memory too.
	Engine Engine
	// Stores are the builders of the task's stores.
	Stores []Builder
	// ChangeLogger receives changes of logged stores. Nil logs nothing.
	ChangeLogger ChangeLogger
	// Transactional stages every write of the task's stores in memory until
	// Commit applies them to the engine with the checkpoints (one batch per
	// store); Abort drops them. Reads see staged writes. Exactly-once uses
	// it so that the engine never holds writes of an uncommitted
	// transaction.
	Transactional bool
	// CacheMaxBytes bounds the task's record cache (the instance's
	// statestore.cache.max.bytes divided by its tasks); change it later
	// with Cache().SetMaxBytes.
	CacheMaxBytes int64
}

// ChangelogRecord is one record read from a changelog for Restore.
type ChangelogRecord struct {
	Key, Value []byte // Value nil: tombstone
	Offset     int64
	// Timestamp is the record's timestamp (ms). Timestamped stores take
	// their values' timestamps from it: their changelogs (and source
	// topics) hold plain values, as Kafka Streams writes them.
	Timestamp int64
}

// Manager owns the stores of one task. The task runtime opens it when the
// task is created and calls, on the task's goroutine: SetTimestamp before
// each record, Flush and Commit at commit time, Restore while restoring,
// Close or Wipe at the end.
//
// Store handles are safe for concurrent use (interactive queries read them
// from other goroutines); the Manager's own methods are meant to be called
// from the task's goroutine.
type Manager struct {
	cfg    ManagerConfig
	mem    *MemEngine // per-task engine of in-memory stores; nil if none
	cache  *Cache
	order  []string
	stores map[string]*managed
	ts     atomic.Int64
	// rc is the context of the record being processed (task goroutine
	// only, as are the puts that read it).
	rc     RecordContext
	mu     sync.Mutex
	closed bool
	// shut mirrors closed for the stores' lock-free checks.
	shut atomic.Bool
}

type managed struct {
	core  *storeCore
	store Store
}

// OpenManager opens the stores of a task. Persistent stores keep what the
// engine holds for the task (read Checkpoint to decide where restoring
// starts); in-memory stores start empty.
func OpenManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.ApplicationID == "" || cfg.Task == "" {
		return nil, errors.New("statestore: ManagerConfig needs ApplicationID and Task")
	}
	m := &Manager{cfg: cfg, cache: newCache(cfg.CacheMaxBytes), stores: map[string]*managed{}, rc: noRecordContext}
	for _, b := range cfg.Stores {
		spec := b.Spec()
		if err := spec.validate(); err != nil {
			m.closeEngines()
			return nil, err
		}
		if _, dup := m.stores[spec.Name]; dup {
			m.closeEngines()
			return nil, fmt.Errorf("statestore: task %s: store %q registered twice", cfg.Task, spec.Name)
		}
		eng := cfg.Engine
		if spec.InMemory || eng == nil {
			if m.mem == nil {
				m.mem = NewMemEngine()
			}
			eng = m.mem
		}
		raw, err := eng.RawStore(cfg.Task, spec.Name)
		if err != nil {
			m.closeEngines()
			return nil, fmt.Errorf("statestore: task %s: opening %q: %w", cfg.Task, spec.Name, err)
		}
		if cfg.Transactional {
			raw = newStagedRaw(raw)
		}
		c := &storeCore{spec: spec, topic: ChangelogTopic(cfg.ApplicationID, spec.Name), m: m, raw: raw}
		if spec.Logging {
			c.logger = cfg.ChangeLogger
		}
		if spec.Caching {
			c.cache = m.cache.newNamed(c.writeFlushed)
		}
		s, err := b.build(c)
		if err != nil {
			m.closeEngines()
			return nil, fmt.Errorf("statestore: task %s: opening %q: %w", cfg.Task, spec.Name, err)
		}
		m.stores[spec.Name] = &managed{core: c, store: s}
		m.order = append(m.order, spec.Name)
	}
	return m, nil
}

func (m *Manager) closeEngines() {
	if m.mem != nil {
		m.mem.Close()
	}
}

// Task returns the task id.
func (m *Manager) Task() string { return m.cfg.Task }

// Store returns the named store, to be asserted to its typed interface.
func (m *Manager) Store(name string) (Store, bool) {
	s, ok := m.stores[name]
	if !ok {
		return nil, false
	}
	return s.store, true
}

// Specs returns the specs of the task's stores in registration order.
func (m *Manager) Specs() []Spec {
	out := make([]Spec, len(m.order))
	for i, n := range m.order {
		out[i] = cloneSpec(m.stores[n].core.spec)
	}
	return out
}

// Cache returns the task's record cache.
func (m *Manager) Cache() *Cache { return m.cache }

// SetTimestamp sets the timestamp of the record being processed; changes
// written until the next call carry it to the changelog and to flush
// listeners. It clears the record context (a punctuation's writes have
// none); SetRecord sets both.
func (m *Manager) SetTimestamp(ts int64) {
	m.ts.Store(ts)
	m.rc = noRecordContext
}

// SetRecord sets the timestamp and the context of the consumed record
// being processed: cached entries it writes keep rc until they are flushed
// or evicted, and their flush listeners get it (FlushedRecord.Context).
// rc.Headers is kept, not copied. Call it on the task's goroutine.
func (m *Manager) SetRecord(ts int64, rc RecordContext) {
	m.ts.Store(ts)
	m.rc = rc
}

// asWriter runs fn (a flush listener forwarding e) with e's timestamp and
// record context in force, then restores those of the record in hand: a
// cached store downstream that the forwarded record writes keeps the
// context of e's writer, as Kafka Streams' caching stores set the entry's
// record context while they forward it.
func (m *Manager) asWriter(e *cacheEntry, fn func() error) error {
	ts, rc := m.ts.Load(), m.rc
	m.ts.Store(e.ts)
	m.rc = e.rc
	err := fn()
	m.ts.Store(ts)
	m.rc = rc
	return err
}

func (m *Manager) get(name string) (*managed, error) {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	s, ok := m.stores[name]
	if !ok {
		return nil, fmt.Errorf("statestore: task %s has no store %q", m.cfg.Task, name)
	}
	return s, nil
}

// Flush writes every dirty cache entry of every store to the engine (no
// sync), the ChangeLogger and the flush listeners. At commit the runtime
// calls Flush, then flushes its producer, commits input offsets, then calls
// Commit with the changelog offsets. After an error from Flush (or from a
// store write, which may flush evicted entries) the cache may have lost
// entries: close the task dirty, without Commit, and restore it from the
// changelog.
func (m *Manager) Flush() error {
	for _, n := range m.order {
		s, err := m.get(n)
		if err != nil {
			return err
		}
		if err := s.core.flush(); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) tp(store string) TopicPartition {
	return TopicPartition{Topic: ChangelogTopic(m.cfg.ApplicationID, store), Partition: m.cfg.Partition}
}

// Commit makes the task's state durable together with the changelog
// offsets it corresponds to: for each store named in offsets the
// checkpoint (the next changelog offset to restore from) is written, and
// the last write is synced, which makes every earlier write of the engine
// durable too. Stores not named keep their checkpoint.
func (m *Manager) Commit(offsets map[string]int64) error {
	for n := range offsets {
		if _, ok := m.stores[n]; !ok {
			return fmt.Errorf("statestore: task %s: checkpoint for unknown store %q", m.cfg.Task, n)
		}
	}
	if m.cfg.Transactional {
		return m.commitStaged(offsets)
	}
	var last RawStore
	var lastCP Checkpoint
	for _, n := range m.order {
		off, ok := offsets[n]
		if !ok {
			continue
		}
		s, err := m.get(n)
		if err != nil {
			return err
		}
		cp := Checkpoint{m.tp(n): off}
		if last != nil {
			if err := last.Write(nil, lastCP, false); err != nil {
				return fmt.Errorf("statestore: task %s: checkpoint: %w", m.cfg.Task, err)
			}
		}
		last, lastCP = s.core.raw, cp
	}
	for n := range offsets {
		if _, ok := m.stores[n]; !ok {
			return fmt.Errorf("statestore: task %s: checkpoint for unknown store %q", m.cfg.Task, n)
		}
	}
	if last == nil {
		return nil
	}
	if err := last.Write(nil, lastCP, true); err != nil {
		return fmt.Errorf("statestore: task %s: checkpoint: %w", m.cfg.Task, err)
	}
	return nil
}

// commitStaged applies each store's staged writes with its checkpoint; the
// last store's batch is synced, which makes the earlier ones durable too.
func (m *Manager) commitStaged(offsets map[string]int64) error {
	for i, n := range m.order {
		s, err := m.get(n)
		if err != nil {
			return err
		}
		var cp Checkpoint
		if off, ok := offsets[n]; ok {
			cp = Checkpoint{m.tp(n): off}
		}
		st := s.core.raw.(*stagedRaw)
		if err := st.commit(cp, i == len(m.order)-1); err != nil {
			return fmt.Errorf("statestore: task %s: committing %q: %w", m.cfg.Task, n, err)
		}
	}
	return nil
}

// Abort drops the task's uncommitted changes: cached entries not yet
// flushed and, in transactional mode, the staged writes, so the stores are
// back to the last Commit. The runtime calls it when a transaction aborts.
// Without transactional mode, writes already flushed to the engine stay.
func (m *Manager) Abort() error {
	for _, n := range m.order {
		s, err := m.get(n)
		if err != nil {
			return err
		}
		if s.core.cache != nil {
			s.core.cache.drop()
		}
		if st, ok := s.core.raw.(*stagedRaw); ok {
			st.abort()
		}
	}
	return nil
}

// Checkpoint returns the checkpointed changelog offset of a store (the
// next offset to restore from); ok is false when there is none and the
// store must be restored from the start of its changelog.
func (m *Manager) Checkpoint(store string) (offset int64, ok bool, err error) {
	s, err := m.get(store)
	if err != nil {
		return 0, false, err
	}
	cp, err := s.core.raw.Checkpoint()
	if err != nil {
		return 0, false, fmt.Errorf("statestore: task %s: %q: %w", m.cfg.Task, store, err)
	}
	off, ok := cp[m.tp(store)]
	return off, ok, nil
}

// Restore applies records read from a store's changelog, in offset order,
// as one engine batch together with the checkpoint last offset + 1, without
// logging them again or touching the cache. Call it with large batches
// (thousands of records). Key and value slices may be reused afterwards.
func (m *Manager) Restore(store string, records []ChangelogRecord) error {
	if len(records) == 0 {
		return nil
	}
	s, err := m.get(store)
	if err != nil {
		return err
	}
	c := s.core
	batch := make([]Entry, 0, len(records))
	for _, r := range records {
		k := r.Key
		if c.restoreKey != nil {
			var keep bool
			if k, keep, err = c.restoreKey(r.Key); err != nil {
				return fmt.Errorf("statestore: task %s: restoring %q at offset %d: %w", m.cfg.Task, store, r.Offset, err)
			}
			if !keep {
				continue
			}
		}
		if c.cache != nil {
			// Restoring normally happens before processing; if a cached
			// store is restored later, cached copies of restored keys would
			// shadow the restored values.
			c.cache.forget(k)
		}
		v := r.Value
		if v != nil && c.spec.Kind.timestamped() {
			// Changelogs (and source topics) of timestamped stores hold
			// the plain value; the timestamp is the record's, as Kafka
			// Streams' RecordConverters.rawValueToTimestampedValue.
			v = appendTimestamped(make([]byte, 0, 8+len(v)), r.Timestamp, v)
		}
		batch = append(batch, Entry{Key: k, Value: v})
	}
	cp := Checkpoint{m.tp(store): records[len(records)-1].Offset + 1}
	if err := c.raw.Write(batch, cp, false); err != nil {
		return fmt.Errorf("statestore: task %s: restoring %q: %w", m.cfg.Task, store, err)
	}
	if c.afterRestore != nil {
		return c.afterRestore()
	}
	return nil
}

// Close releases the task's stores without flushing: unflushed cache
// entries are dropped (flush and commit first for a clean close). State of
// persistent stores stays in the engine; in-memory stores are discarded.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.shut.Store(true)
	for _, s := range m.stores {
		if s.core.cache != nil {
			s.core.cache.drop()
		}
	}
	m.closeEngines()
	return nil
}

// Wipe deletes all state of the task's stores (data and checkpoints) and
// drops their cache entries; the stores stay open and empty. The runtime
// calls it after ErrCorrupt or when a task's state is obsolete under EOS.
func (m *Manager) Wipe() error {
	var errs []error
	for _, n := range m.order {
		s, err := m.get(n)
		if err != nil {
			return err
		}
		if s.core.cache != nil {
			s.core.cache.drop()
		}
		if err := s.core.raw.Wipe(); err != nil {
			errs = append(errs, fmt.Errorf("statestore: task %s: wiping %q: %w", m.cfg.Task, n, err))
		}
		if s.core.reset != nil {
			s.core.reset()
		}
	}
	return errors.Join(errs...)
}
