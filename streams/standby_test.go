package streams_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/streams"
	"github.com/sluicestreams/sluice/task"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restoreByTask counts restored records per task.
type restoreByTask struct {
	mu sync.Mutex
	n  map[string]int64
}

func (r *restoreByTask) OnRestoreStart(string, string, string, int32, int64, int64) {}
func (r *restoreByTask) OnBatchRestored(taskID, _, _ string, _ int32, _ int64, n int) {
	r.mu.Lock()
	if r.n == nil {
		r.n = map[string]int64{}
	}
	r.n[taskID] += int64(n)
	r.mu.Unlock()
}
func (r *restoreByTask) OnRestoreEnd(string, string, string, int32, int64, time.Duration) {}

func (r *restoreByTask) get(id string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[id]
}

// feed produces keyed records until stop is closed.
func feed(t *testing.T, env *kafkatest.Env, topic string, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	quit := make(chan struct{}) // the test ended first
	cl := env.Client(t)
	t.Cleanup(func() {
		close(quit)
		<-done
	})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-quit:
				return
			default:
			}
			var recs []*kgo.Record
			for k := 0; k < 200; k++ {
				recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("key" + strconv.Itoa(k)), Value: []byte("x")})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				cancel()
				t.Errorf("feeding input: %v", err)
				return
			}
			cancel()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return done
}

// TestStandbyFailover: with one standby, the tasks of an instance that dies
// resume on the others after restoring only the tail their standbys had not
// applied.
func TestStandbyFailover(t *testing.T) {
	t.Parallel() // mostly waiting on rebalances; two at a time (GOMAXPROCS)
	for _, standbys := range []int{1, 0} {
		t.Run(fmt.Sprintf("standbys=%d", standbys), func(t *testing.T) {
			t.Parallel()
			testFailover(t, standbys)
		})
	}
}

func testFailover(t *testing.T, standbys int) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 6, nil), env.Topic(t, 6, nil)
	appID := env.AppID(t)
	top := countTopology(t, in, out)
	rbt := &restoreByTask{}
	var apps []*streams.App
	for i := 0; i < 3; i++ {
		cfg := statefulConfig(env, appID, t.TempDir(), nil)
		cfg.NumStandbyReplicas = standbys
		cfg.RestoreListener = rbt
		apps = append(apps, startApp(t, top, cfg))
	}
	waitTasks(t, env, []int{2, 2, 2}, apps...)
	env.WaitFor(t, 2*time.Minute, func() error {
		for i, a := range apps {
			if n := len(a.StandbyTasks()); n != 2*standbys {
				return fmt.Errorf("app %d keeps %d standbys, want %d", i, n, 2*standbys)
			}
		}
		return nil
	})
	stop := make(chan struct{})
	fed := feed(t, env, in, stop)
	defer func() { close(stop); <-fed }()
	time.Sleep(3 * time.Second) // let state and standbys grow

	victim := apps[0]
	moved := victim.ActiveTasks()
	adm := env.Admin(t)
	endsOf := func() map[int32]int64 {
		ends, err := adm.ListEndOffsets(context.Background(), out)
		must(t, err)
		m := map[int32]int64{}
		ends.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
		return m
	}
	killedAt := time.Now()
	kill(t, victim)
	before := endsOf()
	// The moved tasks process again when their output partitions grow.
	env.WaitFor(t, 2*time.Minute, func() error {
		now := endsOf()
		for _, id := range moved {
			if now[id.Partition] <= before[id.Partition] {
				return fmt.Errorf("task %s has not produced since the kill", id)
			}
		}
		return nil
	})
	failover := time.Since(killedAt)
	var restored, changelog int64
	cends, err := adm.ListEndOffsets(context.Background(), appID+"-counts-changelog")
	must(t, err)
	for _, id := range moved {
		restored += rbt.get(id.String())
		o, _ := cends.Lookup(appID+"-counts-changelog", id.Partition)
		changelog += o.Offset
	}
	t.Logf("failover with %d standby replicas: tasks %v processing again %v after the kill; restored %d of %d changelog records (%.2f%%)",
		standbys, moved, failover.Round(time.Millisecond), restored, changelog, 100*float64(restored)/float64(max(changelog, 1)))
	if standbys > 0 && restored*20 >= changelog {
		t.Errorf("promotion restored %d records of a %d-record changelog: not well under 5%%", restored, changelog)
	}
}

// TestStandbysAcrossRacks: six instances in three racks with one standby:
// no standby shares its active's rack.
func TestStandbysAcrossRacks(t *testing.T) {
	t.Parallel() // mostly waiting on rebalances; two at a time (GOMAXPROCS)
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 6, nil), env.Topic(t, 6, nil)
	appID := env.AppID(t)
	top := countTopology(t, in, out)
	var apps []*streams.App
	racks := map[*streams.App]string{}
	for i := 0; i < 6; i++ {
		cfg := statefulConfig(env, appID, t.TempDir(), nil)
		cfg.NumStandbyReplicas = 1
		cfg.Rack = "rack-" + strconv.Itoa(i%3)
		a := startApp(t, top, cfg)
		apps = append(apps, a)
		racks[a] = cfg.Rack
	}
	waitTasks(t, env, []int{1, 1, 1, 1, 1, 1}, apps...)
	env.WaitFor(t, 2*time.Minute, func() error {
		activeRack := map[task.ID]string{}
		for _, a := range apps {
			for _, id := range a.ActiveTasks() {
				activeRack[id] = racks[a]
			}
		}
		standbys := 0
		for _, a := range apps {
			for _, id := range a.StandbyTasks() {
				standbys++
				if activeRack[id] == racks[a] {
					return fmt.Errorf("standby of %s is in %s, the rack of its active", id, racks[a])
				}
			}
		}
		if standbys != 6 {
			return fmt.Errorf("%d standbys, want 6", standbys)
		}
		return nil
	})
}

// TestScaleOut: one instance counts while input flows; two more join. With
// a small acceptable.recovery.lag the newcomers are not caught up, so tasks
// stay where their state is while the newcomers warm up, and move at the
// probing rebalances: no moved task restores its whole changelog, tasks end
// spread over all three, and the final counts are exact.
func TestScaleOut(t *testing.T) {
	t.Parallel() // mostly waiting on rebalances; two at a time (GOMAXPROCS)
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 6, nil), env.Topic(t, 6, nil)
	appID := env.AppID(t)
	top := countTopology(t, in, out)
	rbt := &restoreByTask{}
	warm := &warmups{}
	newCfg := func() streams.Config {
		cfg := statefulConfig(env, appID, t.TempDir(), nil)
		cfg.AcceptableRecoveryLag = 50
		cfg.MaxWarmupReplicas = 2
		cfg.ProbingRebalanceInterval = 2 * time.Second
		cfg.RestoreListener = rbt
		cfg.StandbyListener = warm
		return cfg
	}
	a := startApp(t, top, newCfg())
	waitTasks(t, env, []int{6}, a)
	produceKeyed(t, env, in, 20) // state before the newcomers arrive
	waitProcessed(t, env, appID, in)
	stop := make(chan struct{})
	fed := feed(t, env, in, stop)
	b := startApp(t, top, newCfg())
	c := startApp(t, top, newCfg())
	waitTasks(t, env, []int{2, 2, 2}, a, b, c)
	close(stop)
	<-fed
	waitProcessed(t, env, appID, in)
	counts := latestCounts(t, env, out)
	if len(counts) != 200 {
		t.Fatalf("%d keys counted, want 200", len(counts))
	}
	// Every input record counted exactly once: the counts add up to the
	// input.
	ends, err := env.Admin(t).ListEndOffsets(context.Background(), in)
	must(t, err)
	var inputs, total int64
	ends.Each(func(o kadm.ListedOffset) { inputs += o.Offset })
	for _, n := range counts {
		total += n
	}
	if total != inputs {
		t.Errorf("counts add up to %d, input has %d records", total, inputs)
	}
	if n := warm.started.Load(); n == 0 {
		t.Error("no warmup task was started: the newcomers took tasks without warming up")
	} else {
		t.Logf("%d warmup stores started, %d records applied by them", n, warm.applied.Load())
	}
	cends, err := env.Admin(t).ListEndOffsets(context.Background(), appID+"-counts-changelog")
	must(t, err)
	for _, app := range []*streams.App{b, c} {
		for _, id := range app.ActiveTasks() {
			o, _ := cends.Lookup(appID+"-counts-changelog", id.Partition)
			restored := rbt.get(id.String())
			t.Logf("task %s moved: restored %d of %d changelog records at promotion", id, restored, o.Offset)
			if restored > 0 && restored*2 >= o.Offset {
				t.Errorf("task %s restored %d of %d changelog records: it moved without warming up", id, restored, o.Offset)
			}
		}
	}
}

// warmups counts standby and warmup activity.
type warmups struct{ started, applied atomic.Int64 }

func (w *warmups) OnUpdateStart(string, string, string, int32, int64) { w.started.Add(1) }
func (w *warmups) OnBatchLoaded(_, _, _ string, _ int32, _ int64, n int) {
	w.applied.Add(int64(n))
}
func (w *warmups) OnUpdateSuspended(string, string, string, int32, int64, string) {}
