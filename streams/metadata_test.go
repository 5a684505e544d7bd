package streams_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaPartitionMetadata is Kafka Streams' TopicPartitionMetadata.encode()
// for a partition time with no processor metadata: base64 of magic byte 2
// and the big-endian time (TopicPartitionMetadataTest).
func kafkaPartitionMetadata(ts int64) string {
	b := binary.BigEndian.AppendUint64([]byte{2}, uint64(ts))
	return base64.StdEncoding.EncodeToString(b)
}

// TestCommitMetadataInteropWithKafkaStreams: offsets committed by a Kafka
// Streams instance of the application carry the partition time in
// TopicPartitionMetadata; a Sluice instance taking over starts with that
// stream time (StreamTask.initializeTaskTimeAndProcessorMetadata), and what
// Sluice commits is in the same encoding, with each partition's own time, so
// Java takes it over in turn.
func TestCommitMetadataInteropWithKafkaStreams(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 2, nil), env.Topic(t, 1, nil)
	appID := env.AppID(t)
	// Recent, so no retention (kfake's included) deletes the records.
	javaTime := time.Now().Add(-time.Hour).UnixMilli()
	// What a Java instance committed: partition 0 at offset 0 with partition
	// time javaTime, partition 1 with an older one.
	adm := env.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: in, Partition: 0, At: 0, LeaderEpoch: -1, Metadata: kafkaPartitionMetadata(javaTime)})
	offs.Add(kadm.Offset{Topic: in, Partition: 1, At: 0, LeaderEpoch: -1, Metadata: kafkaPartitionMetadata(javaTime - 5000)})
	resp, err := adm.CommitOffsets(ctx, appID, offs)
	must(t, err)
	must(t, resp.Error())

	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{in}, KeySerde: serde.String(), ValueSerde: serde.String()}))
	must(t, processor.AddProcessor(top, "time", processor.Func(func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		return ctx.Forward(processor.WithValue(r, strconv.FormatInt(ctx.StreamTime(), 10)))
	}), "src"))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, string]{Topic: out, KeySerde: serde.String(), ValueSerde: serde.String()}, "time"))
	// Old records (whichever partitions their keys hash to): stream time
	// stays at javaTime, and so do the partition times.
	env.Produce(t,
		&kgo.Record{Topic: in, Key: []byte("a"), Value: []byte("x"), Timestamp: time.UnixMilli(javaTime - 60000)},
		&kgo.Record{Topic: in, Key: []byte("b"), Value: []byte("y"), Timestamp: time.UnixMilli(javaTime - 30000)})
	cfg := testConfig(env, appID)
	app := startApp(t, top, cfg)
	var got []*kgo.Record
	env.WaitFor(t, time.Minute, func() error {
		if got = env.ReadAll(t, out, false); len(got) < 2 {
			return fmt.Errorf("%d of 2 records out", len(got))
		}
		return nil
	})
	for _, r := range got {
		if string(r.Value) != strconv.FormatInt(javaTime, 10) {
			t.Errorf("stream time %s while processing %q, want %d from Kafka Streams' commit metadata", r.Value, r.Key, javaTime)
		}
	}
	waitProcessed(t, env, appID, in)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	must(t, app.Close(ctx2))
	fetched, err := adm.FetchOffsets(context.Background(), appID)
	must(t, err)
	// Each partition commits its own partition time: the Java one, since
	// the records processed were older.
	n := map[int32]int64{}
	for _, r := range env.ReadAll(t, in, false) {
		n[r.Partition]++
	}
	for p, want := range map[int32]int64{0: javaTime, 1: javaTime - 5000} {
		o, ok := fetched.Lookup(in, p)
		if !ok {
			t.Fatalf("no committed offset for %s[%d]", in, p)
		}
		if o.At != n[p] || o.Metadata != kafkaPartitionMetadata(want) {
			t.Errorf("%s[%d] committed at %d with metadata %q, want %d with %q (Kafka's encoding of %d)", in, p, o.At, o.Metadata, n[p], kafkaPartitionMetadata(want), want)
		}
	}
}
