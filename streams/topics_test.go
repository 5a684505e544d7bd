package streams_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
)

// internalTopicsTopology has one of each kind of internal topic: a
// repartition topic (group by value), a key-value changelog (its count), a
// window store changelog (a count per 1-minute tumbling window, no grace)
// and a session store changelog (a count per session with a 5-minute gap).
func internalTopicsTopology(t *testing.T, in string) *processor.Topology {
	b := dsl.NewBuilder()
	s := dsl.NewStream(b, []string{in}, serde.String(), serde.String())
	dsl.GroupBy(s, func(_, v string) string { return v }, serde.String()).Count(dsl.StoreName("by-value"))
	dsl.WindowedBy(s.GroupByKey(), dsl.TumblingWindows(time.Minute, 0)).Count(dsl.StoreName("per-minute"))
	dsl.SessionWindowedBy(s.GroupByKey(), dsl.SessionWindowsWithGap(5*time.Minute, 0)).Count(dsl.StoreName("sessions"))
	top, err := b.Build()
	must(t, err)
	return top
}

// describeInternal returns the configs that matter of every topic whose
// name starts with prefix, keyed by the rest of the name.
func describeInternal(t *testing.T, env *kafkatest.Env, prefix string, keys []string) map[string]map[string]string {
	t.Helper()
	adm := env.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tds, err := adm.ListTopics(ctx)
	must(t, err)
	var names []string
	for _, n := range tds.Names() {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	must(t, err)
	out := map[string]map[string]string{}
	for _, rc := range rcs {
		must(t, rc.Err)
		m := map[string]string{}
		for _, c := range rc.Configs {
			for _, k := range keys {
				if c.Key == k && c.Value != nil {
					m[k] = *c.Value
				}
			}
		}
		out[strings.TrimPrefix(rc.Name, prefix)] = m
	}
	return out
}

// TestInternalTopicConfigs: Sluice creates its internal topics with Kafka
// Streams' configs. Expected values follow RepartitionTopicConfig,
// UnwindowedUnversionedChangelogTopicConfig and WindowedChangelogTopicConfig
// (InternalTopicConfigTest.shouldSetCreateTimeByDefaultFor*,
// shouldAugmentRetentionMsWithWindowedChangelog): repartition delete, 50 MiB
// segments, retention -1; changelogs compact; window and session changelogs
// compact,delete with retention = store retention (window size + grace;
// session gap + grace, as the DSL sizes them) + 1 day; all CreateTime. With
// "topic." configs, those override the defaults (library < global <
// per-topic), except a windowed changelog's computed retention.ms, which only
// the store's own config overrides.
func TestInternalTopicConfigs(t *testing.T) {
	env := kafkatest.Cluster(t)
	in := env.Topic(t, 2, nil)
	keys := []string{"cleanup.policy", "segment.bytes", "retention.ms", "message.timestamp.type", "max.message.bytes"}
	const day = 86400000
	for _, c := range []struct {
		name   string
		topics map[string]string
		want   map[string]map[string]string
	}{
		{"defaults", nil, map[string]map[string]string{
			"by-value-repartition": {"cleanup.policy": "delete", "segment.bytes": "52428800", "retention.ms": "-1", "message.timestamp.type": "CreateTime"},
			"by-value-changelog":   {"cleanup.policy": "compact", "message.timestamp.type": "CreateTime"},
			"per-minute-changelog": {"cleanup.policy": "compact,delete", "retention.ms": fmt.Sprint(60000 + day), "message.timestamp.type": "CreateTime"},
			"sessions-changelog":   {"cleanup.policy": "compact,delete", "retention.ms": fmt.Sprint(300000 + day), "message.timestamp.type": "CreateTime"},
		}},
		{"topic-prefixed", map[string]string{"retention.ms": "3600000", "max.message.bytes": "2000000", "segment.bytes": "10485760"}, map[string]map[string]string{
			"by-value-repartition": {"cleanup.policy": "delete", "segment.bytes": "10485760", "retention.ms": "3600000", "message.timestamp.type": "CreateTime", "max.message.bytes": "2000000"},
			"by-value-changelog":   {"cleanup.policy": "compact", "segment.bytes": "10485760", "retention.ms": "3600000", "message.timestamp.type": "CreateTime", "max.message.bytes": "2000000"},
			"per-minute-changelog": {"cleanup.policy": "compact,delete", "segment.bytes": "10485760", "retention.ms": fmt.Sprint(60000 + day), "message.timestamp.type": "CreateTime", "max.message.bytes": "2000000"},
			"sessions-changelog":   {"cleanup.policy": "compact,delete", "segment.bytes": "10485760", "retention.ms": fmt.Sprint(300000 + day), "message.timestamp.type": "CreateTime", "max.message.bytes": "2000000"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			appID := env.AppID(t)
			cfg := testConfig(env, appID)
			cfg.StateDir = t.TempDir()
			cfg.TopicConfigs = c.topics
			startApp(t, internalTopicsTopology(t, in), cfg)
			got := describeInternal(t, env, appID+"-", keys)
			for topic, want := range c.want {
				g, ok := got[topic]
				if !ok {
					t.Errorf("no internal topic %s-%s (have %v)", appID, topic, got)
					continue
				}
				for _, k := range keys {
					w, set := want[k]
					if !set {
						continue // the broker's default
					}
					if g[k] != w {
						t.Errorf("%s: %s = %q, want %q", topic, k, g[k], w)
					}
				}
			}
		})
	}
}

// TestInternalTopicWrongPartitions: an internal topic that already exists
// with another partition count fails the start with an error naming the topic
// and both counts (InternalTopicManager: "Existing internal topic %s has
// invalid partitions: expected: %d; actual: %d").
func TestInternalTopicWrongPartitions(t *testing.T) {
	env := kafkatest.Cluster(t)
	in := env.Topic(t, 2, nil)
	appID := env.AppID(t)
	adm := env.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := appID + "-by-value-repartition"
	_, err := adm.CreateTopic(ctx, 3, -1, nil, name)
	must(t, err)
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), name) })
	cfg := testConfig(env, appID)
	cfg.StateDir = t.TempDir()
	app, err := streams.New(internalTopicsTopology(t, in), cfg)
	must(t, err)
	err = app.Start(ctx)
	if err == nil {
		_ = app.Close(ctx)
		t.Fatal("Start succeeded with a repartition topic of 3 partitions where the topology needs 2")
	}
	if !errors.Is(err, streams.ErrCopartition) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "3") || !strings.Contains(err.Error(), "2") {
		t.Errorf("Start error %q does not name %s with 3 and 2 partitions", err, name)
	}
}
