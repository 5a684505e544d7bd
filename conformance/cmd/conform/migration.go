package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sluicestreams/sluice/conformance/cases"
)

// migrations runs the migration cases under every guarantee: a word count
// whose first half of input one side processes under an application id,
// closed, then the other side processes the rest under the same id (from
// the first side's committed offsets, internal topics and changelogs).
// Its final counts must equal those of a Java-only run over all of the
// input.
func (r *runner) migrations(ctx context.Context) []*result {
	var out []*result
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, g := range splitList(r.o.guarantees) {
		for _, dir := range [][2]string{{"java", "sluice"}, {"sluice", "java"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := r.migration(ctx, g, dir[0], dir[1])
				mu.Lock()
				out = append(out, res)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

func (r *runner) migration(ctx context.Context, guarantee, first, second string) *result {
	c, _ := cases.Get("wordcount")
	name := fmt.Sprintf("migration-%s-to-%s", first, second)
	res := &result{Case: name, Guarantee: guarantee, Shape: "backlog"}
	in := fmt.Sprintf("%s-%s-%s-in0", r.runID, name, short(guarantee))
	recs := cases.Generate(r.o.seed, baseTimestamp, cases.StreamInput, 0, r.o.records)
	half := len(recs) / 2
	mk := func(side, id, out string) (*app, error) {
		a, err := r.newApp(c, "backlog", guarantee, side, []string{in})
		if err != nil {
			return nil, err
		}
		a.id = id
		a.outputs = []string{out}
		a.describePath = a.describePath + "-" + side
		a.logPath = a.logPath + "-" + side + ".log"
		return a, nil
	}
	id := fmt.Sprintf("%s-%s-%s", r.runID, name, short(guarantee))
	out := id + "-output"
	ref := id + "-reference"
	a1, err1 := mk(first, id, out)
	a2, err2 := mk(second, id, out)
	aref, err3 := mk("java", ref, ref+"-output")
	var runDiffs []string
	note := func(err error) bool {
		if err != nil {
			runDiffs = append(runDiffs, err.Error())
			return true
		}
		return false
	}
	fail := func() *result { res.add("run", runDiffs); return res }
	if note(err1) || note(err2) || note(err3) ||
		note(r.b.createTopics(ctx, 1, in)) || note(r.b.createTopics(ctx, 3, out, aref.outputs[0])) ||
		note(r.b.produce(ctx, in, recs[:half])) {
		return fail()
	}
	phase := func(a *app) {
		t0 := time.Now()
		if note(r.startApp(ctx, a)) {
			return
		}
		if why, ok := r.waitDone(ctx, []*app{a}, nil, t0.Add(r.o.timeout))[a]; ok {
			runDiffs = append(runDiffs, fmt.Sprintf("%s did not finish: %s", a.side, why))
		}
		if a.side == "java" {
			for _, e := range r.java.errors(a.id) {
				runDiffs = append(runDiffs, "java reported: "+e)
			}
		}
		if err := a.runError(); err != nil {
			runDiffs = append(runDiffs, fmt.Sprintf("%s failed: %v", a.side, err))
		}
		note(r.stopApp(ctx, a))
	}
	phase(a1)
	if note(r.b.produce(ctx, in, recs[half:])) {
		return fail()
	}
	done := make(chan struct{})
	go func() { defer close(done); phase(aref) }()
	phase(a2)
	<-done
	outs, err := r.b.readAll(ctx, []string{out, aref.outputs[0]})
	note(err)
	res.add("run", runDiffs)
	o := c.Outputs[0]
	// The migrated run's last count of each word must be the reference's
	// (values only: the two runs' timestamps agree too, so they are kept).
	res.add("out0-records", compareFinal(o, outs[aref.outputs[0]], outs[out]))
	res.add("out0-partitions", comparePartitions(o, outs[aref.outputs[0]], outs[out]))
	res.Records = fmt.Sprintf("reference %d, migrated %d", len(outs[aref.outputs[0]]), len(outs[out]))
	return res
}
