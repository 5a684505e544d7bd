package streams_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streams"
)

// TestUnloggedStoreSurvivesRestart: a persistent store without a changelog
// keeps its state across a graceful restart under both guarantees (under
// exactly-once its staged writes must still reach the disk at each commit).
func TestUnloggedStoreSurvivesRestart(t *testing.T) {
	for _, g := range []streams.Guarantee{streams.AtLeastOnce, streams.ExactlyOnceV2} {
		t.Run(string(g), func(t *testing.T) {
			env := kafkatest.Cluster(t)
			in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
			appID := env.AppID(t)
			dir := t.TempDir()
			top := countTopology(t, in, out, statestore.Logging(false))
			cfg := statefulConfig(env, appID, dir, nil)
			cfg.Guarantee = g
			produceKeyed(t, env, in, 5)
			a := startApp(t, top, cfg)
			waitProcessed(t, env, appID, in)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			must(t, a.Close(ctx))
			produceKeyed(t, env, in, 1)
			startApp(t, top, cfg)
			waitProcessed(t, env, appID, in)
			checkCounts(t, latestCounts(t, env, out), 6, true)
		})
	}
}

// TestEOSGracefulCloseWhileProcessing: closing an exactly-once App in the
// middle of processing (commits every millisecond) ends cleanly.
func TestEOSGracefulCloseWhileProcessing(t *testing.T) {
	t.Parallel() // mostly waiting on rebalances; two at a time (GOMAXPROCS)
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 3, nil), env.Topic(t, 3, nil)
	top := countTopology(t, in, out)
	for i := 0; i < 8; i++ {
		cfg := statefulConfig(env, env.AppID(t), t.TempDir(), nil)
		cfg.Guarantee = streams.ExactlyOnceV2
		cfg.CommitInterval = time.Millisecond
		produceKeyed(t, env, in, 100)
		a, err := streams.New(top, cfg)
		must(t, err)
		must(t, a.Start(context.Background()))
		time.Sleep(time.Duration(100+i*37) * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = a.Close(ctx)
		cancel()
		if err != nil {
			t.Errorf("round %d: graceful Close: %v", i, err)
		}
	}
}
