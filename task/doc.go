// Package task runs active tasks: a task is one partition number of one
// sub-topology (ID). An Active task queues the raw records of its input
// partitions, picks the one with the lowest timestamp among the partition
// heads (Kafka Streams' PartitionGroup rule), advances stream time (the
// largest timestamp seen, never decreasing), runs the record through its
// processor graph, fires punctuators, and reports the offsets to commit with
// stream time in the commit metadata so it survives restarts.
//
// Tasks own no Kafka clients; package streams feeds them fetched records and
// commits what they report.
package task
