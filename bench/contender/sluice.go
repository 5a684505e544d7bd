package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/bench/internal/workload"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streams"
)

// runSluice runs the stateless or word-count topology on Sluice's runtime
// until ctx ends, then closes the App gracefully.
func runSluice(ctx context.Context, o options) error {
	if o.appID == "" {
		return fmt.Errorf("sluice: -app-id is required")
	}
	var (
		top *processor.Topology
		err error
	)
	switch o.topology {
	case "stateless":
		top, err = statelessTopology(o.input, o.output)
	case "wordcount":
		top, err = wordCountTopology(o.input, o.output)
	default:
		err = fmt.Errorf("unknown topology %q", o.topology)
	}
	if err != nil {
		return err
	}
	cfg := streams.Config{
		ApplicationID:    o.appID,
		Brokers:          o.seeds(),
		NumStreamThreads: o.threads,
		Guarantee:        streams.Guarantee(o.guarantee),
		CommitInterval:   time.Duration(o.commitMs) * time.Millisecond,
		CacheMaxBytes:    o.cacheBytes,
		StateDir:         o.stateDir,
	}
	if os.Getenv("BENCH_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	app, err := streams.New(top, cfg)
	if err != nil {
		return err
	}
	return app.Run(ctx)
}

// statelessTopology is lines -> filter(Keep) -> mapValues(Upper) -> to(output),
// two processor nodes as Kafka Streams' filter and mapValues are.
//
// TODO(dsl): switch to the DSL once package dsl lands.
func statelessTopology(input, output string) (*processor.Topology, error) {
	t := processor.NewTopology()
	if err := processor.AddSource(t, "lines", processor.SourceSpec[[]byte, string]{
		Topics: []string{input}, KeySerde: serde.Bytes(), ValueSerde: serde.String(),
	}); err != nil {
		return nil, err
	}
	if err := processor.AddProcessor(t, "filter", processor.Func(
		func(ctx processor.Context[[]byte, string], r processor.Record[[]byte, string]) error {
			markFirst()
			if !workload.Keep(r.Value) {
				return nil
			}
			return ctx.Forward(r)
		}), "lines"); err != nil {
		return nil, err
	}
	if err := processor.AddProcessor(t, "upper", processor.Func(
		func(ctx processor.Context[[]byte, string], r processor.Record[[]byte, string]) error {
			return ctx.Forward(processor.WithValue(r, workload.Upper(r.Value)))
		}), "filter"); err != nil {
		return nil, err
	}
	if err := processor.AddSink(t, "out", processor.SinkSpec[[]byte, string]{
		Topic: output, KeySerde: serde.Bytes(), ValueSerde: serde.String(),
	}, "upper"); err != nil {
		return nil, err
	}
	return t, t.Validate()
}

// wordCountTopology is Kafka Streams' word count written with the Processor
// API: lines -> filter(Keep) -> flatMap(word, word) -> repartition by word
// ("words") -> count in the cached key-value store "counts" -> to(output),
// forwarding counts as the cache flushes them (every commit or on eviction),
// the way the DSL's count does.
//
// TODO(dsl): switch to the DSL once package dsl lands.
func wordCountTopology(input, output string) (*processor.Topology, error) {
	t := processor.NewTopology()
	steps := []func() error{
		func() error {
			return processor.AddSource(t, "lines", processor.SourceSpec[[]byte, string]{
				Topics: []string{input}, KeySerde: serde.Bytes(), ValueSerde: serde.String(),
			})
		},
		func() error {
			return processor.AddProcessor(t, "split", processor.Func(
				func(ctx processor.Context[string, string], r processor.Record[[]byte, string]) error {
					markFirst()
					if !workload.Keep(r.Value) {
						return nil
					}
					for _, w := range strings.Split(r.Value, " ") {
						if w == "" {
							continue
						}
						if err := ctx.Forward(processor.WithKeyValue(r, w, w)); err != nil {
							return err
						}
					}
					return nil
				}), "lines")
		},
		func() error {
			return processor.AddSink(t, "to-words", processor.SinkSpec[string, string]{
				Topic: "words-repartition", KeySerde: serde.String(), ValueSerde: serde.String(), Internal: true,
			}, "split")
		},
		func() error {
			return processor.AddSource(t, "words", processor.SourceSpec[string, string]{
				Topics: []string{"words-repartition"}, KeySerde: serde.String(), ValueSerde: serde.String(), Internal: true,
			})
		},
		func() error {
			return processor.AddProcessor(t, "count", func() processor.Processor[string, string, string, int64] {
				return &counter{}
			}, "words")
		},
		func() error {
			return t.AddStateStore(statestore.KeyValue("counts", serde.String(), serde.Int64(), statestore.Caching(true)), "count")
		},
		func() error {
			return processor.AddSink(t, "out", processor.SinkSpec[string, int64]{
				Topic: output, KeySerde: serde.String(), ValueSerde: serde.Int64(),
			}, "count")
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return t, t.Validate()
}

// counter counts records per key in the "counts" store. With a cached store
// it forwards what the cache flushes; otherwise every update.
type counter struct {
	ctx    processor.Context[string, int64]
	store  statestore.KeyValueStore[string, int64]
	cached bool
}

func (c *counter) Init(ctx processor.Context[string, int64]) error {
	c.ctx = ctx
	s, err := processor.GetStore[statestore.KeyValueStore[string, int64]](ctx, "counts")
	if err != nil {
		return err
	}
	c.store = s
	c.cached = s.SetFlushListener(func(f statestore.FlushedRecord[string, int64]) error {
		if !f.HasNew {
			return nil
		}
		return ctx.Forward(processor.Record[string, int64]{Key: f.Key, Value: f.New, Timestamp: f.Timestamp})
	}, false)
	return nil
}

func (c *counter) Process(r processor.Record[string, string]) error {
	n, _, err := c.store.Get(r.Key)
	if err != nil {
		return err
	}
	n++
	if err := c.store.Put(r.Key, n); err != nil {
		return err
	}
	if c.cached {
		return nil
	}
	return c.ctx.Forward(processor.WithValue(r, n))
}

func (c *counter) Close() error { return nil }
