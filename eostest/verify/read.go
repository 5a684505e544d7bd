package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/serde"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// WaitStable waits until no transaction is open on any partition of the
// topics: the last stable offset equals the high watermark everywhere. It
// returns an error naming a partition still open when ctx ends first.
func WaitStable(ctx context.Context, adm *kadm.Client, topics ...string) error {
	for {
		open, err := openPartitions(ctx, adm, topics)
		if err == nil && len(open) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("verify: waiting for transactions to finish: %w", err)
			}
			return fmt.Errorf("verify: transactions still open: %s", strings.Join(open, "; "))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func openPartitions(ctx context.Context, adm *kadm.Client, topics []string) ([]string, error) {
	hwm, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = hwm.Error()
	}
	if err != nil {
		return nil, err
	}
	lso, err := adm.ListCommittedOffsets(ctx, topics...)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return nil, err
	}
	var open []string
	lso.Each(func(l kadm.ListedOffset) {
		if h, ok := hwm.Lookup(l.Topic, l.Partition); ok && h.Offset != l.Offset {
			open = append(open, fmt.Sprintf("%s[%d] last stable offset %d, high watermark %d", l.Topic, l.Partition, l.Offset, h.Offset))
		}
	})
	sort.Strings(open)
	return open, nil
}

// Read reads every partition of topic from its log start to its current end
// (the last stable offset under readCommitted) and decodes keys as strings
// and values as serde.Int64. Under readCommitted, records of aborted
// transactions are skipped; call WaitStable first, so that the end is not
// held back by an open transaction.
func Read(ctx context.Context, brokers []string, topic string, readCommitted bool) (map[int32][]Rec, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("verify: client: %w", err)
	}
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("verify: %s: start offsets: %w", topic, err)
	}
	var ends kadm.ListedOffsets
	if readCommitted {
		ends, err = adm.ListCommittedOffsets(ctx, topic)
	} else {
		ends, err = adm.ListEndOffsets(ctx, topic)
	}
	if err == nil {
		err = ends.Error()
	}
	cl.Close()
	if err != nil {
		return nil, fmt.Errorf("verify: %s: end offsets: %w", topic, err)
	}

	out := map[int32][]Rec{}
	from := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	ends.Each(func(l kadm.ListedOffset) {
		out[l.Partition] = nil
		s, _ := starts.Lookup(topic, l.Partition)
		if l.Offset > s.Offset {
			from[l.Partition] = kgo.NewOffset().At(s.Offset)
			end[l.Partition] = l.Offset
		}
	})
	if len(from) == 0 {
		return out, nil
	}
	iso := kgo.ReadUncommitted()
	if readCommitted {
		iso = kgo.ReadCommitted()
	}
	rd, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(iso),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("verify: client: %w", err)
	}
	defer rd.Close()
	ints := serde.Int64()
	pos := map[int32]int64{}
	for len(end) > 0 {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			var left []string
			for p, e := range end {
				left = append(left, fmt.Sprintf("partition %d at %d of %d", p, pos[p], e))
			}
			sort.Strings(left)
			return nil, fmt.Errorf("verify: %s: not read to the end: %s: %w", topic, strings.Join(left, ", "), err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !kerr.IsRetriable(err) && !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("verify: %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		var derr error
		fs.EachRecord(func(r *kgo.Record) {
			stop, ok := end[r.Partition]
			if !ok || r.Offset >= stop {
				return
			}
			pos[r.Partition] = r.Offset + 1
			if r.Offset+1 >= stop {
				delete(end, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			v, err := ints.Deserialize(topic, r.Value)
			if err != nil && derr == nil {
				derr = fmt.Errorf("verify: %s[%d]@%d: value: %w", topic, r.Partition, r.Offset, err)
			}
			out[r.Partition] = append(out[r.Partition], Rec{Key: string(r.Key), Value: v, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli()})
		})
		if derr != nil {
			return nil, derr
		}
	}
	return out, nil
}
