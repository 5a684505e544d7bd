package streams_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// wireGolden is what Java Kafka Streams 4.4.0 wrote to its changelogs for
// wireTopology's input (testdata/wiregolden: the Java program and its
// output): per store, the changelog records as "key value timestamp
// [headers]" in hex.
func wireGolden(t *testing.T) (base int64, byStore map[string][]string) {
	t.Helper()
	f, err := os.Open("testdata/wiregolden/changelogs.txt")
	must(t, err)
	defer f.Close()
	byStore = map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		store, rest, _ := strings.Cut(line, " ")
		if store == "base" {
			base, err = strconv.ParseInt(rest, 10, 64)
			must(t, err)
			continue
		}
		byStore[store] = append(byStore[store], rest)
	}
	must(t, sc.Err())
	return base, byStore
}

// wireTopology is WireGolden.java's topology: a Processor API processor
// writing a plain key-value and a plain window store, and four uncached
// DSL counts (persistent and in-memory key-value, tumbling windows,
// sessions), with the same store names.
func wireTopology(t *testing.T, in string) *processor.Topology {
	b := dsl.NewBuilder()
	b.AddStore(statestore.KeyValue("plain-kv", serde.String(), serde.String()))
	b.AddStore(statestore.Window("plain-win", time.Hour, 10*time.Second, serde.String(), serde.String()))
	s := dsl.NewStream(b, []string{in}, serde.String(), serde.String())
	dsl.Process(s, func() processor.Processor[string, string, string, string] { return &plainWriter{} }, dsl.WithStores("plain-kv", "plain-win"))
	g := s.GroupByKey()
	g.Count(dsl.StoreName("kv-count"), dsl.Caching(false))
	g.Count(dsl.StoreName("mem-count"), dsl.InMemory(), dsl.Caching(false))
	dsl.WindowedBy(g, dsl.TumblingWindows(10*time.Second, 0)).Count(dsl.StoreName("win-count"), dsl.Caching(false))
	dsl.SessionWindowedBy(g, dsl.SessionWindowsWithGap(5*time.Second, 0)).Count(dsl.StoreName("sess-count"), dsl.Caching(false))
	top, err := b.Build()
	must(t, err)
	return top
}

type plainWriter struct {
	kv statestore.KeyValueStore[string, string]
	w  statestore.WindowStore[string, string]
}

func (p *plainWriter) Init(ctx processor.Context[string, string]) (err error) {
	if p.kv, err = processor.GetStore[statestore.KeyValueStore[string, string]](ctx, "plain-kv"); err != nil {
		return err
	}
	p.w, err = processor.GetStore[statestore.WindowStore[string, string]](ctx, "plain-win")
	return err
}

func (p *plainWriter) Process(r processor.Record[string, string]) error {
	var err error
	if r.Value == "del" {
		_, _, err = p.kv.Delete(r.Key)
	} else {
		err = p.kv.Put(r.Key, r.Value)
	}
	if err != nil {
		return err
	}
	return p.w.Put(r.Key, r.Value, r.Timestamp/10000*10000)
}

func (p *plainWriter) Close() error { return nil }

// TestChangelogsMatchJavaKafkaStreams runs wireTopology on WireGolden.java's
// input and compares every changelog record (key and value bytes, record
// timestamp, headers) with what Kafka Streams 4.4.0 wrote.
func TestChangelogsMatchJavaKafkaStreams(t *testing.T) {
	t.Parallel()
	env, base, golden, in, appID := wireSetup(t)
	var recs []*kgo.Record
	for _, r := range []struct {
		k, v string
		ts   int64
	}{{"a", "1", 1000}, {"b", "2", 2000}, {"a", "3", 3000}, {"b", "del", 4000}, {"z\x00z", "5", 5000}, {"a", "6", 12000}, {"a", "7", 14000}} {
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte(r.k), Value: []byte(r.v), Timestamp: time.UnixMilli(base + r.ts)})
	}
	env.Produce(t, recs...)
	startApp(t, wireTopology(t, in), statefulConfig(env, appID, t.TempDir(), nil))
	waitProcessed(t, env, appID, in)
	for store, want := range golden {
		var got []string
		for _, r := range env.ReadAll(t, statestore.ChangelogTopic(appID, store), false) {
			got = append(got, changelogLine(r))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s changelog\n got\n  %s\nwant (Kafka Streams 4.4.0)\n  %s", store, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

// wireSetup returns a cluster, the golden changelogs, an input topic and an
// application id whose changelog topics exist.
func wireSetup(t *testing.T) (env *kafkatest.Env, base int64, golden map[string][]string, in, appID string) {
	env = kafkatest.Cluster(t)
	base, golden = wireGolden(t)
	in = env.Topic(t, 1, keepForever())
	appID = env.AppID(t)
	createChangelogs(t, env, appID, golden)
	return env, base, golden, in, appID
}

// keepForever is the config of topics holding the golden timestamps (fixed
// dates): a real broker's retention would delete them as they age.
func keepForever() map[string]*string {
	forever := "-1"
	return map[string]*string{"retention.ms": &forever}
}

// createChangelogs creates the application's changelog topics of the golden
// stores before it starts (it takes existing changelogs as they are, as it
// takes over Java's).
func createChangelogs(t *testing.T, env *kafkatest.Env, appID string, golden map[string][]string) {
	t.Helper()
	adm := env.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for store := range golden {
		if _, err := adm.CreateTopic(ctx, 1, env.ReplicationFactor(), keepForever(), statestore.ChangelogTopic(appID, store)); err != nil {
			t.Fatal(err)
		}
	}
}

func changelogLine(r *kgo.Record) string {
	v := "null"
	if r.Value != nil {
		v = fmt.Sprintf("%x", r.Value)
	}
	var h strings.Builder
	for _, x := range r.Headers {
		fmt.Fprintf(&h, "%s=%x;", x.Key, x.Value)
	}
	return fmt.Sprintf("%x %s %d [%s]", r.Key, v, r.Timestamp.UnixMilli(), h.String())
}

// TestRestoresJavaKafkaStreamsChangelogs starts a Sluice application on the
// changelogs Java Kafka Streams 4.4.0 wrote (testdata/wiregolden) with no
// local state, as when an application moves from Java to Sluice under the
// same application.id: every store is restored from them, and the next
// record continues each count where Java left it.
func TestRestoresJavaKafkaStreamsChangelogs(t *testing.T) {
	t.Parallel()
	env, base, golden, in, appID := wireSetup(t)
	var recs []*kgo.Record
	for store, lines := range golden {
		topic := statestore.ChangelogTopic(appID, store)
		for _, l := range lines {
			var kh, vh string
			var ts int64
			_, err := fmt.Sscanf(l, "%s %s %d", &kh, &vh, &ts)
			must(t, err)
			r := &kgo.Record{Topic: topic, Timestamp: time.UnixMilli(ts)}
			r.Key, err = hex.DecodeString(kh)
			must(t, err)
			if vh != "null" {
				r.Value, err = hex.DecodeString(vh)
				must(t, err)
			}
			recs = append(recs, r)
		}
	}
	env.Produce(t, recs...)
	rc := &restoreCounter{}
	app := startApp(t, wireTopology(t, in), statefulConfig(env, appID, t.TempDir(), rc))
	env.Produce(t, &kgo.Record{Topic: in, Key: []byte("a"), Value: []byte("8"), Timestamp: time.UnixMilli(base + 15000)})
	waitProcessed(t, env, appID, in)
	if restored, _ := rc.get(); restored != int64(len(recs)) {
		t.Errorf("restored %d changelog records, want all %d", restored, len(recs))
	}
	counts, err := streams.QueryKeyValueStore[string, statestore.ValueAndTimestamp[int64]](app, "kv-count")
	must(t, err)
	mem, err := streams.QueryKeyValueStore[string, statestore.ValueAndTimestamp[int64]](app, "mem-count")
	must(t, err)
	for _, q := range []*streams.ReadOnlyKeyValueStore[string, statestore.ValueAndTimestamp[int64]]{counts, mem} {
		for k, want := range map[string]statestore.ValueAndTimestamp[int64]{
			"a": {Value: 5, Timestamp: base + 15000}, "b": {Value: 2, Timestamp: base + 4000}, "z\x00z": {Value: 1, Timestamp: base + 5000},
		} {
			if v, ok, err := q.Get(k); err != nil || !ok || v != want {
				t.Errorf("count of %q = %+v %v %v, want %+v", k, v, ok, err, want)
			}
		}
	}
	plain, err := streams.QueryKeyValueStore[string, string](app, "plain-kv")
	must(t, err)
	if v, _, _ := plain.Get("a"); v != "8" {
		t.Errorf("plain-kv a = %q, want 8", v)
	}
	if _, ok, _ := plain.Get("b"); ok {
		t.Error("plain-kv kept b after Java's tombstone")
	}
	wins, err := streams.QueryWindowStore[string, statestore.ValueAndTimestamp[int64]](app, "win-count")
	must(t, err)
	it, err := wins.Fetch("a", base, base+20000)
	must(t, err)
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%d=%d@%d", it.Key().Start-base, it.Value().Value, it.Value().Timestamp-base))
	}
	must(t, it.Close())
	// Window 0 is past its retention (size 10s + grace 0) at stream time
	// 15000; window 10000 had 2 in Java's changelog.
	if strings.Join(got, " ") != "10000=3@15000" {
		t.Errorf("windows of a: %v, want 10000=3@15000", got)
	}
	// The session [12000, 14000] restored from Java's changelog merges with
	// the new record: its tombstone, then [12000, 15000] with count 3.
	sess := env.ReadAll(t, statestore.ChangelogTopic(appID, "sess-count"), false)
	var tail []string
	for _, r := range sess[len(golden["sess-count"]):] {
		tail = append(tail, changelogLine(r))
	}
	want := []string{
		fmt.Sprintf("61%016x%016x null %d []", base+14000, base+12000, base+15000),
		fmt.Sprintf("61%016x%016x %016x %d []", base+15000, base+12000, 3, base+15000),
	}
	if strings.Join(tail, "\n") != strings.Join(want, "\n") {
		t.Errorf("session changelog after the restore\n got %v\nwant %v", tail, want)
	}
}
