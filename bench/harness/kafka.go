package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/bench/internal/workload"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// broker is the harness's admin view of the cluster.
type broker struct {
	seeds []string
	cl    *kgo.Client
	adm   *kadm.Client
}

func dialBroker(seeds []string) (*broker, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return nil, err
	}
	return &broker{seeds: seeds, cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (b *broker) close() { b.cl.Close() }

func (b *broker) createTopic(ctx context.Context, name string, partitions int32) error {
	resp, err := b.adm.CreateTopics(ctx, partitions, 1, nil, name)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	for _, r := range resp {
		if r.Err != nil {
			return fmt.Errorf("creating %s: %w", name, r.Err)
		}
	}
	// Wait until the new topic's leaders are known to the broker's metadata.
	for i := 0; i < 100; i++ {
		ends, err := b.adm.ListEndOffsets(ctx, name)
		if err == nil && ends.Error() == nil && len(ends[name]) == int(partitions) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("topic %s has no leaders after 10s", name)
}

// deleteTopics deletes the topics named or starting with a prefix. Errors are
// ignored: the topics are the run's garbage.
func (b *broker) deleteTopics(ctx context.Context, names []string, prefixes ...string) {
	if len(prefixes) > 0 {
		if td, err := b.adm.ListTopics(ctx); err == nil {
			for _, t := range td.Names() {
				for _, p := range prefixes {
					if strings.HasPrefix(t, p) {
						names = append(names, t)
					}
				}
			}
		}
	}
	if len(names) > 0 {
		_, _ = b.adm.DeleteTopics(ctx, names...)
	}
}

// endOffsets returns the high watermarks of topic's partitions.
func (b *broker) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	ends, err := b.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := ends.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

func sum(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// produceInput writes n generated lines (seed) to topic as fast as the
// producer goes and returns what a correct run outputs.
func (b *broker) produceInput(ctx context.Context, topic string, n int64, seed uint64) (workload.Expected, error) {
	var exp workload.Expected
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.seeds...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100000))
	if err != nil {
		return exp, err
	}
	defer cl.Close()
	g := workload.NewGenerator(seed)
	errc := make(chan error, 1)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			select {
			case errc <- err:
			default:
			}
		}
	}
	for i := int64(0); i < n; i++ {
		line := g.Next()
		exp.Add(line)
		cl.Produce(ctx, &kgo.Record{Value: append([]byte(nil), line...)}, done)
		if i%100000 == 0 {
			select {
			case err := <-errc:
				return exp, err
			default:
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return exp, err
	}
	select {
	case err := <-errc:
		return exp, err
	default:
	}
	return exp, nil
}

// caughtUp reports whether group has committed every input offset (ends),
// and, when internal is not empty, every offset of that internal topic that
// exists now. Under exactly-once a transaction marker follows the last
// record of the internal topic, so one offset of slack is allowed there.
func (b *broker) caughtUp(ctx context.Context, group, input string, ends map[int32]int64, internal string, eos bool) (bool, error) {
	offs, err := b.adm.FetchOffsets(ctx, group)
	if err != nil {
		return false, err
	}
	if err := offs.Error(); err != nil {
		return false, err
	}
	for p, end := range ends {
		if end == 0 {
			continue
		}
		o, ok := offs.Lookup(input, p)
		if !ok || o.At < end {
			return false, nil
		}
	}
	if internal == "" {
		return true, nil
	}
	iends, err := b.endOffsets(ctx, internal)
	if err != nil {
		return false, nil // not created yet
	}
	for p, end := range iends {
		if end == 0 {
			continue
		}
		o, ok := offs.Lookup(internal, p)
		slack := int64(0)
		if eos {
			slack = 1
		}
		if !ok || o.At < end-slack {
			return false, nil
		}
	}
	return true, nil
}

// groupStable reports whether group has members and is Stable.
func (b *broker) groupStable(ctx context.Context, group string) bool {
	gs, err := b.adm.DescribeGroups(ctx, group)
	if err != nil {
		return false
	}
	g, ok := gs[group]
	return ok && g.Err == nil && g.State == "Stable" && len(g.Members) > 0
}

// readLatest reads topic (read_committed) until it has been idle for 2s and
// returns the last int64 value per key and the number of records read. The
// topic is no longer written to when this is called.
func (b *broker) readLatest(ctx context.Context, topic string) (map[string]int64, int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.seeds...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	latest := map[string]int64{}
	var n int64
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("reading %s: %w", topic, ctx.Err())
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = errors.Join(ferr, err)
			}
		})
		if ferr != nil {
			return nil, 0, ferr
		}
		if fs.NumRecords() == 0 {
			return latest, n, nil
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if len(r.Value) == 8 {
				var v int64
				for _, c := range r.Value {
					v = v<<8 | int64(c)
				}
				latest[string(r.Key)] = v
			}
		})
	}
}
