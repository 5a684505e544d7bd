package streams_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestInteractiveQueries: two instances split the tasks; each answers for
// the keys of its own tasks, and together they hold every key's count. A
// DSL windowed count is queried by key and time range without timestamps.
// Unknown stores, wrong types and a closed App are ErrStoreUnavailable.
func TestInteractiveQueries(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 4, nil), env.Topic(t, 4, nil)
	appID := env.AppID(t)
	top := countTopology(t, in, out)
	a1 := startApp(t, top, statefulConfig(env, appID, t.TempDir(), nil))
	a2 := startApp(t, top, statefulConfig(env, appID, t.TempDir(), nil))
	waitTasks(t, env, []int{2, 2}, a1, a2)
	produceKeyed(t, env, in, 5)
	waitProcessed(t, env, appID, in)

	total := map[string]int64{}
	for i, a := range []*streams.App{a1, a2} {
		q, err := streams.QueryKeyValueStore[string, int64](a, "counts")
		must(t, err)
		it, err := q.All()
		must(t, err)
		n := 0
		for it.Next() {
			total[it.Key()] += it.Value()
			n++
			if v, ok, err := q.Get(it.Key()); err != nil || !ok || v != it.Value() {
				t.Errorf("instance %d: Get(%s) = %d %v %v, want %d from All", i, it.Key(), v, ok, err, it.Value())
			}
		}
		must(t, it.Err())
		must(t, it.Close())
		if n == 0 || n == countKeys {
			t.Errorf("instance %d holds %d of %d keys; want a share", i, n, countKeys)
		}
		if est, err := q.ApproximateNumEntries(); err != nil || est != int64(n) {
			t.Errorf("instance %d: ApproximateNumEntries %d %v, want %d", i, est, err, n)
		}
	}
	if len(total) != countKeys {
		t.Errorf("the instances hold %d keys together, want %d", len(total), countKeys)
	}
	for k, n := range total {
		if n != 5 {
			t.Errorf("count of %s = %d, want 5", k, n)
		}
	}
	if _, err := streams.QueryKeyValueStore[string, int64](a1, "nope"); !errors.Is(err, streams.ErrStoreUnavailable) {
		t.Errorf("unknown store: %v", err)
	}
	q, err := streams.QueryKeyValueStore[string, string](a1, "counts")
	must(t, err)
	if _, _, err := q.Get("key1"); !errors.Is(err, streams.ErrStoreUnavailable) {
		t.Errorf("wrong value type: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must(t, a2.Close(ctx))
	q1, err := streams.QueryKeyValueStore[string, int64](a1, "counts")
	must(t, err)
	if _, _, err := q1.Get("key1"); err != nil {
		t.Errorf("the other instance still answers after a rebalance? %v", err)
	}
	if _, err := streams.QueryKeyValueStore[string, int64](a2, "counts"); !errors.Is(err, streams.ErrStoreUnavailable) {
		t.Errorf("closed App: %v", err)
	}
}

// TestQueryWindowStore: a DSL windowed count queried by key and time.
func TestQueryWindowStore(t *testing.T) {
	env := kafkatest.Cluster(t)
	in := env.Topic(t, 2, nil)
	appID := env.AppID(t)
	b := dsl.NewBuilder()
	dsl.WindowedBy(dsl.NewStream(b, []string{in}, serde.String(), serde.String()).GroupByKey(),
		dsl.TumblingWindows(time.Minute, time.Hour)).Count(dsl.StoreName("per-minute"))
	top, err := b.Build()
	must(t, err)
	a := startApp(t, top, statefulConfig(env, appID, t.TempDir(), nil))
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	var recs []*kgo.Record
	for i, off := range []time.Duration{0, 10 * time.Second, 70 * time.Second, 130 * time.Second, 135 * time.Second, 136 * time.Second} {
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte("k"), Value: []byte{byte(i)}, Timestamp: base.Add(off)})
	}
	env.Produce(t, recs...)
	waitProcessed(t, env, appID, in)
	q, err := streams.QueryWindowStore[string, int64](a, "per-minute")
	must(t, err)
	it, err := q.Fetch("k", base.UnixMilli(), base.Add(2*time.Minute).UnixMilli())
	must(t, err)
	var got []int64
	for it.Next() {
		if it.Key().Key != "k" || it.Key().Start != base.UnixMilli()+int64(len(got))*60_000 {
			t.Errorf("window %+v", it.Key())
		}
		got = append(got, it.Value())
	}
	must(t, it.Err())
	must(t, it.Close())
	if len(got) != 3 || got[0] != 2 || got[1] != 1 || got[2] != 3 {
		t.Errorf("counts per minute %v, want [2 1 3]", got)
	}
}
