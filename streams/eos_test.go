package streams_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
)

// TestExactlyOnceAcrossKill: under exactly_once_v2 an App killed mid-stream
// and restarted on the same disk leaves read_committed output with exactly
// one count per input record, the counts running 1..n per key with no
// duplicate or gap, and restores only the changelog tail.
func TestExactlyOnceAcrossKill(t *testing.T) {
	t.Parallel() // mostly waiting on rebalances; two at a time (GOMAXPROCS)
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 3, nil), env.Topic(t, 3, nil)
	appID := env.AppID(t)
	dir := t.TempDir()
	top := countTopology(t, in, out)
	cfg := func(rc *restoreCounter) streams.Config {
		c := statefulConfig(env, appID, dir, rc)
		c.Guarantee = streams.ExactlyOnceV2
		c.CommitInterval = 300 * time.Millisecond
		return c
	}
	const rounds = 60
	produced := produceKeyedAsync(t, env, in, rounds, 20*time.Millisecond)
	a1 := startApp(t, top, cfg(&restoreCounter{}))
	env.WaitFor(t, 2*time.Minute, func() error {
		if n := len(env.ReadAll(t, out, true)); n < countKeys*rounds/4 {
			return fmt.Errorf("%d committed outputs so far", n)
		}
		return nil
	})
	kill(t, a1)
	<-produced
	rc := &restoreCounter{}
	startApp(t, top, cfg(rc))
	waitProcessed(t, env, appID, in)

	recs := env.ReadAll(t, out, true)
	seen := map[string][]int64{}
	for _, r := range recs {
		v, err := serde.Int64().Deserialize(out, r.Value)
		must(t, err)
		seen[string(r.Key)] = append(seen[string(r.Key)], v)
	}
	if len(recs) != countKeys*rounds {
		t.Errorf("%d committed outputs for %d inputs", len(recs), countKeys*rounds)
	}
	for k, vs := range seen {
		for i, v := range vs {
			if v != int64(i+1) {
				t.Errorf("key %s: output %d is count %d, want %d (duplicate or gap)", k, i, v, i+1)
				break
			}
		}
	}
	restored, _ := rc.get()
	t.Logf("exactly-once restart: %d outputs, restored %d changelog records", len(recs), restored)
}
