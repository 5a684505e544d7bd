package streams

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/assignor"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/task"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// topicPlan is what Start learned about the topics: names as they are on the
// broker (internal topics prefixed), partition counts, and which
// sub-topology reads each.
type topicPlan struct {
	sourceTopics []string
	internal     map[string]bool // internal (repartition) source topics
	topicSub     map[string]int32
	subTopics    map[int32][]string
	partitions   map[string]int32
}

// ErrMissingTopic is matched by Start's error when a topic the topology reads
// or writes does not exist.
var ErrMissingTopic = errors.New("streams: missing topic")

// ErrCopartition is matched by Start's error when topics read by one
// sub-topology have different partition counts.
var ErrCopartition = errors.New("streams: topics are not co-partitioned")

func (a *App) internal(name string) string {
	return processor.InternalTopicName(a.cfg.ApplicationID, name)
}

// prepareTopics checks the external topics, sizes and creates the internal
// ones, and checks co-partitioning.
func (a *App) prepareTopics(ctx context.Context) (*topicPlan, error) {
	subs, err := a.top.Subtopologies()
	if err != nil {
		return nil, err
	}
	sources, err := a.top.SourceTopics()
	if err != nil {
		return nil, err
	}
	isinks, err := a.top.InternalSinks()
	if err != nil {
		return nil, err
	}
	plan := &topicPlan{topicSub: map[string]int32{}, subTopics: map[int32][]string{}, partitions: map[string]int32{}, internal: map[string]bool{}}
	var external []string
	internalSet := map[string]bool{}
	for _, st := range sources {
		name := st.Topic
		if st.Internal {
			name = a.internal(st.Topic)
			internalSet[name] = true
			plan.internal[name] = true
		} else {
			external = append(external, name)
		}
		plan.sourceTopics = append(plan.sourceTopics, name)
		plan.topicSub[name] = st.Subtopology
		plan.subTopics[st.Subtopology] = append(plan.subTopics[st.Subtopology], name)
	}
	var sinks []string
	for _, sub := range subs {
		for _, t := range sub.SinkTopics {
			if !internalSet[a.internal(t)] && !isInternalSink(isinks, t) {
				sinks = append(sinks, t)
			}
		}
	}
	check := append(append([]string(nil), external...), sinks...)
	if len(check) > 0 {
		tds, err := a.adm.ListTopics(ctx, check...)
		if err != nil {
			return nil, fmt.Errorf("streams: listing topics: %w", err)
		}
		for _, name := range check {
			td, ok := tds[name]
			if !ok || td.Err != nil {
				role := "source"
				if _, src := plan.topicSub[name]; !src {
					role = "sink"
				}
				return nil, fmt.Errorf("%w: %s topic %q does not exist", ErrMissingTopic, role, name)
			}
			plan.partitions[name] = int32(len(td.Partitions))
		}
	}

	// Size internal topics: a given count; else the partition count of the
	// external topics read in the same sub-topology (they must be
	// co-partitioned); else the largest partition count among the sources
	// of the sub-topology that writes it (which may itself read an internal
	// topic, so repeat until nothing changes).
	for range len(isinks) + 1 {
		for _, s := range isinks {
			name := a.internal(s.Topic)
			if _, done := plan.partitions[name]; done {
				continue
			}
			if s.Partitions > 0 {
				plan.partitions[name] = s.Partitions
				continue
			}
			// Read together with external topics (a join after a key
			// change, say): co-partitioned with them.
			var co int32
			for _, src := range plan.subTopics[plan.topicSub[name]] {
				if !plan.internal[src] {
					co = max(co, plan.partitions[src])
				}
			}
			if co > 0 {
				plan.partitions[name] = co
				continue
			}
			var n int32
			known := true
			for _, src := range plan.subTopics[s.Subtopology] {
				c, ok := plan.partitions[src]
				if !ok {
					known = false
					break
				}
				n = max(n, c)
			}
			if known && n > 0 {
				plan.partitions[name] = n
			}
		}
	}
	for _, s := range isinks {
		name := a.internal(s.Topic)
		if _, ok := plan.partitions[name]; !ok {
			return nil, fmt.Errorf("streams: cannot size internal topic %q: the sub-topology writing it has no sized source", name)
		}
		if err := a.ensureTopic(ctx, name, plan.partitions[name], topicConfig(a.repartitionTopicConfig())); err != nil {
			return nil, err
		}
	}
	for name := range internalSet {
		if _, ok := plan.partitions[name]; !ok {
			return nil, fmt.Errorf("%w: internal topic %q is read but no sink of the topology writes it", ErrMissingTopic, name)
		}
	}

	for sub, topics := range plan.subTopics {
		sort.Strings(topics)
		counts := map[int32]bool{}
		for _, t := range topics {
			counts[plan.partitions[t]] = true
		}
		if len(counts) > 1 {
			parts := make([]string, len(topics))
			for i, t := range topics {
				parts[i] = fmt.Sprintf("%s (%d partitions)", t, plan.partitions[t])
			}
			return nil, fmt.Errorf("%w: sub-topology %d reads %s; topics read together must have the same number of partitions", ErrCopartition, sub, strings.Join(parts, ", "))
		}
	}
	sort.Strings(plan.sourceTopics)
	a.partMu.Lock()
	for t, n := range plan.partitions {
		a.partitions[t] = n
	}
	a.partMu.Unlock()
	return plan, nil
}

func isInternalSink(isinks []processor.InternalSink, topic string) bool {
	for _, s := range isinks {
		if s.Topic == topic {
			return true
		}
	}
	return false
}

// Kafka Streams' settings for the internal topics it creates
// (InternalTopicConfig and its subclasses): every one has
// message.timestamp.type CreateTime; repartition topics are deleted (never by
// time: the application purges what it committed) in 50 MiB segments;
// changelogs are compacted, and those of window and session stores also
// deleted after the store's retention plus
// windowstore.changelog.additional.retention.ms.
const (
	repartitionSegmentBytes = "52428800"
	timestampTypeCreateTime = "CreateTime"
)

// repartitionTopicConfig is RepartitionTopicConfig.properties: Kafka's
// defaults, then the "topic." configs.
func (a *App) repartitionTopicConfig() map[string]string {
	cfg := map[string]string{
		"message.timestamp.type": timestampTypeCreateTime,
		"cleanup.policy":         "delete",
		"segment.bytes":          repartitionSegmentBytes,
		"retention.ms":           "-1",
	}
	maps.Copy(cfg, a.cfg.TopicConfigs)
	return cfg
}

// changelogTopicConfig is UnwindowedUnversionedChangelogTopicConfig or
// WindowedChangelogTopicConfig.properties for a store: Kafka's defaults,
// then the "topic." configs, then the store's own changelog config; a
// windowed store's retention.ms is its retention plus the additional
// retention unless its own config sets retention.ms.
func (a *App) changelogTopicConfig(spec statestore.Spec) map[string]string {
	windowed := spec.Kind == statestore.KindWindow || spec.Kind == statestore.KindTimestampedWindow || spec.Kind == statestore.KindSession
	cfg := map[string]string{"message.timestamp.type": timestampTypeCreateTime, "cleanup.policy": "compact"}
	if windowed {
		cfg["cleanup.policy"] = "compact,delete"
	}
	maps.Copy(cfg, a.cfg.TopicConfigs)
	maps.Copy(cfg, spec.ChangelogConfig)
	if _, own := spec.ChangelogConfig["retention.ms"]; windowed && !own {
		ret, add := spec.Retention.Milliseconds(), a.cfg.WindowStoreChangelogAdditionalRetention.Milliseconds()
		sum := ret + add
		if add > 0 && sum < ret { // Math.addExact overflowed: Kafka takes Long.MAX_VALUE
			sum = math.MaxInt64
		}
		cfg["retention.ms"] = strconv.FormatInt(sum, 10)
	}
	return cfg
}

// ensureTopic creates an internal topic, or checks that the existing one has
// the partition count the topology needs.
func (a *App) ensureTopic(ctx context.Context, name string, partitions int32, configs map[string]*string) error {
	resp, err := a.adm.CreateTopic(ctx, partitions, int16(a.cfg.ReplicationFactor), configs, name)
	if err == nil {
		err = resp.Err
	}
	if err == nil {
		a.log.Info("created internal topic", "topic", name, "partitions", partitions)
		return a.waitTopicReady(ctx, name, partitions)
	}
	if !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("streams: creating internal topic %q: %w", name, err)
	}
	// Another instance created it: wait until the metadata shows it.
	var td kadm.TopicDetail
	deadline := time.Now().Add(30 * time.Second)
	for {
		tds, err := a.adm.ListTopics(ctx, name)
		if err == nil {
			if td = tds[name]; td.Err == nil {
				break
			}
			err = td.Err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("streams: checking internal topic %q: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if got := int32(len(td.Partitions)); got != partitions {
		return fmt.Errorf("%w: internal topic %q has %d partitions; the topology needs %d (delete it, or reset the application)", ErrCopartition, name, got, partitions)
	}
	// Another instance may have created it a moment ago.
	return a.waitTopicReady(ctx, name, partitions)
}

// waitTopicReady waits until a topic just created has a leader for every
// partition in the metadata, so that the offset lookups that follow (restore
// end offsets) do not race its creation.
func (a *App) waitTopicReady(ctx context.Context, name string, partitions int32) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		tds, err := a.adm.ListTopics(ctx, name)
		if err == nil {
			if td, ok := tds[name]; ok && td.Err == nil && int32(len(td.Partitions)) == partitions {
				ready := true
				for _, p := range td.Partitions {
					if p.Err != nil || p.Leader < 0 {
						ready = false
					}
				}
				if ready {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("streams: internal topic %q has no leader for every partition 30s after it was created", name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// balancer makes the task-level group balancer of one worker's client.
func (a *App) balancer(w *worker) *assignor.Balancer {
	return assignor.NewBalancer(assignor.BalancerConfig{
		ProcessID:   a.cfg.ProcessID,
		Endpoint:    a.cfg.ApplicationServer,
		Rack:        a.cfg.Rack,
		Tags:        a.cfg.ClientTags,
		Cooperative: a.cfg.RebalanceProtocol == Cooperative,
		Subscription: func() assignor.SubscriptionInfo {
			return assignor.SubscriptionInfo{
				Capacity:          int32(a.cfg.NumStreamThreads),
				ShutdownRequested: a.shutdownRequested.Load(),
				OffsetSums:        a.offsetSums(),
			}
		},
		Topology: a.taskLayout,
		Assignor: assignor.Config{
			NumStandbyReplicas:    a.cfg.NumStandbyReplicas,
			AcceptableRecoveryLag: a.cfg.AcceptableRecoveryLag,
			MaxWarmupReplicas:     a.cfg.MaxWarmupReplicas,
			RackAwareTags:         a.cfg.RackAwareTags,
		},
		ProbingRebalanceInterval: a.cfg.ProbingRebalanceInterval,
		OnAssignment:             w.onAssignmentInfo,
		Logger:                   w.log,
	})
}

// taskLayout maps the partition counts the group leader sees to tasks: task
// (s, p) reads partition p of every source topic of sub-topology s.
func (a *App) taskLayout(partitions map[string]int32) (assignor.TaskLayout, error) {
	layout := assignor.TaskLayout{Tasks: map[task.ID][]assignor.Partition{}}
	for sub, topics := range a.plan.subTopics {
		n := int32(-1)
		for _, t := range topics {
			c, ok := partitions[t]
			if !ok {
				return layout, fmt.Errorf("%w: the group sees no partitions of topic %q (sub-topology %d)", ErrMissingTopic, t, sub)
			}
			if n >= 0 && c != n {
				return layout, fmt.Errorf("%w: sub-topology %d reads %q with %d partitions and others with %d", ErrCopartition, sub, t, c, n)
			}
			n = c
		}
		for p := int32(0); p < n; p++ {
			id := task.ID{Subtopology: sub, Partition: p}
			for _, t := range topics {
				layout.Tasks[id] = append(layout.Tasks[id], assignor.Partition{Topic: t, Partition: p})
			}
		}
	}
	ends, err := a.changelogEnds()
	if err != nil {
		// Without end offsets every stateful task looks caught up
		// everywhere: assignment still works, only less lag-aware.
		a.log.Warn("listing changelog end offsets for the assignment", "err", err)
	}
	if len(ends) > 0 {
		layout.Stateful = map[task.ID]int64{}
		for id := range layout.Tasks {
			if end, ok := ends[id]; ok {
				layout.Stateful[id] = end
			}
		}
	}
	return layout, nil
}
