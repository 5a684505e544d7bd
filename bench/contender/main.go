// Command contender runs one Go contender of the side-by-side benchmark as
// its own process, so that the harness (bench/harness) can measure its CPU
// time and peak RSS alone:
//
//	contender ceiling -brokers B -input T -output O -group G -commit-ms 1000
//	contender sluice -topology stateless|wordcount -guarantee at_least_once|exactly_once_v2 \
//	    -brokers B -input T -output O -app-id A -threads 1 -commit-ms 1000 -cache-bytes 10485760 -state-dir D
//
// Both take -cpuprofile FILE and -trace FILE.
//
// "ceiling" is a plain franz-go consume -> filter -> map -> produce pipe with
// no framework; "sluice" runs the same work (or the word count) on Sluice's
// runtime. Each prints "BENCH first <unix nanos>" when it handles its first
// input record and runs until SIGTERM or SIGINT, then shuts down cleanly
// (committing what it processed).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: contender ceiling|sluice [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	var o options
	fs.StringVar(&o.brokers, "brokers", "127.0.0.1:19092", "bootstrap servers, comma separated")
	fs.StringVar(&o.input, "input", "", "input topic")
	fs.StringVar(&o.output, "output", "", "output topic")
	fs.StringVar(&o.group, "group", "", "consumer group (ceiling)")
	fs.StringVar(&o.appID, "app-id", "", "application.id (sluice)")
	fs.StringVar(&o.topology, "topology", "stateless", "stateless or wordcount (sluice)")
	fs.StringVar(&o.guarantee, "guarantee", "at_least_once", "processing.guarantee (sluice)")
	fs.IntVar(&o.threads, "threads", 1, "num.stream.threads (sluice)")
	fs.IntVar(&o.commitMs, "commit-ms", 1000, "commit.interval.ms")
	fs.Int64Var(&o.cacheBytes, "cache-bytes", 10<<20, "statestore.cache.max.bytes (sluice)")
	fs.StringVar(&o.stateDir, "state-dir", "", "state.dir (sluice)")
	fs.IntVar(&o.bufferedRecords, "buffered-records", 0, "buffered.records.per.partition (sluice; 0: the default, 1000)")
	fs.DurationVar(&o.fetchMaxWait, "fetch-max-wait", 0, "kgo.FetchMaxWait for Sluice's clients (0: franz-go's default, 5s), for experiments")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	traceOut := fs.String("trace", "", "write an execution trace of the whole run to this file (for off-CPU time: go tool trace -pprof=sync|net|syscall|sched)")
	_ = fs.Parse(os.Args[2:])
	if o.input == "" || o.output == "" {
		fmt.Fprintln(os.Stderr, "contender: -input and -output are required")
		os.Exit(2)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "contender:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "contender:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		if err != nil {
			fmt.Fprintln(os.Stderr, "contender:", err)
			os.Exit(1)
		}
		if err := trace.Start(f); err != nil {
			fmt.Fprintln(os.Stderr, "contender:", err)
			os.Exit(1)
		}
		defer func() { trace.Stop(); f.Close() }()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "ceiling":
		err = runCeiling(ctx, o)
	case "sluice":
		err = runSluice(ctx, o)
	default:
		err = fmt.Errorf("unknown contender %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "contender:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type options struct {
	brokers, input, output, group, appID string
	topology, guarantee, stateDir        string
	threads, commitMs                    int
	cacheBytes                           int64
	bufferedRecords                      int
	fetchMaxWait                         time.Duration
}

func (o options) seeds() []string { return strings.Split(o.brokers, ",") }

// firstSeen prints the "first record" line once.
var firstSeen sync.Once

func markFirst() {
	firstSeen.Do(func() {
		fmt.Printf("BENCH first %d\n", time.Now().UnixNano())
	})
}
