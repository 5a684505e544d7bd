package statestore

import (
	"errors"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrCorrupt marks an engine that could not be opened or read because its
	// files are damaged. It surfaces from OpenPebble and from reads. The
	// error names the path; the runtime wipes the directory and restores
	// from the changelogs.
	ErrCorrupt = errors.New("statestore: state is corrupt")

	// ErrClosed is returned by operations on a closed engine, store or task.
	ErrClosed = errors.New("statestore: closed")
)

// Engine is the byte-level storage shared by every store of every task of
// one instance. It hands out one RawStore per (task, store).
//
// Implementations are safe for concurrent use.
type Engine interface {
	// RawStore returns the keyspace of one store of one task. It is cheap
	// and creates nothing on disk until something is written.
	RawStore(task, store string) (RawStore, error)
	// DropTask deletes all state of a task: data and checkpoints of all its
	// stores.
	DropTask(task string) error
	// Tasks lists the tasks that have a checkpoint in the engine, sorted.
	Tasks() ([]string, error)
	// Checkpoints returns the checkpoints of a task's stores by store name
	// (for reporting the offsets of state held on disk, as Kafka Streams'
	// task offset sums, without opening the task).
	Checkpoints(task string) (map[string]Checkpoint, error)
	// Persistent reports whether state survives Close.
	Persistent() bool
	// Close releases the engine. RawStores obtained from it stop working.
	Close() error
}

// Entry is one write of a batch: Value nil means delete.
type Entry struct {
	Key, Value []byte
}

// RawStore is one store of one task at byte level: an ordered map from keys
// to values plus the store's checkpoint.
//
// Byte slices passed in may be reused by the caller after the call returns.
// Values returned by Get are owned by the caller. Implementations are safe
// for concurrent use.
type RawStore interface {
	// Get returns the value of key and whether it exists.
	Get(key []byte) (value []byte, ok bool, err error)
	// Set writes key; it is not durable until a Write with sync.
	Set(key, value []byte) error
	// Delete removes key.
	Delete(key []byte) error
	// DeleteRange removes every key in [from, to); nil bounds are open.
	DeleteRange(from, to []byte) error
	// Iter returns an iterator over [lower, upper) in byte order; nil
	// bounds are open. The caller must Close it. Writes made while it is
	// open may or may not be visible to it.
	Iter(lower, upper []byte) (RawIterator, error)
	// Write applies entries and, if cp is non-nil, replaces the store's
	// checkpoint, all atomically. With sync it is durable (and so is every
	// write made before it) when Write returns.
	Write(entries []Entry, cp Checkpoint, sync bool) error
	// Checkpoint returns the last checkpoint written, or nil.
	Checkpoint() (Checkpoint, error)
	// ApproximateCount returns the number of keys. It may scan.
	ApproximateCount() (int64, error)
	// Wipe deletes the store's data and checkpoint.
	Wipe() error
}

// RawIterator walks a key range in order. Key and Value are valid until the
// next call to Next, First or Close. It is not safe for concurrent use.
type RawIterator interface {
	// First positions at the first key and reports whether there is one.
	First() bool
	// Last positions at the last key and reports whether there is one.
	Last() bool
	// Next advances and reports whether a key is there.
	Next() bool
	Key() []byte
	Value() []byte
	// Err reports a failure that ended iteration.
	Err() error
	// Close releases the iterator. It must be called.
	Close() error
}
