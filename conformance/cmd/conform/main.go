// Command conform runs each conformance case (conformance/cases) on Java
// Kafka Streams and on Sluice over the same seeded input on one broker and
// compares what they did: output records (exact or final per key), the
// partition of each output key, internal topics and their configs, and
// Describe() against topology.describe(). It writes a markdown table and
// JSON, prints every difference, and exits 1 if a difference is not listed
// in the known-diffs file. See conformance/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/conformance/cases"
)

type options struct {
	brokers    string
	caseList   string
	shapes     string
	guarantees string
	records    int
	rate       int
	seed       uint64
	quiet      time.Duration
	timeout    time.Duration
	javaDir    string
	workDir    string
	known      string
	results    string
	jsonPath   string
	migration  bool
	parallel   int
	keepTopics bool
}

func main() {
	var o options
	flag.StringVar(&o.brokers, "brokers", os.Getenv("SLUICE_BROKERS"), "bootstrap servers (default $SLUICE_BROKERS)")
	flag.StringVar(&o.caseList, "cases", "all", "comma-separated case names, or all")
	flag.StringVar(&o.shapes, "shapes", "backlog,paced", "input shapes: backlog (written before start), paced (written while running)")
	flag.StringVar(&o.guarantees, "guarantees", "at_least_once,exactly_once_v2", "processing guarantees")
	flag.IntVar(&o.records, "records", 600, "records per input topic")
	flag.IntVar(&o.rate, "rate", 300, "records per second of paced input")
	flag.Uint64Var(&o.seed, "seed", 12, "input generator seed")
	flag.DurationVar(&o.quiet, "quiet", 3*time.Second, "an application is done when its input is committed and nothing changed for this long")
	flag.DurationVar(&o.timeout, "timeout", 4*time.Minute, "time limit of one batch (one input shape)")
	flag.StringVar(&o.javaDir, "java", "conformance/java", "the built Maven project (mvn -q -B package)")
	flag.StringVar(&o.workDir, "work", "conformance/work", "directory for logs, state and describe texts")
	flag.StringVar(&o.known, "known", "conformance/known-diffs.txt", "the known differences")
	flag.StringVar(&o.results, "results", "", "markdown results file (default <work>/<run>/RESULTS.md)")
	flag.StringVar(&o.jsonPath, "json", "", "JSON results file (default <work>/<run>/results.json)")
	flag.BoolVar(&o.migration, "migration", true, "run the migration cases (Java then Sluice on one application id, and back)")
	flag.IntVar(&o.parallel, "parallel", 0, "cases run at once in a batch (0: all)")
	flag.BoolVar(&o.keepTopics, "keep-topics", false, "keep the run's topics (inputs, outputs, internal topics) on the broker")
	flag.Parse()
	ok, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conform:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(o options) (bool, error) {
	if o.brokers == "" {
		return false, fmt.Errorf("-brokers or SLUICE_BROKERS is required")
	}
	known, err := loadKnown(o.known)
	if err != nil {
		return false, err
	}
	var selected []cases.Case
	names := cases.Names()
	if o.caseList != "all" && o.caseList != "" {
		names = strings.Split(o.caseList, ",")
	}
	for _, n := range names {
		c, ok := cases.Get(strings.TrimSpace(n))
		if !ok {
			return false, fmt.Errorf("unknown case %q (cases: %s)", n, strings.Join(cases.Names(), ", "))
		}
		selected = append(selected, c)
	}
	runID := fmt.Sprintf("cf%d", time.Now().Unix()%1_000_000)
	dir, err := filepath.Abs(filepath.Join(o.workDir, runID))
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if o.results == "" {
		o.results = filepath.Join(dir, "RESULTS.md")
	}
	if o.jsonPath == "" {
		o.jsonPath = filepath.Join(dir, "results.json")
	}
	seeds := strings.Split(o.brokers, ",")
	b, err := newBroker(seeds)
	if err != nil {
		return false, err
	}
	defer b.close()
	t0 := time.Now()
	baseTimestamp = cases.BaseTimestamp(t0)
	j, err := startJava(o.javaDir, o.brokers, filepath.Join(dir, "java.log"))
	if err != nil {
		return false, err
	}
	defer j.close()
	r := &runner{o: o, b: b, java: j, seeds: seeds, runID: runID, dir: dir}
	fmt.Printf("conform: run %s, logs in %s\n", runID, dir)

	ctx := context.Background()
	var results []*result
	migrations := make(chan []*result, 1)
	if o.migration {
		go func() { migrations <- r.migrations(ctx) }()
	} else {
		migrations <- nil
	}
	for _, shape := range strings.Split(o.shapes, ",") {
		shape = strings.TrimSpace(shape)
		if shape != "backlog" && shape != "paced" {
			return false, fmt.Errorf("unknown input shape %q", shape)
		}
		var batch []cases.Case
		for _, c := range selected {
			if shape == "backlog" || !c.Backlog {
				batch = append(batch, c)
			}
		}
		for len(batch) > 0 {
			n := len(batch)
			if o.parallel > 0 {
				n = min(n, o.parallel)
			}
			results = append(results, r.batch(ctx, shape, batch[:n])...)
			batch = batch[n:]
		}
	}
	results = append(results, <-migrations...)
	// The state directories are the bulk of a run's files and of no use
	// once the applications closed; logs and describe texts stay.
	_ = os.RemoveAll(filepath.Join(dir, "state"))
	if !o.keepTopics {
		if err := b.deleteRunTopics(ctx, runID); err != nil {
			fmt.Println("conform: deleting the run's topics:", err)
		}
	}
	stale := applyKnown(results, known)
	ok := report(o, results, known, stale, time.Since(t0))
	return ok, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
