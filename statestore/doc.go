// Package statestore holds the state of stream tasks: typed stores
// (KeyValueStore, TimestampedKeyValueStore, WindowStore, SessionStore) over
// byte-level engines, a per-task record cache, and the hooks the runtime
// uses for changelogs, restoration and checkpoints.
//
// # Layers
//
//   - Engine / RawStore: ordered byte maps, one RawStore per (task, store).
//     PebbleEngine is one pebble DB per instance under
//     <state.dir>/<application.id>/ shared by every task, with one block
//     cache and bounded memtables, so the memory of all state is bounded
//     by PebbleOptions.MemoryBound plus the record caches, whatever the
//     number of tasks. MemEngine keeps the same semantics in memory.
//   - Cache: one per task, bounded in bytes; writes to a key merge, and
//     the latest value reaches the engine, the ChangeLogger and the flush
//     listener on Flush or eviction.
//   - Typed stores: serialize keys and values with Serde and expose the
//     Kafka Streams store operations. Ranges follow serialized-byte order,
//     as in Kafka Streams.
//   - Manager: the stores of one task. The task runtime opens it, calls
//     SetTimestamp per record, Flush and Commit at commit time, Restore
//     while restoring from changelogs, and Close or Wipe at the end.
//
// # Keys on disk
//
// Every pebble key starts with uvarint(len(task)) task, so one DeleteRange
// drops a task; then a kind byte ('c' checkpoint, 'd' data) and
// uvarint(len(store)) store. Window keys are segment(8) escaped-key
// start(8); session keys segment(8) escaped-key end(8) start(8). The key
// is escaped (0x00 -> 0x00 0xFF, terminated by 0x00 0x01) so that the
// entries of one key are contiguous and ordered by time, whatever the
// lengths of other keys; segments (by window start or session end) make
// retention a range delete.
//
// # Durability
//
// Writes use pebble's NoSync path. Manager.Commit writes each store's
// checkpoint (the next changelog offset to restore from) and syncs; since
// pebble's WAL is ordered, a synced checkpoint implies every earlier write
// is durable, so after a crash the data is at least as new as the
// checkpoint and replaying the changelog from it converges.
//
// # Usage
//
//	eng, err := statestore.OpenPebble(statestore.PebbleOptions{Dir: dir, ApplicationID: "app"})
//	m, err := statestore.OpenManager(statestore.ManagerConfig{
//		ApplicationID: "app", Task: "0_3", Partition: 3, Engine: eng,
//		Stores:        []statestore.Builder{statestore.KeyValue("counts", keySerde, valueSerde, statestore.Caching(true))},
//		ChangeLogger:  logger, CacheMaxBytes: 10 << 20 / numTasks,
//	})
//	st, _ := m.Store("counts")
//	counts := st.(statestore.KeyValueStore[string, int64])
package statestore
