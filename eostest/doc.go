// Package eostest is Sluice's system test of exactly-once processing,
// modelled on Kafka's StreamsEosTest: a driver produces keyed integers to a
// five-partition input topic on a real three-broker cluster, three or four
// app instances (separate OS processes) run a topology with an echo, per-key
// running sum and min, and, through a repartition topic, per-key count and
// max, while a harness kill -9s and restarts them, adds and removes one
// cleanly and bounces a partition leader. A verifier then reads every topic
// under read_committed and demands that each output holds exactly one
// correct record per input record.
//
// The pieces:
//
//	eostest/cmd/driver    the producer of the input (runs until SIGTERM)
//	eostest/cmd/app       one instance of the application under test
//	eostest/cmd/verifier  reads input and outputs, prints ALL-RECORDS-DELIVERED or the faults
//	eostest/eosapp        the app's topology and run loop
//	eostest/verify        the checks (pure functions over records) and the reading
//	eostest/harness       the Go tests that orchestrate a run (make test-eos)
//
// Nothing here is part of Sluice's public API.
package eostest
