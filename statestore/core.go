package statestore

import (
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Serde turns values into bytes and back. serde.Serde[T] satisfies it. The
// topic passed is the store's changelog topic.
type Serde[T any] interface {
	Serialize(topic string, v T) ([]byte, error)
	Deserialize(topic string, b []byte) (T, error)
}

// ChangeLogger receives every change that reaches the engine of a logged
// store, so that the runtime can produce it to the store's changelog topic
// (ChangelogTopic(applicationID, store)), partition = the task's partition.
//
// LogChange is called on the task's goroutine (from Put for uncached
// stores, from Flush or an evicting Put for cached ones), in the order the
// changes reach the engine. value nil is a tombstone. key and value may be
// reused after it returns: copy them if they are kept (kgo.Record.Value is
// kept until the produce completes). An error fails the store operation.
type ChangeLogger interface {
	LogChange(store string, key, value []byte, timestamp int64) error
}

// HeaderLogger is a ChangeLogger that can put headers on a changelog
// record; stores with Spec.ChangelogHeaders log their values through it.
// The headers must not be modified; they may be kept.
type HeaderLogger interface {
	LogChangeWithHeaders(store string, key, value []byte, headers []kgo.RecordHeader, timestamp int64) error
}

// ChangelogTopic returns the changelog topic of a store:
// "<applicationID>-<store>-changelog".
func ChangelogTopic(applicationID, store string) string {
	return applicationID + "-" + store + "-changelog"
}

// FlushedRecord is what a cached store's flush listener receives when an
// entry leaves the cache for the engine. HasNew false means the key was
// deleted; Old is set (HasOld) only when the listener asked for old values
// and the engine had one. Timestamp and Context are those of the record
// that last wrote the entry (Kafka Streams' LRUCacheEntry context): a
// listener forwards with Context.Headers and reports Context's metadata
// while it does, as Caching*Store.putAndMaybeForward does.
type FlushedRecord[K, V any] struct {
	Key       K
	New, Old  V
	HasNew    bool
	HasOld    bool
	Timestamp int64
	Context   RecordContext
}

// RecordContext is where the record that wrote a cached entry came from
// (Kafka Streams' ProcessorRecordContext less the timestamp, which
// FlushedRecord carries): Topic "" (Partition and Offset -1) for a write
// outside the processing of a consumed record, such as a punctuation.
// Headers is shared with that record, not copied: it must not be modified.
type RecordContext struct {
	Topic     string
	Partition int32
	Offset    int64
	Headers   []kgo.RecordHeader
}

// noRecordContext is the context of writes made outside the processing of
// a consumed record.
var noRecordContext = RecordContext{Partition: -1, Offset: -1}

// sizeEstimate is what the context adds to a cache entry's size, counted
// as Kafka Streams' ProcessorRecordContext.residentMemorySizeEstimate less
// the timestamp (in cacheEntryOverhead): offset, partition, the topic's
// and the headers' bytes.
func (rc *RecordContext) sizeEstimate() int64 {
	n := int64(8 + 4 + len(rc.Topic))
	for _, h := range rc.Headers {
		n += int64(len(h.Key) + len(h.Value))
	}
	return n
}

// storeCore is one store of one task at byte level: engine keyspace, cache,
// logging. Typed stores are thin layers over it.
type storeCore struct {
	spec   Spec
	topic  string // changelog topic; also the topic given to serdes
	m      *Manager
	raw    RawStore
	cache  *namedCache
	logger ChangeLogger

	// Kind hooks. logKey maps an engine key to its changelog key (nil:
	// identity). restoreKey maps a changelog key back (nil: identity) and
	// reports false for records to skip (expired windows).
	logKey       func(engineKey []byte) ([]byte, error)
	restoreKey   func(logKey []byte) ([]byte, bool, error)
	afterRestore func() error
	// At a cache flush, for each entry in flush order: expiredKey reports
	// whether the engine's old value of the key is past retention (nil:
	// nothing expires); reachKey, for an entry that goes on to the engine,
	// advances the store's retention clock and reports whether its segment
	// is still live (nil: always); afterFlush runs after the batch.
	expiredKey func(engineKey []byte) bool
	reachKey   func(engineKey []byte) bool
	afterFlush func() error
	// reset forgets in-memory derived state after a Wipe.
	reset func()

	// listener gets flushed entries (cached stores only).
	listener atomic.Pointer[byteListener]
}

type byteListener struct {
	fn      func(key, newV, oldV []byte, ts int64, rc *RecordContext) error
	sendOld bool
}

func (c *storeCore) ts() int64 { return c.m.ts.Load() }

func (c *storeCore) get(key []byte) ([]byte, bool, error) {
	if c.m.shut.Load() {
		return nil, false, fmt.Errorf("statestore: %s: %w", c.spec.Name, ErrClosed)
	}
	if c.cache != nil {
		if v, known := c.cache.get(key); known {
			return v, v != nil, nil
		}
	}
	v, ok, err := c.raw.Get(key)
	if err != nil {
		return nil, false, fmt.Errorf("statestore: %s: get: %w", c.spec.Name, err)
	}
	return v, ok, nil
}

// put writes key (value nil = delete) through the cache or straight to the
// engine and the changelog.
func (c *storeCore) put(key, value []byte) error {
	if c.m.shut.Load() {
		return fmt.Errorf("statestore: %s: %w", c.spec.Name, ErrClosed)
	}
	if c.cache != nil {
		return c.cache.put(key, value, c.ts(), &c.m.rc)
	}
	var err error
	if value == nil {
		err = c.raw.Delete(key)
	} else {
		err = c.raw.Set(key, value)
	}
	if err != nil {
		return fmt.Errorf("statestore: %s: put: %w", c.spec.Name, err)
	}
	return c.log(key, value, c.ts())
}

// log sends one change to the ChangeLogger in Kafka Streams' changelog
// format (see "Wire compatibility" in DESIGN.md): the kind's changelog key,
// and for timestamped kinds the plain value with the value's timestamp as
// the record timestamp (ChangeLoggingTimestampedKeyValueBytesStore,
// ChangeLoggingTimestampedWindowBytesStore); a tombstone carries ts, the
// timestamp of the record that deleted the key.
func (c *storeCore) log(key, value []byte, ts int64) error {
	if c.logger == nil {
		return nil
	}
	lk := key
	if c.logKey != nil {
		var err error
		if lk, err = c.logKey(key); err != nil {
			return fmt.Errorf("statestore: %s: changelog key: %w", c.spec.Name, err)
		}
	}
	if value != nil && c.spec.Kind.timestamped() {
		var err error
		if ts, value, err = decodeTimestamped(value); err != nil {
			return fmt.Errorf("statestore: %s: changelog value: %w", c.spec.Name, err)
		}
	}
	var err error
	if hl, ok := c.logger.(HeaderLogger); ok && value != nil && len(c.spec.ChangelogHeaders) > 0 {
		err = hl.LogChangeWithHeaders(c.spec.Name, lk, value, c.spec.ChangelogHeaders, ts)
	} else {
		err = c.logger.LogChange(c.spec.Name, lk, value, ts)
	}
	if err != nil {
		return fmt.Errorf("statestore: %s: logging change: %w", c.spec.Name, err)
	}
	return nil
}

// writeFlushed is the cache's write function: one engine batch, then the
// changelog and the flush listener, entry by entry in order, as Kafka
// Streams' Caching*Store.putAndMaybeForward does for each dirty entry:
//
//   - With a flush listener, a delete of a key the engine does not hold is
//     neither written, logged nor forwarded (nothing changed downstream).
//   - Window and session stores keep their retention clock below the
//     cache, as Kafka's segmented stores do: the engine's old value is read
//     with the clock of the entries flushed before, and each entry that
//     goes on advances it. An entry whose segment expired meanwhile is
//     logged and forwarded but not written to the engine, as Kafka's
//     segmented stores skip "a record for an expired segment" while the
//     change-logging layer above still logs it.
func (c *storeCore) writeFlushed(entries []*cacheEntry) error {
	l := c.listener.Load()
	olds := make([][]byte, len(entries))
	skip := make([]bool, len(entries))
	batch := make([]Entry, 0, len(entries))
	for i, e := range entries {
		expired := c.expiredKey != nil && c.expiredKey(e.key)
		if l != nil && !expired && (l.sendOld || e.value == nil) {
			v, ok, err := c.raw.Get(e.key)
			if err != nil {
				return fmt.Errorf("statestore: %s: flush: %w", c.spec.Name, err)
			}
			if ok {
				olds[i] = v
			}
		}
		if l != nil && e.value == nil && olds[i] == nil {
			skip[i] = true
			continue
		}
		if c.reachKey == nil || c.reachKey(e.key) {
			batch = append(batch, Entry{Key: e.key, Value: e.value})
		}
	}
	if len(batch) > 0 {
		if err := c.raw.Write(batch, nil, false); err != nil {
			return fmt.Errorf("statestore: %s: flush: %w", c.spec.Name, err)
		}
	}
	if c.afterFlush != nil {
		if err := c.afterFlush(); err != nil {
			return err
		}
	}
	for i, e := range entries {
		if skip[i] {
			continue
		}
		if err := c.log(e.key, e.value, e.ts); err != nil {
			return err
		}
		if l != nil {
			var old []byte
			if l.sendOld {
				old = olds[i]
			}
			if err := c.m.asWriter(e, func() error { return l.fn(e.key, e.value, old, e.ts, &e.rc) }); err != nil {
				return fmt.Errorf("statestore: %s: flush listener: %w", c.spec.Name, err)
			}
		}
	}
	return nil
}

// iter iterates [lo, hi) with the cache overlaid.
func (c *storeCore) iter(lo, hi []byte) (RawIterator, error) {
	if c.m.shut.Load() {
		return nil, fmt.Errorf("statestore: %s: %w", c.spec.Name, ErrClosed)
	}
	it, err := c.raw.Iter(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("statestore: %s: iterate: %w", c.spec.Name, err)
	}
	if c.cache == nil {
		return it, nil
	}
	return &mergedIter{cache: c.cache.snapshot(lo, hi), eng: it}, nil
}

// deleteRange drops [lo, hi) from the engine without logging (used for
// retention; the changelog expires by its own retention). Clean cache
// entries of the range go too; dirty ones stay until they are flushed or
// evicted, which logs and forwards them (see writeFlushed): Kafka Streams'
// record cache knows nothing of retention, so a window still dirty when its
// segment expires reaches the changelog and downstream all the same.
func (c *storeCore) deleteRange(lo, hi []byte) error {
	if c.cache != nil {
		c.cache.dropCleanRange(lo, hi)
	}
	if err := c.raw.DeleteRange(lo, hi); err != nil {
		return fmt.Errorf("statestore: %s: delete range: %w", c.spec.Name, err)
	}
	return nil
}

func (c *storeCore) flush() error {
	if c.cache == nil {
		return nil
	}
	return c.cache.flush()
}

func (c *storeCore) setListener(fn func(key, newV, oldV []byte, ts int64, rc *RecordContext) error, sendOld bool) bool {
	if c.cache == nil {
		return false
	}
	c.listener.Store(&byteListener{fn: fn, sendOld: sendOld})
	return true
}
