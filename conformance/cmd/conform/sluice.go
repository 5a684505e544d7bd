package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/sluicestreams/sluice/conformance/cases"
	"github.com/sluicestreams/sluice/streams"
)

// app is one application of one side: a case's topology under an
// application id, reading the case's inputs and writing its own outputs.
type app struct {
	side         string // "java" or "sluice"
	caseName     string
	c            cases.Case
	id           string
	guarantee    string
	maxTaskIdle  time.Duration
	inputs       []string
	outputs      []string
	stateDir     string
	describePath string
	logPath      string

	cancel context.CancelFunc
	done   chan error
}

// commitInterval is commit.interval.ms on both sides: 1 s under
// at_least_once (Kafka's 30 s default would make a run slow), Kafka's
// 100 ms under exactly_once_v2.
func commitInterval(guarantee string) time.Duration {
	if guarantee == string(streams.AtLeastOnce) {
		return time.Second
	}
	return 100 * time.Millisecond
}

// cacheMaxBytes is statestore.cache.max.bytes on both sides (Kafka's
// default).
const cacheMaxBytes = 10 << 20

// startSluice builds a's topology with Sluice, writes its Describe() and
// runs it until stopSluice.
func startSluice(seeds []string, a *app) error {
	top, err := a.c.Topology(a.inputs, a.outputs)
	if err != nil {
		return err
	}
	if err := os.WriteFile(a.describePath, []byte(top.Describe()), 0o644); err != nil {
		return err
	}
	logf, err := os.Create(a.logPath)
	if err != nil {
		return err
	}
	cfg := streams.Config{
		ApplicationID:    a.id,
		Brokers:          seeds,
		NumStreamThreads: 1,
		Guarantee:        streams.Guarantee(a.guarantee),
		CommitInterval:   commitInterval(a.guarantee),
		CacheMaxBytes:    cacheMaxBytes,
		MaxTaskIdle:      a.maxTaskIdle,
		StateDir:         a.stateDir,
		Logger:           slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	sa, err := streams.New(top, cfg)
	if err != nil {
		logf.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan error, 1)
	go func() {
		err := sa.Run(ctx)
		fmt.Fprintf(logf, "conform: Run returned %v\n", err)
		logf.Close()
		a.done <- err
	}()
	return nil
}

// stopSluice closes a gracefully and returns Run's error, if any other
// than the cancellation.
func stopSluice(a *app) error {
	if a.cancel == nil {
		return nil
	}
	a.cancel()
	select {
	case err := <-a.done:
		a.cancel = nil
		if err != nil && err != context.Canceled {
			return err
		}
		return nil
	case <-time.After(90 * time.Second):
		return fmt.Errorf("sluice: %s did not close in 90s", a.id)
	}
}

// running reports whether a Sluice app is still running (Run has not
// returned); a Run that ended early is an error of the side.
func (a *app) runError() error {
	if a.done == nil {
		return nil
	}
	select {
	case err := <-a.done:
		a.done <- err
		if err == nil {
			err = fmt.Errorf("sluice: Run returned early")
		}
		return err
	default:
		return nil
	}
}
