// Command driver produces the EOS system test's input: records with keys
// "0".."N-1" chosen at random and random int64 values (serde.Int64), keyed
// so that the producer's murmur2 partitioner spreads them over the input
// topic's partitions. It produces idempotently with acks=all at a steady
// rate until SIGTERM or SIGINT, then flushes and prints
//
//	DRIVER-DONE acked=N failed=M
//
// The input topic itself is the verifier's source of truth; the acked count
// lets the harness check that nothing acknowledged went missing from it.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicestreams/sluice/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated Kafka brokers (required)")
	topic := flag.String("topic", "", "input topic (required)")
	keys := flag.Int("keys", 20000, "number of distinct keys")
	rate := flag.Int("rate", 500, "records per second")
	maxValue := flag.Int64("max-value", 1_000_000, "values are drawn from [0, max-value)")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed")
	flag.Parse()
	if *brokers == "" || *topic == "" || *keys < 1 || *rate < 1 || *maxValue < 1 {
		fmt.Fprintln(os.Stderr, "driver: -brokers and -topic are required; -keys, -rate and -max-value must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	acked, failed, err := run(ctx, strings.Split(*brokers, ","), *topic, *keys, *rate, *maxValue, *seed)
	fmt.Printf("DRIVER-DONE acked=%d failed=%d\n", acked, failed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(1)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func run(ctx context.Context, brokers []string, topic string, keys, rate int, maxValue int64, seed uint64) (acked, failed int64, err error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // the default, stated: idempotence needs it
		kgo.ProducerLinger(5*time.Millisecond),
	)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ints := serde.Int64()
	var nAcked, nFailed atomic.Int64
	var firstErr atomic.Pointer[error]
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			nFailed.Add(1)
			firstErr.CompareAndSwap(nil, &err)
			return
		}
		nAcked.Add(1)
	}
	fmt.Fprintf(os.Stderr, "driver: producing to %s at %d records/s over %d keys (seed %d)\n", topic, rate, keys, seed)
	const tick = 10 * time.Millisecond
	perTick := float64(rate) * tick.Seconds()
	t := time.NewTicker(tick)
	defer t.Stop()
	lastReport := time.Now()
	var owed float64
	var sent int64
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
		}
		owed += perTick
		for ; owed >= 1; owed-- {
			v, _ := ints.Serialize(topic, rng.Int64N(maxValue))
			r := &kgo.Record{Key: []byte(strconv.Itoa(rng.IntN(keys))), Value: v}
			cl.Produce(context.Background(), r, done)
			sent++
		}
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(os.Stderr, "driver: %s sent=%d acked=%d failed=%d\n", time.Now().UTC().Format(time.TimeOnly), sent, nAcked.Load(), nFailed.Load())
		}
	}
	fctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		return nAcked.Load(), nFailed.Load(), fmt.Errorf("flush: %w", err)
	}
	if p := firstErr.Load(); p != nil {
		fmt.Fprintln(os.Stderr, "driver: first produce error:", *p)
	}
	return nAcked.Load(), nFailed.Load(), nil
}
