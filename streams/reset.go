package streams

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/processor"
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

// parseISODuration parses the ISO-8601 durations Java's Duration.parse
// accepts: an optional sign, "P", days, then "T" with hours, minutes and
// (fractional) seconds, each part optional but at least one present.
func parseISODuration(s string) (time.Duration, error) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) < 2 || (s[0] != 'P' && s[0] != 'p') {
		return 0, fmt.Errorf("not an ISO-8601 duration")
	}
	s = s[1:]
	var total time.Duration
	inTime, parts := false, 0
	for s != "" {
		if s[0] == 'T' || s[0] == 't' {
			if inTime {
				return 0, fmt.Errorf("not an ISO-8601 duration")
			}
			inTime = true
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && (s[i] == '-' || s[i] == '+' || s[i] == '.' || (s[i] >= '0' && s[i] <= '9')) {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, fmt.Errorf("not an ISO-8601 duration")
		}
		num, unit := s[:i], s[i]
		s = s[i+1:]
		var scale time.Duration
		switch {
		case !inTime && (unit == 'D' || unit == 'd'):
			scale = 24 * time.Hour
		case inTime && (unit == 'H' || unit == 'h'):
			scale = time.Hour
		case inTime && (unit == 'M' || unit == 'm'):
			scale = time.Minute
		case inTime && (unit == 'S' || unit == 's'):
			scale = time.Second
		default:
			return 0, fmt.Errorf("not an ISO-8601 duration")
		}
		if scale != time.Second && strings.Contains(num, ".") {
			return 0, fmt.Errorf("not an ISO-8601 duration")
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, err
		}
		total += time.Duration(f * float64(scale))
		parts++
	}
	if parts == 0 {
		return 0, fmt.Errorf("not an ISO-8601 duration")
	}
	if neg {
		total = -total
	}
	return total, nil
}

// resetPolicies maps every source topic (as named on the broker) to its
// policy: the source's own (dsl.WithOffsetReset), else the configured
// default; repartition topics always start at the earliest offset.
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
		switch {
		case st.Internal:
			name, p = a.internal(st.Topic), resetPolicy{kind: ResetEarliest}
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
var ErrNoCommittedOffset = fmt.Errorf("streams: no committed offset and the offset reset policy is none")

// adjustOffsets applies each source topic's reset policy to the partitions
// the group has no committed offset for (kgo gives them its start offset,
// the log start), before kgo starts fetching them. It runs on kgo's group
// goroutine.
func (w *worker) adjustOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	now := time.Now()
	for topic, ps := range offsets {
		p, ok := w.app.resets[topic]
		if !ok {
			p = w.app.defaultReset
		}
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
