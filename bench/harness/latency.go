package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sluicestreams/sluice/bench/internal/workload"
	"github.com/twmb/franz-go/pkg/kgo"
)

// latencyRun is what the fixed-rate run measured.
type latencyRun struct {
	RatePerS float64 `json:"offered_rate_per_s"`
	Samples  int     `json:"samples"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// latency runs c on a fresh input topic that the harness fills at rate lines
// per second, and measures, for every output record, the time the harness
// received it (read_committed) minus the record's timestamp, which every
// contender carries over from the input record it came from (for a count:
// the latest input record that changed it), i.e. the producer's create time
// of that input line. Load is offered from the moment the group is stable;
// records stamped before the contender's first consumed record plus
// h.latencyWarm are warm-up and not counted; after that, load is offered for
// h.latencyDur more.
func (h *harness) latency(ctx context.Context, c contender, rate float64) (latencyRun, error) {
	res := latencyRun{RatePerS: rate}
	appID := fmt.Sprintf("%s-%s-lat", h.runID, c.Name)
	s := runSpec{c: c, appID: appID, input: appID + "-in", output: appID + "-out",
		commitMs: h.commitMs(c), logPath: filepath.Join(h.logDir, appID+".log"),
		stateDir: filepath.Join(h.stateRoot, appID)}
	defer h.cleanup(appID, s.stateDir)
	for _, t := range []string{s.input, s.output} {
		if err := h.b.createTopic(ctx, t, h.partitions); err != nil {
			return res, err
		}
	}
	p, err := h.start(s)
	if err != nil {
		return res, err
	}
	defer p.stop()
	// Wait for the group to settle before offering load.
	settle := time.Now().Add(h.runTimeout)
	for !h.b.groupStable(ctx, appID) {
		select {
		case <-p.exited:
			return res, &errUnavailable{fmt.Sprintf("exited (%v): %s", p.waitErr, lastLines(s.logPath, 3))}
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(settle) {
			return res, errors.New("group did not become stable")
		}
	}
	time.Sleep(500 * time.Millisecond)

	tail, err := kgo.NewClient(kgo.SeedBrokers(h.b.seeds...), kgo.ConsumeTopics(s.output),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(20*time.Millisecond))
	if err != nil {
		return res, err
	}
	defer tail.Close()
	tctx, stopTail := context.WithCancel(ctx)
	defer stopTail()
	var (
		mu      sync.Mutex
		samples []float64
		warmEnd int64 = math.MaxInt64 // ms; records stamped before it are warm-up
	)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for tctx.Err() == nil {
			fs := tail.PollFetches(tctx)
			now := time.Now()
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if r.Timestamp.UnixMilli() >= warmEnd {
					samples = append(samples, float64(now.Sub(r.Timestamp).Microseconds())/1000)
				}
			})
			mu.Unlock()
		}
	}()

	prod, err := kgo.NewClient(kgo.SeedBrokers(h.b.seeds...), kgo.DefaultProduceTopic(s.input),
		kgo.ProducerLinger(0))
	if err != nil {
		return res, err
	}
	defer prod.Close()
	g := workload.NewGenerator(h.seed + 1)
	start := time.Now()
	stopAt := start.Add(h.runTimeout) // until the first record is seen
	var sent int64
	var perr error
	var perrMu sync.Mutex
	for {
		select {
		case first := <-p.first:
			w := first.Add(h.latencyWarm)
			mu.Lock()
			warmEnd = w.UnixMilli()
			mu.Unlock()
			stopAt = w.Add(h.latencyDur)
		default:
		}
		now := time.Now()
		if now.After(stopAt) {
			break
		}
		el := now.Sub(start)
		due := int64(rate * el.Seconds())
		for ; sent < due; sent++ {
			prod.Produce(ctx, &kgo.Record{Value: append([]byte(nil), g.Next()...), Timestamp: time.Now()},
				func(_ *kgo.Record, err error) {
					if err != nil {
						perrMu.Lock()
						perr = err
						perrMu.Unlock()
					}
				})
		}
		select {
		case <-p.exited:
			return res, fmt.Errorf("exited during the latency run (%v): %s", p.waitErr, lastLines(s.logPath, 3))
		case <-time.After(2 * time.Millisecond):
		}
	}
	if err := prod.Flush(ctx); err != nil {
		return res, err
	}
	perrMu.Lock()
	if perr != nil {
		perrMu.Unlock()
		return res, perr
	}
	perrMu.Unlock()
	// Let the contender finish what was offered.
	ends, err := h.b.endOffsets(ctx, s.input)
	if err != nil {
		return res, err
	}
	internal := ""
	if c.Topology == "wordcount" {
		internal = appID + "-words-repartition"
	}
	deadline := time.Now().Add(h.runTimeout)
	for {
		ok, err := h.b.caughtUp(ctx, appID, s.input, ends, internal, c.eos())
		if err != nil && time.Now().After(deadline) {
			return res, err
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the tail's last fetch
	stopTail()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(samples) == 0 {
		return res, errors.New("no output records observed")
	}
	slices.Sort(samples)
	pct := func(q float64) float64 { return samples[min(len(samples)-1, int(q*float64(len(samples))))] }
	res.Samples, res.P50Ms, res.P99Ms, res.MaxMs = len(samples), pct(0.50), pct(0.99), samples[len(samples)-1]
	return res, nil
}
