package streams_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestAutoOffsetResetLatest: with auto.offset.reset latest, a source
// partition with no committed offset starts at its end, so records written
// before the start are skipped (Kafka Streams resets per topic with the
// configured policy: StreamThread.resetOffsets).
func TestAutoOffsetResetLatest(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	produceN(t, env, in, 0, 20) // before start: skipped
	cfg := testConfig(env, env.AppID(t))
	cfg.AutoOffsetReset = streams.ResetLatest
	app := startApp(t, echoTopology(t, in, out), cfg)
	waitRunning(t, app)
	// The partition is assigned and positioned at its end once the app
	// runs; give kgo a moment to list that offset before writing.
	time.Sleep(2 * time.Second)
	produceN(t, env, in, 20, 30)
	env.WaitFor(t, time.Minute, func() error {
		counts := outputCounts(t, env, out)
		if len(counts) < 10 {
			return fmt.Errorf("%d records out, want the 10 written after the start", len(counts))
		}
		for v := range counts {
			var i int
			if _, err := fmt.Sscanf(v, "v%d", &i); err != nil || i < 20 {
				return fmt.Errorf("record %q written before the start was processed under latest", v)
			}
		}
		return nil
	})
}

// TestAutoOffsetResetNone: with none, a partition with no committed offset
// is an error naming the partition (Kafka Streams throws "No valid committed
// offset found for input topic ...").
func TestAutoOffsetResetNone(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	produceN(t, env, in, 0, 5)
	cfg := testConfig(env, env.AppID(t))
	cfg.AutoOffsetReset = streams.ResetNone
	app := startApp(t, echoTopology(t, in, out), cfg)
	select {
	case <-app.Done():
	case <-time.After(time.Minute):
		t.Fatal("the app kept running with no committed offset under auto.offset.reset none")
	}
	err := app.Err()
	if !errors.Is(err, streams.ErrNoCommittedOffset) {
		t.Fatalf("Err() = %v, want ErrNoCommittedOffset", err)
	}
	if want := in + "[0]"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the partition %s", err, want)
	}
	if n := len(env.ReadAll(t, out, false)); n != 0 {
		t.Errorf("%d records processed under none with nothing committed", n)
	}
}

func waitRunning(t *testing.T, app *streams.App) {
	t.Helper()
	kafkatest.WaitFor(t, time.Minute, func() error {
		if st := app.State(); st != streams.Running {
			return fmt.Errorf("state %v", st)
		}
		return nil
	})
}

// expiredCommit makes a one-partition topic with records v0..v9, commits
// offset 2 for appID and deletes the records below 5, so the committed
// offset is out of range (as when retention deletes a stopped app's
// unprocessed records).
func expiredCommit(t *testing.T, env *kafkatest.Env, appID string) string {
	t.Helper()
	in := env.Topic(t, 1, nil)
	produceN(t, env, in, 0, 10)
	adm := env.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: in, Partition: 0, At: 2, LeaderEpoch: -1})
	resp, err := adm.CommitOffsets(ctx, appID, offs)
	must(t, err)
	must(t, resp.Error())
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: in, Partition: 0, At: 5, LeaderEpoch: -1})
	dr, err := adm.DeleteRecords(ctx, del)
	must(t, err)
	must(t, dr.Error())
	return in
}

// TestOutOfRangeCommittedOffsetUsesTopicPolicy: a committed offset that is
// out of range is reset with the source topic's own policy (earliest here),
// not the global one (none), as StreamThread.resetOffsets does; follows
// FineGrainedAutoResetIntegrationTest (topic-specific earliest with a
// global none). Sluice used to leave the partition failed and stall.
func TestOutOfRangeCommittedOffsetUsesTopicPolicy(t *testing.T) {
	for _, g := range []streams.Guarantee{streams.AtLeastOnce, streams.ExactlyOnceV2} {
		t.Run(string(g), func(t *testing.T) { testOutOfRangeUsesTopicPolicy(t, g) })
	}
}

func testOutOfRangeUsesTopicPolicy(t *testing.T, g streams.Guarantee) {
	env := kafkatest.Cluster(t)
	appID := env.AppID(t)
	in, out := expiredCommit(t, env, appID), env.Topic(t, 1, nil)
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{in}, KeySerde: serde.String(), ValueSerde: serde.String(), OffsetReset: processor.ResetEarliest}))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, string]{Topic: out, KeySerde: serde.String(), ValueSerde: serde.String()}, "src"))
	cfg := testConfig(env, appID)
	cfg.AutoOffsetReset = streams.ResetNone
	cfg.Guarantee = g
	app := startApp(t, top, cfg)
	env.WaitFor(t, 45*time.Second, func() error {
		if err := app.Err(); err != nil {
			t.Fatalf("app failed: %v", err)
		}
		if n := len(env.ReadAll(t, out, false)); n < 5 {
			return fmt.Errorf("%d records out, want v5..v9", n)
		}
		return nil
	})
	var got []string
	for _, r := range env.ReadAll(t, out, g == streams.ExactlyOnceV2) {
		got = append(got, string(r.Value))
	}
	if s := strings.Join(got, " "); s != "v5 v6 v7 v8 v9" {
		t.Errorf("output %q, want v5 v6 v7 v8 v9 (from the log start)", s)
	}
}

// TestOutOfRangeCommittedOffsetUnderNoneFails: with none and no policy of
// its own, an out-of-range committed offset stops the app with an error
// naming the partition (StreamThread.resetOffsets throws "No valid
// committed offset found for input [...]"; FineGrainedAutoResetIntegrationTest
// shouldThrowStreamsExceptionNoResetSpecified). Sluice used to stall
// silently.
func TestOutOfRangeCommittedOffsetUnderNoneFails(t *testing.T) {
	env := kafkatest.Cluster(t)
	appID := env.AppID(t)
	in, out := expiredCommit(t, env, appID), env.Topic(t, 1, nil)
	cfg := testConfig(env, appID)
	cfg.AutoOffsetReset = streams.ResetNone
	app := startApp(t, echoTopology(t, in, out), cfg)
	select {
	case <-app.Done():
	case <-time.After(45 * time.Second):
		t.Fatal("the app stalled with an out-of-range committed offset under none")
	}
	err := app.Err()
	if !errors.Is(err, streams.ErrNoCommittedOffset) || !strings.Contains(err.Error(), in+"[0]") {
		t.Fatalf("Err() = %v, want ErrNoCommittedOffset naming %s[0]", err, in)
	}
}

// TestRepartitionTopicFollowsGlobalReset: a repartition topic has no reset
// policy of its own, so a new application's repartition partitions follow
// auto.offset.reset; under none that is an error naming the repartition
// partition, even though the user's source says earliest (Kafka Streams
// 4.4: OptimizableRepartitionNode adds the repartition source with no
// policy; StreamThread.resetOffsets falls back to the global one, as
// FineGrainedAutoResetIntegrationTest's global-none cases rely on).
// Sluice started repartition topics at the earliest offset whatever the
// config.
func TestRepartitionTopicFollowsGlobalReset(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	top := processor.NewTopology()
	str := serde.String()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{in}, KeySerde: str, ValueSerde: str, OffsetReset: processor.ResetEarliest}))
	must(t, processor.AddSink(top, "to-rep", processor.SinkSpec[string, string]{Topic: "hop-repartition", Internal: true, KeySerde: str, ValueSerde: str}, "src"))
	must(t, processor.AddSource(top, "rep", processor.SourceSpec[string, string]{Topics: []string{"hop-repartition"}, Internal: true, KeySerde: str, ValueSerde: str}))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, string]{Topic: out, KeySerde: str, ValueSerde: str}, "rep"))
	cfg := testConfig(env, env.AppID(t))
	cfg.AutoOffsetReset = streams.ResetNone
	produceN(t, env, in, 0, 5)
	app := startApp(t, top, cfg)
	select {
	case <-app.Done():
	case <-time.After(45 * time.Second):
		t.Fatal("the app ran with no committed offset for its repartition topic under auto.offset.reset none")
	}
	err := app.Err()
	if want := cfg.ApplicationID + "-hop-repartition[0]"; !errors.Is(err, streams.ErrNoCommittedOffset) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Err() = %v, want ErrNoCommittedOffset naming %s", err, want)
	}
}
