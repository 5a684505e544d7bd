package streams

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/task"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The values of Config.AutoOffsetReset (auto.offset.reset) without a
// duration.
const (
	ResetEarliest = "earliest"
	ResetLatest   = "latest"
	ResetNone     = "none"
)

// byDurationPrefix starts Kafka 4.x's "by_duration:<ISO-8601 duration>".
const byDurationPrefix = "by_duration:"

// resetPolicy is where a partition with no committed offset starts.
type resetPolicy struct {
	kind string        // ResetEarliest, ResetLatest, ResetNone or "by_duration"
	d    time.Duration // for by_duration
}

// parseOffsetReset parses an auto.offset.reset value.
func parseOffsetReset(v string) (string, time.Duration, error) {
	switch v {
	case ResetEarliest, ResetLatest, ResetNone:
		return v, 0, nil
	}
	if rest, ok := strings.CutPrefix(v, byDurationPrefix); ok {
		d, err := parseISODuration(rest)
		if err != nil || d < 0 {
			return "", 0, fmt.Errorf("auto.offset.reset %q: the duration must be a non-negative ISO-8601 duration such as PT1H", v)
		}
		return "by_duration", d, nil
	}
	return "", 0, fmt.Errorf("auto.offset.reset %q is not earliest, latest, none or by_duration:<duration>", v)
}

// isoDuration is the grammar of Java's Duration.parse: an optional sign,
// "P", optional days, then optionally "T" with, in this order, hours,
// minutes and seconds with up to 9 fraction digits after "." or ",";
// each number may carry its own sign; letters in either case.
var isoDuration = regexp.MustCompile(`^(?i)([-+]?)P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$`)

// parseISODuration parses the ISO-8601 durations Java's Duration.parse
// accepts, and rejects what it rejects: no part at all ("P", "PT"), a "T"
// with no time part after it ("P1DT"), parts out of order or repeated,
// more than 9 fraction digits, or a value out of range.
func parseISODuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || (m[2] == "" && m[4] == "" && m[5] == "" && m[6] == "") || strings.EqualFold(m[3], "T") {
		return 0, fmt.Errorf("not an ISO-8601 duration")
	}
	var total time.Duration
	add := func(num string, unit time.Duration) error {
		if num == "" {
			return nil
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
			return fmt.Errorf("ISO-8601 duration %q out of range", s)
		}
		d := time.Duration(n) * unit
		if (d > 0 && total > math.MaxInt64-d) || (d < 0 && total < math.MinInt64-d) {
			return fmt.Errorf("ISO-8601 duration %q out of range", s)
		}
		total += d
		return nil
	}
	for _, part := range []struct {
		num  string
		unit time.Duration
	}{{m[2], 24 * time.Hour}, {m[4], time.Hour}, {m[5], time.Minute}, {m[6], time.Second}} {
		if err := add(part.num, part.unit); err != nil {
			return 0, err
		}
	}
	if m[7] != "" {
		// The fraction takes the seconds' sign (Duration.parse: "-0.5S").
		frac, _ := strconv.ParseInt((m[7] + "000000000")[:9], 10, 64)
		if strings.HasPrefix(m[6], "-") {
			frac = -frac
		}
		if err := add(strconv.FormatInt(frac, 10), time.Nanosecond); err != nil {
			return 0, err
		}
	}
	if m[1] == "-" {
		total = -total
	}
	return total, nil
}

// resetPolicies maps every source topic (as named on the broker) to its
// policy: the source's own (dsl.WithOffsetReset), else the configured
// default. Repartition topics have none of their own, so they follow the
// default too: Kafka Streams 4.4's OptimizableRepartitionNode adds their
// source with no reset policy, and StreamThread.resetOffsets falls back to
// auto.offset.reset for them (latest starts a new application's repartition
// partitions at their end; none fails it).
func (a *App) resetPolicies() (map[string]resetPolicy, resetPolicy, error) {
	kind, d, err := parseOffsetReset(a.cfg.AutoOffsetReset)
	if err != nil {
		return nil, resetPolicy{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	def := resetPolicy{kind, d}
	sources, err := a.top.SourceTopics()
	if err != nil {
		return nil, def, err
	}
	out := map[string]resetPolicy{}
	for _, st := range sources {
		name, p := st.Topic, def
		if st.Internal {
			name = a.internal(st.Topic)
		}
		switch {
		case st.OffsetReset == processor.ResetEarliest:
			p = resetPolicy{kind: ResetEarliest}
		case st.OffsetReset == processor.ResetLatest:
			p = resetPolicy{kind: ResetLatest}
		}
		out[name] = p
	}
	return out, def, nil
}

// kgoOffset is where kgo starts a partition under the policy; ok is false
// for none.
func (p resetPolicy) kgoOffset(now time.Time) (kgo.Offset, bool) {
	switch p.kind {
	case ResetLatest:
		return kgo.NewOffset().AtEnd(), true
	case "by_duration":
		return kgo.NewOffset().AfterMilli(now.Add(-p.d).UnixMilli()), true
	case ResetNone:
		return kgo.NoResetOffset(), false
	default:
		return kgo.NewOffset().AtStart(), true
	}
}

// ErrNoCommittedOffset is matched by the worker's error when a partition has
// no committed offset and its reset policy is none.
var ErrNoCommittedOffset = errors.New("streams: no committed offset and the offset reset policy is none")

// adjustOffsets applies each source topic's reset policy to the partitions
// the group has no committed offset for (kgo gives them its start offset,
// the log start), before kgo starts fetching them. It runs on kgo's group
// goroutine.
func (w *worker) adjustOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	now := time.Now()
	for topic, ps := range offsets {
		p := w.policy(topic)
		for part, o := range ps {
			if o.EpochOffset().Offset >= 0 {
				continue // committed
			}
			off, ok := p.kgoOffset(now)
			if !ok {
				w.setFatal(fmt.Errorf("%w: %s[%d] (set auto.offset.reset, or the source's dsl.WithOffsetReset)", ErrNoCommittedOffset, topic, part))
				continue
			}
			ps[part] = off
		}
	}
	return offsets, nil
}

// resetOutOfRange moves input partitions whose fetch position (a committed
// offset, mostly) is no longer in the log to where each one's topic policy
// says, computed now, as Kafka Streams' StreamThread.resetOffsets does on
// the consumer's InvalidOffsetException; under none it fails naming the
// partition, as Kafka Streams throws "No valid committed offset found for
// input topic ...". It runs in step, with rebalances held back.
func (w *worker) resetOutOfRange(tps []task.TopicPartition) error {
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	set := map[string]map[int32]kgo.EpochOffset{}
	for _, tp := range tps {
		p := w.policy(tp.Topic)
		var listed kadm.ListedOffsets
		var err error
		switch p.kind {
		case ResetNone:
			return fmt.Errorf("%w: the position of %s[%d] is out of range (retention deleted its records?) (set auto.offset.reset, or the source's dsl.WithOffsetReset)", ErrNoCommittedOffset, tp.Topic, tp.Partition)
		case ResetLatest:
			listed, err = w.app.adm.ListEndOffsets(ctx, tp.Topic)
		case "by_duration":
			listed, err = w.app.adm.ListOffsetsAfterMilli(ctx, time.Now().Add(-p.d).UnixMilli(), tp.Topic)
		default:
			listed, err = w.app.adm.ListStartOffsets(ctx, tp.Topic)
		}
		if err == nil {
			err = listed.Error()
		}
		o, ok := listed.Lookup(tp.Topic, tp.Partition)
		if err != nil || !ok {
			return fmt.Errorf("streams: worker %d: listing offsets to reset %s[%d], whose position is out of range: %v", w.index, tp.Topic, tp.Partition, err)
		}
		off := o.Offset
		if off < 0 { // by_duration past the last record: the end
			ends, err := w.app.adm.ListEndOffsets(ctx, tp.Topic)
			e, ok := ends.Lookup(tp.Topic, tp.Partition)
			if err != nil || !ok || e.Err != nil {
				return fmt.Errorf("streams: worker %d: listing the end offset of %s[%d]: %v", w.index, tp.Topic, tp.Partition, err)
			}
			off = e.Offset
		}
		w.log.Info("input partition position out of range; resetting it by its offset reset policy", "topic", tp.Topic, "partition", tp.Partition, "policy", p.kind, "offset", off)
		if set[tp.Topic] == nil {
			set[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		if t := w.byTP[tp.Topic][tp.Partition]; t != nil {
			t.ResetPosition(tp.Topic, tp.Partition, off)
		}
	}
	w.cl.SetOffsets(set)
	return nil
}

// policy is the offset reset policy of a source topic (as named on the
// broker).
func (w *worker) policy(topic string) resetPolicy {
	if p, ok := w.app.resets[topic]; ok {
		return p
	}
	return w.app.defaultReset
}
