package streams_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestStreamTableJoinWaitsForTableLag: a table and a stream written before
// the application starts; every stream record's table value was written
// earlier, with a smaller timestamp. With max.task.idle.ms at its default 0,
// Kafka Streams still does not process the task while the table partition
// has nothing buffered and a lag above 0 or unknown
// (PartitionGroupTest.shouldWaitForFetchesWhenMetadataIsIncomplete,
// shouldWaitForPollWhenLagIsNonzero), so records go in timestamp order across
// both topics and every stream record finds its table value. The table's
// values are large, so fetches bring far fewer table records than stream
// records and the table partition drains first: Sluice used to go on with the
// stream records there and joined them with no table value.
func TestStreamTableJoinWaitsForTableLag(t *testing.T) {
	env := kafkatest.Cluster(t)
	tableTopic, streamTopic, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	const n = 10000
	base := time.Now().Add(-time.Hour)
	big := strings.Repeat("x", 1024)
	var recs []*kgo.Record
	for i := range n {
		k := []byte("k" + strconv.Itoa(i))
		recs = append(recs,
			&kgo.Record{Topic: tableTopic, Key: k, Value: []byte("t" + strconv.Itoa(i) + big), Timestamp: base.Add(time.Duration(2*i) * time.Millisecond)},
			&kgo.Record{Topic: streamTopic, Key: k, Value: []byte("s" + strconv.Itoa(i)), Timestamp: base.Add(time.Duration(2*i+1) * time.Millisecond)})
	}
	env.Produce(t, recs...)

	b := dsl.NewBuilder()
	table := dsl.NewTable(b, tableTopic, serde.String(), serde.String(), dsl.StoreName("tbl"))
	stream := dsl.NewStream(b, []string{streamTopic}, serde.String(), serde.String())
	dsl.LeftJoin(stream, table, func(_ string, v, tv string, found bool) string {
		if !found {
			return v + "|none"
		}
		return v + "|" + tv[:strings.IndexByte(tv, 'x')]
	}).To(out)
	top, err := b.Build()
	must(t, err)
	cfg := testConfig(env, env.AppID(t))
	cfg.StateDir = t.TempDir()
	cfg.ClientOpts = []kgo.Opt{kgo.FetchMaxPartitionBytes(256 << 10)}
	app := startApp(t, top, cfg)

	var got []*kgo.Record
	env.WaitFor(t, 3*time.Minute, func() error {
		got = env.ReadAll(t, out, false)
		if len(got) < n {
			return fmt.Errorf("%d of %d joined records", len(got), n)
		}
		return nil
	})
	missed := 0
	for _, r := range got {
		v := string(r.Value)
		s, tv, _ := strings.Cut(v, "|")
		if tv != "t"+s[1:] {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("%d of %d stream records joined without the table value written before them (max.task.idle.ms 0 must wait for the table partition's lag)", missed, len(got))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must(t, app.Close(ctx))
}

// TestEmptyPartitionDoesNotStall: a task reading an empty topic and a full
// one makes progress under max.task.idle.ms 0: the empty partition's lag
// (0 at its high watermark) is learned even though no fetch brings records
// for it.
func TestEmptyPartitionDoesNotStall(t *testing.T) {
	env := kafkatest.Cluster(t)
	empty, full, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	produceN(t, env, full, 0, 50)
	b := dsl.NewBuilder()
	table := dsl.NewTable(b, empty, serde.String(), serde.String(), dsl.StoreName("tbl"))
	dsl.LeftJoin(dsl.NewStream(b, []string{full}, serde.String(), serde.String()), table,
		func(_ string, v, _ string, _ bool) string { return v }).To(out)
	top, err := b.Build()
	must(t, err)
	cfg := testConfig(env, env.AppID(t))
	cfg.StateDir = t.TempDir()
	startApp(t, top, cfg)
	env.WaitFor(t, time.Minute, func() error {
		if got := len(env.ReadAll(t, out, false)); got < 50 {
			return fmt.Errorf("%d of 50 records out", got)
		}
		return nil
	})
}
