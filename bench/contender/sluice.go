package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/sluicestreams/sluice/bench/internal/workload"
	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kgo"
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

		BufferedRecordsPerPartition: o.bufferedRecords,
	}
	if o.fetchMaxWait > 0 {
		cfg.ClientOpts = append(cfg.ClientOpts, kgo.FetchMaxWait(o.fetchMaxWait))
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

// statelessTopology is lines -> filter(Keep) -> mapValues(Upper) ->
// to(output), written with the DSL as the Java contender writes it.
func statelessTopology(input, output string) (*processor.Topology, error) {
	b := dsl.NewBuilder()
	lines := dsl.NewStream(b, []string{input}, serde.Bytes(), serde.String())
	kept := lines.Filter(func(_ []byte, line string) bool {
		markFirst()
		return workload.Keep(line)
	})
	dsl.MapValues(kept, workload.Upper).To(output)
	return b.Build()
}

// wordCountTopology is Kafka Streams' word count with the DSL, as the Java
// contender writes it: lines -> filter(Keep) -> flatMapValues(Words) ->
// groupBy(word) through the repartition topic "words" -> count in the cached
// store "counts" -> toStream -> to(output).
func wordCountTopology(input, output string) (*processor.Topology, error) {
	b := dsl.NewBuilder()
	lines := dsl.NewStream(b, []string{input}, serde.Bytes(), serde.String())
	kept := lines.Filter(func(_ []byte, line string) bool {
		markFirst()
		return workload.Keep(line)
	})
	words := dsl.FlatMapValues(kept, workload.Words)
	counts := dsl.GroupBy(words, func(_ []byte, w string) string { return w }, serde.String(), dsl.Named("words")).
		Count(dsl.StoreName("counts"))
	dsl.ToStream(counts).To(output)
	return b.Build()
}
