package statestore

import (
	"fmt"
	"math"
	"sync/atomic"
)

// Windowed is a key with the window (or session) it belongs to. Start is
// inclusive. For windows End = Start + window size (exclusive); for
// sessions End is the inclusive timestamp of the session's last record.
type Windowed[K any] struct {
	Key        K
	Start, End int64
}

// WindowStore keeps one value per (key, window start) for a retention
// period measured in stream time (the largest window start put so far).
// Times are milliseconds. It is safe for concurrent use; writes belong on
// the task's goroutine.
type WindowStore[K, V any] interface {
	Store
	// Put writes the value of key's window starting at windowStart. Windows
	// that start at or before stream time - retention are dropped.
	Put(key K, value V, windowStart int64) error
	// Delete removes key's window starting at windowStart.
	Delete(key K, windowStart int64) error
	// Get returns the value of key's window starting at windowStart.
	Get(key K, windowStart int64) (V, bool, error)
	// Fetch iterates key's windows with start in [timeFrom, timeTo] in
	// start order. The caller must Close the iterator.
	Fetch(key K, timeFrom, timeTo int64) (KeyValueIterator[Windowed[K], V], error)
	// FetchAll iterates all windows with start in [timeFrom, timeTo],
	// ordered by expiry segment, then serialized key, then start. The
	// caller must Close the iterator.
	FetchAll(timeFrom, timeTo int64) (KeyValueIterator[Windowed[K], V], error)
	// All iterates every live window. The caller must Close the iterator.
	All() (KeyValueIterator[Windowed[K], V], error)
	// SetFlushListener: see KeyValueStore.SetFlushListener.
	SetFlushListener(fn func(FlushedRecord[Windowed[K], V]) error, sendOldValues bool) bool
}

// SessionStore keeps one value per (key, session start, session end) for a
// retention period measured in stream time (the largest session end put so
// far). To merge sessions, find the ones a new record touches with
// FindSessions(key, ts-gap, ts+gap), Remove them and Put the merged one.
// It is safe for concurrent use; writes belong on the task's goroutine.
type SessionStore[K, V any] interface {
	Store
	// Put writes a session. Sessions ending at or before stream time -
	// retention are dropped.
	Put(session Windowed[K], value V) error
	// Remove deletes a session.
	Remove(session Windowed[K]) error
	// Get returns the value of one session.
	Get(session Windowed[K]) (V, bool, error)
	// FindSessions iterates key's sessions that end at or after earliestEnd
	// and start at or before latestStart, ordered by end then start. The
	// caller must Close the iterator.
	FindSessions(key K, earliestEnd, latestStart int64) (KeyValueIterator[Windowed[K], V], error)
	// Fetch iterates all sessions of key. The caller must Close the
	// iterator.
	Fetch(key K) (KeyValueIterator[Windowed[K], V], error)
	// SetFlushListener: see KeyValueStore.SetFlushListener.
	SetFlushListener(fn func(FlushedRecord[Windowed[K], V]) error, sendOldValues bool) bool
}

// timeline tracks stream time and expiry for window and session stores.
//
// observed is the clock of the engine, as Kafka Streams'
// AbstractRocksDBSegmentedBytesStore.observedStreamTime: a write advances
// it when it reaches the engine, so for a cached store at flush or
// eviction (writeFlushed), not at Put. Until then a cached write is only
// in the cache, which knows nothing of retention (CachingWindowStore,
// CachingSessionStore): a session merged away in the cache still finds
// its old value in the engine at flush, and its tombstone is forwarded.
type timeline struct {
	c         *storeCore
	retention int64
	seg       int64
	timeAt    int          // the key's retention time is the 8 bytes timeAt from the end of an engine key
	observed  atomic.Int64 // largest time written to the engine; MinInt64 when none
	minSeg    atomic.Int64 // lowest segment that may hold data, in the engine or the cache
	maxSeg    atomic.Int64 // highest segment that may hold data, in the engine or the cache
	expired   atomic.Int64 // segments below this were deleted
}

func newTimeline(c *storeCore, timeAt int) (*timeline, error) {
	t := &timeline{c: c, retention: c.spec.Retention.Milliseconds(), seg: c.spec.SegmentInterval.Milliseconds(), timeAt: timeAt}
	c.reset = t.resetEmpty
	if err := t.load(); err != nil {
		return nil, err
	}
	c.afterRestore = t.expire
	c.afterFlush = t.expire
	// As Kafka's segmented get: an old value before the live time is gone.
	c.expiredKey = func(ek []byte) bool { return len(ek) >= 8+t.timeAt && t.keyTime(ek) < t.minLive() }
	// As Kafka's segmented put: advance the clock, then write only into a
	// live segment.
	c.reachKey = func(ek []byte) bool {
		if len(ek) < 8+t.timeAt {
			return false
		}
		t.advance(t.keyTime(ek))
		ml := t.minLive()
		return ml == math.MinInt64 || readTime(ek) >= t.segmentOf(ml)
	}
	return t, nil
}

func (t *timeline) keyTime(ek []byte) int64 { return readTime(ek[len(ek)-t.timeAt:]) }

// cached writes a window or session of time ts into the cache, which keeps
// it whatever the clock (Kafka's caching stores do); the clock moves when
// it is flushed.
func (t *timeline) cached(ek, vb []byte, ts int64) error {
	t.seen(ts)
	return t.c.put(ek, vb)
}

// seen widens the segments that may hold data to ts's.
func (t *timeline) seen(ts int64) {
	s := t.segmentOf(ts)
	if s > t.maxSeg.Load() {
		t.maxSeg.Store(s)
	}
	if s < t.minSeg.Load() {
		t.minSeg.Store(s)
	}
}

// get reads one engine key of time ts, if ts is live by the engine's
// clock. For a cached store that clock lags the cache until a flush, so a
// dirty window is read from the cache (as CachingWindowStore.fetch and
// CachingSessionStore.fetchSession read the cache first); after it, a
// cached entry past retention is hidden as the engine's are.
func (t *timeline) get(ek []byte, ts int64) ([]byte, bool, error) {
	if ts < t.minLive() {
		return nil, false, nil
	}
	return t.c.get(ek)
}

func (t *timeline) resetEmpty() {
	t.observed.Store(math.MinInt64)
	t.minSeg.Store(math.MaxInt64)
	t.maxSeg.Store(math.MinInt64)
	t.expired.Store(math.MinInt64)
}

// load derives stream time from the engine after a restart: the start of
// the last segment, a lower bound that may keep a little more than
// needed until the next Put.
func (t *timeline) load() error {
	t.resetEmpty()
	it, err := t.c.raw.Iter(nil, nil)
	if err != nil {
		return err
	}
	defer it.Close()
	if it.Last() {
		if len(it.Key()) < 8 {
			return fmt.Errorf("statestore: %s: %w: key of %d bytes", t.c.spec.Name, ErrCorrupt, len(it.Key()))
		}
		s := readTime(it.Key())
		t.maxSeg.Store(s)
		t.observed.Store(satMul(s, t.seg))
		if it.First() {
			t.minSeg.Store(readTime(it.Key()))
		}
	}
	return it.Err()
}

func satMul(a, b int64) int64 {
	r := a * b
	if a != 0 && (r/a != b || (a == -1 && b == math.MinInt64)) {
		if (a < 0) != (b < 0) {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return r
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (t *timeline) segmentOf(ts int64) int64 { return floorDiv(ts, t.seg) }

// minLive is the smallest live time: observed - retention + 1.
func (t *timeline) minLive() int64 {
	o := t.observed.Load()
	if o == math.MinInt64 {
		return math.MinInt64
	}
	if o < math.MinInt64+t.retention {
		return math.MinInt64
	}
	return o - t.retention + 1
}

// advance raises stream time to ts and reports whether ts is still live.
func (t *timeline) advance(ts int64) bool {
	for {
		o := t.observed.Load()
		if ts <= o || t.observed.CompareAndSwap(o, ts) {
			break
		}
	}
	t.seen(ts)
	return ts >= t.minLive()
}

// expire range-deletes segments that are wholly expired.
func (t *timeline) expire() error {
	minLive := t.minLive()
	if minLive == math.MinInt64 {
		return nil
	}
	below := t.segmentOf(minLive)
	if below <= t.expired.Load() {
		return nil
	}
	t.expired.Store(below)
	return t.c.deleteRange(nil, appendTime(nil, below))
}

// winRange is one engine key range of a windowed iteration.
type winRange struct{ lo, hi []byte }

// winIter walks ranges in turn, decoding and filtering entries.
type winIter[K, V any] struct {
	c       *storeCore
	keys    Serde[K]
	values  Serde[V]
	ranges  []winRange
	cur     RawIterator
	started bool
	// decode splits an engine key into the serialized key and times;
	// keep filters.
	decode func(k []byte) (key []byte, start, end int64, err error)
	keep   func(start, end int64) bool
	k      Windowed[K]
	v      V
	err    error
	closed bool
}

func (w *winIter[K, V]) Next() bool {
	for w.err == nil && !w.closed {
		if w.cur == nil {
			if len(w.ranges) == 0 {
				return false
			}
			r := w.ranges[0]
			w.ranges = w.ranges[1:]
			if w.cur, w.err = w.c.iter(r.lo, r.hi); w.err != nil {
				return false
			}
			w.started = false
		}
		var ok bool
		if !w.started {
			w.started, ok = true, w.cur.First()
		} else {
			ok = w.cur.Next()
		}
		if !ok {
			w.err = w.cur.Err()
			if cerr := w.cur.Close(); w.err == nil {
				w.err = cerr
			}
			w.cur = nil
			continue
		}
		kb, start, end, err := w.decode(w.cur.Key())
		if err != nil {
			w.err = fmt.Errorf("statestore: %s: %w", w.c.spec.Name, err)
			return false
		}
		if !w.keep(start, end) {
			continue
		}
		if w.k.Key, err = w.keys.Deserialize(w.c.topic, kb); err != nil {
			w.err = fmt.Errorf("statestore: %s: deserializing key: %w", w.c.spec.Name, err)
			return false
		}
		w.k.Start, w.k.End = start, end
		if w.v, err = w.values.Deserialize(w.c.topic, w.cur.Value()); err != nil {
			w.err = fmt.Errorf("statestore: %s: deserializing value: %w", w.c.spec.Name, err)
			return false
		}
		return true
	}
	return false
}

func (w *winIter[K, V]) Key() Windowed[K] { return w.k }
func (w *winIter[K, V]) Value() V         { return w.v }
func (w *winIter[K, V]) Err() error       { return w.err }
func (w *winIter[K, V]) Close() error {
	w.closed = true
	if w.cur != nil {
		err := w.cur.Close()
		w.cur = nil
		return err
	}
	return nil
}

// windowedListener adapts a typed flush listener of a windowed store.
func windowedListener[K, V any](c *storeCore, keys Serde[K], values Serde[V],
	decode func([]byte) ([]byte, int64, int64, error),
	fn func(FlushedRecord[Windowed[K], V]) error, sendOld bool) bool {
	return c.setListener(func(kb, nb, ob []byte, ts int64, rc *RecordContext) error {
		raw, start, end, err := decode(kb)
		if err != nil {
			return err
		}
		r := FlushedRecord[Windowed[K], V]{Timestamp: ts, Context: *rc}
		if r.Key.Key, err = keys.Deserialize(c.topic, raw); err != nil {
			return err
		}
		r.Key.Start, r.Key.End = start, end
		if nb != nil {
			if r.New, err = values.Deserialize(c.topic, nb); err != nil {
				return err
			}
			r.HasNew = true
		}
		if ob != nil {
			if r.Old, err = values.Deserialize(c.topic, ob); err != nil {
				return err
			}
			r.HasOld = true
		}
		return fn(r)
	}, sendOld)
}

type windowStore[K, V any] struct {
	*timeline
	keys   Serde[K]
	values Serde[V]
	size   int64
}

func newWindowStore[K, V any](c *storeCore, keys Serde[K], values Serde[V]) (*windowStore[K, V], error) {
	tl, err := newTimeline(c, 8)
	if err != nil {
		return nil, err
	}
	s := &windowStore[K, V]{timeline: tl, keys: keys, values: values, size: c.spec.WindowSize.Milliseconds()}
	c.logKey = func(ek []byte) ([]byte, error) {
		_, k, start, err := decodeWindowKey(ek)
		if err != nil {
			return nil, err
		}
		return appendWindowLogKey(nil, k, start), nil
	}
	c.restoreKey = func(lk []byte) ([]byte, bool, error) {
		k, start, err := decodeWindowLogKey(lk)
		if err != nil {
			return nil, false, err
		}
		if !s.advance(start) {
			return nil, false, nil
		}
		return appendWindowKey(nil, s.segmentOf(start), k, start), true, nil
	}
	return s, nil
}

func (s *windowStore[K, V]) Name() string { return s.c.spec.Name }

func (s *windowStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.keys.Serialize(s.c.topic, k)
	if err != nil {
		return nil, fmt.Errorf("statestore: %s: serializing key: %w", s.c.spec.Name, err)
	}
	return b, nil
}

func (s *windowStore[K, V]) decode(ek []byte) ([]byte, int64, int64, error) {
	_, k, start, err := decodeWindowKey(ek)
	return k, start, start + s.size, err
}

func (s *windowStore[K, V]) Put(key K, value V, windowStart int64) error {
	kb, err := s.key(key)
	if err != nil {
		return err
	}
	vb, err := s.values.Serialize(s.c.topic, value)
	if err != nil {
		return fmt.Errorf("statestore: %s: serializing value: %w", s.c.spec.Name, err)
	}
	if vb == nil {
		vb = []byte{}
	}
	return s.write(kb, vb, windowStart)
}

func (s *windowStore[K, V]) Delete(key K, windowStart int64) error {
	kb, err := s.key(key)
	if err != nil {
		return err
	}
	return s.write(kb, nil, windowStart)
}

func (s *windowStore[K, V]) write(kb, vb []byte, start int64) error {
	ek := appendWindowKey(nil, s.segmentOf(start), kb, start)
	if s.c.cache != nil {
		return s.cached(ek, vb, start)
	}
	if !s.advance(start) {
		return nil
	}
	if err := s.expire(); err != nil {
		return err
	}
	return s.c.put(ek, vb)
}

func (s *windowStore[K, V]) Get(key K, windowStart int64) (V, bool, error) {
	var zero V
	kb, err := s.key(key)
	if err != nil {
		return zero, false, err
	}
	vb, ok, err := s.get(appendWindowKey(nil, s.segmentOf(windowStart), kb, windowStart), windowStart)
	if err != nil || !ok {
		return zero, false, err
	}
	v, err := s.values.Deserialize(s.c.topic, vb)
	if err != nil {
		return zero, false, fmt.Errorf("statestore: %s: deserializing value: %w", s.c.spec.Name, err)
	}
	return v, true, nil
}

// clamp narrows [from, to] to live time and existing segments; ok false
// means nothing can match.
func (t *timeline) clamp(from, to int64) (int64, int64, bool) {
	ms := t.maxSeg.Load()
	if ms == math.MinInt64 {
		return 0, 0, false
	}
	// A cached store's clock may lag its data: start at the first segment
	// that may hold any.
	from = max(from, t.minLive(), satMul(t.minSeg.Load(), t.seg))
	if last := satMul(ms+1, t.seg); last != math.MaxInt64 {
		to = min(to, last-1)
	}
	return from, to, from <= to
}

func (s *windowStore[K, V]) iter(ranges []winRange, from, to int64) *winIter[K, V] {
	return &winIter[K, V]{c: s.c, keys: s.keys, values: s.values, ranges: ranges, decode: s.decode,
		keep: func(start, _ int64) bool { return start >= from && start <= to && start >= s.minLive() }}
}

func (s *windowStore[K, V]) Fetch(key K, timeFrom, timeTo int64) (KeyValueIterator[Windowed[K], V], error) {
	kb, err := s.key(key)
	if err != nil {
		return nil, err
	}
	from, to, ok := s.clamp(timeFrom, timeTo)
	if !ok {
		return s.iter(nil, 0, -1), nil
	}
	var ranges []winRange
	for seg := s.segmentOf(from); seg <= s.segmentOf(to); seg++ {
		lo := appendWindowKey(nil, seg, kb, from)
		hi := append(appendWindowKey(nil, seg, kb, to), 0)
		ranges = append(ranges, winRange{lo, hi})
	}
	return s.iter(ranges, from, to), nil
}

func (s *windowStore[K, V]) FetchAll(timeFrom, timeTo int64) (KeyValueIterator[Windowed[K], V], error) {
	from, to, ok := s.clamp(timeFrom, timeTo)
	if !ok {
		return s.iter(nil, 0, -1), nil
	}
	lo := appendTime(nil, s.segmentOf(from))
	hi := prefixEnd(appendTime(nil, s.segmentOf(to)))
	return s.iter([]winRange{{lo, hi}}, from, to), nil
}

func (s *windowStore[K, V]) All() (KeyValueIterator[Windowed[K], V], error) {
	return s.FetchAll(math.MinInt64, math.MaxInt64)
}

func (s *windowStore[K, V]) SetFlushListener(fn func(FlushedRecord[Windowed[K], V]) error, sendOld bool) bool {
	return windowedListener(s.c, s.keys, s.values, s.decode, fn, sendOld)
}

type sessionStore[K, V any] struct {
	*timeline
	keys   Serde[K]
	values Serde[V]
}

func newSessionStore[K, V any](c *storeCore, keys Serde[K], values Serde[V]) (*sessionStore[K, V], error) {
	tl, err := newTimeline(c, 16)
	if err != nil {
		return nil, err
	}
	s := &sessionStore[K, V]{timeline: tl, keys: keys, values: values}
	c.logKey = func(ek []byte) ([]byte, error) {
		_, k, end, start, err := decodeSessionKey(ek)
		if err != nil {
			return nil, err
		}
		return appendSessionLogKey(nil, k, end, start), nil
	}
	c.restoreKey = func(lk []byte) ([]byte, bool, error) {
		k, end, start, err := decodeSessionLogKey(lk)
		if err != nil {
			return nil, false, err
		}
		if !s.advance(end) {
			return nil, false, nil
		}
		return appendSessionKey(nil, s.segmentOf(end), k, end, start), true, nil
	}
	return s, nil
}

func (s *sessionStore[K, V]) Name() string { return s.c.spec.Name }

func (s *sessionStore[K, V]) decode(ek []byte) ([]byte, int64, int64, error) {
	_, k, end, start, err := decodeSessionKey(ek)
	return k, start, end, err
}

func (s *sessionStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.keys.Serialize(s.c.topic, k)
	if err != nil {
		return nil, fmt.Errorf("statestore: %s: serializing key: %w", s.c.spec.Name, err)
	}
	return b, nil
}

func (s *sessionStore[K, V]) engineKey(w Windowed[K]) ([]byte, error) {
	if w.End < w.Start {
		return nil, fmt.Errorf("statestore: %s: session ends (%d) before it starts (%d)", s.c.spec.Name, w.End, w.Start)
	}
	kb, err := s.key(w.Key)
	if err != nil {
		return nil, err
	}
	return appendSessionKey(nil, s.segmentOf(w.End), kb, w.End, w.Start), nil
}

func (s *sessionStore[K, V]) Put(w Windowed[K], value V) error {
	ek, err := s.engineKey(w)
	if err != nil {
		return err
	}
	vb, err := s.values.Serialize(s.c.topic, value)
	if err != nil {
		return fmt.Errorf("statestore: %s: serializing value: %w", s.c.spec.Name, err)
	}
	if vb == nil {
		vb = []byte{}
	}
	if s.c.cache != nil {
		return s.cached(ek, vb, w.End)
	}
	if !s.advance(w.End) {
		return nil
	}
	if err := s.expire(); err != nil {
		return err
	}
	return s.c.put(ek, vb)
}

func (s *sessionStore[K, V]) Remove(w Windowed[K]) error {
	ek, err := s.engineKey(w)
	if err != nil {
		return err
	}
	return s.c.put(ek, nil)
}

func (s *sessionStore[K, V]) Get(w Windowed[K]) (V, bool, error) {
	var zero V
	ek, err := s.engineKey(w)
	if err != nil {
		return zero, false, err
	}
	vb, ok, err := s.get(ek, w.End)
	if err != nil || !ok {
		return zero, false, err
	}
	v, err := s.values.Deserialize(s.c.topic, vb)
	if err != nil {
		return zero, false, fmt.Errorf("statestore: %s: deserializing value: %w", s.c.spec.Name, err)
	}
	return v, true, nil
}

func (s *sessionStore[K, V]) FindSessions(key K, earliestEnd, latestStart int64) (KeyValueIterator[Windowed[K], V], error) {
	kb, err := s.key(key)
	if err != nil {
		return nil, err
	}
	from, to, ok := s.clamp(earliestEnd, math.MaxInt64)
	it := &winIter[K, V]{c: s.c, keys: s.keys, values: s.values, decode: s.decode,
		keep: func(start, end int64) bool { return end >= earliestEnd && start <= latestStart && end >= s.minLive() }}
	if !ok {
		return it, nil
	}
	for seg := s.segmentOf(from); seg <= s.segmentOf(to); seg++ {
		p := appendEscaped(appendTime(nil, seg), kb)
		it.ranges = append(it.ranges, winRange{appendTime(append([]byte(nil), p...), from), prefixEnd(p)})
	}
	return it, nil
}

func (s *sessionStore[K, V]) Fetch(key K) (KeyValueIterator[Windowed[K], V], error) {
	return s.FindSessions(key, math.MinInt64, math.MaxInt64)
}

func (s *sessionStore[K, V]) SetFlushListener(fn func(FlushedRecord[Windowed[K], V]) error, sendOld bool) bool {
	return windowedListener(s.c, s.keys, s.values, s.decode, fn, sendOld)
}
