// Command harness runs Sluice's side-by-side benchmark against a real Kafka
// broker: it generates a seeded input topic once, runs every contender (a
// plain franz-go pipe as the ceiling, Sluice's stateless pipeline and word
// count under both guarantees, and Java Kafka Streams running the same
// topologies) one after another as separate processes on that input, and
// writes bench/results/latest.json, a PNG chart and BENCHMARKS.md.
//
//	go build -o bench/.bin/contender ./bench/contender
//	(cd bench/java && mvn -q package)
//	go run ./bench/harness -brokers 127.0.0.1:19092 [-quick]
//
// `make bench` and `make bench-quick` do all of this, starting the broker
// when it is not running (and stopping only a broker they started).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/bench/internal/workload"
)

type harness struct {
	brokers      string
	b            *broker
	quick        bool
	lines        int64
	runs         int
	partitions   int32
	threads      int
	alosCommitMs int
	eosCommitMs  int
	cacheBytes   int64
	seed         uint64
	latencyDur   time.Duration
	latencyWarm  time.Duration
	runTimeout   time.Duration
	contenderBin string
	baselineBin  string
	javaCP       string
	javaOpts     string
	sluiceArgs   string
	outDir       string
	mdPath       string
	notesPath    string
	logDir       string
	stateRoot    string
	profile      bool
	trace        bool
	command      string

	runID      string
	loadStart  string
	fixedMeta  *metaJSON // set when re-rendering a finished run
	inputTopic string
	inputEnds  map[int32]int64
	exp        workload.Expected
}

func main() {
	h := &harness{}
	var only string
	flag.StringVar(&h.brokers, "brokers", "127.0.0.1:19092", "bootstrap servers")
	flag.BoolVar(&h.quick, "quick", false, "short run: small input, one run per contender, short latency runs")
	flag.Int64Var(&h.lines, "lines", 0, "input lines (default 3,000,000; 300,000 with -quick)")
	flag.IntVar(&h.runs, "runs", 0, "throughput runs per contender; the median is reported (default 3; 1 with -quick)")
	latencySecs := flag.Int("latency-secs", 0, "seconds of offered load per latency run (default 30; 6 with -quick)")
	flag.Var((*int32Flag)(&h.partitions), "partitions", "input partitions")
	flag.IntVar(&h.threads, "threads", 1, "num.stream.threads for Sluice and Kafka Streams")
	flag.IntVar(&h.alosCommitMs, "commit-ms", 1000, "commit.interval.ms under at_least_once (also the ceiling's commit interval)")
	flag.IntVar(&h.eosCommitMs, "eos-commit-ms", 100, "commit.interval.ms under exactly_once_v2")
	flag.Int64Var(&h.cacheBytes, "cache-bytes", 10<<20, "statestore.cache.max.bytes")
	flag.Uint64Var(&h.seed, "seed", 20261123, "input generator seed")
	flag.DurationVar(&h.runTimeout, "run-timeout", 10*time.Minute, "give up on a run after this long")
	flag.StringVar(&h.contenderBin, "contender-bin", "bench/.bin/contender", "the built ./bench/contender")
	flag.StringVar(&h.baselineBin, "baseline-bin", "", "a ./bench/contender built from another commit: its word count ALOS runs as one more contender, for a before/after ratio in one run")
	flag.StringVar(&h.javaCP, "java-cp", "bench/java/target/classes:bench/java/target/lib/*", "classpath of the Java contenders")
	flag.StringVar(&h.javaOpts, "java-opts", "", "extra JVM options for the Java contenders")
	flag.StringVar(&h.sluiceArgs, "sluice-args", "", "extra flags for the Sluice contenders (see bench/contender), for experiments")
	flag.StringVar(&h.outDir, "out", "bench/results", "results directory")
	flag.StringVar(&h.mdPath, "md", "BENCHMARKS.md", "the Markdown report to write")
	flag.StringVar(&h.notesPath, "notes", "bench/NOTES.md", "hand-written analysis included in the report, if the file exists")
	flag.StringVar(&only, "only", "", "comma-separated contender names to run (default all)")
	flag.BoolVar(&h.profile, "profile", false, "write a CPU profile of every Sluice run next to its log")
	flag.BoolVar(&h.trace, "trace", false, "write an execution trace of every Sluice run next to its log (slows the run: for diagnosis only)")
	reportFrom := flag.String("report-from", "", "only re-render the report, chart and JSON from this results JSON (e.g. after editing the notes)")
	flag.Parse()
	if *reportFrom != "" {
		if err := h.rerender(*reportFrom); err != nil {
			log.Fatalf("harness: %v", err)
		}
		return
	}
	h.partitions = cmp(h.partitions, 6)
	if h.lines == 0 {
		h.lines = pick(h.quick, 300_000, 3_000_000)
	}
	if h.runs == 0 {
		h.runs = int(pick(h.quick, 1, 3))
	}
	if *latencySecs == 0 {
		*latencySecs = int(pick(h.quick, 6, 30))
	}
	h.latencyDur = time.Duration(*latencySecs) * time.Second
	h.latencyWarm = time.Duration(pick(h.quick, 3, 10)) * time.Second
	h.command = "go run ./bench/harness " + strings.Join(os.Args[1:], " ")
	contenders := slices.Clone(allContenders)
	if h.baselineBin != "" {
		contenders = append(contenders, baselineContender)
	}
	if only != "" {
		names := strings.Split(only, ",")
		contenders = slices.DeleteFunc(contenders, func(c contender) bool { return !slices.Contains(names, c.Name) })
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := h.run(ctx, contenders); err != nil {
		log.Fatalf("harness: %v", err)
	}
}

type int32Flag int32

func (f *int32Flag) String() string { return fmt.Sprint(int32(*f)) }
func (f *int32Flag) Set(s string) error {
	var v int32
	_, err := fmt.Sscan(s, &v)
	*f = int32Flag(v)
	return err
}

func cmp(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

func pick(quick bool, q, full int64) int64 {
	if quick {
		return q
	}
	return full
}

func (h *harness) run(ctx context.Context, contenders []contender) error {
	var err error
	if h.b, err = dialBroker(strings.Split(h.brokers, ",")); err != nil {
		return err
	}
	defer h.b.close()
	h.runID = fmt.Sprintf("bench-%d", time.Now().Unix())
	h.logDir = filepath.Join(h.outDir, "logs", h.runID)
	if err := os.MkdirAll(h.logDir, 0o755); err != nil {
		return err
	}
	h.stateRoot = filepath.Join(os.TempDir(), "sluice-bench", h.runID)
	defer os.RemoveAll(h.stateRoot)

	h.loadStart = loadavg()
	h.inputTopic = h.runID + "-input"
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		h.b.deleteTopics(cctx, []string{h.inputTopic})
	}()
	if err := h.makeInput(ctx); err != nil {
		return err
	}

	results := make([]*result, 0, len(contenders))
	for _, c := range contenders {
		res := &result{contender: c}
		results = append(results, res)
		for i := 1; i <= h.runs; i++ {
			r, err := h.throughput(ctx, c, i)
			if err != nil && ctx.Err() == nil && !isUnavailable(err) {
				// One retry, noted in the report. If someone restarted the
				// broker (scripts/kafka.sh up starts from empty data dirs),
				// write the input again first.
				log.Printf("%s run %d: %v; retrying once", c.Name, i, err)
				res.Retries = append(res.Retries, fmt.Sprintf("run %d: %v", i, err))
				retry := true
				if !h.inputIntact(ctx) {
					log.Printf("the input topic is gone or changed, regenerating it")
					if ierr := h.makeInput(ctx); ierr != nil {
						err, retry = ierr, false
					}
				}
				if retry {
					r, err = h.throughput(ctx, c, i)
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if ue, ok := err.(*errUnavailable); ok {
				res.Status, res.Note = "not yet available", ue.reason
				log.Printf("%s: %v", c.Name, err)
				break
			}
			if err != nil {
				res.Status, res.Note = "failed", err.Error()
				log.Printf("%s run %d: %v", c.Name, i, err)
				break
			}
			log.Printf("%s run %d: %.0f records/s, %.2f CPU s, peak RSS %.0f MiB, %s",
				c.Name, i, r.RecordsPerS, r.CPUSeconds, float64(r.PeakRSSBytes)/(1<<20), r.Verified)
			res.Runs = append(res.Runs, r)
			if strings.HasPrefix(r.Verified, "WRONG") {
				res.Status, res.Note = "failed", "output verification: "+r.Verified
				break
			}
		}
		if res.Status == "" {
			res.Status = "ok"
		}
	}

	// Latency at half the slowest contender's throughput.
	slowest := 0.0
	for _, r := range results {
		if r.Status == "ok" {
			if v := r.recordsPerS(); slowest == 0 || v < slowest {
				slowest = v
			}
		}
	}
	rate := slowest / 2
	for _, r := range results {
		if r.Status != "ok" {
			continue
		}
		lr, err := h.latency(ctx, r.contender, rate)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			// One retry: a start-up failure of the contender (or a broker
			// hiccup) should not cost the figure; the first error is kept
			// in the notes.
			log.Printf("%s latency: %v; retrying once", r.contender.Name, err)
			r.LatencyRetried = err.Error()
			lr, err = h.latency(ctx, r.contender, rate)
		}
		if err != nil {
			r.LatencyNote = err.Error()
			log.Printf("%s latency: %v", r.contender.Name, err)
			continue
		}
		log.Printf("%s latency at %.0f/s: p50 %.1f ms, p99 %.1f ms (%d samples)", r.contender.Name, rate, lr.P50Ms, lr.P99Ms, lr.Samples)
		r.Latency = &lr
	}
	return h.report(results, rate)
}

// makeInput (re)creates the input topic and fills it.
func (h *harness) makeInput(ctx context.Context) error {
	log.Printf("generating %d lines (seed %d) into %s (%d partitions)", h.lines, h.seed, h.inputTopic, h.partitions)
	h.b.deleteTopics(ctx, []string{h.inputTopic})
	var err error
	for i := 0; i < 50; i++ { // a deleted topic takes a moment to go
		if err = h.b.createTopic(ctx, h.inputTopic, h.partitions); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	t0 := time.Now()
	if h.exp, err = h.b.produceInput(ctx, h.inputTopic, h.lines, h.seed); err != nil {
		return err
	}
	if h.inputEnds, err = h.b.endOffsets(ctx, h.inputTopic); err != nil {
		return err
	}
	log.Printf("input: %d lines (%d kept, %d words, %d distinct) in %v; partition ends %v",
		h.exp.Lines, h.exp.Kept, h.exp.Words, len(h.exp.Counts), time.Since(t0).Round(time.Millisecond), h.inputEnds)
	if sum(h.inputEnds) != h.exp.Lines {
		return fmt.Errorf("input topic holds %d records, want %d", sum(h.inputEnds), h.exp.Lines)
	}
	return nil
}

// inputIntact reports whether the input topic still holds what was written.
func (h *harness) inputIntact(ctx context.Context) bool {
	ends, err := h.b.endOffsets(ctx, h.inputTopic)
	return err == nil && maps.Equal(ends, h.inputEnds)
}

func isUnavailable(err error) bool {
	_, ok := err.(*errUnavailable)
	return ok
}

// loadavg is the 1, 5 and 15 minute load averages: the machine is shared,
// and the figures mean little when it is busy.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
