package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/examples/internal/exampleutil"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// referenceCounts counts words as Kafka Streams' WordCountDemo does, with a
// regular expression rather than the example's splitter, so that each can
// catch the other's mistakes.
func referenceCounts(t *testing.T, path string) map[string]int64 {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	nonWord := regexp.MustCompile(`\W+`)
	counts := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, w := range nonWord.Split(strings.ToLower(sc.Text()), -1) {
			if w != "" {
				counts[w]++
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return counts
}

func lines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// TestTopologyWithDriver runs the example's topology with no broker.
func TestTopologyWithDriver(t *testing.T) {
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
	for i, l := range lines(t, "testdata/input.txt") {
		if err := in.PipeAt(strconv.Itoa(i), l, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := streamstest.ReadMap(streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()))
	if err != nil {
		t.Fatal(err)
	}
	want := referenceCounts(t, "testdata/input.txt")
	if len(got) != len(want) {
		t.Fatalf("%d words, want %d", len(got), len(want))
	}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("%s: %d, want %d", w, got[w], n)
		}
	}
}

// TestWordCount runs the program's main logic on the test cluster (a real
// broker under make test, kfake otherwise) with a 3-partition input.
func TestWordCount(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 3, nil), env.Topic(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	appID := env.AppID(t)
	err := run(ctx, exampleutil.Options{
		Brokers: strings.Join(env.Brokers(), ","), Input: "testdata/input.txt",
		AppID: appID, InTopic: in, OutTopic: out, StateDir: t.TempDir(), Partitions: 3,
	}, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	parts := map[int32]bool{}
	for _, r := range env.ReadAll(t, in, false) {
		parts[r.Partition] = true
	}
	if len(parts) < 2 {
		t.Fatalf("the input landed on %d partition(s); the test needs several", len(parts))
	}
	want := referenceCounts(t, "testdata/input.txt")
	printed := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(printed) != len(want) {
		t.Fatalf("printed %d words, want %d:\n%s", len(printed), len(want), stdout.String())
	}
	prev := ""
	for _, l := range printed {
		word, n, ok := strings.Cut(l, " ")
		got, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || want[word] != got {
			t.Errorf("line %q; want %q %d", l, word, want[word])
		}
		if word <= prev {
			t.Errorf("%q printed after %q: not sorted", word, prev)
		}
		prev = word
	}
}
