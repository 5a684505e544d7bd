// Package workload is the input and the per-record work that every contender
// of the side-by-side benchmark shares: a seeded, deterministic line
// generator over a fixed vocabulary with a Zipf-skewed word distribution,
// and the filter, map and word-splitting steps of the two benchmark
// topologies (stateless: filter + map + to; word count).
//
// The Java contenders (bench/java) implement the same three steps; keep
// them in step when changing Keep, Upper or Words.
package workload

import (
	"math/rand/v2"
	"strings"
)

// VocabularySize is the number of distinct words the generator draws from.
const VocabularySize = 20000

// syllables spell the vocabulary: word i is i written in base
// len(syllables), one syllable per digit.
var syllables = [...]string{
	"ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "we",
	"xa", "yo", "za", "be", "cu", "di", "fo", "ga", "hi", "ju",
	"ke", "la", "mo", "ni", "pu", "re", "so", "ti", "va", "wo",
	"xe", "yu",
}

// Word returns word i of the vocabulary (0 <= i < VocabularySize). Words are
// distinct, lower case ASCII and never start with '#'.
func Word(i int) string {
	var b strings.Builder
	n := i + len(syllables) // at least two syllables
	for n > 0 {
		b.WriteString(syllables[n%len(syllables)])
		n /= len(syllables)
	}
	return b.String()
}

// Generator produces the benchmark's input lines. The same seed always
// yields the same lines. About one line in ten is a comment line starting
// with "# " that the topologies filter out; the others hold MinWords to
// MaxWords words separated by single spaces, word ranks drawn from a Zipf
// distribution (s = 1.1) so that a few words dominate.
//
// A Generator is not safe for concurrent use.
type Generator struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	vocab []string
	buf   []byte
}

// Line shape.
const (
	MinWords = 4
	MaxWords = 12
)

// NewGenerator returns a generator seeded with seed.
func NewGenerator(seed uint64) *Generator {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	vocab := make([]string, VocabularySize)
	for i := range vocab {
		vocab[i] = Word(i)
	}
	return &Generator{rng: rng, zipf: rand.NewZipf(rng, 1.1, 1, VocabularySize-1), vocab: vocab}
}

// Next returns the next line. The slice is reused by the following call.
func (g *Generator) Next() []byte {
	b := g.buf[:0]
	if g.rng.IntN(10) == 0 {
		b = append(b, "# "...)
	}
	n := MinWords + g.rng.IntN(MaxWords-MinWords+1)
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, g.vocab[g.zipf.Uint64()]...)
	}
	g.buf = b
	return b
}

// Keep is the stateless topology's filter and the word count's first step:
// it drops comment lines.
func Keep(line string) bool { return !strings.HasPrefix(line, "#") }

// Upper is the stateless topology's map step.
func Upper(line string) string { return strings.ToUpper(line) }

// Words splits a kept line into its words, dropping empty ones, as the word
// count's flatMapValues does.
func Words(line string) []string {
	ws := strings.Split(line, " ")
	out := ws[:0]
	for _, w := range ws {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// Expected is what a correct run of each topology outputs for some input.
type Expected struct {
	Lines  int64            // input lines
	Kept   int64            // lines the filter keeps: the stateless output count
	Words  int64            // words in kept lines: the word count's updates
	Counts map[string]int64 // final count per word
}

// Add accounts for one input line.
func (e *Expected) Add(line []byte) {
	e.Lines++
	s := string(line)
	if !Keep(s) {
		return
	}
	e.Kept++
	if e.Counts == nil {
		e.Counts = map[string]int64{}
	}
	for _, w := range Words(s) {
		e.Words++
		e.Counts[w]++
	}
}
