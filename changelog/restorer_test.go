package changelog_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/changelog"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

type events struct {
	mu                 sync.Mutex
	starts, ends, recs int64
}

func (e *events) OnRestoreStart(string, string, string, int32, int64, int64) {
	e.mu.Lock()
	e.starts++
	e.mu.Unlock()
}
func (e *events) OnBatchRestored(_, _, _ string, _ int32, _ int64, n int) {
	e.mu.Lock()
	e.recs += int64(n)
	e.mu.Unlock()
}
func (e *events) OnRestoreEnd(string, string, string, int32, int64, time.Duration) {
	e.mu.Lock()
	e.ends++
	e.mu.Unlock()
}

func int64Bytes(v int64) []byte {
	b, _ := serde.Int64().Serialize("", v)
	return b
}

// TestRestoreFromChangelog writes a changelog (updates, a tombstone, an
// aborted transaction) and restores a store from it, then restores again from
// the checkpoint with only the tail left to read.
func TestRestoreFromChangelog(t *testing.T) {
	env := kafkatest.Cluster(t)
	appID := env.AppID(t)
	topic := statestore.ChangelogTopic(appID, "counts")
	adm := env.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 2, env.ReplicationFactor(), map[string]*string{"cleanup.policy": ptrTo("compact")}, topic); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := 0; i < 1000; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 1, Key: []byte("k" + strconv.Itoa(i%10)), Value: int64Bytes(int64(i))})
	}
	recs = append(recs, &kgo.Record{Topic: topic, Partition: 1, Key: []byte("k3")}) // tombstone
	produceTo(t, env, recs)
	// An aborted transaction must not be restored under read_committed.
	txn := env.Client(t, kgo.TransactionalID(appID+"-txn"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	must(t, txn.BeginTransaction())
	must(t, txn.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Key: []byte("k1"), Value: int64Bytes(-1)}).FirstErr())
	must(t, txn.EndTransaction(ctx, kgo.TryAbort))

	eng := statestore.NewMemEngine()
	defer eng.Close()
	open := func() *statestore.Manager {
		m, err := statestore.OpenManager(statestore.ManagerConfig{
			ApplicationID: appID, Task: "0_1", Partition: 1, Engine: eng,
			Stores: []statestore.Builder{statestore.KeyValue("counts", serde.String(), serde.Int64())},
		})
		must(t, err)
		return m
	}
	restore := func(m *statestore.Manager) *changelog.Job {
		ev := &events{}
		cl := env.Client(t, changelog.RestoreClientOpts(true)...)
		r := changelog.NewRestorer(cl, true, ev, nil)
		rctx, rcancel := context.WithCancel(context.Background())
		defer rcancel()
		go r.Run(rctx)
		job, err := r.Prepare(ctx, "0_1", 1, appID, m)
		must(t, err)
		r.Add(job)
		select {
		case <-job.Done():
		case <-time.After(time.Minute):
			t.Fatal("restore did not finish")
		}
		must(t, job.Err())
		if ev.recs != job.Restored() {
			t.Errorf("listener saw %d records, job restored %d", ev.recs, job.Restored())
		}
		return job
	}
	m := open()
	job := restore(m)
	if job.Restored() != 1001 {
		t.Errorf("restored %d records, want 1001", job.Restored())
	}
	st, _ := m.Store("counts")
	kv := st.(statestore.KeyValueStore[string, int64])
	for i := 0; i < 10; i++ {
		v, ok, err := kv.Get("k" + strconv.Itoa(i))
		must(t, err)
		if i == 3 {
			if ok {
				t.Errorf("k3 = %d after its tombstone", v)
			}
			continue
		}
		if want := int64(990 + i); !ok || v != want {
			t.Errorf("k%d = %d, %v; want %d", i, v, ok, want)
		}
	}
	must(t, m.Close())

	// More changes; the second restore reads only the tail.
	produceTo(t, env, []*kgo.Record{{Topic: topic, Partition: 1, Key: []byte("k0"), Value: int64Bytes(5000)}})
	m2 := open()
	job2 := restore(m2)
	if job2.Restored() != 1 {
		t.Errorf("second restore applied %d records, want only the 1-record tail", job2.Restored())
	}
	st2, _ := m2.Store("counts")
	if v, _, _ := st2.(statestore.KeyValueStore[string, int64]).Get("k0"); v != 5000 {
		t.Errorf("k0 = %d after the tail, want 5000", v)
	}
	must(t, m2.Close())
}

func produceTo(t *testing.T, env *kafkatest.Env, recs []*kgo.Record) {
	cl := env.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

func ptrTo(s string) *string { return &s }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
