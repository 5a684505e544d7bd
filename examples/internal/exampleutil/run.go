package exampleutil

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
)

// CountingRun is one run of an example whose output topic holds counts
// (int64 values) per key.
type CountingRun struct {
	Options
	// Topology builds the example's topology from the two topic names.
	Topology func(in, out string) (*processor.Topology, error)
	// Feed writes the example's input. Nil runs until ctx ends, counting
	// whatever arrives on the input topic.
	Feed func(ctx context.Context, brokers []string) error
	// Internal lists the internal (repartition) topics, without the
	// application id, in the order their sub-topologies run: everything is
	// counted once the input and then each of these is committed.
	Internal []string
}

// Run creates the topics, runs the App, feeds it, waits until everything is
// processed, and prints the final count of every key, sorted.
func (r CountingRun) Run(ctx context.Context, stdout io.Writer) error {
	brokers, stopCluster, err := Cluster(r.Brokers)
	if err != nil {
		return err
	}
	defer stopCluster()
	if err := CreateTopics(ctx, brokers, int32(max(r.Partitions, 1)), r.InTopic, r.OutTopic); err != nil {
		return err
	}
	top, err := r.Topology(r.InTopic, r.OutTopic)
	if err != nil {
		return err
	}
	stateDir := r.StateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", r.AppID+"-"); err != nil {
			return err
		}
		defer os.RemoveAll(stateDir)
	}
	app, err := streams.New(top, streams.Config{
		ApplicationID:  r.AppID,
		Brokers:        brokers,
		StateDir:       stateDir,
		CommitInterval: 100 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	if r.Feed == nil {
		return app.Run(ctx)
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	defer app.Close(context.Background())
	if err := r.Feed(ctx, brokers); err != nil {
		return fmt.Errorf("feeding the input: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// A commit flushes the caches and the producer before the offsets, so
	// once the input is committed everything it caused is in the first
	// repartition topic, and so on down to the output.
	topics := []string{r.InTopic}
	for _, t := range r.Internal {
		topics = append(topics, processor.InternalTopicName(r.AppID, t))
	}
	for _, topic := range topics {
		if err := WaitCommitted(wctx, brokers, r.AppID, topic); err != nil {
			return err
		}
	}
	if err := app.Close(wctx); err != nil {
		return err
	}
	counts, err := LatestValues(wctx, brokers, r.OutTopic, func(b []byte) (int64, error) {
		return serde.Int64().Deserialize(r.OutTopic, b)
	})
	if err != nil {
		return err
	}
	PrintSorted(stdout, counts)
	return nil
}
