package main

import (
	"bufio"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/examples/internal/exampleutil"
	"github.com/sluicestreams/sluice/internal/kafkatest"
)

// javaCounts counts words the way Kafka Streams' WordCountDemo does, with a
// regular expression instead of the example's splitter, so the two can catch
// each other's mistakes.
func javaCounts(t *testing.T, path string) map[string]int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	nonWord := regexp.MustCompile(`[^a-zA-Z0-9_]+`)
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, w := range nonWord.Split(strings.ToLower(sc.Text()), -1) {
			if w != "" {
				counts[w]++
			}
		}
	}
	return counts
}

func TestWordCountProcessor(t *testing.T) {
	t.Run("testdata", func(t *testing.T) { testWordCount(t, "testdata/input.txt") })
	t.Run("many lines", func(t *testing.T) {
		// Enough lines that every word appears on every input partition:
		// counting without the repartition by word would be wrong here.
		path := filepath.Join(t.TempDir(), "lines.txt")
		rng := rand.New(rand.NewPCG(7, 7))
		vocab := []string{"alpha", "Beta", "gamma", "delta's", "epsilon", "zeta_eta", "theta", "iota"}
		var b strings.Builder
		for i := 0; i < 600; i++ {
			for j := 0; j < 1+rng.IntN(6); j++ {
				b.WriteString(vocab[rng.IntN(len(vocab))] + ", ")
			}
			b.WriteString("\n")
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		testWordCount(t, path)
	})
}

func testWordCount(t *testing.T, input string) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 3, nil), env.Topic(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	err := run(ctx, exampleutil.Options{
		Brokers: strings.Join(env.Brokers(), ","), Input: input,
		AppID: env.AppID(t), InTopic: in, OutTopic: out, StateDir: t.TempDir(),
	}, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	want := javaCounts(t, input)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("printed %d words, want %d:\n%s", len(lines), len(want), stdout.String())
	}
	prev := ""
	for _, l := range lines {
		word, n, ok := strings.Cut(l, " ")
		got, err := strconv.Atoi(n)
		if !ok || err != nil || want[word] != got {
			t.Errorf("line %q; want %q %d", l, word, want[word])
		}
		if word <= prev {
			t.Errorf("%q printed after %q: not sorted", word, prev)
		}
		prev = word
	}
}
