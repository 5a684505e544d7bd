package streams

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
application.id: orders
bootstrap.servers: [127.0.0.1:9092, 127.0.0.1:9093]
num.stream.threads: 4
processing.guarantee: exactly_once_v2
commit.interval.ms: 250
max.task.idle.ms: 0
statestore.cache.max.bytes: 1048576
num.standby.replicas: 1
client.rack: eu-1a
default.deserialization.exception.handler: dead-letter
errors.dead.letter.queue.topic.name: orders-dlq
rebalance.protocol: eager
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ApplicationID != "orders" || len(c.Brokers) != 2 || c.NumStreamThreads != 4 || c.Guarantee != ExactlyOnceV2 ||
		c.CommitInterval != 250*time.Millisecond || c.CacheMaxBytes != 1<<20 || c.NumStandbyReplicas != 1 || c.Rack != "eu-1a" ||
		c.DeserializationHandler != DeadLetter || c.DeadLetterTopic != "orders-dlq" ||
		c.RebalanceProtocol != Eager {
		t.Errorf("parsed %+v", c)
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := ParseConfig([]byte("application.id: x\ncommit.interval: 5\n")); err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "commit.interval") {
		t.Errorf("unknown key: %v", err)
	}
	cases := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.ApplicationID = "" }, "application.id is required"},
		{func(c *Config) { c.Brokers = nil }, "bootstrap.servers is required"},
		{func(c *Config) { c.Guarantee = "exactly_once" }, `processing.guarantee "exactly_once"`},
		{func(c *Config) { c.NumStreamThreads = -1 }, "num.stream.threads is -1"},
		{func(c *Config) { c.DeserializationHandler = DeadLetter }, "errors.dead.letter.queue.topic.name is not set"},
		{func(c *Config) { c.ProductionHandler = DeadLetter }, "production.exception.handler"},
		{func(c *Config) { c.ReplicationFactor = -3 }, "replication.factor is -3"},
		{func(c *Config) { c.RebalanceProtocol = "incremental" }, `rebalance.protocol "incremental"`},
		{func(c *Config) { c.AutoOffsetReset = "smallest" }, `auto.offset.reset "smallest"`},
		{func(c *Config) { c.AutoOffsetReset = "by_duration:1h" }, `auto.offset.reset "by_duration:1h"`},
	}
	for _, tc := range cases {
		c := Config{ApplicationID: "a", Brokers: []string{"b:1"}}
		tc.mod(&c)
		c.applyDefaults()
		err := c.validate()
		if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{ApplicationID: "a", Brokers: []string{"b:1"}}
	c.applyDefaults()
	if c.CommitInterval != 30*time.Second || c.NumStreamThreads != 1 || c.CacheMaxBytes != 10<<20 || c.BufferedRecordsPerPartition != 1000 ||
		c.AcceptableRecoveryLag != 10000 || c.MaxWarmupReplicas != 2 || c.ProbingRebalanceInterval != 10*time.Minute || c.ReplicationFactor != -1 ||
		c.RebalanceProtocol != Cooperative {
		t.Errorf("defaults %+v", c)
	}
	e := Config{ApplicationID: "a", Brokers: []string{"b:1"}, Guarantee: ExactlyOnceV2}
	e.applyDefaults()
	if e.CommitInterval != 100*time.Millisecond {
		t.Errorf("EOS commit interval %v, want 100ms", e.CommitInterval)
	}
}

// TestAutoOffsetResetValues: Kafka Streams' default is earliest; the values
// are earliest, latest, none and by_duration:<ISO-8601 duration> (Kafka 4.x
// AutoOffsetReset.byDuration; Java's Duration.parse format).
func TestAutoOffsetResetValues(t *testing.T) {
	c, err := ParseConfig([]byte("application.id: a\nbootstrap.servers: [b:1]\nauto.offset.reset: by_duration:P1DT2H30M1.5S\n"))
	if err != nil {
		t.Fatal(err)
	}
	kind, d, err := parseOffsetReset(c.AutoOffsetReset)
	if want := 26*time.Hour + 30*time.Minute + 1500*time.Millisecond; err != nil || kind != "by_duration" || d != want {
		t.Errorf("parsed %q as %s %v, %v; want by_duration %v", c.AutoOffsetReset, kind, d, err, want)
	}
	var def Config
	def.applyDefaults()
	if def.AutoOffsetReset != ResetEarliest {
		t.Errorf("default auto.offset.reset %q, want earliest", def.AutoOffsetReset)
	}
	for _, v := range []string{"earliest", "latest", "none", "by_duration:PT0S", "by_duration:PT15M"} {
		if _, _, err := parseOffsetReset(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"", "by_duration:", "by_duration:P", "by_duration:PT", "by_duration:-PT1H", "by_duration:P1H", "by_duration:PT1D"} {
		if _, _, err := parseOffsetReset(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

// TestTopicPrefixedConfigs: "topic."-prefixed keys are Kafka Streams'
// internal-topic configs; windowstore.changelog.additional.retention.ms is
// read (default 1 day). A store's own changelog config wins over both, and
// sets a windowed changelog's retention.ms itself
// (InternalTopicConfigTest.shouldUseSuppliedConfigsForWindowedChangelogConfig,
// shouldAugmentRetentionMsWithWindowedChangelog: retention 10 + additional 20
// = 30).
func TestTopicPrefixedConfigs(t *testing.T) {
	c, err := ParseConfig([]byte("application.id: a\nbootstrap.servers: [b:1]\ntopic.segment.bytes: 1048576\ntopic.message.timestamp.type: LogAppendTime\nwindowstore.changelog.additional.retention.ms: 20\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.TopicConfigs["segment.bytes"] != "1048576" || c.WindowStoreChangelogAdditionalRetention != 20*time.Millisecond {
		t.Fatalf("parsed %v, %v", c.TopicConfigs, c.WindowStoreChangelogAdditionalRetention)
	}
	if _, err := ParseConfig([]byte("application.id: a\n\ntopic.: 1\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bare topic. prefix: %v", err)
	}
	c.applyDefaults()
	a := &App{cfg: c}
	win := statestore.Window("w", 10*time.Millisecond, time.Millisecond, serde.String(), serde.String()).Spec()
	got := a.changelogTopicConfig(win)
	if got["retention.ms"] != "30" || got["cleanup.policy"] != "compact,delete" || got["message.timestamp.type"] != "LogAppendTime" || got["segment.bytes"] != "1048576" {
		t.Errorf("window changelog config %v", got)
	}
	own := statestore.Window("w", 10*time.Millisecond, time.Millisecond, serde.String(), serde.String(), statestore.ChangelogConfig(map[string]string{"retention.ms": "5", "segment.bytes": "2048"})).Spec()
	if got := a.changelogTopicConfig(own); got["retention.ms"] != "5" || got["segment.bytes"] != "2048" {
		t.Errorf("store's own config lost: %v", got)
	}
	if got := a.repartitionTopicConfig(); got["segment.bytes"] != "1048576" || got["retention.ms"] != "-1" || got["cleanup.policy"] != "delete" {
		t.Errorf("repartition config %v", got)
	}
	var def Config
	def.applyDefaults()
	if def.WindowStoreChangelogAdditionalRetention != 24*time.Hour {
		t.Errorf("default additional retention %v, want 24h", def.WindowStoreChangelogAdditionalRetention)
	}
}
