package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/conformance/cases"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// broker is the driver's admin and producer client.
type broker struct {
	seeds []string
	cl    *kgo.Client
	adm   *kadm.Client
}

func newBroker(seeds []string) (*broker, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, err
	}
	return &broker{seeds: seeds, cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (b *broker) close() { b.cl.Close() }

func (b *broker) createTopics(ctx context.Context, partitions int32, topics ...string) error {
	resp, err := b.adm.CreateTopics(ctx, partitions, 1, nil, topics...)
	if err != nil {
		return err
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create %s: %w", r.Topic, r.Err)
		}
	}
	// A topic is not in every broker's metadata the moment it is created;
	// an application started before it is fails its sink topic check.
	deadline := time.Now().Add(30 * time.Second)
	for {
		td, err := b.adm.ListTopics(ctx, topics...)
		ready := err == nil
		for _, t := range topics {
			d, ok := td[t]
			if !ok || d.Err != nil || len(d.Partitions) != int(partitions) {
				ready = false
				break
			}
			for _, p := range d.Partitions {
				if p.Leader < 0 || p.Err != nil {
					ready = false
				}
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topics %v not ready after 30s (%v)", topics, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// produce writes recs to partition 0 of topic at once.
func (b *broker) produce(ctx context.Context, topic string, recs []cases.Record) error {
	for _, r := range recs {
		b.cl.Produce(ctx, toKgo(topic, r), nil)
	}
	return b.cl.Flush(ctx)
}

func toKgo(topic string, r cases.Record) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: 0, Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(r.Timestamp)}
}

// producePaced writes the inputs' records interleaved (record i of every
// input, then record i+1) at about rate records per second.
func (b *broker) producePaced(ctx context.Context, topics []string, recs [][]cases.Record, rate int) error {
	n := 0
	for _, r := range recs {
		n = max(n, len(r))
	}
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	for i := 0; i < n; i++ {
		for t, topic := range topics {
			if i >= len(recs[t]) {
				continue
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
			b.cl.Produce(ctx, toKgo(topic, recs[t][i]), func(_ *kgo.Record, err error) {
				if err != nil {
					fmt.Println("conform: produce:", err)
				}
			})
		}
	}
	return b.cl.Flush(ctx)
}

// progress is what changes while an application works: its committed
// offsets and the end offsets of its outputs and internal topics.
func (b *broker) progress(ctx context.Context, group string, inputs, outputs []string) (done bool, snapshot string, err error) {
	offs, err := b.adm.FetchOffsets(ctx, group)
	if err != nil {
		return false, "", err
	}
	internal, err := b.internalTopics(ctx, group)
	if err != nil {
		return false, "", err
	}
	topics := append(append(append([]string{}, inputs...), outputs...), internal...)
	ends, err := b.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return false, "", err
	}
	done = true
	for _, in := range inputs {
		for p, e := range ends[in] {
			c, ok := offs.Lookup(in, p)
			if e.Offset > 0 && (!ok || c.At < e.Offset) {
				done = false
			}
		}
	}
	var parts []string
	offs.Each(func(o kadm.OffsetResponse) {
		parts = append(parts, fmt.Sprintf("c %s/%d=%d", o.Topic, o.Partition, o.At))
	})
	ends.Each(func(o kadm.ListedOffset) {
		parts = append(parts, fmt.Sprintf("e %s/%d=%d", o.Topic, o.Partition, o.Offset))
	})
	sort.Strings(parts)
	return done, strings.Join(parts, " "), nil
}

// internalTopics lists the topics an application created:
// "<application.id>-...".
func (b *broker) internalTopics(ctx context.Context, appID string) ([]string, error) {
	td, err := b.adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range td.Names() {
		if strings.HasPrefix(t, appID+"-") {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out, nil
}

// topicInfo is an internal topic as compared: its name without the
// application id, partition count and the configs set on it (not broker
// defaults).
type topicInfo struct {
	Name       string            `json:"name"`
	Partitions int               `json:"partitions"`
	Configs    map[string]string `json:"configs"`
}

func (b *broker) describeInternal(ctx context.Context, appID string) ([]topicInfo, error) {
	names, err := b.internalTopics(ctx, appID)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	td, err := b.adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, err
	}
	rc, err := b.adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, err
	}
	cfgs := map[string]map[string]string{}
	for _, r := range rc {
		m := map[string]string{}
		for _, c := range r.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
				m[c.Key] = *c.Value
			}
		}
		cfgs[r.Name] = m
	}
	var out []topicInfo
	for _, n := range names {
		out = append(out, topicInfo{Name: strings.TrimPrefix(n, appID+"-"), Partitions: len(td[n].Partitions), Configs: cfgs[n]})
	}
	return out, nil
}

// outRecord is one record read back from an output topic.
type outRecord struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp int64
}

// readAll reads every committed record of topics (read_committed: aborted
// transactions are skipped), in order per partition.
func (b *broker) readAll(ctx context.Context, topics []string) (map[string][]outRecord, error) {
	out := map[string][]outRecord{}
	if len(topics) == 0 {
		return out, nil
	}
	ends, err := b.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	type tp struct {
		t string
		p int32
	}
	want := map[tp]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[tp{o.Topic, o.Partition}] = o.Offset
		}
	})
	if len(want) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.seeds...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for idle := 0; idle < 5; {
		pctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			out[r.Topic] = append(out[r.Topic], outRecord{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli()})
			// A transactional partition ends with a marker, so its end
			// offset is never reached by a record: a partition is read
			// once a record at its end minus a marker arrived (and then
			// a poll comes back empty).
			k := tp{r.Topic, r.Partition}
			if e, ok := want[k]; ok && r.Offset >= e-2 {
				delete(want, k)
			}
		})
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("read %s: %w", e.Topic, e.Err)
			}
		}
		if n > 0 {
			idle = 0
			continue
		}
		if len(want) == 0 {
			break
		}
		idle++
	}
	for t, recs := range out {
		sort.SliceStable(recs, func(i, j int) bool {
			if recs[i].Partition != recs[j].Partition {
				return recs[i].Partition < recs[j].Partition
			}
			return recs[i].Offset < recs[j].Offset
		})
		out[t] = recs
	}
	return out, nil
}

// deleteRunTopics deletes every topic of a run (they all start with the
// run id), so that runs on a long-lived cluster do not pile them up.
func (b *broker) deleteRunTopics(ctx context.Context, runID string) error {
	td, err := b.adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range td.Names() {
		if strings.HasPrefix(t, runID+"-") {
			names = append(names, t)
		}
	}
	if len(names) == 0 {
		return nil
	}
	resp, err := b.adm.DeleteTopics(ctx, names...)
	if err != nil {
		return err
	}
	return resp.Error()
}
