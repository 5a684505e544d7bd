package kafkatest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests run against whatever Cluster gives: the real broker under
// `make test`, kfake under `make test-short`.

// TestProduceAndReadBackInOrder produces 10,000 keyed records and checks that
// reading the topic back returns every one, each key on a single partition,
// and every key's values in the order they were produced.
func TestProduceAndReadBackInOrder(t *testing.T) {
	env := Cluster(t)
	const (
		n    = 10000
		keys = 257
	)
	topic := env.Topic(t, 4, nil)
	recs := make([]*kgo.Record, n)
	seq := map[string]int{}
	for i := range recs {
		k := "key-" + strconv.Itoa(i%keys)
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte(strconv.Itoa(seq[k]))}
		seq[k]++
	}
	env.Produce(t, recs...)

	got := env.ReadAll(t, topic, false)
	if len(got) != n {
		t.Fatalf("read %d records, want %d", len(got), n)
	}
	partOf := map[string]int32{}
	next := map[string]int{}
	lastOffset := map[int32]int64{}
	perPart := map[int32]int{}
	for _, r := range got {
		k := string(r.Key)
		if p, ok := partOf[k]; ok && p != r.Partition {
			t.Fatalf("key %s on partitions %d and %d", k, p, r.Partition)
		}
		partOf[k] = r.Partition
		if o, ok := lastOffset[r.Partition]; ok && r.Offset <= o {
			t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, o)
		}
		lastOffset[r.Partition] = r.Offset
		if v := string(r.Value); v != strconv.Itoa(next[k]) {
			t.Fatalf("key %s: value %s at partition %d offset %d, want %d", k, v, r.Partition, r.Offset, next[k])
		}
		next[k]++
		perPart[r.Partition]++
	}
	for k, want := range seq {
		if next[k] != want {
			t.Fatalf("key %s: read %d values, want %d", k, next[k], want)
		}
	}
	if len(perPart) != 4 {
		t.Fatalf("records landed on %d partitions, want all 4: %v", len(perPart), perPart)
	}
}

// TestTransactionsCommitAndAbort checks read_committed against read_uncommitted:
// a committed transaction is visible to both, an aborted one only to
// read_uncommitted.
func TestTransactionsCommitAndAbort(t *testing.T) {
	env := Cluster(t)
	topic := env.Topic(t, 2, nil)
	cl := env.Client(t,
		kgo.TransactionalID(env.AppID(t)),
		kgo.DefaultProduceTopic(topic),
		kgo.TransactionTimeout(30*time.Second),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	txn := func(prefix string, end kgo.TransactionEndTry) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatalf("begin %s: %v", prefix, err)
		}
		for i := range 5 {
			r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", prefix, err)
			}
		}
		if err := cl.EndTransaction(ctx, end); err != nil {
			t.Fatalf("end %s: %v", prefix, err)
		}
	}
	txn("commit1", kgo.TryCommit)
	txn("abort", kgo.TryAbort)
	txn("commit2", kgo.TryCommit)

	values := func(recs []*kgo.Record) []string {
		var out []string
		for _, r := range recs {
			out = append(out, string(r.Value))
		}
		sort.Strings(out)
		return out
	}
	want := func(prefixes ...string) []string {
		var out []string
		for _, p := range prefixes {
			for i := range 5 {
				out = append(out, fmt.Sprintf("%s-%d", p, i))
			}
		}
		sort.Strings(out)
		return out
	}

	if got, w := values(env.ReadAll(t, topic, true)), want("commit1", "commit2"); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Fatalf("read_committed read\n %v\nwant\n %v", got, w)
	}
	if got, w := values(env.ReadAll(t, topic, false)), want("commit1", "abort", "commit2"); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Fatalf("read_uncommitted read\n %v\nwant\n %v", got, w)
	}
}

// TestCompactionKeepsLastValuePerKey writes several values per key to a
// compacted topic and waits until the cluster's log cleaner leaves exactly
// the last value of each key.
func TestCompactionKeepsLastValuePerKey(t *testing.T) {
	env := Cluster(t)
	topic := env.Topic(t, 1, env.CompactionConfigs())
	const keys, rounds = 10, 5
	for round := range rounds {
		// One produce call per round: separate batches, so the cleaner
		// (kfake compacts whole batches) has something to drop.
		var recs []*kgo.Record
		for k := range keys {
			recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "v%d", round)})
		}
		env.Produce(t, recs...)
	}
	time.Sleep(200 * time.Millisecond) // past segment.ms, so the next record rolls the segment

	last := fmt.Sprintf("v%d", rounds-1)
	WaitFor(t, 3*time.Minute, func() error {
		// A record on another key keeps the data out of the active segment,
		// which is never compacted.
		env.Produce(t, &kgo.Record{Topic: topic, Key: []byte("roll"), Value: []byte("x")})
		seen := map[string][]string{}
		for _, r := range env.ReadAll(t, topic, false) {
			if string(r.Key) != "roll" {
				seen[string(r.Key)] = append(seen[string(r.Key)], string(r.Value))
			}
		}
		if len(seen) != keys {
			return fmt.Errorf("%d keys after compaction, want %d: %v", len(seen), keys, seen)
		}
		for k, vs := range seen {
			if vs[len(vs)-1] != last {
				return fmt.Errorf("key %s: last value %s, want %s", k, vs[len(vs)-1], last)
			}
			if len(vs) != 1 {
				return fmt.Errorf("not compacted yet: key %s has values %v", k, vs)
			}
		}
		return nil
	})
}

// TestFaultLeaderKilledTransactionCommits kills the leader of a partition
// (kill -9) and checks that a transactional produce still commits once a new
// leader is elected, then brings the broker back.
func TestFaultLeaderKilledTransactionCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("kafkatest: fault test needs the three-broker cluster")
	}
	env := FaultCluster(t)
	topic := env.Topic(t, 1, map[string]*string{"min.insync.replicas": ptr("2")})
	env.Produce(t, &kgo.Record{Topic: topic, Value: []byte("before")})

	cl := env.Client(t,
		kgo.TransactionalID(env.AppID(t)),
		kgo.DefaultProduceTopic(topic),
		kgo.TransactionTimeout(60*time.Second),
		kgo.RequestTimeoutOverhead(5*time.Second),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Start the producer (InitProducerID) while all brokers are up.
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("txn-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	leader := env.LeaderNode(t, topic, 0)
	t.Logf("leader of %s[0] is node %d; killing it", topic, leader)
	env.KillNode(t, leader)
	newLeader := env.WaitForLeader(t, topic, 0, leader)
	t.Logf("new leader is node %d", newLeader)

	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "txn-%d", i)}).FirstErr(); err != nil {
			t.Fatalf("produce with node %d down: %v", leader, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit with node %d down: %v", leader, err)
	}

	var got []string
	for _, r := range env.ReadAll(t, topic, true) {
		got = append(got, string(r.Value))
	}
	if want := "[before txn-0 txn-1 txn-2 txn-3]"; fmt.Sprint(got) != want {
		t.Fatalf("read_committed after failover: %v, want %s", got, want)
	}

	env.StartNode(t, leader)
}
