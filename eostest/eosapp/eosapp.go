// Package eosapp is the application the EOS system test runs: its topic
// names, its topology and its main loop. eostest/cmd/app is a thin wrapper,
// so the topology can be tested without a broker.
package eosapp

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics are the topics of one test run, all named with a common prefix.
type Topics struct {
	Input, Echo, Sum, Min, Count, Max string
}

// Repartition is the name of the repartition topic in the topology; the
// runtime prefixes it with "<application id>-" and appends nothing else.
const Repartition = "repartition"

// NewTopics names the topics of a run with prefix.
func NewTopics(prefix string) Topics {
	return Topics{
		Input: prefix + "data", Echo: prefix + "echo", Sum: prefix + "sum",
		Min: prefix + "min", Count: prefix + "cnt", Max: prefix + "max",
	}
}

// Outputs returns the output topics with the names the verifier reports
// them under ("echo", "sum", "min", "count", "max").
func (t Topics) Outputs() map[string]string {
	return map[string]string{"echo": t.Echo, "sum": t.Sum, "min": t.Min, "count": t.Count, "max": t.Max}
}

// Topology builds the app, as in Kafka's EosTestClient (complex variant):
//
//	data --> echo
//	data --> sum-min (stores sum, min) --> sum, min   one output per input
//	data --> repartition --> count-max (stores count, max) --> cnt, max
//
// The repartition topic keeps the key, so each key's records reach
// count-max in input order.
func Topology(t Topics) (*processor.Topology, error) {
	top := processor.NewTopology()
	str, i64 := serde.String(), serde.Int64()
	steps := []error{
		processor.AddSource(top, "data", processor.SourceSpec[string, int64]{Topics: []string{t.Input}, KeySerde: str, ValueSerde: i64}),
		processor.AddSink(top, "echo", processor.SinkSpec[string, int64]{Topic: t.Echo, KeySerde: str, ValueSerde: i64}, "data"),
		processor.AddProcessor(top, "sum-min", func() processor.Processor[string, int64, string, int64] {
			return &pair{first: "sum", second: "min", combine: [2]func(prev, v int64, found bool) int64{sum, minOf}}
		}, "data"),
		top.AddStateStore(statestore.KeyValue("sum", str, i64), "sum-min"),
		top.AddStateStore(statestore.KeyValue("min", str, i64), "sum-min"),
		processor.AddSink(top, "sum-out", processor.SinkSpec[string, int64]{Topic: t.Sum, KeySerde: str, ValueSerde: i64}, "sum-min"),
		processor.AddSink(top, "min-out", processor.SinkSpec[string, int64]{Topic: t.Min, KeySerde: str, ValueSerde: i64}, "sum-min"),
		processor.AddSink(top, "to-repartition", processor.SinkSpec[string, int64]{Topic: Repartition, Internal: true, KeySerde: str, ValueSerde: i64}, "data"),
		processor.AddSource(top, "from-repartition", processor.SourceSpec[string, int64]{Topics: []string{Repartition}, Internal: true, KeySerde: str, ValueSerde: i64}),
		processor.AddProcessor(top, "count-max", func() processor.Processor[string, int64, string, int64] {
			return &pair{first: "count", second: "max", combine: [2]func(prev, v int64, found bool) int64{count, maxOf}}
		}, "from-repartition"),
		top.AddStateStore(statestore.KeyValue("count", str, i64), "count-max"),
		top.AddStateStore(statestore.KeyValue("max", str, i64), "count-max"),
		processor.AddSink(top, "count-out", processor.SinkSpec[string, int64]{Topic: t.Count, KeySerde: str, ValueSerde: i64}, "count-max"),
		processor.AddSink(top, "max-out", processor.SinkSpec[string, int64]{Topic: t.Max, KeySerde: str, ValueSerde: i64}, "count-max"),
	}
	for _, err := range steps {
		if err != nil {
			return nil, err
		}
	}
	return top, top.Validate()
}

func sum(prev, v int64, _ bool) int64 { return prev + v }
func count(prev, _ int64, _ bool) int64 {
	return prev + 1
}
func minOf(prev, v int64, found bool) int64 {
	if !found || v < prev {
		return v
	}
	return prev
}
func maxOf(prev, v int64, found bool) int64 {
	if !found || v > prev {
		return v
	}
	return prev
}

// pair keeps two per-key aggregates in the stores named first and second
// and forwards each new value to the sinks "<first>-out" and "<second>-out".
type pair struct {
	first, second string
	combine       [2]func(prev, v int64, found bool) int64
	ctx           processor.Context[string, int64]
	stores        [2]statestore.KeyValueStore[string, int64]
}

func (p *pair) Init(ctx processor.Context[string, int64]) error {
	p.ctx = ctx
	for i, name := range []string{p.first, p.second} {
		s, err := processor.GetStore[statestore.KeyValueStore[string, int64]](ctx, name)
		if err != nil {
			return err
		}
		p.stores[i] = s
	}
	return nil
}

func (p *pair) Process(r processor.Record[string, int64]) error {
	for i, name := range []string{p.first, p.second} {
		prev, found, err := p.stores[i].Get(r.Key)
		if err != nil {
			return err
		}
		v := p.combine[i](prev, r.Value, found)
		if err := p.stores[i].Put(r.Key, v); err != nil {
			return err
		}
		if err := p.ctx.ForwardTo(name+"-out", processor.WithValue(r, v)); err != nil {
			return err
		}
	}
	return nil
}

func (p *pair) Close() error { return nil }

// Options are the app's command-line settings.
type Options struct {
	Brokers        string
	AppID          string
	TopicPrefix    string
	Guarantee      string
	CommitInterval time.Duration
	StateDir       string
	NumStandby     int
	RecoveryLag    int64
	ProcessID      string
	SessionTimeout time.Duration
	Threads        int
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.StringVar(&o.Brokers, "brokers", "", "comma-separated Kafka brokers (required)")
	fs.StringVar(&o.AppID, "app-id", "eos-test", "application.id")
	fs.StringVar(&o.TopicPrefix, "topic-prefix", "", "prefix of the topic names (data, echo, sum, min, cnt, max)")
	fs.StringVar(&o.Guarantee, "guarantee", string(streams.AtLeastOnce), "processing.guarantee: at_least_once or exactly_once_v2")
	fs.DurationVar(&o.CommitInterval, "commit-interval", 3*time.Second, "commit.interval.ms; seconds, so that kills land mid-transaction")
	fs.StringVar(&o.StateDir, "state-dir", "", "state.dir (required)")
	fs.IntVar(&o.NumStandby, "num-standby", 0, "num.standby.replicas")
	fs.Int64Var(&o.RecoveryLag, "acceptable-recovery-lag", 0, "acceptable.recovery.lag (0: the runtime's default, 10000)")
	fs.StringVar(&o.ProcessID, "process-id", "", "process id in the group (and in transactional ids); default random")
	fs.DurationVar(&o.SessionTimeout, "session-timeout", 10*time.Second, "group session timeout; short, so that a killed instance's tasks move soon")
	fs.IntVar(&o.Threads, "threads", 1, "num.stream.threads")
}

// Main runs one instance until SIGTERM or SIGINT (then closes it gracefully)
// or a fatal error, logging at Info to stderr. It returns the exit code.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("eos-app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	o.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := Run(ctx, o, log); err != nil {
		log.Error("eos-app failed", "err", err)
		return 1
	}
	log.Info("eos-app closed cleanly")
	return 0
}

// closeTimeout bounds the graceful close after SIGTERM.
const closeTimeout = 90 * time.Second

// Run runs the app until ctx ends (then closes it gracefully) or a fatal
// error stops it.
func Run(ctx context.Context, o Options, log *slog.Logger) error {
	if o.Brokers == "" || o.StateDir == "" {
		return fmt.Errorf("eos-app: -brokers and -state-dir are required")
	}
	top, err := Topology(NewTopics(o.TopicPrefix))
	if err != nil {
		return err
	}
	brokers := strings.Split(o.Brokers, ",")
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer admCl.Close()
	app, err := streams.New(top, streams.Config{
		ApplicationID:         o.AppID,
		Brokers:               brokers,
		Guarantee:             streams.Guarantee(o.Guarantee),
		CommitInterval:        o.CommitInterval,
		StateDir:              o.StateDir,
		NumStandbyReplicas:    o.NumStandby,
		AcceptableRecoveryLag: o.RecoveryLag,
		NumStreamThreads:      o.Threads,
		ProcessID:             o.ProcessID,
		SessionTimeout:        o.SessionTimeout,
		RestoreListener:       &restoreLog{log: log, adm: kadm.NewClient(admCl), from: map[string]int64{}},
		Logger:                log,
	})
	if err != nil {
		return err
	}
	app.OnStateChange(func(n, old streams.State) {
		log.Info("eos-app state", "from", old.String(), "to", n.String())
	})
	log.Info("eos-app starting", "app_id", o.AppID, "guarantee", o.Guarantee, "commit_interval", o.CommitInterval, "process_id", o.ProcessID, "pid", os.Getpid())
	if err := app.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("eos-app closing on signal")
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		return app.Close(cctx)
	case <-app.Done():
		return fmt.Errorf("eos-app: stopped by itself: %w", app.Err())
	}
}

// restoreLog logs each store restoration with the range it covered, so the
// harness can compare what was restored with the changelog's length.
type restoreLog struct {
	log  *slog.Logger
	adm  *kadm.Client
	mu   sync.Mutex
	from map[string]int64
	end  map[string]int64
}

func (r *restoreLog) OnRestoreStart(task, store, topic string, partition int32, from, end int64) {
	r.mu.Lock()
	r.from[task+"/"+store] = from
	if r.end == nil {
		r.end = map[string]int64{}
	}
	r.end[task+"/"+store] = end
	r.mu.Unlock()
	// Under read_committed the end is the last stable offset. Log the high
	// watermark next to it (from another goroutine: listeners must not
	// block), so that a restoration that stopped below committed records
	// held back by an open transaction shows in the log.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hwm := int64(-1)
		if offs, err := r.adm.ListEndOffsets(ctx, topic); err == nil {
			if o, ok := offs.Lookup(topic, partition); ok && o.Err == nil {
				hwm = o.Offset
			}
		}
		r.log.Info("eos restore start", "task", task, "store", store, "topic", topic, "partition", partition,
			"from", from, "end", end, "hwm", hwm)
	}()
}

func (r *restoreLog) OnBatchRestored(string, string, string, int32, int64, int) {}

func (r *restoreLog) OnRestoreEnd(task, store, topic string, partition int32, restored int64, took time.Duration) {
	r.mu.Lock()
	from, end := r.from[task+"/"+store], r.end[task+"/"+store]
	r.mu.Unlock()
	// from < 0 means the log start: no checkpoint, a full restore.
	r.log.Info("eos restore", "task", task, "store", store, "topic", topic, "partition", partition,
		"from", from, "end", end, "restored", restored, "took", took)
}
