package dsl_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

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
	dsl.ToStream(counts).To(out)
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

// Example_windowedCount counts page views per user in one-minute tumbling
// windows that accept records up to ten seconds late; a view arriving after
// that is dropped: the view at 0:30 comes after stream time reached 1:15, past
// its window's end (1:00) plus the grace.
func Example_windowedCount() {
	b := dsl.NewBuilder()
	views := dsl.NewStream(b, []string{"page-views"}, serde.String(), serde.String())
	perMinute := dsl.WindowedBy(views.GroupByKey(), dsl.TumblingWindows(time.Minute, 10*time.Second)).
		Count(dsl.StoreName("views-per-minute"), dsl.Caching(false))
	dsl.ToStream(perMinute).To("views-per-minute") // keys: the user, then the window start
	top, err := b.Build()
	if err != nil {
		panic(err)
	}
	d, err := streamstest.New(top, streamstest.Config{})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "page-views", serde.String(), serde.String())
	for _, v := range []struct {
		user string
		at   time.Duration
	}{{"ann", 5 * time.Second}, {"ann", 50 * time.Second}, {"bob", 61 * time.Second}, {"ann", 55 * time.Second}, {"ann", 75 * time.Second}, {"ann", 30 * time.Second}} {
		if err := in.PipeAt(v.user, "/home", v.at.Milliseconds()); err != nil {
			panic(err)
		}
	}
	out := streamstest.NewOutputTopic(d, "views-per-minute", dsl.TimeWindowedSerde(serde.String(), time.Minute), serde.Int64())
	kvs, err := out.ReadKeyValues()
	if err != nil {
		panic(err)
	}
	for _, kv := range kvs {
		fmt.Printf("%s [%v, %v): %d\n", kv.Key.Key, time.Duration(kv.Key.Start)*time.Millisecond, time.Duration(kv.Key.End)*time.Millisecond, kv.Value)
	}
	fmt.Println("dropped:", d.DroppedRecords()["expired-window"])
	// Output:
	// ann [0s, 1m0s): 1
	// ann [0s, 1m0s): 2
	// bob [1m0s, 2m0s): 1
	// ann [0s, 1m0s): 3
	// ann [1m0s, 2m0s): 1
	// dropped: 1
}
