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
// Running it:
//
//	make test-eos                      # 3-minute exactly_once_v2 run + the at_least_once check
//	EOS_DURATION=10m make test-eos     # the long run
//	make test-eos-short                # one 1-minute exactly_once_v2 run
//	EOS_GUARANTEE=at_least_once make test-eos-short   # watch the verifier fail
//
// The targets start the three-broker cluster if it is not running (and stop
// it afterwards). Each run writes eostest/work/<run>/: harness.log (what
// was done when), driver.log, app-N/app.log (every start of instance N,
// slog text at Info) and verifier.log. A failed run keeps its topics and
// state for inspection. EOS_RATE, EOS_KEYS, EOS_KILL_EVERY,
// EOS_COMMIT_INTERVAL, EOS_SESSION_TIMEOUT, EOS_STANDBYS, EOS_DRAIN_TIMEOUT,
// EOS_SEED and EOS_RACE=1 (race-enabled binaries) shape a run; see
// harness.ConfigFromEnv.
//
// Nothing here is part of Sluice's public API.
package eostest
