package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGeneratorGolden pins the generated input: a change to the generator
// changes every published benchmark's input and must be deliberate
// (regenerate with -update).
func TestGeneratorGolden(t *testing.T) {
	g := NewGenerator(42)
	var sb strings.Builder
	for range 20 {
		sb.Write(g.Next())
		sb.WriteByte('\n')
	}
	h := sha256.New()
	for range 100000 {
		h.Write(g.Next())
		h.Write([]byte{'\n'})
	}
	got := sb.String() + "sha256 of the next 100000 lines: " + hex.EncodeToString(h.Sum(nil)) + "\n"
	path := filepath.Join("testdata", "seed42.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create)", err)
	}
	if got != string(want) {
		t.Errorf("generator output changed:\n%s\nwant:\n%s", got, want)
	}
}

func TestGeneratorDeterministicAndSeeded(t *testing.T) {
	a, b, c := NewGenerator(7), NewGenerator(7), NewGenerator(8)
	same := true
	for i := range 1000 {
		la, lb, lc := string(a.Next()), string(b.Next()), string(c.Next())
		if la != lb {
			t.Fatalf("line %d differs for the same seed: %q vs %q", i, la, lb)
		}
		if la != lc {
			same = false
		}
	}
	if same {
		t.Fatal("seeds 7 and 8 gave the same 1000 lines")
	}
}

func TestGeneratorShapeAndSkew(t *testing.T) {
	g := NewGenerator(1)
	var e Expected
	const n = 50000
	for range n {
		line := g.Next()
		s := string(line)
		body := strings.TrimPrefix(s, "# ")
		ws := strings.Split(body, " ")
		if len(ws) < MinWords || len(ws) > MaxWords {
			t.Fatalf("line %q has %d words", s, len(ws))
		}
		e.Add(line)
	}
	if frac := float64(n-e.Kept) / n; frac < 0.08 || frac > 0.12 {
		t.Errorf("comment lines are %.3f of the input, want about 0.1", frac)
	}
	counts := make([]int64, 0, len(e.Counts))
	for _, c := range e.Counts {
		counts = append(counts, c)
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	top, median := counts[0], counts[len(counts)/2]
	if top < 100*median {
		t.Errorf("not skewed: top word %d times, median word %d times", top, median)
	}
	if len(e.Counts) < 1000 {
		t.Errorf("only %d distinct words in %d lines", len(e.Counts), n)
	}
}

func TestWordsDistinct(t *testing.T) {
	seen := map[string]int{}
	for i := range VocabularySize {
		w := Word(i)
		if j, ok := seen[w]; ok {
			t.Fatalf("Word(%d) == Word(%d) == %q", i, j, w)
		}
		if w == "" || strings.ContainsAny(w, " #") || strings.ToLower(w) != w {
			t.Fatalf("Word(%d) = %q", i, w)
		}
		seen[w] = i
	}
}

func TestSteps(t *testing.T) {
	for _, tc := range []struct {
		line  string
		keep  bool
		upper string
		words []string
	}{
		{"kalo mimi", true, "KALO MIMI", []string{"kalo", "mimi"}},
		{"# kalo mimi", false, "# KALO MIMI", nil},
		{"#kalo", false, "#KALO", nil},
		{"a  b ", true, "A  B ", []string{"a", "b"}},
		{"", true, "", []string{}},
	} {
		if got := Keep(tc.line); got != tc.keep {
			t.Errorf("Keep(%q) = %v", tc.line, got)
		}
		if got := Upper(tc.line); got != tc.upper {
			t.Errorf("Upper(%q) = %q", tc.line, got)
		}
		if tc.keep {
			if got := Words(tc.line); !slices.Equal(got, tc.words) {
				t.Errorf("Words(%q) = %q, want %q", tc.line, got, tc.words)
			}
		}
	}
}

func TestExpected(t *testing.T) {
	var e Expected
	for _, l := range []string{"a b a", "# a", "b"} {
		e.Add([]byte(l))
	}
	if e.Lines != 3 || e.Kept != 2 || e.Words != 4 || e.Counts["a"] != 2 || e.Counts["b"] != 2 || len(e.Counts) != 2 {
		t.Errorf("got %+v", e)
	}
}

func BenchmarkGenerator(b *testing.B) {
	g := NewGenerator(1)
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
