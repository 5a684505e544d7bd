package statestore

import (
	"bytes"
	"sync"
)

// stagedRaw is a RawStore whose writes are staged in memory until commit:
// the transactional mode used under exactly-once. Reads see staged writes
// over the base store; commit applies them to the base together with a
// checkpoint in one batch; abort drops them. So the base (pebble) only ever
// holds state of committed transactions, and a crash needs no wipe.
//
// Writes that carry a checkpoint (restoration) go straight to the base: they
// come from the changelog, which holds only committed data.
type stagedRaw struct {
	base RawStore

	mu      sync.RWMutex
	overlay *skiplist[[]byte] // key -> stagedValue encoding
	seed    uint64
}

// Staged values carry a leading marker so that deletes can shadow the base.
const (
	stagedDelete byte = 0
	stagedSet    byte = 1
)

func newStagedRaw(base RawStore) *stagedRaw {
	return &stagedRaw{base: base, overlay: newSkiplist[[]byte](7)}
}

func (s *stagedRaw) stage(key, value []byte, del bool) {
	v := make([]byte, 1+len(value))
	if del {
		v[0] = stagedDelete
	} else {
		v[0] = stagedSet
		copy(v[1:], value)
	}
	s.overlay.set(clone(key), v)
}

func (s *stagedRaw) Get(key []byte) ([]byte, bool, error) {
	s.mu.RLock()
	n := s.overlay.get(key)
	var v []byte
	if n != nil {
		v = n.val
	}
	s.mu.RUnlock()
	if n != nil {
		if v[0] == stagedDelete {
			return nil, false, nil
		}
		return clone(v[1:]), true, nil
	}
	return s.base.Get(key)
}

func (s *stagedRaw) Set(key, value []byte) error {
	s.mu.Lock()
	s.stage(key, value, false)
	s.mu.Unlock()
	return nil
}

func (s *stagedRaw) Delete(key []byte) error {
	s.mu.Lock()
	s.stage(key, nil, true)
	s.mu.Unlock()
	return nil
}

// DeleteRange stages a delete of every key in [from, to) that the store
// holds now (staged or in the base).
func (s *stagedRaw) DeleteRange(from, to []byte) error {
	it, err := s.Iter(from, to)
	if err != nil {
		return err
	}
	var keys [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		keys = append(keys, clone(it.Key()))
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	for _, k := range keys {
		s.stage(k, nil, true)
	}
	s.mu.Unlock()
	return nil
}

func (s *stagedRaw) Write(entries []Entry, cp Checkpoint, sync bool) error {
	if cp != nil {
		return s.base.Write(entries, cp, sync)
	}
	s.mu.Lock()
	for _, e := range entries {
		s.stage(e.Key, e.Value, e.Value == nil)
	}
	s.mu.Unlock()
	return nil
}

func (s *stagedRaw) Checkpoint() (Checkpoint, error) { return s.base.Checkpoint() }

func (s *stagedRaw) ApproximateCount() (int64, error) {
	n, err := s.base.ApproximateCount()
	s.mu.RLock()
	n += int64(s.overlay.len)
	s.mu.RUnlock()
	return n, err
}

func (s *stagedRaw) Wipe() error {
	s.abort()
	return s.base.Wipe()
}

// commit applies the staged writes and the checkpoint to the base in one
// batch, then forgets them.
func (s *stagedRaw) commit(cp Checkpoint, sync bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	batch := make([]Entry, 0, s.overlay.len)
	for n := s.overlay.first(nil); n != nil; n = n.next[0] {
		e := Entry{Key: n.key}
		if n.val[0] == stagedSet {
			e.Value = n.val[1:]
		}
		batch = append(batch, e)
	}
	if err := s.base.Write(batch, cp, sync); err != nil {
		return err
	}
	s.overlay = newSkiplist[[]byte](s.nextSeed())
	return nil
}

func (s *stagedRaw) nextSeed() uint64 {
	s.seed++
	return s.seed + 7
}

// abort drops the staged writes.
func (s *stagedRaw) abort() {
	s.mu.Lock()
	s.overlay = newSkiplist[[]byte](s.nextSeed())
	s.mu.Unlock()
}

// pending reports the number of staged writes.
func (s *stagedRaw) pending() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.overlay.len
}

func (s *stagedRaw) Iter(lower, upper []byte) (RawIterator, error) {
	base, err := s.base.Iter(lower, upper)
	if err != nil {
		return nil, err
	}
	// Snapshot the staged range: iterators see the writes staged before
	// they were opened.
	var snap []stagedKV
	s.mu.RLock()
	for n := s.overlay.first(lower); n != nil; n = n.next[0] {
		if upper != nil && bytes.Compare(n.key, upper) >= 0 {
			break
		}
		snap = append(snap, stagedKV{key: n.key, val: n.val})
	}
	s.mu.RUnlock()
	return &stagedIter{base: base, staged: snap}, nil
}

type stagedKV struct{ key, val []byte }

// stagedIter merges the base iterator with staged writes; staged entries win
// and staged deletes hide base keys.
type stagedIter struct {
	base     RawIterator
	baseOK   bool
	staged   []stagedKV
	si       int
	key, val []byte
	reverse  bool
}

func (it *stagedIter) First() bool {
	it.reverse = false
	it.si = 0
	it.baseOK = it.base.First()
	return it.settle()
}

// Last positions at the last visible key. Merged reverse iteration is only
// needed for Last itself, so it is done by scanning forward.
func (it *stagedIter) Last() bool {
	var lk, lv []byte
	found := false
	for ok := it.First(); ok; ok = it.Next() {
		lk, lv, found = clone(it.key), clone(it.val), true
	}
	if !found {
		return false
	}
	it.key, it.val = lk, lv
	it.si = len(it.staged)
	it.baseOK = false
	return true
}

func (it *stagedIter) Next() bool {
	if it.key == nil {
		return false
	}
	// Copy: a key from the base iterator (pebble) is overwritten when the
	// base moves, and the loop below moves it.
	last := clone(it.key)
	// Step past the current key in both sources.
	for it.si < len(it.staged) && bytes.Compare(it.staged[it.si].key, last) <= 0 {
		it.si++
	}
	for it.baseOK && bytes.Compare(it.base.Key(), last) <= 0 {
		it.baseOK = it.base.Next()
	}
	return it.settle()
}

// settle positions at the smallest visible key at or after both cursors.
func (it *stagedIter) settle() bool {
	for {
		hasS := it.si < len(it.staged)
		if !hasS && !it.baseOK {
			it.key, it.val = nil, nil
			return false
		}
		var useStaged bool
		switch {
		case !hasS:
			useStaged = false
		case !it.baseOK:
			useStaged = true
		default:
			c := bytes.Compare(it.staged[it.si].key, it.base.Key())
			if c == 0 {
				it.baseOK = it.base.Next() // shadowed by the staged entry
				continue
			}
			useStaged = c < 0
		}
		if !useStaged {
			it.key, it.val = it.base.Key(), it.base.Value()
			return true
		}
		e := it.staged[it.si]
		if e.val[0] == stagedDelete {
			it.si++
			continue
		}
		it.key, it.val = e.key, e.val[1:]
		return true
	}
}

func (it *stagedIter) Key() []byte   { return it.key }
func (it *stagedIter) Value() []byte { return it.val }
func (it *stagedIter) Err() error    { return it.base.Err() }
func (it *stagedIter) Close() error  { return it.base.Close() }
