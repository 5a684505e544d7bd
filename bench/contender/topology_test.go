package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/sluicestreams/sluice/bench/internal/workload"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// The benchmark is only fair if the Sluice topologies do the work the
// ceiling and the Java contenders do: these run them on generated input
// with the test driver and compare with workload.Expected.

func TestStatelessTopology(t *testing.T) {
	top, err := statelessTopology("in", "out")
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(top, streamstest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.Bytes(), serde.String())
	out := streamstest.NewOutputTopic(d, "out", serde.Bytes(), serde.String())
	g := workload.NewGenerator(3)
	var want []string
	for range 2000 {
		line := string(g.Next())
		if workload.Keep(line) {
			want = append(want, strings.ToUpper(line))
		}
		if err := in.Pipe(nil, line); err != nil {
			t.Fatal(err)
		}
	}
	got, err := out.ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d output records, want %d", len(got), len(want))
	}
	for i, kv := range got {
		if kv.Value != want[i] || len(kv.Key) != 0 {
			t.Fatalf("output %d = %q/%q, want no key/%q", i, kv.Key, kv.Value, want[i])
		}
	}
}

func TestWordCountTopology(t *testing.T) {
	top, err := wordCountTopology("in", "out")
	if err != nil {
		t.Fatal(err)
	}
	if desc := top.Describe(); !strings.Contains(desc, "words-repartition") {
		t.Errorf("the repartition topic is not named words (the harness waits on <app>-words-repartition):\n%s", desc)
	}
	d, err := streamstest.New(top, streamstest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.Bytes(), serde.String())
	out := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64())
	g := workload.NewGenerator(4)
	var exp workload.Expected
	for range 2000 {
		line := g.Next()
		exp.Add(line)
		if err := in.Pipe(nil, string(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := streamstest.ReadMap(out)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, exp.Counts) {
		t.Errorf("final counts differ: %d words out, %d expected", len(got), len(exp.Counts))
	}
}
