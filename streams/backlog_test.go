package streams_test

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCachedWindowsOnBacklog starts an application with a cached tumbling
// window count on a backlog that spans many window retentions, so windows
// expire while their counts are still dirty in the record cache, under
// at-least-once and exactly-once (staged stores). Kafka Streams'
// CachingWindowStore flushes such entries to the changelog and downstream
// at the next commit (putAndMaybeForward), so the last count of every window
// equals the number of its records (as dsl's
// TestCachedWindowsOnBacklogMatchUncached checks against the uncached run);
// Sluice dropped them with their segment.
func TestCachedWindowsOnBacklog(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprint("eos=", eos), func(t *testing.T) {
			t.Parallel()
			env := kafkatest.Cluster(t)
			in, out := env.Topic(t, 2, nil), env.Topic(t, 2, nil)
			appID := env.AppID(t)
			base := time.Now().Add(-time.Hour).UnixMilli() / 10000 * 10000
			want := map[string]int64{}
			var recs []*kgo.Record
			for i := range 3000 {
				k, ts := fmt.Sprint("k", i*7%20), base+int64(i)*97
				recs = append(recs, &kgo.Record{Topic: in, Key: []byte(k), Value: []byte("x"), Timestamp: time.UnixMilli(ts)})
				want[fmt.Sprintf("%s@%d", k, (ts-base)/10000*10000)]++
			}
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
			cfg.CommitInterval = 3 * time.Second
			if eos {
				cfg.Guarantee = streams.ExactlyOnceV2
			}
			startApp(t, top, cfg)
			waitProcessed(t, env, appID, in)
			got := map[string]int64{}
			for _, r := range env.ReadAll(t, out, eos) {
				n, err := serde.Int64().Deserialize(out, r.Value)
				must(t, err)
				got[string(r.Key)] = n
			}
			if !maps.Equal(got, want) {
				missing := 0
				for k := range want {
					if _, ok := got[k]; !ok {
						missing++
					}
				}
				t.Errorf("%d windows with their final count, want %d (%d missing)", len(got), len(want), missing)
			}
		})
	}
}
