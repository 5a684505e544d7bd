package statestore

import (
	"bytes"
	"fmt"
	"sort"
	"sync"
)

// MemEngine is an Engine that keeps everything in memory in skiplists. State
// is lost on Close. It is safe for concurrent use.
type MemEngine struct {
	mu     sync.Mutex
	closed bool
	stores map[memID]*memStore
	seed   uint64
}

type memID struct{ task, store string }

// NewMemEngine returns an empty in-memory engine.
func NewMemEngine() *MemEngine {
	return &MemEngine{stores: make(map[memID]*memStore)}
}

// RawStore implements Engine.
func (e *MemEngine) RawStore(task, store string) (RawStore, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	id := memID{task, store}
	s := e.stores[id]
	if s == nil {
		e.seed++
		s = &memStore{engine: e, list: newSkiplist[[]byte](e.seed)}
		e.stores[id] = s
	}
	return s, nil
}

// DropTask implements Engine.
func (e *MemEngine) DropTask(task string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	for id, s := range e.stores {
		if id.task == task {
			_ = s.Wipe()
		}
	}
	return nil
}

// Tasks implements Engine.
func (e *MemEngine) Tasks() ([]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	seen := map[string]bool{}
	var out []string
	for id, s := range e.stores {
		s.mu.RLock()
		has := s.cp != nil
		s.mu.RUnlock()
		if has && !seen[id.task] {
			seen[id.task] = true
			out = append(out, id.task)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Checkpoints implements Engine.
func (e *MemEngine) Checkpoints(task string) (map[string]Checkpoint, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	out := map[string]Checkpoint{}
	for id, s := range e.stores {
		if id.task != task {
			continue
		}
		cp, err := s.Checkpoint()
		if err != nil {
			return nil, err
		}
		if cp != nil {
			out[id.store] = cp
		}
	}
	return out, nil
}

// Persistent implements Engine; it returns false.
func (e *MemEngine) Persistent() bool { return false }

// Close implements Engine.
func (e *MemEngine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for _, s := range e.stores {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
	}
	e.stores = nil
	return nil
}

type memStore struct {
	engine *MemEngine
	mu     sync.RWMutex
	closed bool
	list   *skiplist[[]byte]
	cp     Checkpoint
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

func (s *memStore) Get(key []byte) ([]byte, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, false, ErrClosed
	}
	n := s.list.get(key)
	if n == nil {
		return nil, false, nil
	}
	return clone(n.val), true, nil
}

func (s *memStore) Set(key, value []byte) error {
	k, v := clone(key), clone(value)
	if v == nil {
		v = []byte{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.list.set(k, v)
	return nil
}

func (s *memStore) Delete(key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.list.remove(key)
	return nil
}

func (s *memStore) DeleteRange(from, to []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.list.removeRange(from, to, nil)
	return nil
}

func (s *memStore) Write(entries []Entry, cp Checkpoint, _ bool) error {
	type kv struct{ k, v []byte }
	owned := make([]kv, len(entries))
	for i, e := range entries {
		owned[i] = kv{clone(e.Key), clone(e.Value)}
	}
	var cpCopy Checkpoint
	if cp != nil {
		cpCopy = make(Checkpoint, len(cp))
		for tp, o := range cp {
			cpCopy[tp] = o
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for _, e := range owned {
		if e.v == nil {
			s.list.remove(e.k)
		} else {
			s.list.set(e.k, e.v)
		}
	}
	if cp != nil {
		s.cp = cpCopy
	}
	return nil
}

func (s *memStore) Checkpoint() (Checkpoint, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.cp == nil {
		return nil, nil
	}
	out := make(Checkpoint, len(s.cp))
	for tp, o := range s.cp {
		out[tp] = o
	}
	return out, nil
}

func (s *memStore) ApproximateCount() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return int64(s.list.len), nil
}

func (s *memStore) Wipe() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.list.removeRange(nil, nil, nil)
	s.cp = nil
	return nil
}

func (s *memStore) Iter(lower, upper []byte) (RawIterator, error) {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	return &memIter{s: s, lower: clone(lower), upper: clone(upper)}, nil
}

// memIter holds no lock between calls, so the owner may write to the store
// while iterating. Each step takes the read lock; if the list changed since
// the previous step the iterator re-seeks from its last key.
type memIter struct {
	s            *memStore
	lower, upper []byte
	node         *slNode[[]byte]
	version      uint64
	key, val     []byte
	err          error
	closed       bool
}

func (it *memIter) set(n *slNode[[]byte]) bool {
	if n == nil || (it.upper != nil && bytes.Compare(n.key, it.upper) >= 0) ||
		(it.lower != nil && bytes.Compare(n.key, it.lower) < 0) {
		it.node, it.key, it.val = nil, nil, nil
		return false
	}
	it.node, it.key, it.val = n, n.key, n.val
	it.version = it.s.list.version
	return true
}

func (it *memIter) check() bool {
	if it.closed {
		it.err = ErrClosed
		return false
	}
	if it.s.closed {
		it.err = ErrClosed
		return false
	}
	return true
}

func (it *memIter) First() bool {
	it.s.mu.RLock()
	defer it.s.mu.RUnlock()
	if !it.check() {
		return false
	}
	return it.set(it.s.list.first(it.lower))
}

func (it *memIter) Last() bool {
	it.s.mu.RLock()
	defer it.s.mu.RUnlock()
	if !it.check() {
		return false
	}
	return it.set(it.s.list.lastBefore(it.upper))
}

func (it *memIter) Next() bool {
	it.s.mu.RLock()
	defer it.s.mu.RUnlock()
	if !it.check() || it.node == nil {
		return false
	}
	if it.version == it.s.list.version && !it.node.dead {
		return it.set(it.node.next[0])
	}
	// The list changed: find the first key after the last one returned.
	n := it.s.list.findGE(it.node.key, nil)
	if n != nil && bytes.Equal(n.key, it.node.key) {
		n = n.next[0]
	}
	return it.set(n)
}

func (it *memIter) Key() []byte   { return it.key }
func (it *memIter) Value() []byte { return it.val }
func (it *memIter) Err() error    { return it.err }
func (it *memIter) Close() error {
	it.closed = true
	it.node, it.key, it.val = nil, nil, nil
	return nil
}

var _ Engine = (*MemEngine)(nil)

func (s *memStore) String() string { return fmt.Sprintf("memstore(%d keys)", s.list.len) }
