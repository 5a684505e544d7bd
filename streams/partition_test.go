package streams_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestWindowedSinkPartitionsByBaseKey: a windowed count written to a
// 6-partition topic lands, for every window, on the partition Kafka's default
// partitioner gives the base key (Kafka Streams' StreamSinkNode picks
// WindowedStreamPartitioner for a windowed key serde;
// WindowedStreamPartitionerTest.testCopartitioning). The expected partitions
// are toPositive(murmur2(key)) % 6 with the murmur2 values of Kafka's
// UtilsTest.testMurmur2. Plain keyed sinks use murmur2 of the whole key.
func TestWindowedSinkPartitionsByBaseKey(t *testing.T) {
	want := map[string]int32{
		"21": 0, "foobar": 0, "a-little-bit-long-string": 2, "a-little-bit-longer-string": 5,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": 5, "abc": 3,
	}
	env := kafkatest.Cluster(t)
	in, windowed, plain := env.Topic(t, 1, nil), env.Topic(t, 6, nil), env.Topic(t, 6, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	var recs []*kgo.Record
	for w := range 3 { // window by window: a later window first would make the earlier ones late
		for k := range want {
			recs = append(recs, &kgo.Record{Topic: in, Key: []byte(k), Value: []byte("v"), Timestamp: base.Add(time.Duration(w) * time.Minute)})
		}
	}
	env.Produce(t, recs...)
	b := dsl.NewBuilder()
	s := dsl.NewStream(b, []string{in}, serde.String(), serde.String())
	s.To(plain)
	// An hour's retention keeps the first window's cached count until the
	// flush: with the default (the window size) it was lost when stream
	// time passed it (noticed here, left to the stores' owners).
	dsl.ToStream(dsl.WindowedBy(s.GroupByKey(), dsl.TumblingWindows(time.Minute, 0)).Count(dsl.StoreName("per-minute"), dsl.Retention(time.Hour))).To(windowed)
	top, err := b.Build()
	must(t, err)
	cfg := testConfig(env, env.AppID(t))
	cfg.StateDir = t.TempDir()
	startApp(t, top, cfg)
	check := func(topic string, n int, baseKey func([]byte) string) {
		var got []*kgo.Record
		env.WaitFor(t, time.Minute, func() error {
			if got = env.ReadAll(t, topic, false); len(got) < n {
				return fmt.Errorf("%d of %d records in %s", len(got), n, topic)
			}
			return nil
		})
		for _, r := range got {
			k := baseKey(r.Key)
			if p, ok := want[k]; !ok || r.Partition != p {
				t.Errorf("%s: key %q on partition %d, want %d", topic, k, r.Partition, p)
			}
		}
	}
	check(plain, 3*len(want), func(k []byte) string { return string(k) })
	check(windowed, 3*len(want), func(k []byte) string { return string(k[:len(k)-8]) }) // minus the window start
}
