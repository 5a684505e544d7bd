package streams_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
)

// ownGoroutines counts goroutines other than the embedded cluster's (its
// per-connection goroutines end on their own schedule).
func ownGoroutines() (int, string) {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var kept []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "pkg/kfake") {
			continue
		}
		n++
		kept = append(kept, g)
	}
	return n, strings.Join(kept, "\n\n")
}

// settledGoroutines waits for goroutines of clients closed just before to
// end, and returns the count.
func settledGoroutines() int {
	n, _ := ownGoroutines()
	for stable := 0; stable < 10; {
		time.Sleep(50 * time.Millisecond)
		m, _ := ownGoroutines()
		if m < n {
			n, stable = m, 0
		} else {
			stable++
		}
	}
	return n
}

// TestCloseLeaksNoGoroutines: after Close, every goroutine the App started
// (workers, clients, restorer) is gone.
func TestCloseLeaksNoGoroutines(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 2, nil), env.Topic(t, 2, nil)
	produceKeyed(t, env, in, 3)
	before := settledGoroutines()
	reg := prometheus.NewRegistry()
	cfg := statefulConfig(env, env.AppID(t), t.TempDir(), nil)
	cfg.Registerer = reg
	app, err := streams.New(countTopology(t, in, out), cfg)
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(t, app.Start(ctx))
	kafkatest.WaitFor(t, time.Minute, func() error {
		if n := testutil.ToFloat64(collectorOf(t, reg, "sluice_records_processed_total")); n < 3*countKeys {
			return fmt.Errorf("processed %v records", n)
		}
		return nil
	})
	must(t, app.Close(ctx))
	deadline := time.Now().Add(20 * time.Second)
	for n, _ := ownGoroutines(); n > before && time.Now().Before(deadline); n, _ = ownGoroutines() {
		time.Sleep(50 * time.Millisecond)
	}
	if n, stacks := ownGoroutines(); n > before {
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, stacks)
	}
}

// collectorOf gathers one metric family from reg as a collector for
// testutil.ToFloat64.
func collectorOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return mf.GetMetric()[0].GetCounter().GetValue() })
		}
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return 0 })
}

// TestMetrics: the App's collector reports its counters and state.
func TestMetrics(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	reg := prometheus.NewRegistry()
	cfg := testConfig(env, "metrics-"+env.AppID(t))
	cfg.Registerer = reg
	// Drops two of the ten records on purpose, reporting them.
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{in}, KeySerde: serde.String(), ValueSerde: serde.String()}))
	must(t, processor.AddProcessor(top, "drop", processor.Func(func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		if r.Value == "v3" || r.Value == "v7" {
			ctx.Dropped("test-reason")
			return nil
		}
		return ctx.Forward(r)
	}), "src"))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, string]{Topic: out, KeySerde: serde.String(), ValueSerde: serde.String()}, "drop"))
	app := startApp(t, top, cfg)
	produceN(t, env, in, 0, 10)
	waitProcessed(t, env, cfg.ApplicationID, in)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(t, app.Close(ctx))
	want := `
# HELP sluice_records_processed_total Records taken from input queues and processed (or skipped by a handler).
# TYPE sluice_records_processed_total counter
sluice_records_processed_total{application_id="` + cfg.ApplicationID + `"} 10
`
	want += `# HELP sluice_records_dropped_total Records processors dropped on purpose (too late for their window, ...), by reason.
# TYPE sluice_records_dropped_total counter
sluice_records_dropped_total{application_id="` + cfg.ApplicationID + `",reason="test-reason"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sluice_records_processed_total", "sluice_records_dropped_total"); err != nil {
		t.Error(err)
	}
	state := `
# HELP sluice_app_state The App's state: 1 for the current one.
# TYPE sluice_app_state gauge
`
	for _, s := range []string{"CREATED", "ERROR", "NOT_RUNNING", "PENDING_ERROR", "PENDING_SHUTDOWN", "REBALANCING", "RUNNING"} {
		v := "0"
		if s == "NOT_RUNNING" {
			v = "1"
		}
		state += `sluice_app_state{application_id="` + cfg.ApplicationID + `",state="` + s + `"} ` + v + "\n"
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(state), "sluice_app_state"); err != nil {
		t.Error(err)
	}
}

// TestGracefulCloseCommitsEverything: with no commit due, a graceful Close
// still flushes every produced record and commits the input it came from.
func TestGracefulCloseCommitsEverything(t *testing.T) {
	for _, g := range []streams.Guarantee{streams.AtLeastOnce, streams.ExactlyOnceV2} {
		t.Run(string(g), func(t *testing.T) {
			env := kafkatest.Cluster(t)
			in, out := env.Topic(t, 2, nil), env.Topic(t, 2, nil)
			reg := prometheus.NewRegistry()
			cfg := testConfig(env, env.AppID(t))
			cfg.Guarantee = g
			cfg.CommitInterval = time.Hour
			cfg.Registerer = reg
			produceN(t, env, in, 0, 500)
			app, err := streams.New(echoTopology(t, in, out), cfg)
			must(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			must(t, app.Start(ctx))
			kafkatest.WaitFor(t, time.Minute, func() error {
				if n := testutil.ToFloat64(collectorOf(t, reg, "sluice_records_processed_total")); n < 500 {
					return fmt.Errorf("processed %v records", n)
				}
				return nil
			})
			must(t, app.Close(ctx))
			if n := len(outputCounts(t, env, out)); n != 500 {
				t.Errorf("%d distinct outputs after a graceful close, want 500", n)
			}
			waitProcessed(t, env, cfg.ApplicationID, in)
		})
	}
}
