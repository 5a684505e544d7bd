package dsl_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests run DSL topologies on the test cluster: a real broker under
// make test (SLUICE_BROKERS), kfake otherwise.

// startApps starts n instances of top and waits until, together, they run
// every task (tasks in all) and are all RUNNING, so that input produced
// afterwards is not reprocessed by a rebalance (at-least-once would count it
// twice).
func startApps(t *testing.T, env *kafkatest.Env, top *processor.Topology, appID string, n, tasks int) []*streams.App {
	t.Helper()
	var apps []*streams.App
	for range n {
		app, err := streams.New(top, streams.Config{
			ApplicationID: appID, Brokers: env.Brokers(), StateDir: t.TempDir(),
			CommitInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second,
		})
		must(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		must(t, app.Start(ctx))
		cancel()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = app.Close(ctx)
		})
		apps = append(apps, app)
	}
	env.WaitFor(t, 2*time.Minute, func() error {
		total := 0
		for i, a := range apps {
			if a.State() == streams.Error {
				t.Fatalf("app %d failed: %v", i, a.Err())
			}
			if a.State() != streams.Running {
				return fmt.Errorf("app %d is %v", i, a.State())
			}
			total += len(a.ActiveTasks())
		}
		if total != tasks {
			return fmt.Errorf("%d of %d tasks running", total, tasks)
		}
		return nil
	})
	return apps
}

// waitProcessed waits until appID has committed every partition of each
// topic, in order, up to its end offset.
func waitProcessed(t *testing.T, env *kafkatest.Env, appID string, topics ...string) {
	t.Helper()
	adm := env.Admin(t)
	for _, topic := range topics {
		env.WaitFor(t, 3*time.Minute, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ends, err := adm.ListEndOffsets(ctx, topic)
			if err != nil {
				return err
			}
			offs, err := adm.FetchOffsets(ctx, appID)
			if err != nil {
				return err
			}
			var lag error
			ends.Each(func(e kadm.ListedOffset) {
				if o, ok := offs.Lookup(topic, e.Partition); e.Offset > 0 && (!ok || o.At < e.Offset) && lag == nil {
					lag = fmt.Errorf("%s[%d]: committed %d of %d", topic, e.Partition, o.At, e.Offset)
				}
			})
			return lag
		})
	}
}

// latest reads topic and returns the last int64 value of each key.
func latest(t *testing.T, env *kafkatest.Env, topic string) map[string]int64 {
	out := map[string]int64{}
	for _, r := range env.ReadAll(t, topic, false) {
		v, err := serde.Int64().Deserialize(topic, r.Value)
		must(t, err)
		out[string(r.Key)] = v
	}
	return out
}

// TestClusterWordCount: the DSL word count, two instances, a 4-partition
// input, checked against counts computed here.
func TestClusterWordCount(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 4, nil), env.Topic(t, 4, nil)
	appID := env.AppID(t)
	top, err := wordCount(in, out).Build()
	must(t, err)
	startApps(t, env, top, appID, 2, 8) // 2 sub-topologies x 4 partitions

	lines := benchLines(2000)
	want := map[string]int64{}
	recs := make([]*kgo.Record, len(lines))
	for i, l := range lines {
		recs[i] = &kgo.Record{Topic: in, Key: []byte(strconv.Itoa(i)), Value: []byte(l)}
		for _, w := range words(l) {
			want[w]++
		}
	}
	env.Produce(t, recs...)
	waitProcessed(t, env, appID, in, processor.InternalTopicName(appID, "counts-repartition"))
	got := latest(t, env, out)
	if !maps.Equal(got, want) {
		diff := 0
		for w, n := range want {
			if got[w] != n {
				if diff++; diff <= 10 {
					t.Errorf("%s: %d, want %d", w, got[w], n)
				}
			}
		}
		t.Fatalf("%d of %d words wrong (%d printed)", diff, len(want), len(got))
	}
}

// TestClusterTableReaggregation: a users table with moves and deletions,
// regrouped by region and counted, gives the counts of a replay of the
// same events.
func TestClusterTableReaggregation(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 4, nil), env.Topic(t, 4, nil)
	appID := env.AppID(t)
	b := dsl.NewBuilder()
	users := dsl.NewTable(b, in, serde.String(), serde.String(), dsl.StoreName("users"), dsl.Caching(false))
	dsl.ToStream(dsl.GroupTableBy(users, func(u, r string) (string, string) { return r, u }, serde.String(), serde.String()).
		Count(dsl.StoreName("per-region"))).To(out)
	top, err := b.Build()
	must(t, err)
	startApps(t, env, top, appID, 1, 8)

	rng := rand.New(rand.NewPCG(7, 8))
	regions := []string{"eu", "us", "apac", "latam", "mea", "anz"}
	where := map[string]string{}
	want := map[string]int64{}
	var recs []*kgo.Record
	for range 3000 {
		u := "user-" + strconv.Itoa(rng.IntN(300))
		rec := &kgo.Record{Topic: in, Key: []byte(u)}
		if rng.IntN(10) == 0 {
			delete(where, u)
		} else {
			r := regions[rng.IntN(len(regions))]
			where[u] = r
			want[r] += 0
			rec.Value = []byte(r)
		}
		recs = append(recs, rec)
	}
	for _, r := range where {
		want[r]++
	}
	env.Produce(t, recs...)
	waitProcessed(t, env, appID, in, processor.InternalTopicName(appID, "per-region-repartition"))
	if got := latest(t, env, out); !maps.Equal(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
}

// flushOrderTopology chains two cached stores in one sub-topology whose
// names sort the wrong way round: the downstream store's name comes first.
func flushOrderTopology(t *testing.T, in, out string) *processor.Topology {
	b := dsl.NewBuilder()
	dsl.ToStream(dsl.ToStream(dsl.NewTable(b, in, serde.String(), serde.String(), dsl.StoreName("zz-table"))).
		GroupByKey().Count(dsl.StoreName("aa-counts"))).To(out)
	top, err := b.Build()
	must(t, err)
	return top
}

// TestStoreFlushOrder: stores are listed upstream first, so that one
// flush pass moves a change through a chain of cached stores.
func TestStoreFlushOrder(t *testing.T) {
	sbs, err := flushOrderTopology(t, "in", "out").StoreBuilders(0)
	must(t, err)
	if len(sbs) != 2 || sbs[0].Spec().Name != "zz-table" || sbs[1].Spec().Name != "aa-counts" {
		t.Fatalf("store order %v %v, want zz-table then aa-counts", sbs[0].Spec().Name, sbs[1].Spec().Name)
	}
}

// TestClusterChainedCachedStores: on the runtime, a change that goes through
// two cached stores of one task reaches the output once the input is
// committed. (When stores were flushed in name order, the downstream store
// was flushed before the upstream one fed it, and the count stayed in its
// cache, unlogged, while the input offset was committed.)
func TestClusterChainedCachedStores(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	appID := env.AppID(t)
	startApps(t, env, flushOrderTopology(t, in, out), appID, 1, 1)
	env.Produce(t, &kgo.Record{Topic: in, Key: []byte("k"), Value: []byte("v")})
	waitProcessed(t, env, appID, in)
	env.WaitFor(t, time.Minute, func() error {
		if got := latest(t, env, out); got["k"] != 1 {
			return fmt.Errorf("output %v, want k=1", got)
		}
		return nil
	})
}

// TestClusterWindowedCount: a hopping-window count on the test cluster, two
// instances, checked against a brute-force count; then both stop and one
// new instance with an empty state directory restores the window store
// from its changelog and goes on counting into the same windows.
func TestClusterWindowedCount(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 4, nil), env.Topic(t, 4, nil)
	appID := env.AppID(t)
	const size, advance = 10_000, 5_000
	b := dsl.NewBuilder()
	dsl.ToStream(dsl.WindowedBy(dsl.NewStream(b, []string{in}, serde.String(), serde.String()).GroupByKey(),
		dsl.TumblingWindows(size*time.Millisecond, time.Hour).AdvanceBy(advance*time.Millisecond)).
		Count(dsl.StoreName("per-window"))).To(out)
	top, err := b.Build()
	must(t, err)
	want := map[string]int64{}
	rng := rand.New(rand.NewPCG(9, 10))
	// Recent timestamps: the broker deletes records older than the topic's
	// retention (7 days), 1970 timestamps within seconds.
	base := time.Now().Add(-time.Hour).UnixMilli() / size * size
	produce := func(from, to int) {
		recs := make([]*kgo.Record, 0, to-from)
		for i := from; i < to; i++ {
			k, ts := "k"+strconv.Itoa(rng.IntN(10)), base+int64(i)*20
			recs = append(recs, &kgo.Record{Topic: in, Key: []byte(k), Value: []byte("x"), Timestamp: time.UnixMilli(ts)})
			for start := max(0, ts-size+advance) / advance * advance; start <= ts; start += advance {
				want[fmt.Sprintf("%s@%d", k, start)]++
			}
		}
		env.Produce(t, recs...)
	}
	check := func(stage string) {
		ks := dsl.TimeWindowedSerde(serde.String(), size*time.Millisecond)
		got := map[string]int64{}
		for _, r := range env.ReadAll(t, out, false) {
			w, err := ks.Deserialize(out, r.Key)
			must(t, err)
			n, err := serde.Int64().Deserialize(out, r.Value)
			must(t, err)
			got[fmt.Sprintf("%s@%d", w.Key, w.Start)] = n
		}
		if !maps.Equal(got, want) {
			var diff []string
			for k, n := range want {
				if got[k] != n {
					diff = append(diff, fmt.Sprintf("%s: %d, want %d", k, got[k], n))
				}
			}
			for k, n := range got {
				if _, ok := want[k]; !ok {
					diff = append(diff, fmt.Sprintf("%s: %d, want none", k, n))
				}
			}
			sort.Strings(diff)
			t.Fatalf("%s: %d windowed counts, want %d; they differ from the brute-force count: %v", stage, len(got), len(want), diff)
		}
	}
	apps := startApps(t, env, top, appID, 2, 4)
	produce(0, 3000)
	waitProcessed(t, env, appID, in)
	check("two instances")
	for _, a := range apps {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		must(t, a.Close(ctx))
		cancel()
	}
	startApps(t, env, top, appID, 1, 4)
	produce(3000, 4000) // stream time goes on: the last windows of the first run get more records
	waitProcessed(t, env, appID, in)
	check("after restoring on a new instance")
}

// TestClusterJoinAfterRepartition: orders (5 partitions, keyed by order id)
// re-keyed by customer and joined with the customers table (3 partitions):
// the repartition topic is created with the table's 3 partitions, and every
// order comes out with its customer's name.
func TestClusterJoinAfterRepartition(t *testing.T) {
	env := kafkatest.Cluster(t)
	ordersTopic, customersTopic, out := env.Topic(t, 5, nil), env.Topic(t, 3, nil), env.Topic(t, 3, nil)
	appID := env.AppID(t)
	b := dsl.NewBuilder()
	orders := dsl.NewStream(b, []string{ordersTopic}, serde.String(), serde.String())
	byCustomer := dsl.SelectKey(orders, func(_, v string) string { c, _, _ := strings.Cut(v, " "); return c })
	customers := dsl.NewTable(b, customersTopic, serde.String(), serde.String(), dsl.StoreName("customers"))
	dsl.Join(byCustomer, customers, func(_, order, name string) string { return name + ": " + order }, dsl.Named("enrich")).To(out)
	top, err := b.Build()
	must(t, err)
	var crecs []*kgo.Record
	for c := range 50 {
		crecs = append(crecs, &kgo.Record{Topic: customersTopic, Key: []byte("c" + strconv.Itoa(c)), Value: []byte("name" + strconv.Itoa(c))})
	}
	env.Produce(t, crecs...)
	startApps(t, env, top, appID, 1, 5+3) // sub-topology 0: 5 tasks; the join's: 3
	waitProcessed(t, env, appID, customersTopic)
	want := map[string]bool{}
	var orecs []*kgo.Record
	for i := range 1000 {
		c := "c" + strconv.Itoa(i%50)
		v := c + " item" + strconv.Itoa(i)
		orecs = append(orecs, &kgo.Record{Topic: ordersTopic, Key: []byte("o" + strconv.Itoa(i)), Value: []byte(v)})
		want[c+"|name"+strconv.Itoa(i%50)+": "+v] = true
	}
	env.Produce(t, orecs...)
	repart := processor.InternalTopicName(appID, "enrich-repartition")
	waitProcessed(t, env, appID, ordersTopic, repart)
	got := map[string]bool{}
	for _, r := range env.ReadAll(t, out, false) {
		got[string(r.Key)+"|"+string(r.Value)] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("%d joined outputs, want %d", len(got), len(want))
	}
	tds, err := env.Admin(t).ListTopics(context.Background(), repart)
	must(t, err)
	if n := len(tds[repart].Partitions); n != 3 {
		t.Errorf("repartition topic %s has %d partitions, want the table's 3", repart, n)
	}
}

// TestClusterSuppressAcrossMove: a suppressed windowed count on the test
// cluster; the instance stops while a window is open, a new one with an
// empty state directory restores the suppression buffer from its changelog,
// and when a record of another key moves stream time past the window's end,
// the window's count comes out once: it can only come from the restored
// buffer.
func TestClusterSuppressAcrossMove(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	appID := env.AppID(t)
	b := dsl.NewBuilder()
	counts := dsl.WindowedBy(dsl.NewStream(b, []string{in}, serde.String(), serde.String()).GroupByKey(),
		dsl.TumblingWindows(time.Minute, 0)).Count(dsl.StoreName("counts"))
	dsl.ToStream(dsl.SuppressUntilWindowCloses(counts, dsl.StoreName("final"))).To(out)
	top, err := b.Build()
	must(t, err)
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	produce := func(key string, offsets ...time.Duration) {
		var recs []*kgo.Record
		for _, o := range offsets {
			recs = append(recs, &kgo.Record{Topic: in, Key: []byte(key), Value: []byte("x"), Timestamp: base.Add(o)})
		}
		env.Produce(t, recs...)
	}
	apps := startApps(t, env, top, appID, 1, 1)
	produce("k", time.Second, 2*time.Second, 3*time.Second)
	waitProcessed(t, env, appID, in)
	if n := len(env.ReadAll(t, out, false)); n != 0 {
		t.Fatalf("%d outputs while the window is open", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	must(t, apps[0].Close(ctx))
	cancel()
	startApps(t, env, top, appID, 1, 1)
	produce("other", 61*time.Second) // stream time passes the first window's end
	waitProcessed(t, env, appID, in)
	ks := dsl.TimeWindowedSerde(serde.String(), time.Minute)
	var got []string
	for _, r := range env.ReadAll(t, out, false) {
		w, err := ks.Deserialize(out, r.Key)
		must(t, err)
		n, err := serde.Int64().Deserialize(out, r.Value)
		must(t, err)
		got = append(got, fmt.Sprintf("%s@%d=%d", w.Key, w.Start-base.UnixMilli(), n))
	}
	if fmt.Sprint(got) != "[k@0=3]" {
		t.Errorf("outputs %v, want the first window's final count 3, once", got)
	}
	// The buffer's changelog has Kafka Streams' records: the windowed key,
	// the header v=3 on values (InMemoryTimeOrderedKeyValueChangeBuffer's
	// CHANGELOG_HEADERS), none on the tombstone of an evicted window.
	var logged []string
	for _, r := range env.ReadAll(t, appID+"-final-changelog", false) {
		w, err := ks.Deserialize("", r.Key)
		must(t, err)
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, fmt.Sprintf("%s=%x", h.Key, h.Value))
		}
		logged = append(logged, fmt.Sprintf("%s@%d tombstone=%v headers=%v", w.Key, w.Start-base.UnixMilli(), r.Value == nil, hs))
	}
	// (The cached count reaches the buffer once per commit.)
	want := "[k@0 tombstone=false headers=[v=03] other@60000 tombstone=false headers=[v=03] k@0 tombstone=true headers=[]]"
	if fmt.Sprint(logged) != want {
		t.Errorf("suppression changelog\n got %v\nwant %s", logged, want)
	}
}

// TestClusterSessionAcrossMove: a session count on the test cluster; after
// the instance stops, a new one with an empty state directory restores the
// session store from its changelog, and a record within the gap extends
// the restored session.
func TestClusterSessionAcrossMove(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	appID := env.AppID(t)
	b := dsl.NewBuilder()
	dsl.ToStream(dsl.SessionWindowedBy(dsl.NewStream(b, []string{in}, serde.String(), serde.String()).GroupByKey(),
		dsl.SessionWindowsWithGap(5*time.Second, time.Hour)).Count(dsl.StoreName("sessions"))).To(out)
	top, err := b.Build()
	must(t, err)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	produce := func(offsets ...time.Duration) {
		var recs []*kgo.Record
		for _, o := range offsets {
			recs = append(recs, &kgo.Record{Topic: in, Key: []byte("k"), Value: []byte("x"), Timestamp: base.Add(o)})
		}
		env.Produce(t, recs...)
	}
	apps := startApps(t, env, top, appID, 1, 1)
	produce(0, 2*time.Second)
	waitProcessed(t, env, appID, in)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	must(t, apps[0].Close(ctx))
	cancel()
	startApps(t, env, top, appID, 1, 1)
	produce(4 * time.Second)
	waitProcessed(t, env, appID, in)
	ks := dsl.SessionWindowedSerde(serde.String())
	latest := map[string]int64{}
	for _, r := range env.ReadAll(t, out, false) {
		w, err := ks.Deserialize(out, r.Key)
		must(t, err)
		key := fmt.Sprintf("[%d,%d]", w.Start-base.UnixMilli(), w.End-base.UnixMilli())
		if r.Value == nil { // a session that grew: ToStream forwards its deletion
			delete(latest, key)
			continue
		}
		n, err := serde.Int64().Deserialize(out, r.Value)
		must(t, err)
		latest[key] = n
	}
	if latest["[0,4000]"] != 3 {
		t.Errorf("sessions %v, want [0,4000] with 3 records (the restored session extended)", latest)
	}
}
