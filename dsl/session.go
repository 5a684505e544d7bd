package dsl

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
)

// SessionWindows group a key's records into sessions of activity (Kafka
// Streams' SessionWindows): a record starts a session, and every record
// within the inactivity gap of a session (before its start or after its
// end) joins it, merging sessions it bridges. A session's window runs from
// its first record's timestamp to its last's, both inclusive. A session
// closes once stream time passes its end plus the gap plus grace (as in
// Kafka Streams since 3.0, KAFKA-12718); a record that would only extend
// closed sessions is dropped and counted in the dropped-records metric
// (reason "expired-window"), and SuppressUntilWindowCloses emits a session
// at the same time.
//
// SessionWindows is a value.
type SessionWindows struct {
	gap, grace time.Duration
}

// SessionWindowsWithGap returns session windows with the given inactivity
// gap and grace period (Kafka Streams' ofInactivityGapAndGrace).
func SessionWindowsWithGap(gap, grace time.Duration) SessionWindows {
	return SessionWindows{gap: gap, grace: grace}
}

// SessionGrouped is a grouped stream split into sessions, ready to be
// aggregated per key and session (Kafka Streams' SessionWindowedKStream).
// The resulting table's keys are Windowed[K] with inclusive ends.
type SessionGrouped[K, V any] struct {
	g Grouped[K, V]
	w SessionWindows
}

// SessionWindowedBy splits the grouped stream into sessions (Kafka
// Streams' KGroupedStream.windowedBy(SessionWindows)); a function for the
// reason given at WindowedBy.
func SessionWindowedBy[K, V any](g Grouped[K, V], w SessionWindows) SessionGrouped[K, V] {
	return SessionGrouped[K, V]{g: g, w: w}
}

// Count counts the records of each session. When a record changes a
// session (extends it, merges sessions, or falls inside one), the sessions
// it touched are deleted from the table first (a change with no new value,
// carrying the old one) and the resulting session is added (a change with
// no old value), in that order, as in Kafka Streams. Options: Named (the
// aggregating node), StoreName, Retention, InMemory, Caching, Logging.
func (sg SessionGrouped[K, V]) Count(opts ...Option) Table[Windowed[K], int64] {
	sg.g.s.b.countIndex("SessionGrouped.Count", opts, optNamed|optStore|optRetention)
	return SessionAggregate(sg, func() int64 { return 0 },
		func(_ K, _ V, agg int64) int64 { return agg + 1 },
		func(_ K, a, b int64) int64 { return a + b }, serde.Int64(), opts...)
}

// SessionAggregate folds the values of each session into an aggregate:
// init() for a new session, add(key, value, agg) per record, and
// merge(key, a, b) to combine the aggregates of sessions a record bridges.
// aggSerde serializes the store. Options as for Count.
func SessionAggregate[K, V, A any](sg SessionGrouped[K, V], init func() A, add func(key K, value V, agg A) A, merge func(key K, a, b A) A, aggSerde serde.Serde[A], opts ...Option) Table[Windowed[K], A] {
	g, w := sg.g, sg.w
	b := g.s.b
	o := b.collect("SessionAggregate", opts, optNamed|optStore|optRetention)
	store := b.storeName(o, prefixAggregate)
	name := b.nodeName(o, prefixAggregate)
	out := Table[Windowed[K], A]{b: b, node: name}
	tn := aggregateNode()
	switch {
	case w.gap < time.Millisecond:
		b.fail(fmt.Errorf("%w: %s: session inactivity gap %v: it must be at least 1ms", processor.ErrInvalidTopology, name, w.gap))
		return out
	case w.grace < 0:
		b.fail(fmt.Errorf("%w: %s: session grace %v is negative", processor.ErrInvalidTopology, name, w.grace))
		return out
	}
	retention, ok := storeRetention(b, o, name, w.gap+w.grace, "the inactivity gap plus grace")
	if !ok {
		return out
	}
	in := g.input(store)
	if g.s.keySerde == nil || aggSerde == nil {
		b.fail(fmt.Errorf("%w: session aggregation %s: store %s needs a key serde (WithSerdes) and an aggregate serde", ErrNoSerde, name, store))
		return out
	}
	gap, grace := w.gap.Milliseconds(), w.grace.Milliseconds()
	b.check(processor.AddProcessor(b.top, name, func() processor.Processor[K, V, Windowed[K], Change[A]] {
		return &sessionAggProc[K, V, A]{store: store, init: init, add: add, merge: merge, gap: gap, grace: grace, tn: tn}
	}, in.node))
	b.check(b.top.AddStateStore(statestore.Session(store, retention, g.s.keySerde, aggSerde, o.storeOpts()...), name))
	out.store, out.keySerde, out.valueSerde = store, SessionWindowedSerde(g.s.keySerde), aggSerde
	// Suppression waits for the same close time (Kafka Streams'
	// GraphGraceSearchUtil: a session window's grace is gap + grace).
	out.window = &windowInfo{grace: gap + grace}
	out.tn, out.view = tn, sessionView[K, A](store)
	return out
}

// sessionAggProc is Kafka Streams' KStreamSessionWindowAggregate.
type sessionAggProc[K, V, A any] struct {
	store      string
	init       func() A
	add        func(K, V, A) A
	merge      func(K, A, A) A
	gap, grace int64
	tn         *tableNode

	sendOld bool // old aggregates are forwarded only if asked for
	// observed: the largest timestamp seen here (see windowAggProc).
	observed int64
	ctx      processor.Context[Windowed[K], Change[A]]
	s        statestore.SessionStore[K, A]
	cached   bool
}

func (p *sessionAggProc[K, V, A]) Init(ctx processor.Context[Windowed[K], Change[A]]) error {
	s, err := processor.GetStore[statestore.SessionStore[K, A]](ctx, p.store)
	if err != nil {
		return err
	}
	p.ctx, p.s, p.sendOld, p.observed = ctx, s, p.tn.sendsOld(), -1
	p.cached = s.SetFlushListener(func(f statestore.FlushedRecord[Windowed[K], A]) error {
		if !f.HasNew && !f.HasOld {
			return nil
		}
		return forwardFlushed(ctx, f.Context, processor.Record[Windowed[K], Change[A]]{Key: f.Key, Timestamp: f.Key.End,
			Value: Change[A]{New: f.New, HasNew: f.HasNew, Old: f.Old, HasOld: f.HasOld && p.sendOld}})
	}, true)
	return nil
}

func (p *sessionAggProc[K, V, A]) Process(r processor.Record[K, V]) error {
	// Kafka Streams' KStreamSessionWindowAggregate skips null keys only: a
	// null value is aggregated (as V's zero value here).
	if droppedNull(p.ctx, r.Null, false) {
		return nil
	}
	ts := r.Timestamp
	if ts < 0 {
		p.ctx.Dropped("negative-timestamp")
		return nil
	}
	// A session closes at its end + gap + grace (Kafka Streams since 3.0,
	// KAFKA-12718): until then a record may still extend it.
	// By the processor's own observed time, as KStreamSessionWindowAggregate.
	closeTime := observeTime(&p.observed, ts, p.ctx.StreamTime()) - p.gap - p.grace
	it, err := p.s.FindSessions(r.Key, ts-p.gap, satAdd(ts, p.gap))
	if err != nil {
		return err
	}
	type session struct {
		w Windowed[K]
		v A
	}
	var merged []session
	agg := p.init()
	win := Windowed[K]{Key: r.Key, Start: ts, End: ts}
	for it.Next() {
		s := session{it.Key(), it.Value()}
		merged = append(merged, s)
		agg = p.merge(r.Key, agg, s.v)
		win.Start, win.End = min(win.Start, s.w.Start), max(win.End, s.w.End)
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if win.End < closeTime {
		p.ctx.Dropped("expired-window")
		return nil
	}
	// As in Kafka Streams, unless the record starts a session of its own
	// (or repeats the timestamp of a one-record session), every session it
	// touches is removed, the one it falls inside included, and a deletion
	// goes downstream for each before the merged session is put: a session
	// that grows changes its windowed key.
	if win.Start != ts || win.End != ts {
		for _, s := range merged {
			if err := p.s.Remove(s.w); err != nil {
				return err
			}
			if !p.cached {
				if err := p.ctx.Forward(processor.Record[Windowed[K], Change[A]]{Key: s.w, Timestamp: s.w.End,
					Value: Change[A]{Old: s.v, HasOld: p.sendOld}}); err != nil {
					return err
				}
			}
		}
	}
	agg = p.add(r.Key, r.Value, agg)
	if err := p.s.Put(win, agg); err != nil {
		return err
	}
	if p.cached {
		return nil
	}
	// The put carries no old value, as in Kafka Streams: the session it
	// replaces, if any, was deleted just before. Like the deletions, it
	// carries no headers (KStreamSessionWindowAggregate builds a new Record).
	return p.ctx.Forward(processor.Record[Windowed[K], Change[A]]{Key: win, Timestamp: win.End,
		Value: Change[A]{New: agg, HasNew: true}})
}

func (p *sessionAggProc[K, V, A]) Close() error { return nil }

// SessionWindowedSerde serializes session-windowed keys as Kafka Streams'
// SessionWindowedSerializer does: the inner key's bytes, then the session's
// end and start as 8-byte big-endian integers.
func SessionWindowedSerde[K any](inner serde.Serde[K]) serde.Serde[Windowed[K]] {
	return sessionWindowedSerde[K]{inner: inner}
}

type sessionWindowedSerde[K any] struct{ inner serde.Serde[K] }

func (s sessionWindowedSerde[K]) Serialize(topic string, w Windowed[K]) ([]byte, error) {
	kb, err := s.inner.Serialize(topic, w.Key)
	if err != nil {
		return nil, err
	}
	out := append(make([]byte, 0, len(kb)+16), kb...)
	out = binary.BigEndian.AppendUint64(out, uint64(w.End))
	return binary.BigEndian.AppendUint64(out, uint64(w.Start)), nil
}

// serializeBaseKey is the inner key's bytes (see timeWindowedSerde's).
func (s sessionWindowedSerde[K]) serializeBaseKey(topic string, w Windowed[K]) ([]byte, error) {
	return s.inner.Serialize(topic, w.Key)
}

func (s sessionWindowedSerde[K]) Deserialize(topic string, data []byte) (Windowed[K], error) {
	var w Windowed[K]
	if len(data) < 16 {
		return w, fmt.Errorf("dsl: session-windowed key of %d bytes on topic %q: it needs at least the 16 bytes of end and start", len(data), topic)
	}
	n := len(data) - 16
	k, err := s.inner.Deserialize(topic, data[:n])
	if err != nil {
		return w, err
	}
	w.Key = k
	w.End = int64(binary.BigEndian.Uint64(data[n:]))
	w.Start = int64(binary.BigEndian.Uint64(data[n+8:]))
	return w, nil
}
