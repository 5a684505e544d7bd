package statestore

import (
	"bytes"
	"math/rand/v2"
)

// skiplist is an ordered map from byte keys to V. It is not safe for
// concurrent use; callers lock. It backs the in-memory engine and the sorted
// index of the record cache.
//
// Removed nodes are marked dead so that a cursor parked on one can still
// tell, and a version counter lets cursors skip re-seeking when nothing
// changed since their last step.
type skiplist[V any] struct {
	head    slNode[V]
	level   int
	len     int
	version uint64
	rng     *rand.PCG
}

const slMaxLevel = 24

type slNode[V any] struct {
	key  []byte
	val  V
	dead bool
	next []*slNode[V]
}

func newSkiplist[V any](seed uint64) *skiplist[V] {
	s := &skiplist[V]{level: 1, rng: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)}
	s.head.next = make([]*slNode[V], slMaxLevel)
	return s
}

func (s *skiplist[V]) randomLevel() int {
	// Branching factor 4: one level per two random bits.
	l := 1
	for r := s.rng.Uint64(); l < slMaxLevel && r&3 == 0; r >>= 2 {
		l++
	}
	return l
}

// findGE fills prev (if non-nil) with the rightmost node at each level whose
// key is < key, and returns the first node with key >= key.
func (s *skiplist[V]) findGE(key []byte, prev []*slNode[V]) *slNode[V] {
	x := &s.head
	for i := s.level - 1; i >= 0; i-- {
		for n := x.next[i]; n != nil && bytes.Compare(n.key, key) < 0; n = x.next[i] {
			x = n
		}
		if prev != nil {
			prev[i] = x
		}
	}
	return x.next[0]
}

// get returns the node for key or nil.
func (s *skiplist[V]) get(key []byte) *slNode[V] {
	n := s.findGE(key, nil)
	if n != nil && bytes.Equal(n.key, key) {
		return n
	}
	return nil
}

// set inserts or replaces. It keeps key as given (callers pass owned copies)
// and reports whether the key was new.
func (s *skiplist[V]) set(key []byte, val V) (n *slNode[V], inserted bool) {
	var prev [slMaxLevel]*slNode[V]
	n = s.findGE(key, prev[:])
	if n != nil && bytes.Equal(n.key, key) {
		n.val = val
		return n, false
	}
	l := s.randomLevel()
	if l > s.level {
		for i := s.level; i < l; i++ {
			prev[i] = &s.head
		}
		s.level = l
	}
	n = newNode[V](l)
	n.key, n.val = key, val
	for i := 0; i < l; i++ {
		n.next[i] = prev[i].next[i]
		prev[i].next[i] = n
	}
	s.len++
	s.version++
	return n, true
}

// remove deletes key and returns the removed node, or nil.
func (s *skiplist[V]) remove(key []byte) *slNode[V] {
	var prev [slMaxLevel]*slNode[V]
	n := s.findGE(key, prev[:])
	if n == nil || !bytes.Equal(n.key, key) {
		return nil
	}
	for i := 0; i < len(n.next); i++ {
		if prev[i].next[i] == n {
			prev[i].next[i] = n.next[i]
		}
	}
	n.dead = true
	s.len--
	s.version++
	return n
}

// removeRange deletes every key in [from, to) (nil bounds are open) and
// calls fn, if non-nil, for each removed node in order.
func (s *skiplist[V]) removeRange(from, to []byte, fn func(*slNode[V])) int {
	var prev [slMaxLevel]*slNode[V]
	var n *slNode[V]
	if from == nil {
		for i := 0; i < s.level; i++ {
			prev[i] = &s.head
		}
		n = s.head.next[0]
	} else {
		n = s.findGE(from, prev[:])
	}
	removed := 0
	for n != nil && (to == nil || bytes.Compare(n.key, to) < 0) {
		next := n.next[0]
		for i := 0; i < len(n.next); i++ {
			prev[i].next[i] = n.next[i]
		}
		n.dead = true
		if fn != nil {
			fn(n)
		}
		removed++
		n = next
	}
	if removed > 0 {
		s.len -= removed
		s.version++
	}
	return removed
}

// first returns the first node with key >= from (nil from = smallest).
func (s *skiplist[V]) first(from []byte) *slNode[V] {
	if from == nil {
		return s.head.next[0]
	}
	return s.findGE(from, nil)
}

// lastBefore returns the last node with key < to (nil to = largest).
func (s *skiplist[V]) lastBefore(to []byte) *slNode[V] {
	x := &s.head
	for i := s.level - 1; i >= 0; i-- {
		for n := x.next[i]; n != nil && (to == nil || bytes.Compare(n.key, to) < 0); n = x.next[i] {
			x = n
		}
	}
	if x == &s.head {
		return nil
	}
	return x
}

// newNode allocates a node and its links in one object for the common
// small levels, saving an allocation and a cache miss per hop.
func newNode[V any](l int) *slNode[V] {
	switch l {
	case 1:
		x := &struct {
			n slNode[V]
			a [1]*slNode[V]
		}{}
		x.n.next = x.a[:]
		return &x.n
	case 2:
		x := &struct {
			n slNode[V]
			a [2]*slNode[V]
		}{}
		x.n.next = x.a[:]
		return &x.n
	case 3:
		x := &struct {
			n slNode[V]
			a [3]*slNode[V]
		}{}
		x.n.next = x.a[:]
		return &x.n
	case 4:
		x := &struct {
			n slNode[V]
			a [4]*slNode[V]
		}{}
		x.n.next = x.a[:]
		return &x.n
	}
	return &slNode[V]{next: make([]*slNode[V], l)}
}
