package processor

import (
	"time"
)

// Processor is a node of the Processor API: it receives records of type
// Record[KIn, VIn] and forwards any number of Record[KOut, VOut] to its
// children through the Context it was given in Init.
//
// One Processor value serves one task; the topology asks its supplier for a
// new one per task. All three methods are called from the task's worker
// goroutine, never concurrently, so a Processor needs no locking of its own.
type Processor[KIn, VIn, KOut, VOut any] interface {
	// Init is called once before the first record, with the context the
	// processor keeps for forwarding, scheduling and reaching its stores.
	Init(ctx Context[KOut, VOut]) error
	// Process handles one record. A returned error goes to the application's
	// processing error handler (by default it stops the application).
	Process(rec Record[KIn, VIn]) error
	// Close is called once when the task is closed (on rebalance or shutdown).
	Close() error
}

// Context is what a Processor uses to talk to the runtime. It is only valid on
// the task's worker goroutine, from Init until Close returns.
type Context[K, V any] interface {
	// Forward sends rec to every child of the node, in the order they were
	// added, and returns the first error a child returned.
	Forward(rec Record[K, V]) error
	// ForwardTo sends rec to the named child only.
	ForwardTo(child string, rec Record[K, V]) error
	// Schedule calls fn every interval of stream time or wall-clock time (see
	// PunctuationType) with the current time in milliseconds. Missed
	// intervals are skipped, not replayed. The returned handle cancels it.
	Schedule(interval time.Duration, typ PunctuationType, fn func(timestamp int64) error) Cancellable
	// RecordMetadata returns the topic, partition and offset of the record
	// being processed; ok is false in punctuators and for records a processor
	// forwards from them. A record a cached store forwards when it flushes or
	// evicts carries the metadata of the record that last wrote it, as in
	// Kafka Streams.
	RecordMetadata() (md RecordMetadata, ok bool)
	// TaskID is the task this processor instance belongs to.
	TaskID() TaskID
	// ApplicationID is the application.id of the running application.
	ApplicationID() string
	// StateStore returns a store connected to this processor by name. Use
	// GetStore for the typed form.
	StateStore(name string) (StateStore, error)
	// StreamTime is the task's stream time: the largest record timestamp it
	// has seen, or -1 before the first record.
	StreamTime() int64
	// Commit asks the runtime to commit the task soon, instead of waiting for
	// commit.interval.ms. It does not commit before it returns.
	Commit()
	// Dropped reports that the processor dropped the record in hand on
	// purpose (a record too late for its window, say), for the runtime's
	// dropped-records metric; reason labels it.
	Dropped(reason string)
}

// StateStore is what every state store has in common. The typed store
// interfaces of package statestore embed it; GetStore converts to them.
type StateStore interface {
	Name() string
}

// GetStore returns the store called name, connected to the processor owning
// ctx, as the store type S, for example
//
//	counts, err := processor.GetStore[statestore.KeyValue[string, int64]](ctx, "counts")
//
// It fails when no such store is connected or it is not an S. Call it in Init
// and keep the result; it is not meant for every record.
func GetStore[S any, K, V any](ctx Context[K, V], name string) (S, error) {
	var zero S
	st, err := ctx.StateStore(name)
	if err != nil {
		return zero, err
	}
	s, ok := st.(S)
	if !ok {
		return zero, &StoreTypeError{Store: name, Want: typeName[S](), Got: typeNameOf(st)}
	}
	return s, nil
}

// PunctuationType says which clock drives a punctuator.
type PunctuationType int8

const (
	// StreamTime punctuators fire as records advance the task's stream time:
	// never without input. The first fires with the first record; later ones
	// at multiples of the interval.
	StreamTime PunctuationType = iota
	// WallClockTime punctuators fire as the system clock advances, one
	// interval after scheduling and then every interval, whether or not
	// records arrive. They are checked between records, so they can be late.
	WallClockTime
)

func (t PunctuationType) String() string {
	switch t {
	case StreamTime:
		return "STREAM_TIME"
	case WallClockTime:
		return "WALL_CLOCK_TIME"
	}
	return "PunctuationType(" + itoa(int64(t)) + ")"
}

// Cancellable cancels a scheduled punctuator.
type Cancellable interface {
	Cancel()
}

// Func adapts a function to a stateless Processor that forwards what fn
// forwards. Init and Close do nothing.
func Func[KIn, VIn, KOut, VOut any](fn func(ctx Context[KOut, VOut], rec Record[KIn, VIn]) error) Supplier[KIn, VIn, KOut, VOut] {
	return func() Processor[KIn, VIn, KOut, VOut] { return &funcProcessor[KIn, VIn, KOut, VOut]{fn: fn} }
}

type funcProcessor[KIn, VIn, KOut, VOut any] struct {
	ctx Context[KOut, VOut]
	fn  func(ctx Context[KOut, VOut], rec Record[KIn, VIn]) error
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Init(ctx Context[KOut, VOut]) error {
	p.ctx = ctx
	return nil
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Process(rec Record[KIn, VIn]) error {
	return p.fn(p.ctx, rec)
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Close() error { return nil }

// Supplier makes a new Processor for each task.
type Supplier[KIn, VIn, KOut, VOut any] func() Processor[KIn, VIn, KOut, VOut]
