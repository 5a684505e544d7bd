package dsl

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Windowed is a key with the time window it belongs to: Start inclusive,
// End exclusive (End = Start + the window size), in milliseconds.
type Windowed[K any] = statestore.Windowed[K]

// TimeWindows are fixed-size windows aligned to the epoch (Kafka Streams'
// TimeWindows): tumbling windows by default, hopping windows after
// AdvanceBy. A record belongs to every window whose [start, end) holds its
// timestamp. A window closes once stream time passes its end plus the grace
// period; records for a closed window are dropped and counted in the
// dropped-records metric (reason "expired-window").
//
// TimeWindows is a value; its methods return changed copies.
type TimeWindows struct {
	size, advance, grace time.Duration
}

// TumblingWindows returns windows of size that do not overlap, accepting
// records up to grace after a window ends (Kafka Streams'
// TimeWindows.ofSizeAndGrace; grace 0 is ofSizeWithNoGrace).
func TumblingWindows(size, grace time.Duration) TimeWindows {
	return TimeWindows{size: size, advance: size, grace: grace}
}

// AdvanceBy makes the windows hop: a new window starts every advance, so
// with advance < size they overlap and a record counts in several.
func (w TimeWindows) AdvanceBy(advance time.Duration) TimeWindows {
	w.advance = advance
	return w
}

// Size is the length of each window.
func (w TimeWindows) Size() time.Duration { return w.size }

func (w TimeWindows) validate() error {
	switch {
	case w.size < time.Millisecond:
		return fmt.Errorf("dsl: window size %v: it must be at least 1ms", w.size)
	case w.advance < time.Millisecond || w.advance > w.size:
		return fmt.Errorf("dsl: window advance %v: it must be at least 1ms and at most the size %v", w.advance, w.size)
	case w.grace < 0:
		return fmt.Errorf("dsl: window grace %v is negative", w.grace)
	}
	return nil
}

// WindowedGrouped is a grouped stream split into time windows, ready to be
// aggregated per key and window (Kafka Streams' TimeWindowedKStream). The
// resulting table's keys are Windowed[K].
type WindowedGrouped[K, V any] struct {
	g Grouped[K, V]
	w TimeWindows
}

// WindowedBy splits the grouped stream into the given time windows (Kafka
// Streams' KGroupedStream.windowedBy). It is a function, not a method of
// Grouped, because its result's tables are keyed by Windowed[K] and a
// method would make Go instantiate Grouped[Windowed[Windowed[...]]] forever.
func WindowedBy[K, V any](g Grouped[K, V], w TimeWindows) WindowedGrouped[K, V] {
	return WindowedGrouped[K, V]{g: g, w: w}
}

// Count counts the records of each key in each window. Options: Named (the
// aggregating node), StoreName, Retention, InMemory, Caching, Logging.
func (wg WindowedGrouped[K, V]) Count(opts ...Option) Table[Windowed[K], int64] {
	wg.g.s.b.countIndex("WindowedGrouped.Count", opts, optNamed|optStore|optRetention)
	return WindowedAggregate(wg, func() int64 { return 0 },
		func(_ K, _ V, agg int64) int64 { return agg + 1 }, serde.Int64(), opts...)
}

// Reduce combines the values of each key in each window with fn, starting
// from the window's first value. Options as for Count.
func (wg WindowedGrouped[K, V]) Reduce(fn func(agg, value V) V, opts ...Option) Table[Windowed[K], V] {
	return windowedAgg(wg, prefixReduce, func(_ K, v V, agg V, first bool) V {
		if first {
			return v
		}
		return fn(agg, v)
	}, wg.g.s.valueSerde, opts)
}

// WindowedAggregate folds the values of each key in each window into an
// aggregate of type A: init() for a new window, then add(key, value, agg).
// aggSerde serializes the store. Options as for Count.
func WindowedAggregate[K, V, A any](wg WindowedGrouped[K, V], init func() A, add func(key K, value V, agg A) A, aggSerde serde.Serde[A], opts ...Option) Table[Windowed[K], A] {
	return windowedAgg(wg, prefixAggregate, func(k K, v V, agg A, first bool) A {
		if first {
			agg = init()
		}
		return add(k, v, agg)
	}, aggSerde, opts)
}

func windowedAgg[K, V, A any](wg WindowedGrouped[K, V], prefix string, add func(K, V, A, bool) A, aggSerde serde.Serde[A], opts []Option) Table[Windowed[K], A] {
	g, w := wg.g, wg.w
	b := g.s.b
	op := "WindowedAggregate"
	if prefix == prefixReduce {
		op = "WindowedGrouped.Reduce"
	}
	o := b.collect(op, opts, optNamed|optStore|optRetention)
	store := b.storeName(o, prefix)
	name := b.nodeName(o, prefix)
	if err := w.validate(); err != nil {
		b.fail(fmt.Errorf("%w: %s: %v", processor.ErrInvalidTopology, name, err))
		return Table[Windowed[K], A]{b: b, node: name}
	}
	retention, ok := storeRetention(b, o, name, w.size+w.grace, "the window size plus grace")
	if !ok {
		return Table[Windowed[K], A]{b: b, node: name}
	}
	in := g.input(store)
	if g.s.keySerde == nil || aggSerde == nil {
		b.fail(fmt.Errorf("%w: windowed aggregation %s: store %s needs a key serde (WithSerdes) and an aggregate serde", ErrNoSerde, name, store))
		return Table[Windowed[K], A]{b: b, node: name}
	}
	tn := aggregateNode()
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[K, V, Windowed[K], Change[A]] {
		return &windowAggProc[K, V, A]{store: store, add: add, tn: tn, reduce: prefix == prefixReduce,
			size: w.size.Milliseconds(), advance: w.advance.Milliseconds(), grace: w.grace.Milliseconds()}
	}, in.node))
	b.check(b.top.AddStateStore(statestore.TimestampedWindow(store, retention, w.size, g.s.keySerde, aggSerde, o.storeOpts()...), name))
	return Table[Windowed[K], A]{b: b, node: name, store: store,
		keySerde: TimeWindowedSerde(g.s.keySerde, w.size), valueSerde: aggSerde,
		window: &windowInfo{grace: w.grace.Milliseconds()}, tn: tn, view: windowView[K, A](store)}
}

// storeRetention is the retention of a windowed store: the Retention
// option if given (at least least, which what describes), else
// least.
func storeRetention(b *Builder, o *options, name string, least time.Duration, what string) (time.Duration, bool) {
	if o.retention == 0 {
		return least, true
	}
	if o.retention < least {
		b.fail(fmt.Errorf("%w: %s: retention %v is shorter than %s (%v)", processor.ErrInvalidTopology, name, o.retention, what, least))
		return 0, false
	}
	return o.retention, true
}

// windowAggProc aggregates a stream per key and window into a timestamped
// window store and forwards each changed window as a Change, as Kafka
// Streams' KStreamWindowAggregate does.
type windowAggProc[K, V, A any] struct {
	store                string
	add                  func(k K, v V, agg A, first bool) A
	size, advance, grace int64
	tn                   *tableNode

	// reduce: a null value that would start a window leaves it empty
	// (Kafka's reduce starts from a null aggregate: agg == null ? value
	// : reducer(agg, value)), a deletion downstream.
	reduce bool

	ctx     processor.Context[Windowed[K], Change[A]]
	s       statestore.WindowStore[K, statestore.ValueAndTimestamp[A]]
	cached  bool
	sendOld bool // old aggregates are forwarded only if asked for
	// observed is the largest timestamp this processor has seen (Kafka's
	// AbstractKStreamTimeWindowAggregateProcessor.observedStreamTime):
	// windows close by it, not by the task's stream time, which records
	// filtered out upstream or read for other nodes of the task advance.
	observed int64
}

func (p *windowAggProc[K, V, A]) Init(ctx processor.Context[Windowed[K], Change[A]]) error {
	s, err := processor.GetStore[statestore.WindowStore[K, statestore.ValueAndTimestamp[A]]](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.s, p.sendOld, p.observed = ctx, s, p.tn.sendsOld(), -1
	p.cached = s.SetFlushListener(func(f statestore.FlushedRecord[Windowed[K], statestore.ValueAndTimestamp[A]]) error {
		if !f.HasNew && !f.HasOld {
			return nil
		}
		ts := f.Timestamp
		if f.HasNew {
			ts = f.New.Timestamp
		}
		return forwardFlushed(ctx, f.Context, processor.Record[Windowed[K], Change[A]]{Key: f.Key, Timestamp: ts, Value: Change[A]{
			New: f.New.Value, HasNew: f.HasNew, Old: f.Old.Value, HasOld: f.HasOld && p.sendOld,
		}})
	}, p.sendOld)
	return nil
}

func (p *windowAggProc[K, V, A]) Process(r processor.Record[K, V]) error {
	// Kafka Streams' KStreamWindowAggregate skips null keys only: a null
	// value is aggregated (as V's zero value here).
	if droppedNull(p.ctx, r.Null, false) {
		return nil
	}
	ts := r.Timestamp
	if ts < 0 {
		p.ctx.Dropped("negative-timestamp")
		return nil
	}
	// Windows end (exclusive) at or before closeTime are closed.
	closeTime := observeTime(&p.observed, ts, p.ctx.StreamTime()) - p.grace
	start := max(0, ts-p.size+p.advance) / p.advance * p.advance
	for ; start <= ts; start += p.advance {
		end := satAdd(start, p.size)
		if end <= closeTime {
			p.ctx.Dropped("expired-window")
			continue
		}
		old, ok, err := p.s.Get(r.Key, start)
		if err != nil {
			return err
		}
		if p.reduce && !ok && r.Null.Value() {
			if err := p.emptyWindow(r, start, end); err != nil {
				return err
			}
			continue
		}
		agg := p.add(r.Key, r.Value, old.Value, !ok)
		newTS := ts
		if ok && old.Timestamp > newTS {
			newTS = old.Timestamp
		}
		if err := p.s.Put(r.Key, statestore.ValueAndTimestamp[A]{Value: agg, Timestamp: newTS}, start); err != nil {
			return err
		}
		if p.cached {
			continue
		}
		err = p.ctx.Forward(processor.Record[Windowed[K], Change[A]]{
			Key: Windowed[K]{Key: r.Key, Start: start, End: end}, Timestamp: newTS, Headers: r.Headers,
			Value: Change[A]{New: agg, HasNew: true, Old: old.Value, HasOld: ok && p.sendOld},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *windowAggProc[K, V, A]) Close() error { return nil }

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// TimeWindowedSerde serializes Windowed keys of fixed-size time windows as
// Kafka Streams' TimeWindowedSerializer does: the inner key's bytes, then
// the window start as an 8-byte big-endian integer. The end is not written;
// the deserializer computes it from size.
func TimeWindowedSerde[K any](inner serde.Serde[K], size time.Duration) serde.Serde[Windowed[K]] {
	return timeWindowedSerde[K]{inner: inner, size: size.Milliseconds()}
}

type timeWindowedSerde[K any] struct {
	inner serde.Serde[K]
	size  int64
}

func (s timeWindowedSerde[K]) Serialize(topic string, w Windowed[K]) ([]byte, error) {
	kb, err := s.inner.Serialize(topic, w.Key)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(kb)+8), kb...), uint64(w.Start)), nil
}

// serializeBaseKey is the inner key's bytes, by which Kafka Streams
// partitions windowed keys (WindowedSerializer.serializeBaseKey).
func (s timeWindowedSerde[K]) serializeBaseKey(topic string, w Windowed[K]) ([]byte, error) {
	return s.inner.Serialize(topic, w.Key)
}

func (s timeWindowedSerde[K]) Deserialize(topic string, data []byte) (Windowed[K], error) {
	var w Windowed[K]
	if len(data) < 8 {
		return w, fmt.Errorf("dsl: windowed key of %d bytes on topic %q: it needs at least the 8-byte window start", len(data), topic)
	}
	n := len(data) - 8
	k, err := s.inner.Deserialize(topic, data[:n])
	if err != nil {
		return w, err
	}
	w.Key, w.Start = k, int64(binary.BigEndian.Uint64(data[n:]))
	w.End = satAdd(w.Start, s.size)
	return w, nil
}

// baseKeySerializer is implemented by the windowed serdes (time and
// session): they serialize a windowed key's base key alone, as Kafka
// Streams' WindowedSerializer does.
type baseKeySerializer[K any] interface {
	serializeBaseKey(topic string, key K) ([]byte, error)
}

// keyHash is Kafka's default partitioner for records with a key (murmur2 of
// the key bytes, positive, modulo the partition count), through kgo's
// implementation of it. Only keyed records reach it, so its sticky state
// for null keys is never used and it is safe for concurrent use.
var keyHash = kgo.StickyKeyPartitioner(nil).ForTopic("")

// windowedPartitioner is Kafka Streams' WindowedStreamPartitioner, which a
// sink (or repartition topic) whose key serde is a windowed serde uses when
// no partitioner is given: murmur2 of the serialized base key, not of the
// windowed bytes, so a windowed topic is partitioned like the topic of its
// base keys. It returns nil for other serdes.
func windowedPartitioner[K, V any](ks serde.Serde[K]) func(topic string, key K, value V, n int32) int32 {
	bk, ok := ks.(baseKeySerializer[K])
	if !ok {
		return nil
	}
	return func(topic string, key K, _ V, n int32) int32 {
		b, err := bk.serializeBaseKey(topic, key)
		if err != nil {
			return -1 // cannot happen once the whole key serialized; the sink reports it
		}
		if b == nil {
			b = []byte{} // a null base key hashes as empty, never sticky
		}
		return int32(keyHash.Partition(&kgo.Record{Key: b}, int(n)))
	}
}

// emptyWindow handles a null value that would start a window of a reduce:
// Kafka's store put of the null aggregate deletes nothing and its tuple
// forwarder sends Change(null, null) downstream (a tombstone for the
// windowed key), uncached; a cached store has nothing to flush for it.
func (p *windowAggProc[K, V, A]) emptyWindow(r processor.Record[K, V], start, end int64) error {
	if err := p.s.Delete(r.Key, start); err != nil {
		return err
	}
	if p.cached {
		return nil
	}
	return p.ctx.Forward(processor.Record[Windowed[K], Change[A]]{
		Key: Windowed[K]{Key: r.Key, Start: start, End: end}, Timestamp: r.Timestamp, Headers: r.Headers,
	})
}

// observeTime advances a windowed processor's observed stream time with a
// record's timestamp and returns it. It never exceeds the task's stream
// time, which it always trails while records are processed: after an
// exactly-once abort resets the task to its last commit, the processor's
// time goes back with it instead of keeping the aborted records' time.
func observeTime(observed *int64, ts, streamTime int64) int64 {
	*observed = min(max(*observed, ts), max(streamTime, ts))
	return *observed
}
