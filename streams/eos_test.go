package streams_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestExactlyOnceAcrossKill: under exactly_once_v2 an App killed mid-stream
// and restarted on the same disk leaves read_committed output with exactly
// one count per input record, the counts running 1..n per key with no
// duplicate or gap, and restores only the changelog tail.
func TestExactlyOnceAcrossKill(t *testing.T) {
	t.Parallel() // mostly waiting on rebalances; two at a time (GOMAXPROCS)
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 3, nil), env.Topic(t, 3, nil)
	appID := env.AppID(t)
	dir := t.TempDir()
	top := countTopology(t, in, out)
	cfg := func(rc *restoreCounter) streams.Config {
		c := statefulConfig(env, appID, dir, rc)
		c.Guarantee = streams.ExactlyOnceV2
		c.CommitInterval = 300 * time.Millisecond
		return c
	}
	const rounds = 60
	produced := produceKeyedAsync(t, env, in, rounds, 20*time.Millisecond)
	a1 := startApp(t, top, cfg(&restoreCounter{}))
	env.WaitFor(t, 2*time.Minute, func() error {
		if n := len(env.ReadAll(t, out, true)); n < countKeys*rounds/4 {
			return fmt.Errorf("%d committed outputs so far", n)
		}
		return nil
	})
	kill(t, a1)
	<-produced
	rc := &restoreCounter{}
	startApp(t, top, cfg(rc))
	waitProcessed(t, env, appID, in)

	recs := checkExactlyOnceCounts(t, env, out, countKeys*rounds)
	restored, _ := rc.get()
	t.Logf("exactly-once restart: %d outputs, restored %d changelog records", len(recs), restored)
}

// TestExactlyOnceCloseDuringRebalance: a graceful Close whose final commit
// is still open when another instance joins (a rebalance begins) finishes,
// and the output stays exactly once. The final commit is held open by a
// hook for longer than a heartbeat interval, so the rebalance reaches this
// member while it commits; the revocation must wait for the commit rather
// than deadlock with it (it did: the transact session's lock and the worker
// lock were taken in opposite orders).
func TestExactlyOnceCloseDuringRebalance(t *testing.T) {
	t.Parallel()
	env, in, out, appID, top, eosCfg := eosCounting(t)
	cfg := func() streams.Config {
		c := eosCfg()
		// The transaction timeout (10 s here) must outlast the commit
		// held open below, or the broker aborts it and fences the
		// producer; heartbeats every 500 ms bring the rebalance in fast.
		c.SessionTimeout = 15 * time.Second
		c.ClientOpts = []kgo.Opt{kgo.HeartbeatInterval(500 * time.Millisecond)}
		return c
	}
	const rounds = 20
	produceKeyed(t, env, in, rounds/2)
	a1 := startApp(t, top, cfg())
	env.WaitFor(t, 2*time.Minute, func() error {
		if n := len(env.ReadAll(t, out, true)); n < countKeys*rounds/2 {
			return fmt.Errorf("%d committed outputs so far", n)
		}
		return nil
	})
	produceKeyed(t, env, in, rounds/2)

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	defer streams.SetFinalCommitHook(func(id string) {
		if id != appID {
			return
		}
		once.Do(func() { close(entered) })
		<-release
	})()
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		closed <- a1.Close(ctx)
	}()
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("the final commit never started")
	}
	// A second instance joins while the first is inside its final commit;
	// its heartbeat learns of the rebalance within a heartbeat interval.
	startApp(t, top, cfg())
	time.Sleep(4 * time.Second)
	close(release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Close did not return within 2 minutes of a rebalance during its final commit (deadlock)")
	}
	waitProcessed(t, env, appID, in)
	checkExactlyOnceCounts(t, env, out, countKeys*rounds)
}

// checkExactlyOnceCounts reads out under read_committed and checks that it
// holds want counts, running 1..n per key with no duplicate or gap. It
// returns the records read.
func checkExactlyOnceCounts(t *testing.T, env *kafkatest.Env, out string, want int) []*kgo.Record {
	t.Helper()
	recs := env.ReadAll(t, out, true)
	seen := map[string][]int64{}
	for _, r := range recs {
		v, err := serde.Int64().Deserialize(out, r.Value)
		must(t, err)
		seen[string(r.Key)] = append(seen[string(r.Key)], v)
	}
	if len(recs) != want {
		t.Errorf("%d committed outputs for %d inputs", len(recs), want)
	}
	for k, vs := range seen {
		for i, v := range vs {
			if v != int64(i+1) {
				t.Errorf("key %s: output %d is count %d, want %d (duplicate or gap)", k, i, v, i+1)
				break
			}
		}
	}
	return recs
}

// TestPausedPartitionsResumeAfterRebalances: with tiny input queues every
// partition is paused most of the time; instances joining and leaving make
// the kept tasks abort and go back to their last commit, and moved tasks
// come back to an instance that had them paused. No partition may stay
// paused: the input is processed to the end, exactly once.
func TestPausedPartitionsResumeAfterRebalances(t *testing.T) {
	t.Parallel()
	env, in, out, appID, top, eosCfg := eosCounting(t)
	cfg := func() streams.Config {
		c := eosCfg()
		c.BufferedRecordsPerPartition = 4
		return c
	}
	const rounds = 200
	produceKeyed(t, env, in, rounds)
	startApp(t, top, cfg())
	for range 3 {
		a := startApp(t, top, cfg())
		time.Sleep(time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		must(t, a.Close(ctx))
		cancel()
	}
	waitProcessed(t, env, appID, in)
	checkExactlyOnceCounts(t, env, out, countKeys*rounds)
}

// eosCounting sets up an exactly-once key count on the test cluster: a
// 3-partition input and output, the application id, the topology, and a
// config maker giving each instance its own state directory.
func eosCounting(t *testing.T) (env *kafkatest.Env, in, out, appID string, top *processor.Topology, cfg func() streams.Config) {
	env = kafkatest.Cluster(t)
	in, out = env.Topic(t, 3, nil), env.Topic(t, 3, nil)
	appID = env.AppID(t)
	top = countTopology(t, in, out)
	cfg = func() streams.Config {
		c := statefulConfig(env, appID, t.TempDir(), nil)
		c.Guarantee = streams.ExactlyOnceV2
		return c
	}
	return env, in, out, appID, top, cfg
}

// TestExactlyOnceCommitsPastTransactionMarkers: with transactional input,
// the committed offset reaches the partition's end, past the commit marker
// after the last record, as Kafka Streams commits the consumer position when
// nothing is buffered (StreamTask.committableOffsetsAndMetadata, KAFKA-6607;
// StreamTaskTest.shouldCommitConsumerPositionIfRecordQueueIsEmpty). Sluice
// committed the last record's offset + 1, so the group's lag stayed at 1.
func TestExactlyOnceCommitsPastTransactionMarkers(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	appID := env.AppID(t)
	prod := env.Client(t, kgo.TransactionalID(appID+"-upstream"), kgo.DefaultProduceTopic(in))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must(t, prod.BeginTransaction())
	for i := range 5 {
		must(t, prod.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte(fmt.Sprint("v", i))}).FirstErr())
	}
	must(t, prod.EndTransaction(ctx, kgo.TryCommit))
	cfg := testConfig(env, appID)
	cfg.Guarantee = streams.ExactlyOnceV2
	startApp(t, echoTopology(t, in, out), cfg)
	adm := env.Admin(t)
	env.WaitFor(t, 30*time.Second, func() error {
		ends, err := adm.ListEndOffsets(context.Background(), in)
		if err != nil {
			return err
		}
		offs, err := adm.FetchOffsets(context.Background(), appID)
		if err != nil {
			return err
		}
		e, _ := ends.Lookup(in, 0)
		o, ok := offs.Lookup(in, 0)
		if !ok || o.At != e.Offset {
			return fmt.Errorf("committed %+v, end offset %d (5 records and a marker)", o.At, e.Offset)
		}
		return nil
	})
}
