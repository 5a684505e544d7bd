package statestore

import (
	"bytes"
	"sync"
)

// cacheEntryOverhead approximates the bytes a cache entry costs beyond its
// key and value (entry struct, skiplist node and links).
const cacheEntryOverhead = 160

// Cache is the record cache of one task (Manager.Cache): a byte-bounded LRU over the cached
// stores of the task. Puts to the same key merge; on Flush or when an entry
// is evicted to stay under the bound, the latest value goes to the engine,
// the ChangeLogger and the store's flush listener.
//
// Cache is safe for concurrent use. Flushed writes run outside its lock, on
// the goroutine whose call caused them (Put for evictions, Flush for
// flushes).
type Cache struct {
	mu   sync.Mutex
	max  int64
	size int64
	// lru is a circular list; lru.lruNext is the least recently used entry.
	lru    cacheEntry
	seed   uint64
	hits   int64
	misses int64
	evicts int64
}

// newCache returns a cache bounded to maxBytes (0 holds nothing: every put
// is written through at once).
func newCache(maxBytes int64) *Cache {
	c := &Cache{max: maxBytes}
	c.lru.lruNext, c.lru.lruPrev = &c.lru, &c.lru
	return c
}

// SetMaxBytes changes the bound. The runtime calls it when tasks are added
// or removed so that statestore.cache.max.bytes stays split over the
// instance's tasks, outside the processing of any record: so it drops only
// clean entries (no write, nothing can fail) to get under the new bound.
// Dirty entries over it stay until the next write to the cache evicts them
// or a flush writes them, where a failure reaches the caller that can fail
// the task instead of losing them. It returns no error today; the result is
// kept for callers that check it.
func (c *Cache) SetMaxBytes(n int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = n
	c.trimCleanLocked()
	return nil
}

// trimCleanLocked drops clean entries, least recently used first, while the
// cache is over its bound.
func (c *Cache) trimCleanLocked() {
	for e := c.lru.lruNext; c.size > c.max && e != &c.lru; {
		next := e.lruNext
		if !e.dirty {
			c.removeLocked(e)
			c.evicts++
		}
		e = next
	}
}

// MaxBytes returns the bound.
func (c *Cache) MaxBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max
}

// SizeBytes returns the bytes currently accounted to entries.
func (c *Cache) SizeBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// CacheStats are counters of a Cache.
type CacheStats struct {
	Hits, Misses, Evictions int64
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Evictions: c.evicts}
}

type cacheEntry struct {
	nc         *namedCache
	key, value []byte // value nil: a cached delete
	ts         int64
	dirty      bool
	size       int64
	rc         RecordContext // of the record that last wrote the entry

	lruPrev, lruNext     *cacheEntry
	dirtyPrev, dirtyNext *cacheEntry
}

// namedCache is the part of a Cache that belongs to one store.
type namedCache struct {
	c *Cache
	// byKey answers point lookups without walking idx, the sorted index
	// that range iteration needs.
	byKey map[string]*cacheEntry
	idx   *skiplist[*cacheEntry]
	dirty cacheEntry // circular list sentinel, in order of last write
	// write sends flushed entries (in order) to the engine and beyond.
	write func([]*cacheEntry) error
}

func (c *Cache) newNamed(write func([]*cacheEntry) error) *namedCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seed++
	nc := &namedCache{c: c, byKey: map[string]*cacheEntry{}, idx: newSkiplist[*cacheEntry](c.seed), write: write}
	nc.dirty.dirtyNext, nc.dirty.dirtyPrev = &nc.dirty, &nc.dirty
	return nc
}

func (c *Cache) lruUnlink(e *cacheEntry) {
	e.lruPrev.lruNext = e.lruNext
	e.lruNext.lruPrev = e.lruPrev
	e.lruPrev, e.lruNext = nil, nil
}

func (c *Cache) lruPushBack(e *cacheEntry) {
	e.lruPrev = c.lru.lruPrev
	e.lruNext = &c.lru
	c.lru.lruPrev.lruNext = e
	c.lru.lruPrev = e
}

func (nc *namedCache) dirtyUnlink(e *cacheEntry) {
	e.dirtyPrev.dirtyNext = e.dirtyNext
	e.dirtyNext.dirtyPrev = e.dirtyPrev
	e.dirtyPrev, e.dirtyNext = nil, nil
}

func (nc *namedCache) dirtyPushBack(e *cacheEntry) {
	e.dirtyPrev = nc.dirty.dirtyPrev
	e.dirtyNext = &nc.dirty
	nc.dirty.dirtyPrev.dirtyNext = e
	nc.dirty.dirtyPrev = e
}

// get returns the cached value of key; known reports whether the cache
// holds the key (value nil then means deleted).
func (nc *namedCache) get(key []byte) (value []byte, known bool) {
	c := nc.c
	c.mu.Lock()
	defer c.mu.Unlock()
	e := nc.byKey[string(key)]
	if e == nil {
		c.misses++
		return nil, false
	}
	c.hits++
	c.lruUnlink(e)
	c.lruPushBack(e)
	return e.value, true
}

// put caches a dirty write of key (value nil = delete) by the record of
// context rc. The key and value are copied, rc's headers are shared.
// Entries evicted to make room are written before put returns.
func (nc *namedCache) put(key, value []byte, ts int64, rc *RecordContext) error {
	c := nc.c
	v := clone(value)
	if value != nil && v == nil {
		v = []byte{}
	}
	c.mu.Lock()
	e := nc.byKey[string(key)]
	if e != nil {
		c.size -= e.size
		e.value, e.ts, e.rc = v, ts, *rc
		c.lruUnlink(e)
		if e.dirty {
			nc.dirtyUnlink(e)
		}
	} else {
		e = &cacheEntry{nc: nc, key: clone(key), value: v, ts: ts, rc: *rc}
		if e.key == nil {
			e.key = []byte{}
		}
		nc.idx.set(e.key, e)
		nc.byKey[string(e.key)] = e
	}
	e.size = int64(len(e.key)+len(e.value)) + cacheEntryOverhead + rc.sizeEstimate()
	c.size += e.size
	e.dirty = true
	nc.dirtyPushBack(e)
	c.lruPushBack(e)
	ev := c.evictLocked()
	c.mu.Unlock()
	return writeEvicted(ev)
}

// evictLocked, when the cache is over its bound, removes least recently
// used entries until it is 1/16 below the bound (so that evictions reach
// the engine in batches rather than one write per put) and returns the
// dirty ones in eviction order.
func (c *Cache) evictLocked() []*cacheEntry {
	if c.size <= c.max {
		return nil
	}
	target := c.max - c.max/16
	var out []*cacheEntry
	for c.size > target && c.lru.lruNext != &c.lru {
		e := c.lru.lruNext
		c.removeLocked(e)
		c.evicts++
		if e.dirty {
			e.nc.dirtyUnlink(e)
			out = append(out, e)
		}
	}
	return out
}

func (c *Cache) removeLocked(e *cacheEntry) {
	c.lruUnlink(e)
	e.nc.idx.remove(e.key)
	delete(e.nc.byKey, string(e.key))
	c.size -= e.size
}

// writeEvicted writes evicted entries, one batch per store, stores in the
// order of their first evicted entry and entries in eviction order.
func writeEvicted(ev []*cacheEntry) error {
	if len(ev) == 0 {
		return nil
	}
	var order []*namedCache
	per := map[*namedCache][]*cacheEntry{}
	for _, e := range ev {
		if _, ok := per[e.nc]; !ok {
			order = append(order, e.nc)
		}
		per[e.nc] = append(per[e.nc], e)
	}
	for _, nc := range order {
		if err := nc.write(per[nc]); err != nil {
			return err
		}
	}
	return nil
}

// flush writes every dirty entry of the store, oldest write first, and
// keeps them cached as clean entries.
func (nc *namedCache) flush() error {
	c := nc.c
	c.mu.Lock()
	var out []*cacheEntry
	for e := nc.dirty.dirtyNext; e != &nc.dirty; {
		next := e.dirtyNext
		nc.dirtyUnlink(e)
		e.dirty = false
		// Copy: the entry may be overwritten while the write runs.
		out = append(out, &cacheEntry{nc: nc, key: e.key, value: e.value, ts: e.ts, rc: e.rc})
		if e.value == nil {
			// A flushed delete need not stay cached.
			c.removeLocked(e)
		}
		e = next
	}
	// Dirty entries SetMaxBytes left over the bound are clean now.
	c.trimCleanLocked()
	c.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	return nc.write(out)
}

// forget drops key's entry without writing it.
func (nc *namedCache) forget(key []byte) {
	c := nc.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := nc.byKey[string(key)]; e != nil {
		c.removeLocked(e)
		if e.dirty {
			nc.dirtyUnlink(e)
		}
	}
}

// drop forgets every entry of the store without writing it.
func (nc *namedCache) drop() {
	c := nc.c
	c.mu.Lock()
	defer c.mu.Unlock()
	nc.dropRangeLocked(nil, nil)
}

// dropCleanRange forgets the clean entries in [from, to); dirty ones stay
// to be written (window expiry: the engine range is deleted, but unflushed
// results must still reach the changelog and the flush listener).
func (nc *namedCache) dropCleanRange(from, to []byte) {
	c := nc.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var clean []*cacheEntry
	for n := nc.idx.first(from); n != nil && (to == nil || bytes.Compare(n.key, to) < 0); n = n.next[0] {
		if !n.val.dirty {
			clean = append(clean, n.val)
		}
	}
	for _, e := range clean {
		c.removeLocked(e)
	}
}

func (nc *namedCache) dropRangeLocked(from, to []byte) {
	c := nc.c
	nc.idx.removeRange(from, to, func(n *slNode[*cacheEntry]) {
		e := n.val
		c.lruUnlink(e)
		delete(nc.byKey, string(e.key))
		c.size -= e.size
		if e.dirty {
			nc.dirtyUnlink(e)
		}
	})
}

type cachedKV struct {
	key, value []byte // value nil = deleted
}

// snapshot copies the cached entries in [lo, hi) in key order.
func (nc *namedCache) snapshot(lo, hi []byte) []cachedKV {
	c := nc.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cachedKV
	for n := nc.idx.first(lo); n != nil && (hi == nil || bytes.Compare(n.key, hi) < 0); n = n.next[0] {
		out = append(out, cachedKV{n.val.key, n.val.value})
	}
	return out
}

// mergedIter overlays a cache snapshot on an engine iterator: where both
// have a key the cache wins, and cached deletes hide engine entries.
type mergedIter struct {
	cache []cachedKV
	ci    int
	eng   RawIterator
	ev    bool // eng positioned on a valid entry
	// advEng: the current entry came from eng; step eng before the next one.
	advEng bool
	key    []byte
	val    []byte
	done   bool
}

func (m *mergedIter) First() bool {
	m.ci = 0
	m.advEng = false
	m.ev = m.eng.First()
	m.done = false
	return m.settle()
}

// Last positions at the largest live key by scanning forward (the stores
// only need it on the engine directly); a following Next returns false.
func (m *mergedIter) Last() bool { return m.lastByScan() }

func (m *mergedIter) lastByScan() bool {
	var k, v []byte
	found := false
	for ok := m.First(); ok; ok = m.Next() {
		k, v, found = append(k[:0], m.key...), append(v[:0], m.val...), true
	}
	m.done = true
	m.key, m.val = k, v
	return found
}

func (m *mergedIter) Next() bool {
	if m.done {
		return false
	}
	return m.settle()
}

// settle moves to the next visible entry, consuming it from its sources.
func (m *mergedIter) settle() bool {
	if m.advEng {
		m.advEng = false
		m.ev = m.eng.Next()
	}
	for {
		hasC := m.ci < len(m.cache)
		switch {
		case !hasC && !m.ev:
			m.done = true
			m.key, m.val = nil, nil
			return false
		case !m.ev || (hasC && bytes.Compare(m.cache[m.ci].key, m.eng.Key()) <= 0):
			ce := m.cache[m.ci]
			m.ci++
			if m.ev && bytes.Equal(ce.key, m.eng.Key()) {
				m.ev = m.eng.Next()
			}
			if ce.value == nil {
				continue
			}
			m.key, m.val = ce.key, ce.value
			return true
		default:
			// Advance the engine lazily so that Key and Value stay valid.
			m.key, m.val = m.eng.Key(), m.eng.Value()
			m.advEng = true
			return true
		}
	}
}

func (m *mergedIter) Key() []byte   { return m.key }
func (m *mergedIter) Value() []byte { return m.val }
func (m *mergedIter) Err() error    { return m.eng.Err() }
func (m *mergedIter) Close() error  { return m.eng.Close() }
