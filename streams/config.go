package streams

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluicestreams/sluice/changelog"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"
)

// Guarantee is processing.guarantee.
type Guarantee string

const (
	// AtLeastOnce commits offsets after the records they produced are
	// acknowledged: a crash may reprocess, never lose (the default).
	AtLeastOnce Guarantee = "at_least_once"
	// ExactlyOnceV2 runs each worker's output, state changes and offsets in
	// Kafka transactions (exactly_once_v2).
	ExactlyOnceV2 Guarantee = "exactly_once_v2"
)

// RebalanceProtocol is how the group moves tasks between members.
type RebalanceProtocol string

const (
	// Cooperative (the default, as in Kafka Streams since 2.4) is
	// incremental cooperative rebalancing: a member keeps running the tasks
	// that stay its own through a rebalance, and a task that changes owner
	// is first given up by the old owner, then taken by the new one in a
	// follow-up rebalance.
	Cooperative RebalanceProtocol = "cooperative"
	// Eager stops every task of every member at each rebalance and starts
	// the assigned ones again. Every instance of an application must use
	// the same protocol.
	Eager RebalanceProtocol = "eager"
)

// ErrorResponse is what an error handler tells the runtime to do.
type ErrorResponse string

const (
	// Fail stops the worker (and, through the uncaught-error handler, the
	// application). The default for every handler.
	Fail ErrorResponse = "fail"
	// Continue skips the record, counting it in the metrics and logging it.
	Continue ErrorResponse = "continue"
	// DeadLetter writes the record's original bytes and headers, plus headers
	// naming topic, partition, offset and error, to
	// Config.DeadLetterTopic, then continues.
	DeadLetter ErrorResponse = "dead-letter"
)

// Config configures an App. The zero value of every field except
// ApplicationID and Brokers means Kafka Streams' default, given on each
// field. YAML keys are Kafka Streams' config names (see ParseConfig).
//
// A Config is a plain value; App copies it in New.
type Config struct {
	// ApplicationID (application.id) names the consumer group, the
	// transactional ids, the state directory and the internal topics.
	// Required.
	ApplicationID string
	// Brokers (bootstrap.servers) are the seed brokers. Required.
	Brokers []string
	// NumStreamThreads (num.stream.threads) is the number of workers, each a
	// goroutine with its own Kafka client and group membership. Default 1.
	NumStreamThreads int
	// Guarantee (processing.guarantee). Default AtLeastOnce.
	Guarantee Guarantee
	// CommitInterval (commit.interval.ms). Default 30s, or 100ms under
	// ExactlyOnceV2.
	CommitInterval time.Duration
	// StateDir (state.dir) holds local state under
	// <StateDir>/<ApplicationID>/. Default <os.TempDir()>/sluice.
	StateDir string
	// CacheMaxBytes (statestore.cache.max.bytes) bounds the record caches of
	// all tasks of this instance together. Default 10 MiB.
	CacheMaxBytes int64
	// PebbleCacheBytes bounds the block cache of the instance's pebble
	// database, shared by every persistent store of every task. Default 8
	// MiB. With PebbleMemTableBytes (default 4 MiB; pebble keeps at most
	// two memtables) and CacheMaxBytes it bounds the memory state takes,
	// whatever the number of tasks and stores.
	PebbleCacheBytes    int64
	PebbleMemTableBytes int64
	// RestoreListener hears about state restoration (start, batches,
	// end); nil means none. Restorations are also logged at Info with
	// their figures.
	RestoreListener changelog.Listener
	// StandbyListener hears about standby tasks applying their changelogs;
	// nil means none.
	StandbyListener changelog.StandbyListener
	// MaxTaskIdle (max.task.idle.ms): how long a task waits for an empty
	// input partition that may still have data. Default 0; negative never
	// waits.
	MaxTaskIdle time.Duration
	// AutoOffsetReset (auto.offset.reset) says where a source topic's
	// partition with no committed offset starts: "earliest" (the default,
	// as in Kafka Streams), "latest", "none" (the worker fails with an
	// error naming the partition), or "by_duration:<ISO-8601 duration>"
	// (Kafka 4.x's AutoOffsetReset.byDuration: the first record stamped at
	// or after now minus the duration, e.g. "by_duration:PT1H"). A source's
	// own dsl.WithOffsetReset overrides it; repartition topics always start
	// at the earliest offset, as in Kafka Streams. The same policy applies
	// when a committed offset is out of range.
	AutoOffsetReset string
	// BufferedRecordsPerPartition (buffered.records.per.partition): fetching
	// of a partition pauses above it. Default 1000.
	BufferedRecordsPerPartition int
	// NumStandbyReplicas (num.standby.replicas). Default 0.
	NumStandbyReplicas int
	// AcceptableRecoveryLag (acceptable.recovery.lag). Default 10000.
	AcceptableRecoveryLag int64
	// MaxWarmupReplicas (max.warmup.replicas). Default 2.
	MaxWarmupReplicas int
	// ProbingRebalanceInterval (probing.rebalance.interval.ms). Default 10m.
	ProbingRebalanceInterval time.Duration
	// TopicConfigs are Kafka Streams' "topic."-prefixed settings, without
	// the prefix (segment.bytes, retention.ms, ...): topic configs for every
	// internal topic Sluice creates. They override Kafka Streams' own
	// defaults for internal topics (cleanup.policy and so on) and are
	// overridden by a store's own changelog config; the retention of a
	// window or session store's changelog is still the store's retention
	// plus WindowStoreChangelogAdditionalRetention unless the store's own
	// config sets retention.ms, as in Kafka Streams. Default none.
	TopicConfigs map[string]string
	// WindowStoreChangelogAdditionalRetention
	// (windowstore.changelog.additional.retention.ms) is added to a window
	// or session store's retention for its changelog's retention.ms.
	// Default 24h.
	WindowStoreChangelogAdditionalRetention time.Duration
	// ReplicationFactor (replication.factor) of internal topics; -1 (the
	// default) means the broker's default.
	ReplicationFactor int
	// ApplicationServer (application.server) is this instance's host:port
	// for interactive queries, shared with the group.
	ApplicationServer string
	// Rack is this instance's rack (client.rack), used for rack-aware
	// placement of tasks and standbys.
	Rack string
	// ClientTags (client.tag.*) label this instance for rack-aware standby
	// placement; RackAwareTags (rack.aware.assignment.tags) names the tags
	// that count.
	ClientTags    map[string]string
	RackAwareTags []string
	// DeserializationHandler (default.deserialization.exception.handler):
	// Fail (default), Continue or DeadLetter.
	DeserializationHandler ErrorResponse
	// ProcessingHandler (processing.exception.handler): Fail (default),
	// Continue or DeadLetter.
	ProcessingHandler ErrorResponse
	// ProductionHandler (production.exception.handler): Fail (default) or
	// Continue.
	ProductionHandler ErrorResponse
	// DeadLetterTopic (errors.dead.letter.queue.topic.name) receives records
	// a handler answered DeadLetter for. It must exist.
	DeadLetterTopic string
	// RepartitionPurgeInterval (repartition.purge.interval.ms): how often
	// records of repartition topics that were committed are deleted
	// (delete-records). Default 30s.
	RepartitionPurgeInterval time.Duration
	// SessionTimeout of the group membership. Default 45s (Kafka's).
	SessionTimeout time.Duration
	// RebalanceTimeout of the group membership. Default 60s.
	RebalanceTimeout time.Duration
	// RebalanceProtocol (rebalance.protocol): Cooperative (default) or
	// Eager. Every instance of an application must use the same one.
	RebalanceProtocol RebalanceProtocol

	// ProcessID identifies this instance in the group; default a random id.
	ProcessID string
	// Logger receives the runtime's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the runtime's Prometheus metrics; nil registers
	// nothing.
	Registerer prometheus.Registerer
	// ClientOpts are added to every Kafka client the runtime makes (TLS,
	// SASL, ...). Options that the runtime sets itself (group, balancers,
	// transactional id) are overridden.
	ClientOpts []kgo.Opt
}

// ErrConfig is matched (errors.Is) by every configuration error.
var ErrConfig = errors.New("streams: invalid config")

func (c *Config) applyDefaults() {
	if c.NumStreamThreads == 0 {
		c.NumStreamThreads = 1
	}
	if c.Guarantee == "" {
		c.Guarantee = AtLeastOnce
	}
	if c.CommitInterval == 0 {
		if c.Guarantee == ExactlyOnceV2 {
			c.CommitInterval = 100 * time.Millisecond
		} else {
			c.CommitInterval = 30 * time.Second
		}
	}
	if c.StateDir == "" {
		c.StateDir = filepath.Join(os.TempDir(), "sluice")
	}
	if c.CacheMaxBytes == 0 {
		c.CacheMaxBytes = 10 << 20
	}
	if c.BufferedRecordsPerPartition == 0 {
		c.BufferedRecordsPerPartition = 1000
	}
	if c.AutoOffsetReset == "" {
		c.AutoOffsetReset = ResetEarliest
	}
	if c.AcceptableRecoveryLag == 0 {
		c.AcceptableRecoveryLag = 10000
	}
	if c.MaxWarmupReplicas == 0 {
		c.MaxWarmupReplicas = 2
	}
	if c.ProbingRebalanceInterval == 0 {
		c.ProbingRebalanceInterval = 10 * time.Minute
	}
	if c.WindowStoreChangelogAdditionalRetention == 0 {
		c.WindowStoreChangelogAdditionalRetention = 24 * time.Hour
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	for _, h := range []*ErrorResponse{&c.DeserializationHandler, &c.ProcessingHandler, &c.ProductionHandler} {
		if *h == "" {
			*h = Fail
		}
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 45 * time.Second
	}
	if c.RepartitionPurgeInterval == 0 {
		c.RepartitionPurgeInterval = 30 * time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 60 * time.Second
	}
	if c.RebalanceProtocol == "" {
		c.RebalanceProtocol = Cooperative
	}
	if c.ProcessID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.ProcessID = hex.EncodeToString(b[:])
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch {
	case c.ApplicationID == "":
		return bad("application.id is required")
	case len(c.Brokers) == 0:
		return bad("bootstrap.servers is required")
	case c.NumStreamThreads < 1:
		return bad("num.stream.threads is %d; it must be at least 1", c.NumStreamThreads)
	case c.Guarantee != AtLeastOnce && c.Guarantee != ExactlyOnceV2:
		return bad("processing.guarantee %q is not %q or %q", c.Guarantee, AtLeastOnce, ExactlyOnceV2)
	case c.RebalanceProtocol != Cooperative && c.RebalanceProtocol != Eager:
		return bad("rebalance.protocol %q is not %q or %q", c.RebalanceProtocol, Cooperative, Eager)
	case c.CommitInterval < 0:
		return bad("commit.interval.ms is negative")
	case c.CacheMaxBytes < 0:
		return bad("statestore.cache.max.bytes is negative")
	case c.BufferedRecordsPerPartition < 1:
		return bad("buffered.records.per.partition is %d; it must be at least 1", c.BufferedRecordsPerPartition)
	case c.NumStandbyReplicas < 0:
		return bad("num.standby.replicas is negative")
	case c.AcceptableRecoveryLag < 0:
		return bad("acceptable.recovery.lag is negative")
	case c.MaxWarmupReplicas < 1:
		return bad("max.warmup.replicas is %d; it must be at least 1", c.MaxWarmupReplicas)
	case c.WindowStoreChangelogAdditionalRetention < 0:
		return bad("windowstore.changelog.additional.retention.ms is negative")
	case c.ReplicationFactor < -1 || c.ReplicationFactor == 0:
		return bad("replication.factor is %d; it must be -1 or positive", c.ReplicationFactor)
	}
	if _, _, err := parseOffsetReset(c.AutoOffsetReset); err != nil {
		return bad("%v", err)
	}
	for name, h := range map[string]ErrorResponse{
		"default.deserialization.exception.handler": c.DeserializationHandler,
		"processing.exception.handler":              c.ProcessingHandler,
	} {
		if h != Fail && h != Continue && h != DeadLetter {
			return bad("%s %q is not fail, continue or dead-letter", name, h)
		}
		if h == DeadLetter && c.DeadLetterTopic == "" {
			return bad("%s is dead-letter but errors.dead.letter.queue.topic.name is not set", name)
		}
	}
	if c.ProductionHandler != Fail && c.ProductionHandler != Continue {
		return bad("production.exception.handler %q is not fail or continue", c.ProductionHandler)
	}
	return nil
}

// topicPrefix marks Kafka Streams' internal-topic configs (StreamsConfig
// TOPIC_PREFIX).
const topicPrefix = "topic."

// yamlConfig is the YAML form of Config: Kafka Streams' names, times in ms.
type yamlConfig struct {
	ApplicationID               string            `yaml:"application.id"`
	BootstrapServers            []string          `yaml:"bootstrap.servers"`
	NumStreamThreads            int               `yaml:"num.stream.threads"`
	ProcessingGuarantee         string            `yaml:"processing.guarantee"`
	CommitIntervalMs            *int64            `yaml:"commit.interval.ms"`
	StateDir                    string            `yaml:"state.dir"`
	CacheMaxBytes               int64             `yaml:"statestore.cache.max.bytes"`
	PebbleCacheBytes            int64             `yaml:"pebble.cache.bytes"`
	PebbleMemTableBytes         int64             `yaml:"pebble.memtable.bytes"`
	MaxTaskIdleMs               *int64            `yaml:"max.task.idle.ms"`
	AutoOffsetReset             string            `yaml:"auto.offset.reset"`
	BufferedRecordsPerPartition int               `yaml:"buffered.records.per.partition"`
	NumStandbyReplicas          int               `yaml:"num.standby.replicas"`
	AcceptableRecoveryLag       int64             `yaml:"acceptable.recovery.lag"`
	MaxWarmupReplicas           int               `yaml:"max.warmup.replicas"`
	ProbingRebalanceIntervalMs  *int64            `yaml:"probing.rebalance.interval.ms"`
	ReplicationFactor           int               `yaml:"replication.factor"`
	ApplicationServer           string            `yaml:"application.server"`
	ClientRack                  string            `yaml:"client.rack"`
	ClientTags                  map[string]string `yaml:"client.tags"`
	RackAwareAssignmentTags     []string          `yaml:"rack.aware.assignment.tags"`
	DeserializationHandler      string            `yaml:"default.deserialization.exception.handler"`
	ProcessingHandler           string            `yaml:"processing.exception.handler"`
	ProductionHandler           string            `yaml:"production.exception.handler"`
	DeadLetterTopic             string            `yaml:"errors.dead.letter.queue.topic.name"`
	SessionTimeoutMs            *int64            `yaml:"session.timeout.ms"`
	RepartitionPurgeIntervalMs  *int64            `yaml:"repartition.purge.interval.ms"`
	RebalanceTimeoutMs          *int64            `yaml:"rebalance.timeout.ms"`
	RebalanceProtocol           string            `yaml:"rebalance.protocol"`
	ProcessID                   string            `yaml:"process.id"`
	WindowStoreChangelogRetMs   *int64            `yaml:"windowstore.changelog.additional.retention.ms"`
	// Other holds the keys not named above: the "topic."-prefixed topic
	// configs, and unknown keys (errors).
	Other map[string]yaml.Node `yaml:",inline"`
}

func ms(v *int64) time.Duration {
	if v == nil {
		return 0
	}
	if *v == 0 {
		return time.Nanosecond // an explicit 0 is kept distinct from "unset"
	}
	return time.Duration(*v) * time.Millisecond
}

// ParseConfig decodes a YAML configuration with Kafka Streams' config names
// (application.id, bootstrap.servers, commit.interval.ms, ...). Unknown keys
// are errors naming the key and line. Programmatic fields (Logger,
// Registerer, ClientOpts) are left zero.
func ParseConfig(data []byte) (Config, error) {
	var y yamlConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c := Config{
		ApplicationID:               y.ApplicationID,
		Brokers:                     y.BootstrapServers,
		NumStreamThreads:            y.NumStreamThreads,
		Guarantee:                   Guarantee(y.ProcessingGuarantee),
		CommitInterval:              ms(y.CommitIntervalMs),
		StateDir:                    y.StateDir,
		CacheMaxBytes:               y.CacheMaxBytes,
		PebbleCacheBytes:            y.PebbleCacheBytes,
		PebbleMemTableBytes:         y.PebbleMemTableBytes,
		BufferedRecordsPerPartition: y.BufferedRecordsPerPartition,
		AutoOffsetReset:             y.AutoOffsetReset,
		NumStandbyReplicas:          y.NumStandbyReplicas,
		AcceptableRecoveryLag:       y.AcceptableRecoveryLag,
		MaxWarmupReplicas:           y.MaxWarmupReplicas,
		ProbingRebalanceInterval:    ms(y.ProbingRebalanceIntervalMs),
		ReplicationFactor:           y.ReplicationFactor,
		ApplicationServer:           y.ApplicationServer,
		Rack:                        y.ClientRack,
		ClientTags:                  y.ClientTags,
		RackAwareTags:               y.RackAwareAssignmentTags,
		DeserializationHandler:      ErrorResponse(y.DeserializationHandler),
		ProcessingHandler:           ErrorResponse(y.ProcessingHandler),
		ProductionHandler:           ErrorResponse(y.ProductionHandler),
		DeadLetterTopic:             y.DeadLetterTopic,
		SessionTimeout:              ms(y.SessionTimeoutMs),
		RepartitionPurgeInterval:    ms(y.RepartitionPurgeIntervalMs),
		RebalanceTimeout:            ms(y.RebalanceTimeoutMs),
		RebalanceProtocol:           RebalanceProtocol(y.RebalanceProtocol),
		ProcessID:                   y.ProcessID,
	}
	c.WindowStoreChangelogAdditionalRetention = ms(y.WindowStoreChangelogRetMs)
	for _, k := range slices.Sorted(maps.Keys(y.Other)) {
		n := y.Other[k]
		name, ok := strings.CutPrefix(k, topicPrefix)
		if !ok || name == "" {
			return Config{}, fmt.Errorf("%w: line %d: unknown key %q", ErrConfig, n.Line, k)
		}
		if n.Kind != yaml.ScalarNode {
			return Config{}, fmt.Errorf("%w: line %d: %s must be a single value", ErrConfig, n.Line, k)
		}
		if c.TopicConfigs == nil {
			c.TopicConfigs = map[string]string{}
		}
		c.TopicConfigs[name] = n.Value
	}
	if y.MaxTaskIdleMs != nil {
		c.MaxTaskIdle = time.Duration(*y.MaxTaskIdleMs) * time.Millisecond
	}
	return c, nil
}

// LoadConfig reads and parses a YAML configuration file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
