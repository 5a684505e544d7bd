// Command ready waits until a Kafka cluster started by scripts/kafka.sh
// answers: every expected broker is in the metadata, a probe topic exists
// with a full ISR, and a produce with acks=all succeeds. With -isr it also
// waits until every partition of every topic has all its replicas in sync,
// which scripts/kafka.sh start-node uses after restarting a killed broker.
//
// It exits 0 when ready and 1 with the last error when the deadline passes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const probeTopic = "_sluice_ready"

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19092", "comma-separated bootstrap addresses")
	n := flag.Int("n", 1, "number of brokers expected in the metadata")
	timeout := flag.Duration("timeout", 90*time.Second, "how long to wait")
	fullISR := flag.Bool("isr", false, "also wait until every partition has its full replica set in sync")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.DefaultProduceTopic(probeTopic),
		kgo.RequestRetries(2),
		kgo.RecordDeliveryTimeout(10*time.Second),
		kgo.MetadataMinAge(250*time.Millisecond),
		// Brokers are coming up: retry soon rather than backing off.
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ready:", err)
		os.Exit(1)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	var last error
	for {
		last = probe(ctx, cl, adm, *n, *fullISR)
		if last == nil {
			return
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "ready: cluster at %s not ready after %s: %v\n", *brokers, *timeout, last)
			os.Exit(1)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, cl *kgo.Client, adm *kadm.Client, n int, fullISR bool) error {
	step, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	md, err := adm.BrokerMetadata(step)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if len(md.Brokers) < n {
		return fmt.Errorf("metadata lists %d of %d brokers", len(md.Brokers), n)
	}

	_, err = adm.CreateTopic(step, 1, int16(n), nil, probeTopic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create %s: %w", probeTopic, err)
	}

	if err := cl.ProduceSync(step, &kgo.Record{Value: []byte("ready")}).FirstErr(); err != nil {
		return fmt.Errorf("produce to %s: %w", probeTopic, err)
	}

	if fullISR {
		tmd, err := adm.Metadata(step)
		if err != nil {
			return fmt.Errorf("topic metadata: %w", err)
		}
		for _, td := range tmd.Topics {
			if td.Err != nil {
				continue // being deleted by a test, or similar
			}
			for _, pd := range td.Partitions {
				if len(pd.ISR) < len(pd.Replicas) {
					return fmt.Errorf("%s[%d]: ISR %v of replicas %v", td.Topic, pd.Partition, pd.ISR, pd.Replicas)
				}
			}
		}
	}
	return nil
}
