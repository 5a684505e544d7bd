package dsl_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

var nonWord = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// words splits a line as Kafka's word-count demo does: lowercase, split on
// runs of non-word characters, drop empty strings.
func words(line string) []string {
	var out []string
	for _, w := range nonWord.Split(strings.ToLower(line), -1) {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// wordCount is the DSL word count: lines in, a count per word out.
func wordCount(in, out string) *dsl.Builder {
	b := dsl.NewBuilder()
	lines := dsl.NewStream(b, []string{in}, serde.String(), serde.String())
	counts := dsl.GroupBy(dsl.FlatMapValues(lines, words),
		func(_, word string) string { return word }, serde.String()).
		Count(dsl.StoreName("counts"))
	counts.ToStream().To(out)
	return b
}

// Example_wordCount counts words with no broker: the test driver runs the
// topology, including its repartition topic, synchronously.
func Example_wordCount() {
	top, err := wordCount("text", "word-counts").Build()
	if err != nil {
		panic(err)
	}
	d, err := streamstest.New(top, streamstest.Config{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "text", serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, "word-counts", serde.String(), serde.Int64())
	for _, line := range []string{"All streams lead to Kafka", "Hello Kafka Streams", "Join Kafka Summit"} {
		if err := in.Pipe("", line); err != nil {
			panic(err)
		}
	}
	final, err := streamstest.ReadMap(out)
	if err != nil {
		panic(err)
	}
	keys := make([]string, 0, len(final))
	for k := range final {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(k, final[k])
	}
	// Output:
	// all 1
	// hello 1
	// join 1
	// kafka 3
	// lead 1
	// streams 2
	// summit 1
	// to 1
}
