package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/examples/internal/exampleutil"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// expected replays the events into a user -> region map and counts users
// per region; a region that once had users and has none now counts 0.
func expected(events []Event) map[string]int64 {
	where := map[string]string{}
	counts := map[string]int64{}
	for _, e := range events {
		if e.Delete {
			delete(where, e.User)
		} else {
			where[e.User] = e.Region
			counts[e.Region] += 0
		}
	}
	for _, r := range where {
		counts[r]++
	}
	return counts
}

func TestTopologyWithDriver(t *testing.T) {
	events, err := ReadEvents("testdata/events.txt")
	if err != nil {
		t.Fatal(err)
	}
	top, err := Topology("in", "out")
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(top, streamstest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for i, e := range events {
		if e.Delete {
			err = in.PipeTombstone(e.User, int64(i))
		} else {
			err = in.PipeAt(e.User, e.Region, int64(i))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := streamstest.ReadMap(streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()))
	if err != nil {
		t.Fatal(err)
	}
	if want := expected(events); !maps.Equal(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
}

// TestReaggregation runs the program's main logic on the test cluster (a
// real broker under make test, kfake otherwise): moves and deletions must
// give the right final counts.
func TestReaggregation(t *testing.T) {
	events, err := ReadEvents("testdata/events.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := expected(events)
	if !slices.Contains(slices.Collect(maps.Values(want)), 0) {
		t.Fatal("the events should empty a region, to check retraction to 0")
	}
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 3, nil), env.Topic(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	err = run(ctx, exampleutil.Options{
		Brokers: strings.Join(env.Brokers(), ","), Input: "testdata/events.txt",
		AppID: env.AppID(t), InTopic: in, OutTopic: out, StateDir: t.TempDir(), Partitions: 3,
	}, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		region, n, _ := strings.Cut(l, " ")
		c, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			t.Fatalf("line %q", l)
		}
		got[region] = c
	}
	if !maps.Equal(got, want) {
		t.Fatalf("counts %v, want %v\n%s", got, want, stdout.String())
	}
	if fmt.Sprint(slices.Sorted(maps.Keys(got))) != fmt.Sprint(sortedLines(stdout.String())) {
		t.Fatalf("output not sorted by region:\n%s", stdout.String())
	}
}

func sortedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		r, _, _ := strings.Cut(l, " ")
		out = append(out, r)
	}
	return out
}
