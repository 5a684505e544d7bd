// Package dsl is Sluice's typed streams DSL, the counterpart of Kafka
// Streams' StreamsBuilder, KStream and KTable. A program built with it
// compiles to a processor.Topology, which package streams runs on Kafka and
// package streamstest runs with no broker.
//
//	b := dsl.NewBuilder()
//	lines := dsl.NewStream(b, []string{"text"}, serde.String(), serde.String())
//	words := dsl.FlatMapValues(lines, splitWords)
//	counts := dsl.GroupBy(words, func(_, w string) string { return w }, serde.String()).
//		Count(dsl.StoreName("counts"))
//	counts.ToStream().To("word-counts")
//	top, err := b.Build()
//
// Operations that keep the key and value types are methods (Filter,
// FilterNot, Peek, Foreach, Merge, Split, To, ToTable, Repartition,
// GroupByKey, Count, Reduce); those that change a type are package
// functions (Map, MapValues, FlatMap, FlatMapValues, SelectKey, GroupBy,
// Process, Aggregate; for tables MapTableValues, GroupTableBy,
// AggregateTable). Serdes are positional arguments where a new type needs
// one; names and store settings are Options (Named, StoreName, InMemory,
// Caching, Logging, Partitions).
//
// # Names
//
// Nodes and stores not named by the user get Kafka Streams' generated names,
// a prefix and a 10-digit counter shared by the whole builder
// (KSTREAM-FILTER-0000000003, KSTREAM-AGGREGATE-STATE-STORE-0000000004),
// taken where and in the order Kafka Streams 4.4 takes them: a named
// operation takes its index all the same (but not a named Process,
// Repartition or suppression, nor a StoreName), a repartition takes
// three, and a Count given store options but no StoreName takes one more,
// as Kafka's count(Materialized) does. So a program written the same way as in Java gets the same node,
// store and internal topic names, and Topology.Describe gives the same text
// as Kafka Streams' describe().
//
// Each operation's doc lists the options it takes; any other makes Build
// fail (ErrOptionNotApplicable).
//
// # Repartitioning
//
// Map, FlatMap, SelectKey, GroupBy and Process may change the key. A
// grouping that follows one writes the records through an internal topic,
// "<application.id>-<name>-repartition" (name: the grouping's Named option,
// else the store's name), and aggregates them in a new sub-topology that
// reads it, so that each key is aggregated by one task. Table regrouping
// (GroupTableBy) always repartitions. The runtime creates repartition topics
// at start with the partition count asked for (Partitions) or that of the
// writing sub-topology's input.
//
// Kafka Streams drops records with a null key before grouping. A Go key has
// no null: a record with a null key on the wire reaches the stream as K's
// zero value and is grouped under it like any other key; filter such
// records out first if they stand for "no key".
//
// # Tables and changes
//
// Between table nodes records carry a Change[V]: the new value and, where
// a downstream operation needs it, the old one (as in Kafka Streams, a node
// sends old values only when GroupTableBy, suppression or ChangeStream
// downstream asks, so a Filter not asked forwards a deletion for every
// update it filters out). A table re-aggregation (GroupTableBy followed by Count, Reduce or
// AggregateTable) subtracts a key's old value from its old group and adds
// the new value to its new group, so moving a key from one group to another
// updates both. NewTable reads values as raw bytes and deserializes them
// itself, so a null value (a tombstone) deletes its key, while a value that
// merely deserializes to V's zero value does not. Table.To writes a table to
// a topic with its deletions as tombstones (null values); Table.ToStream
// forwards updates only, since a Stream[K, V] cannot carry a null value;
// ChangeStream forwards every Change, deletions included.
//
// # Caching
//
// Aggregations and tables are materialized in timestamped key-value stores
// (statestore.TimestampedKeyValue), cached by default as in Kafka Streams:
// with caching, updates of a key between two commits are merged and only the
// latest goes downstream when the cache is flushed (at commit, or when it
// is full); Caching(false) sends every update downstream at once.
//
// Builder and the handles (Stream, Table, Grouped, GroupedTable, Splitter)
// are not safe for concurrent use. The topology Build returns is.
package dsl
