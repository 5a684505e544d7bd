// Package kafkatest gives tests a Kafka cluster and the small helpers they
// need around it: unique topics and application ids, a synchronous
// producer, and a reader that consumes a topic to its end.
//
// [Cluster] returns the cluster a test should use. When the environment
// variable SLUICE_BROKERS is set (a comma-separated list of host:port, as
// `make test` does after `scripts/kafka.sh up`), that real broker is used;
// otherwise an in-process kfake cluster is started once per test binary and
// shared. [FaultCluster] returns the three-broker cluster named by
// SLUICE_FAULT_BROKERS (started by `scripts/kafka.sh up --brokers 3`) and
// skips the test when it is not set; its [Env.KillNode] and [Env.StartNode]
// call scripts/kafka.sh to kill -9 and restart a broker.
//
// Every topic and application id a test obtains is unique to the test
// (derived from t.Name() plus a random suffix), and every topic and client
// is deleted or closed by t.Cleanup, so tests may run in parallel against
// one shared cluster.
//
// Concurrency: an [Env] is safe for concurrent use by any number of
// (parallel) tests; each method takes the calling test's testing.TB and
// reports failures on it with t.Fatalf, so call methods from the test's own
// goroutine. Clients returned by [Env.Client] are franz-go clients and are as
// concurrency-safe as kgo.Client is.
package kafkatest
