package changelog_test

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/changelog"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/twmb/franz-go/pkg/kadm"
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
	appID, topic, _ := countsChangelog(t, env, 2, map[string]*string{"cleanup.policy": ptrTo("compact")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
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
		job := restoreTask(t, env, appID, "0_1", 1, m, ev)
		must(t, job.Err())
		if ev.recs != job.Restored() {
			t.Errorf("listener saw %d records, job restored %d", ev.recs, job.Restored())
		}
		return job
	}
	m := open()
	job := restore(m)
	// The cluster may compact the changelog before the restore reads it
	// (kfake does on a timer): from one record per key to all 1001.
	if n := job.Restored(); n < 10 || n > 1001 {
		t.Errorf("restored %d records, want 10 to 1001", n)
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

// TestRestoreKafkaStreamsChangelogs restores a timestamped key-value store
// and a timestamped window store from changelogs as Kafka Streams 4.4 writes
// them: plain values with the value's timestamp as the record timestamp
// (ChangeLoggingTimestampedKeyValueBytesStore,
// ChangeLoggingTimestampedWindowBytesStore), window keys as
// WindowKeySchema.toStoreKeyBinary(key, start, 0) (bytes printed by
// kafka-streams-4.4.0.jar), and, as with IQv2 consistency on, the "v" (0)
// and "c" (position) headers of ChangelogRecordDeserializationHelper, which
// are ignored. A record with a version header other than 0 fails the
// restoration, as Kafka Streams' applyChecksAndUpdatePosition refuses it.
func TestRestoreKafkaStreamsChangelogs(t *testing.T) {
	env := kafkatest.Cluster(t)
	appID := env.AppID(t)
	adm := env.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kvTopic := statestore.ChangelogTopic(appID, "table")
	winTopic := statestore.ChangelogTopic(appID, "windows")
	for _, topic := range []string{kvTopic, winTopic} {
		if _, err := adm.CreateTopic(ctx, 1, env.ReplicationFactor(), nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	consistency := []kgo.RecordHeader{{Key: "v", Value: []byte{0}}, {Key: "c", Value: []byte{0, 0, 0, 0}}}
	winKey, _ := hex.DecodeString("6b00000000000003e800000000") // "k", start 1000, seqnum 0
	// Timestamps near now: the topics' retention would delete older ones.
	now := time.Now().UnixMilli()
	produceTo(t, env, []*kgo.Record{
		{Topic: kvTopic, Key: []byte("k"), Value: int64Bytes(7), Timestamp: time.UnixMilli(now + 97), Headers: consistency},
		{Topic: kvTopic, Key: []byte("gone"), Value: int64Bytes(1), Timestamp: time.UnixMilli(now + 98)},
		{Topic: kvTopic, Key: []byte("gone"), Timestamp: time.UnixMilli(now + 99)},
		{Topic: winTopic, Key: winKey, Value: int64Bytes(3), Timestamp: time.UnixMilli(now + 1500), Headers: consistency},
	})
	open := func() *statestore.Manager {
		m, err := statestore.OpenManager(statestore.ManagerConfig{
			ApplicationID: appID, Task: "0_0", Partition: 0,
			Stores: []statestore.Builder{
				statestore.TimestampedKeyValue("table", serde.String(), serde.Int64()),
				statestore.TimestampedWindow("windows", time.Hour, time.Minute, serde.String(), serde.Int64()),
			},
		})
		must(t, err)
		t.Cleanup(func() { m.Close() })
		return m
	}
	restore := func(m *statestore.Manager) error {
		return restoreTask(t, env, appID, "0_0", 0, m, nil).Err()
	}
	m := open()
	must(t, restore(m))
	st, _ := m.Store("table")
	kv := st.(statestore.TimestampedKeyValueStore[string, int64])
	if v, ok, err := kv.Get("k"); err != nil || !ok || v.Value != 7 || v.Timestamp != now+97 {
		t.Errorf("table k = %+v %v %v, want 7 at the record's timestamp", v, ok, err)
	}
	if _, ok, _ := kv.Get("gone"); ok {
		t.Error("table kept a key after its tombstone")
	}
	st, _ = m.Store("windows")
	ws := st.(statestore.WindowStore[string, statestore.ValueAndTimestamp[int64]])
	if v, ok, err := ws.Get("k", 1000); err != nil || !ok || v.Value != 3 || v.Timestamp != now+1500 {
		t.Errorf("window k@1000 = %+v %v %v, want 3 at the record's timestamp", v, ok, err)
	}

	produceTo(t, env, []*kgo.Record{{Topic: kvTopic, Key: []byte("k"), Value: int64Bytes(8), Timestamp: time.UnixMilli(now + 100),
		Headers: []kgo.RecordHeader{{Key: "v", Value: []byte{1}}}}})
	if err := restore(open()); !errors.Is(err, changelog.ErrUnknownFormat) {
		t.Errorf("restoring a record of changelog format version 1: %v, want ErrUnknownFormat", err)
	}
}

// restoreTask restores a task's stores with a new Restorer and returns the
// finished job.
func restoreTask(t *testing.T, env *kafkatest.Env, appID, task string, partition int32, m *statestore.Manager, l changelog.Listener) *changelog.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := env.Client(t, changelog.RestoreClientOpts(true)...)
	r := changelog.NewRestorer(cl, true, l, nil)
	go r.Run(ctx)
	job, err := r.Prepare(ctx, task, partition, appID, m)
	must(t, err)
	r.Add(job)
	select {
	case <-job.Done():
	case <-ctx.Done():
		t.Fatal("restore did not finish")
	}
	return job
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

// TestRestoreStoreWithOwnVersionHeader: a store that writes a format
// version header of its own (the suppression buffer's "v" = 3, as Kafka
// Streams' InMemoryTimeOrderedKeyValueChangeBuffer) restores records of
// that version, tombstones without headers too, and refuses a value of
// another version or with none instead of misreading it.
func TestRestoreStoreWithOwnVersionHeader(t *testing.T) {
	env := kafkatest.Cluster(t)
	appID := env.AppID(t)
	topic := statestore.ChangelogTopic(appID, "buffer")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := env.Admin(t).CreateTopic(ctx, 1, env.ReplicationFactor(), nil, topic); err != nil {
		t.Fatal(err)
	}
	v3 := []kgo.RecordHeader{{Key: "v", Value: []byte{3}}}
	now := time.Now()
	produceTo(t, env, []*kgo.Record{
		{Topic: topic, Key: []byte("a"), Value: []byte("1"), Timestamp: now, Headers: v3},
		{Topic: topic, Key: []byte("b"), Value: []byte("2"), Timestamp: now, Headers: v3},
		{Topic: topic, Key: []byte("b"), Timestamp: now},
	})
	open := func() *statestore.Manager {
		m, err := statestore.OpenManager(statestore.ManagerConfig{
			ApplicationID: appID, Task: "0_0", Partition: 0,
			Stores: []statestore.Builder{statestore.KeyValue("buffer", serde.String(), serde.String(), statestore.ChangelogHeaders(v3...))},
		})
		must(t, err)
		t.Cleanup(func() { m.Close() })
		return m
	}
	m := open()
	must(t, restoreTask(t, env, appID, "0_0", 0, m, nil).Err())
	st, _ := m.Store("buffer")
	kv := st.(statestore.KeyValueStore[string, string])
	if v, ok, _ := kv.Get("a"); !ok || v != "1" {
		t.Errorf("a = %q %v, want 1", v, ok)
	}
	if _, ok, _ := kv.Get("b"); ok {
		t.Error("b kept after its tombstone")
	}
	for _, hs := range [][]kgo.RecordHeader{nil, {{Key: "v", Value: []byte{2}}}} {
		produceTo(t, env, []*kgo.Record{{Topic: topic, Key: []byte("c"), Value: []byte("3"), Timestamp: now, Headers: hs}})
		if err := restoreTask(t, env, appID, "0_0", 0, open(), nil).Err(); !errors.Is(err, changelog.ErrUnknownFormat) {
			t.Errorf("restoring a value with headers %v: %v, want ErrUnknownFormat", hs, err)
		}
	}
}

// TestRestoreFinishesWhenRecordsBelowEndDeleted: retention deletes every
// changelog record below the restore target after the target was taken;
// the restore consumer's position is then at the end with no record to
// deliver, and the restore completes (StoreChangelogReader.hasRestoredToEnd
// takes a restore as done once the restore consumer's position reaches the
// end offset, records or not;
// StoreChangelogReaderTest.shouldCheckCompletionIfPositionLargerThanEndOffset).
// Sluice waited for a record forever.
func TestRestoreFinishesWhenRecordsBelowEndDeleted(t *testing.T) {
	env := kafkatest.Cluster(t)
	appID, topic, adm := countsChangelog(t, env, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i)), Value: int64Bytes(int64(i))})
	}
	produceTo(t, env, recs)
	eng := statestore.NewMemEngine()
	defer eng.Close()
	m, err := statestore.OpenManager(statestore.ManagerConfig{
		ApplicationID: appID, Task: "0_0", Partition: 0, Engine: eng,
		Stores: []statestore.Builder{statestore.KeyValue("counts", serde.String(), serde.Int64())},
	})
	must(t, err)
	defer m.Close()
	cl := env.Client(t, changelog.RestoreClientOpts(true)...)
	r := changelog.NewRestorer(cl, true, nil, nil)
	go r.Run(ctx)
	job, err := r.Prepare(ctx, "0_0", 0, appID, m)
	must(t, err)
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: topic, Partition: 0, At: 10, LeaderEpoch: -1})
	dr, err := adm.DeleteRecords(ctx, del)
	must(t, err)
	must(t, dr.Error())
	r.Add(job)
	select {
	case <-job.Done():
		must(t, job.Err())
	case <-time.After(20 * time.Second):
		t.Fatal("restore did not finish with every record below its target deleted")
	}
}

// countsChangelog creates the changelog topic of store "counts" of a new
// application, returning the application id, the topic and an admin client.
func countsChangelog(t *testing.T, env *kafkatest.Env, partitions int32, configs map[string]*string) (string, string, *kadm.Client) {
	t.Helper()
	appID := env.AppID(t)
	topic := statestore.ChangelogTopic(appID, "counts")
	adm := env.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, partitions, env.ReplicationFactor(), configs, topic); err != nil {
		t.Fatal(err)
	}
	return appID, topic, adm
}
