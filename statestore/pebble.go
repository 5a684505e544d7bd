package statestore

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// PebbleOptions configures OpenPebble. Zero fields take their defaults.
type PebbleOptions struct {
	// Dir is the state directory (state.dir). The DB lives in
	// Dir/ApplicationID. Required.
	Dir string
	// ApplicationID is the application.id. Required.
	ApplicationID string
	// CacheBytes bounds pebble's block cache, shared by every store of every
	// task. Default 8 MiB.
	CacheBytes int64
	// MemTableBytes is the size of one memtable. Pebble holds at most two
	// (writes stall beyond that), so memtables use at most 2*MemTableBytes.
	// Default 4 MiB.
	MemTableBytes int64
	// Logger receives pebble's own log lines (info at Debug level). Nil
	// discards them.
	Logger *slog.Logger

	// fs replaces the file system in tests (crash simulation).
	fs vfs.FS
}

// MemoryBound returns the bytes pebble may hold in its cache and
// memtables under these options, after defaults.
func (o PebbleOptions) MemoryBound() int64 {
	o.ensureDefaults()
	return o.CacheBytes + 2*o.MemTableBytes
}

func (o *PebbleOptions) ensureDefaults() {
	if o.CacheBytes <= 0 {
		o.CacheBytes = 8 << 20
	}
	if o.MemTableBytes <= 0 {
		o.MemTableBytes = 4 << 20
	}
}

// PebbleEngine is the persistent Engine: one pebble DB per instance holding
// every store of every task, keys prefixed by (task, store). It is safe for
// concurrent use.
type PebbleEngine struct {
	db     *pebble.DB
	path   string
	closed atomic.Bool
	mu     sync.RWMutex // held for reading by operations, for writing by Close
}

// OpenPebble opens or creates the DB at Dir/ApplicationID. A missing
// directory is created (fresh state). A damaged DB yields an error that
// matches ErrCorrupt and names the path.
func OpenPebble(opts PebbleOptions) (*PebbleEngine, error) {
	if opts.Dir == "" || opts.ApplicationID == "" {
		return nil, errors.New("statestore: PebbleOptions needs Dir and ApplicationID")
	}
	opts.ensureDefaults()
	path := filepath.Join(opts.Dir, opts.ApplicationID)
	fsys := opts.fs
	if fsys == nil {
		fsys = vfs.Default
	}
	if err := fsys.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("statestore: creating state dir: %w", err)
	}
	// Pebble syncs its own directory, not the entries that make it
	// reachable: sync every ancestor so that a crash right after creating
	// the state dir cannot lose it (and with it every later commit).
	if err := syncAncestors(fsys, path); err != nil {
		return nil, fmt.Errorf("statestore: syncing state dir: %w", err)
	}
	cache := pebble.NewCache(opts.CacheBytes)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                uint64(opts.MemTableBytes),
		MemTableStopWritesThreshold: 2,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      pebbleLogger{opts.Logger},
		FS:                          opts.fs,
	}
	// Bloom filters make Get of absent keys (the common case for new keys
	// in aggregations) skip most sstables.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(path, po)
	if err != nil {
		if isCorruptOpen(err) {
			return nil, fmt.Errorf("statestore: opening %s: %w: %w", path, ErrCorrupt, err)
		}
		return nil, fmt.Errorf("statestore: opening %s: %w", path, err)
	}
	return &PebbleEngine{db: db, path: path}, nil
}

func syncAncestors(fsys vfs.FS, path string) error {
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		f, err := fsys.OpenDir(dir)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if parent := filepath.Dir(dir); parent == dir {
			return nil
		}
	}
}

// isCorruptOpen decides whether an Open failure means damaged files (wipe
// and restore) rather than an environmental problem (lock held, permission,
// disk full) that wiping would not fix.
func isCorruptOpen(err error) bool {
	if pebble.IsCorruptionError(err) {
		return true
	}
	// A manifest named by the marker but gone: the directory was damaged
	// (partly deleted), not merely locked or unreadable.
	var pe *fs.PathError
	return errors.As(err, &pe) && errors.Is(pe.Err, fs.ErrNotExist)
}

// Path returns the DB directory.
func (e *PebbleEngine) Path() string { return e.path }

// Persistent implements Engine; it returns true.
func (e *PebbleEngine) Persistent() bool { return true }

// Close implements Engine. It flushes nothing beyond what pebble does on
// close; make state durable with a synced Write first.
func (e *PebbleEngine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Swap(true) {
		return ErrClosed
	}
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("statestore: closing %s: %w", e.path, err)
	}
	return nil
}

// RawStore implements Engine.
func (e *PebbleEngine) RawStore(task, store string) (RawStore, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	data := appendStorePrefix(nil, task, kindData, store)
	return &pebbleStore{
		e:      e,
		prefix: data,
		end:    prefixEnd(data),
		cpKey:  appendStorePrefix(nil, task, kindCheckpoint, store),
	}, nil
}

// DropTask implements Engine with one range deletion over the task prefix.
func (e *PebbleEngine) DropTask(task string) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed.Load() {
		return ErrClosed
	}
	p := appendTaskPrefix(nil, task)
	return e.wrap(e.db.DeleteRange(p, prefixEnd(p), pebble.Sync))
}

// Tasks implements Engine. It reads one key per task, seeking past the
// rest of each task.
func (e *PebbleEngine) Tasks() ([]string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed.Load() {
		return nil, ErrClosed
	}
	it, err := e.db.NewIter(nil)
	if err != nil {
		return nil, e.wrap(err)
	}
	defer it.Close()
	seen := map[string]bool{}
	var out []string
	for ok := it.First(); ok; {
		task, kind, _, _, derr := decodeStorePrefix(it.Key())
		if derr != nil {
			return nil, fmt.Errorf("statestore: %s: %w: %w", e.path, ErrCorrupt, derr)
		}
		if kind == kindCheckpoint && !seen[task] {
			seen[task] = true
			out = append(out, task)
		}
		// Checkpoint keys ('c') sort before data keys ('d'), so the first
		// key of a task tells whether it has a checkpoint; skip the rest.
		next := prefixEnd(appendTaskPrefix(nil, task))
		if next == nil {
			break
		}
		ok = it.SeekGE(next)
	}
	if err := it.Error(); err != nil {
		return nil, e.wrap(err)
	}
	sort.Strings(out)
	return out, nil
}

// Checkpoints implements Engine.
func (e *PebbleEngine) Checkpoints(task string) (map[string]Checkpoint, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed.Load() {
		return nil, ErrClosed
	}
	lo := append(appendTaskPrefix(nil, task), kindCheckpoint)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, e.wrap(err)
	}
	defer it.Close()
	out := map[string]Checkpoint{}
	for ok := it.First(); ok; ok = it.Next() {
		_, _, store, rest, err := decodeStorePrefix(it.Key())
		if err == nil && len(rest) != 0 {
			err = fmt.Errorf("%w: %d bytes after checkpoint key", errEncoding, len(rest))
		}
		var cp Checkpoint
		if err == nil {
			v, verr := it.ValueAndErr()
			if verr != nil {
				return nil, e.wrap(verr)
			}
			cp, err = decodeCheckpoint(v)
		}
		if err != nil {
			return nil, fmt.Errorf("statestore: checkpoint of task %s in %s: %w: %w", task, e.path, ErrCorrupt, err)
		}
		out[store] = cp
	}
	return out, e.wrap(it.Error())
}

// wrap marks pebble corruption errors with ErrCorrupt and the path.
func (e *PebbleEngine) wrap(err error) error {
	if err == nil {
		return nil
	}
	if pebble.IsCorruptionError(err) {
		return fmt.Errorf("statestore: %s: %w: %w", e.path, ErrCorrupt, err)
	}
	if errors.Is(err, pebble.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("statestore: %s: %w", e.path, err)
}

type pebbleStore struct {
	e      *PebbleEngine
	prefix []byte // task, kindData, store
	end    []byte // prefixEnd(prefix)
	cpKey  []byte
}

// key returns prefix+k in a fresh slice.
func (s *pebbleStore) key(k []byte) []byte {
	b := make([]byte, 0, len(s.prefix)+len(k))
	return append(append(b, s.prefix...), k...)
}

func (s *pebbleStore) bound(k []byte, open []byte) []byte {
	if k == nil {
		return open
	}
	return s.key(k)
}

func (s *pebbleStore) Get(key []byte) ([]byte, bool, error) {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	if s.e.closed.Load() {
		return nil, false, ErrClosed
	}
	v, closer, err := s.e.db.Get(s.key(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.e.wrap(err)
	}
	out := clone(v)
	if out == nil {
		out = []byte{}
	}
	err = closer.Close()
	return out, true, s.e.wrap(err)
}

func (s *pebbleStore) Set(key, value []byte) error {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	if s.e.closed.Load() {
		return ErrClosed
	}
	return s.e.wrap(s.e.db.Set(s.key(key), value, pebble.NoSync))
}

func (s *pebbleStore) Delete(key []byte) error {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	if s.e.closed.Load() {
		return ErrClosed
	}
	return s.e.wrap(s.e.db.Delete(s.key(key), pebble.NoSync))
}

func (s *pebbleStore) DeleteRange(from, to []byte) error {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	if s.e.closed.Load() {
		return ErrClosed
	}
	return s.e.wrap(s.e.db.DeleteRange(s.bound(from, s.prefix), s.bound(to, s.end), pebble.NoSync))
}

func (s *pebbleStore) Write(entries []Entry, cp Checkpoint, sync bool) error {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	if s.e.closed.Load() {
		return ErrClosed
	}
	// Size the batch up front: restoration writes thousands of entries.
	size := 0
	for _, en := range entries {
		size += len(s.prefix) + len(en.Key) + len(en.Value) + 16
	}
	b := s.e.db.NewBatchWithSize(size)
	defer b.Close()
	buf := make([]byte, 0, 64)
	for _, en := range entries {
		buf = append(append(buf[:0], s.prefix...), en.Key...)
		var err error
		if en.Value == nil {
			err = b.Delete(buf, nil)
		} else {
			err = b.Set(buf, en.Value, nil)
		}
		if err != nil {
			return s.e.wrap(err)
		}
	}
	if cp != nil {
		if err := b.Set(s.cpKey, encodeCheckpoint(cp), nil); err != nil {
			return s.e.wrap(err)
		}
	}
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	return s.e.wrap(b.Commit(wo))
}

func (s *pebbleStore) Checkpoint() (Checkpoint, error) {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	if s.e.closed.Load() {
		return nil, ErrClosed
	}
	v, closer, err := s.e.db.Get(s.cpKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.e.wrap(err)
	}
	cp, derr := decodeCheckpoint(v)
	cerr := closer.Close()
	if derr != nil {
		return nil, fmt.Errorf("statestore: checkpoint in %s: %w: %w", s.e.path, ErrCorrupt, derr)
	}
	return cp, s.e.wrap(cerr)
}

func (s *pebbleStore) ApproximateCount() (int64, error) {
	it, err := s.Iter(nil, nil)
	if err != nil {
		return 0, err
	}
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func (s *pebbleStore) Wipe() error {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	if s.e.closed.Load() {
		return ErrClosed
	}
	b := s.e.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(s.prefix, s.end, nil); err != nil {
		return s.e.wrap(err)
	}
	if err := b.Delete(s.cpKey, nil); err != nil {
		return s.e.wrap(err)
	}
	return s.e.wrap(b.Commit(pebble.Sync))
}

func (s *pebbleStore) Iter(lower, upper []byte) (RawIterator, error) {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	if s.e.closed.Load() {
		return nil, ErrClosed
	}
	it, err := s.e.db.NewIter(&pebble.IterOptions{
		LowerBound: s.bound(lower, s.prefix),
		UpperBound: s.bound(upper, s.end),
	})
	if err != nil {
		return nil, s.e.wrap(err)
	}
	return &pebbleIter{s: s, it: it, n: len(s.prefix)}, nil
}

// pebbleIter strips the store prefix from keys. Long-lived pebble iterators
// pin memtables and sstables, so callers should close them promptly.
type pebbleIter struct {
	s      *pebbleStore
	it     *pebble.Iterator
	n      int
	err    error
	closed bool
}

func (p *pebbleIter) First() bool { return !p.closed && p.it.First() }
func (p *pebbleIter) Last() bool  { return !p.closed && p.it.Last() }
func (p *pebbleIter) Next() bool  { return !p.closed && p.it.Next() }
func (p *pebbleIter) Key() []byte { return p.it.Key()[p.n:] }
func (p *pebbleIter) Value() []byte {
	v, err := p.it.ValueAndErr()
	if err != nil && p.err == nil {
		p.err = p.s.e.wrap(err)
	}
	return v
}

func (p *pebbleIter) Err() error {
	if p.err != nil {
		return p.err
	}
	if p.closed {
		return nil
	}
	return p.s.e.wrap(p.it.Error())
}

func (p *pebbleIter) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	return p.s.e.wrap(p.it.Close())
}

// pebbleLogger sends pebble's log lines to slog; nil discards them.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l != nil {
		p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	if p.l != nil {
		p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.l != nil {
		p.l.Error(msg, "component", "pebble")
	}
	panic("statestore: pebble fatal: " + msg)
}

var _ Engine = (*PebbleEngine)(nil)
