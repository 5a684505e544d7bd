// Command wordcount is Kafka Streams' word count written with Sluice's DSL:
//
//	lines -> flatMapValues(words) -> groupBy(word) -> count -> toStream -> to(output)
//
// Grouping by the word changes the key, so the counts are computed in a
// second sub-topology that reads the repartition topic
// "<app>-counts-repartition".
//
//	go run ./examples/wordcount -input FILE   # embedded cluster, prints "word count" lines
//	go run ./examples/wordcount -brokers 127.0.0.1:9092 -input FILE
//
// With -input it produces the file's lines to the input topic, waits until
// every one is processed, prints the final count of every word sorted by
// word, and exits 0. Without it, it runs until interrupted, counting what
// arrives on the input topic.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/examples/internal/exampleutil"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	brokers    string
	input      string
	appID      string
	inTopic    string
	outTopic   string
	stateDir   string
	partitions int
}

func main() {
	var o options
	flag.StringVar(&o.brokers, "brokers", "", "comma-separated Kafka brokers; empty runs an embedded cluster")
	flag.StringVar(&o.input, "input", "", "a text file whose lines are produced to the input topic; the program prints the final counts and exits")
	flag.StringVar(&o.appID, "app", "wordcount-dsl", "application.id")
	flag.StringVar(&o.inTopic, "in", "wordcount-dsl-input", "input topic")
	flag.StringVar(&o.outTopic, "out", "wordcount-dsl-output", "output topic")
	flag.StringVar(&o.stateDir, "state-dir", "", "state directory (default: a temporary one)")
	flag.IntVar(&o.partitions, "partitions", 3, "partitions of the topics the program creates")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

// StoreName is the counts store; it also names the repartition topic.
const StoreName = "counts"

// Topology builds the word count from topic in to topic out.
func Topology(in, out string) (*processor.Topology, error) {
	b := dsl.NewBuilder()
	lines := dsl.NewStream(b, []string{in}, serde.String(), serde.String())
	words := dsl.FlatMapValues(lines, exampleutil.Words)
	counts := dsl.GroupBy(words, func(_, word string) string { return word }, serde.String()).
		Count(dsl.StoreName(StoreName))
	counts.ToStream().WithSerdes(serde.String(), serde.Int64()).To(out)
	return b.Build()
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	brokers, stopCluster, err := exampleutil.Cluster(o.brokers)
	if err != nil {
		return err
	}
	defer stopCluster()
	if o.partitions < 1 {
		o.partitions = 1
	}
	if err := exampleutil.CreateTopics(ctx, brokers, int32(o.partitions), o.inTopic, o.outTopic); err != nil {
		return err
	}
	top, err := Topology(o.inTopic, o.outTopic)
	if err != nil {
		return err
	}
	stateDir := o.stateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "wordcount-"); err != nil {
			return err
		}
		defer os.RemoveAll(stateDir)
	}
	app, err := streams.New(top, streams.Config{
		ApplicationID:  o.appID,
		Brokers:        brokers,
		StateDir:       stateDir,
		CommitInterval: 100 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	if o.input == "" {
		return app.Run(ctx)
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	defer app.Close(context.Background())
	if err := produceLines(ctx, brokers, o.inTopic, o.input); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// Once the input is committed, every word it produced is in the
	// repartition topic (a commit flushes the producer first); once that is
	// committed too, every count is in the output topic (a commit flushes
	// the record cache and the producer first).
	repartition := processor.InternalTopicName(o.appID, StoreName+"-repartition")
	for _, topic := range []string{o.inTopic, repartition} {
		if err := exampleutil.WaitCommitted(wctx, brokers, o.appID, topic); err != nil {
			return err
		}
	}
	if err := app.Close(wctx); err != nil {
		return err
	}
	counts, err := exampleutil.LatestValues(wctx, brokers, o.outTopic, func(b []byte) (int64, error) {
		return serde.Int64().Deserialize(o.outTopic, b)
	})
	if err != nil {
		return err
	}
	exampleutil.PrintSorted(stdout, counts)
	return nil
}

// produceLines writes the file's lines to topic keyed by line number, so
// that they spread over the topic's partitions.
func produceLines(ctx context.Context, brokers []string, topic, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	var recs []*kgo.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 0; sc.Scan(); n++ {
		recs = append(recs, kgo.KeyStringRecord(strconv.Itoa(n), sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}
