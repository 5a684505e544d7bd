package streams_test

import (
	"sync"
	"testing"

	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
)

// lifecycleLog records each task's processor Init and Close calls.
type lifecycleLog struct {
	mu     sync.Mutex
	inits  map[string]int
	closes map[string]int
}

type lifecycleProc struct {
	log  *lifecycleLog
	task string
	ctx  processor.Context[string, string]
}

func (p *lifecycleProc) Init(ctx processor.Context[string, string]) error {
	p.ctx, p.task = ctx, ctx.TaskID().String()
	p.log.mu.Lock()
	p.log.inits[p.task]++
	p.log.mu.Unlock()
	return nil
}

func (p *lifecycleProc) Process(r processor.Record[string, string]) error {
	return p.ctx.Forward(processor.WithValue(r, r.Value+"|"+p.task))
}

func (p *lifecycleProc) Close() error {
	p.log.mu.Lock()
	p.log.closes[p.task]++
	p.log.mu.Unlock()
	return nil
}

// counts returns the tasks initialized more than once and the number of
// tasks closed.
func (l *lifecycleLog) counts() (reinit []string, closed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, n := range l.inits {
		if n > 1 {
			reinit = append(reinit, id)
		}
	}
	for _, n := range l.closes {
		closed += n
	}
	return reinit, closed
}

func lifecycleTopology(t *testing.T, in, out string) (*processor.Topology, *lifecycleLog) {
	log := &lifecycleLog{inits: map[string]int{}, closes: map[string]int{}}
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{in}, KeySerde: serde.String(), ValueSerde: serde.String()}))
	must(t, processor.AddProcessor(top, "tag", func() processor.Processor[string, string, string, string] {
		return &lifecycleProc{log: log}
	}, "src"))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, string]{Topic: out, KeySerde: serde.String(), ValueSerde: serde.String()}, "tag"))
	return top, log
}

// TestCooperativeRebalanceKeepsTasks: with cooperative rebalancing (the
// default), an instance joining takes half the tasks and the first instance
// keeps running the other half without closing or re-initializing them;
// with eager rebalancing every task of the first instance is closed and the
// kept ones start again (the check can fail).
func TestCooperativeRebalanceKeepsTasks(t *testing.T) {
	t.Parallel()
	for _, proto := range []streams.RebalanceProtocol{streams.Cooperative, streams.Eager} {
		t.Run(string(proto), func(t *testing.T) {
			env := kafkatest.Cluster(t)
			in, out := env.Topic(t, 6, nil), env.Topic(t, 6, nil)
			appID := env.AppID(t)
			cfg := testConfig(env, appID)
			cfg.RebalanceProtocol = proto
			top1, log1 := lifecycleTopology(t, in, out)
			top2, _ := lifecycleTopology(t, in, out)
			a1 := startApp(t, top1, cfg)
			waitTasks(t, env, []int{6}, a1)
			produceN(t, env, in, 0, 300)
			waitAllOutput(t, env, out, 300)
			a2 := startApp(t, top2, cfg)
			waitTasks(t, env, []int{3, 3}, a1, a2)
			produceN(t, env, in, 300, 600)
			waitAllOutput(t, env, out, 600)
			reinit, closed := log1.counts()
			t.Logf("%s: the first instance closed %d tasks and re-initialized %d (%v) when the second joined", proto, closed, len(reinit), reinit)
			switch proto {
			case streams.Cooperative:
				if len(reinit) != 0 || closed != 3 {
					t.Errorf("cooperative: the first instance closed %d tasks (want the 3 that moved) and re-initialized %v (want none)", closed, reinit)
				}
			case streams.Eager:
				if len(reinit) != 3 || closed != 6 {
					t.Errorf("eager: the first instance closed %d tasks (want 6) and re-initialized %v (want the 3 it kept)", closed, reinit)
				}
			}
		})
	}
}
