package streams_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/streams"
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
