package streams_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Example runs a word count on an embedded cluster: the DSL topology, an App
// with exactly-once processing, some input, the counts it wrote, and one
// count read from its state store by an interactive query.
func Example() {
	cluster, _ := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "text", "word-counts"))
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	b := dsl.NewBuilder()
	lines := dsl.NewStream(b, []string{"text"}, serde.String(), serde.String())
	words := dsl.FlatMapValues(lines, func(line string) []string { return strings.Fields(strings.ToLower(line)) })
	counts := dsl.GroupBy(words, func(_, w string) string { return w }, serde.String()).Count(dsl.StoreName("counts"))
	dsl.ToStream(counts).To("word-counts")
	top, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	app, err := streams.New(top, streams.Config{
		ApplicationID: "example-wordcount",
		Brokers:       brokers,
		Guarantee:     streams.ExactlyOnceV2,
		StateDir:      tempDir(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("text"))
	defer cl.Close()
	if err := cl.ProduceSync(ctx, kgo.StringRecord("the quick fox"), kgo.StringRecord("The lazy dog and the fox")).FirstErr(); err != nil {
		fmt.Println(err)
		return
	}

	// Read the committed counts until they add up to the 9 words sent.
	rd, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("word-counts"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer rd.Close()
	final := map[string]int64{}
	total := func() (n int64) {
		for _, c := range final {
			n += c
		}
		return n
	}
	for total() < 9 && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			n, _ := serde.Int64().Deserialize(r.Topic, r.Value)
			final[string(r.Key)] = n
		})
	}
	// Interactive query: ask this instance's own state store.
	if q, err := streams.QueryKeyValueStore[string, int64](app, "counts"); err == nil {
		n, _, _ := q.Get("fox")
		fmt.Println("the store says fox:", n)
	}
	_ = app.Close(ctx)
	keys := make([]string, 0, len(final))
	for k := range final {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(k, final[k])
	}
	// Output:
	// the store says fox: 2
	// and 1
	// dog 1
	// fox 2
	// lazy 1
	// quick 1
	// the 3
}

func tempDir() string {
	dir, _ := os.MkdirTemp("", "sluice-example-")
	return dir
}
