package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sluicestreams/sluice/bench/internal/workload"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runCeiling is the no-framework pipe: one franz-go client consumes the
// input as a group member, keeps the lines workload.Keep keeps, upper-cases
// them and produces them with the input record's timestamp. Every
// commit-ms it flushes the producer and then commits the offsets of
// everything polled (all of it has been handed to the producer by then): the
// same at-least-once commit order Kafka Streams and Sluice follow.
func runCeiling(ctx context.Context, o options) error {
	if o.group == "" {
		return fmt.Errorf("ceiling: -group is required")
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(o.seeds()...),
		kgo.ConsumerGroup(o.group),
		kgo.ConsumeTopics(o.input),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.DefaultProduceTopic(o.output),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	var (
		mu         sync.Mutex
		produceErr error
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if produceErr == nil {
				produceErr = err
			}
			mu.Unlock()
		}
	}
	commit := func(ctx context.Context) error {
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		mu.Lock()
		err := produceErr
		mu.Unlock()
		if err != nil {
			return err
		}
		return cl.CommitUncommittedOffsets(ctx)
	}
	interval := time.Duration(o.commitMs) * time.Millisecond
	next := time.Now().Add(interval)
	for {
		pctx, cancel := context.WithDeadline(ctx, next)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			// Shutting down: hand over what was polled, then commit it.
			fs.EachRecord(func(r *kgo.Record) { pipe(cl, r, done) })
			cctx, cc := context.WithTimeout(context.Background(), 30*time.Second)
			defer cc()
			return commit(cctx)
		}
		var fetchErr error
		fs.EachError(func(t string, p int32, err error) {
			if err != context.DeadlineExceeded && fetchErr == nil {
				fetchErr = fmt.Errorf("fetching %s/%d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}
		fs.EachRecord(func(r *kgo.Record) { pipe(cl, r, done) })
		if !time.Now().Before(next) {
			if err := commit(ctx); err != nil && ctx.Err() == nil {
				return err
			}
			next = time.Now().Add(interval)
		}
	}
}

func pipe(cl *kgo.Client, r *kgo.Record, done func(*kgo.Record, error)) {
	markFirst()
	line := string(r.Value)
	if !workload.Keep(line) {
		return
	}
	cl.Produce(context.Background(), &kgo.Record{
		Key:       r.Key,
		Value:     []byte(workload.Upper(line)),
		Timestamp: r.Timestamp,
	}, done)
}
