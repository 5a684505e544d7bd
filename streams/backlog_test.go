package streams_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCachedWindowsOnBacklog runs a cached tumbling window count over a
// backlog that spans many window retentions with no commit until the end,
// so windows expire while their counts are still dirty in the record cache,
// under at-least-once and exactly-once (staged stores). Kafka Streams'
// CachingWindowStore flushes such entries like any other
// (putAndMaybeForward): Java Kafka Streams 4.4.0 on this input (3000 records,
// 20 keys, 10 s windows, commit.interval.ms 60000, default cache) emitted 590
// records, one per window, each the window's full count, at the final
// commit, in the order of the windows' last writes (the cache's dirty
// order), timestamped with their last record: "k8@0=5@8148, k15@0=5@8245,
// ...". Sluice dropped the expired ones with their segment (50 of 590 left).
func TestCachedWindowsOnBacklog(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprint("eos=", eos), func(t *testing.T) {
			t.Parallel()
			env := kafkatest.Cluster(t)
			in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
			appID := env.AppID(t)
			base := time.Now().Add(-time.Hour).UnixMilli() / 10000 * 10000
			recs, want, finalCount := backlogInput(in, base)
			env.Produce(t, recs...)

			b := dsl.NewBuilder()
			counts := dsl.WindowedBy(dsl.NewStream(b, []string{in}, serde.String(), serde.String()).GroupByKey(),
				dsl.TumblingWindows(10*time.Second, 0)).Count(dsl.StoreName("counts"), dsl.Caching(true))
			dsl.Map(dsl.NonNull(dsl.ToStream(counts)), func(k dsl.Windowed[string], n int64) (string, int64) {
				return fmt.Sprintf("%s@%d", k.Key, k.Start-base), n
			}).WithSerdes(serde.String(), serde.Int64()).To(out)
			top, err := b.Build()
			must(t, err)
			cfg := statefulConfig(env, appID, t.TempDir(), nil)
			cfg.CommitInterval = time.Minute
			if eos {
				cfg.Guarantee = streams.ExactlyOnceV2
			}
			app := startApp(t, top, cfg)
			// Wait for the last record (its window's count is read through
			// the cache), then close: the final commit flushes the cache.
			last := recs[len(recs)-1]
			start := last.Timestamp.UnixMilli() / 10000 * 10000
			env.WaitFor(t, 2*time.Minute, func() error {
				q, err := streams.QueryWindowStore[string, int64](app, "counts")
				if err != nil {
					return err
				}
				it, err := q.Fetch(string(last.Key), start, start)
				if err != nil {
					return err
				}
				defer it.Close()
				if !it.Next() || it.Value() != finalCount {
					return fmt.Errorf("backlog not processed yet")
				}
				return nil
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			must(t, app.Close(ctx))
			var got []string
			for _, r := range env.ReadAll(t, out, eos) {
				n, err := serde.Int64().Deserialize(out, r.Value)
				must(t, err)
				got = append(got, fmt.Sprintf("%s=%d@%d", r.Key, n, r.Timestamp.UnixMilli()-base))
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%d records (want %d, one per window), first %v; want Java's %v", len(got), len(want), got[:min(len(got), 4)], want[:4])
			}
		})
	}
}

// backlogInput returns the backlog's records, what Kafka Streams emits for
// them at one flush ("key@start=count@timestamp" per window, in the order
// of the windows' last writes) and the count of the last record's window.
func backlogInput(topic string, base int64) (recs []*kgo.Record, want []string, finalCount int64) {
	type window struct {
		name          string
		count         int64
		lastIdx, last int64
	}
	windows := map[string]*window{}
	for i := range 3000 {
		k, ts := fmt.Sprint("k", i*7%20), base+int64(i)*97
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte("x"), Timestamp: time.UnixMilli(ts)})
		name := fmt.Sprintf("%s@%d", k, (ts-base)/10000*10000)
		w := windows[name]
		if w == nil {
			w = &window{name: name}
			windows[name] = w
		}
		w.count, w.lastIdx, w.last = w.count+1, int64(i), ts-base
		finalCount = w.count
	}
	order := make([]*window, 0, len(windows))
	for _, w := range windows {
		order = append(order, w)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].lastIdx < order[j].lastIdx })
	for _, w := range order {
		want = append(want, fmt.Sprintf("%s=%d@%d", w.name, w.count, w.last))
	}
	return recs, want, finalCount
}
