// Package exampleutil holds what the runnable examples share: the word
// splitting of Kafka Streams' WordCountDemo, an embedded cluster for runs
// with no broker, and helpers to feed a file in and wait for the output.
package exampleutil

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Words splits a line as Kafka Streams' WordCountDemo does: lowercased, split
// on runs of characters other than ASCII letters, digits and underscore
// (Java's \W+), empty strings dropped.
func Words(line string) []string {
	return strings.FieldsFunc(strings.ToLower(line), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	})
}

// Cluster returns brokers to use: the given ones, or, when brokers is empty,
// an in-process kfake cluster that stop shuts down.
func Cluster(brokers string) (addrs []string, stop func(), err error) {
	if brokers != "" {
		return strings.Split(brokers, ","), func() {}, nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, nil, fmt.Errorf("starting the embedded cluster: %w", err)
	}
	return c.ListenAddrs(), c.Close, nil
}

// CreateTopics creates topics (partitions each), accepting ones that exist.
func CreateTopics(ctx context.Context, brokers []string, partitions int32, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, -1, nil, topics...)
	if err != nil {
		return err
	}
	for _, r := range resp {
		if r.Err != nil && !strings.Contains(r.Err.Error(), "TOPIC_ALREADY_EXISTS") {
			return fmt.Errorf("creating %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// ProduceLines writes every line of the file to topic, keyed by its line
// number so that the lines spread over the topic's partitions, and returns
// how many it wrote.
func ProduceLines(ctx context.Context, brokers []string, topic, path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var recs []*kgo.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 0; sc.Scan(); n++ {
		recs = append(recs, kgo.KeyStringRecord(strconv.Itoa(n), sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return len(recs), cl.ProduceSync(ctx, recs...).FirstErr()
}

// WaitCommitted waits until group has committed every input partition of
// topic up to its end offset: everything produced so far was processed.
func WaitCommitted(ctx context.Context, brokers []string, group, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			var offs kadm.OffsetResponses
			offs, err = adm.FetchOffsets(ctx, group)
			if err == nil {
				done := true
				ends.Each(func(e kadm.ListedOffset) {
					o, ok := offs.Lookup(topic, e.Partition)
					if e.Offset > 0 && (!ok || o.At < e.Offset) {
						done = false
					}
				})
				if done {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to process %s: %w (last error: %v)", group, topic, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LatestValues reads topic to its end and returns the last value per key,
// decoded by decode.
func LatestValues[V any](ctx context.Context, brokers []string, topic string, decode func([]byte) (V, error)) (map[string]V, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	want := map[int32]int64{}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset > 0 {
			want[e.Partition] = e.Offset
		}
	})
	out := map[string]V{}
	if len(want) == 0 {
		return out, nil
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	for len(want) > 0 {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var derr error
		fs.EachRecord(func(r *kgo.Record) {
			v, err := decode(r.Value)
			if err != nil && derr == nil {
				derr = fmt.Errorf("%s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			out[string(r.Key)] = v
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
		if derr != nil {
			return nil, derr
		}
	}
	return out, nil
}

// PrintSorted prints "key value" lines sorted by key.
func PrintSorted[V any](w interface{ Write([]byte) (int, error) }, m map[string]V) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s %v\n", k, m[k])
	}
}
