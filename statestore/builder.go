package statestore

import (
	"fmt"
	"maps"
	"strconv"
	"time"
)

// Kind is the type of a store.
type Kind int

const (
	// KindKeyValue is a KeyValueStore.
	KindKeyValue Kind = iota + 1
	// KindTimestampedKeyValue is a TimestampedKeyValueStore.
	KindTimestampedKeyValue
	// KindWindow is a WindowStore.
	KindWindow
	// KindSession is a SessionStore.
	KindSession
	// KindTimestampedWindow is a WindowStore of ValueAndTimestamp values
	// (TimestampedWindow).
	KindTimestampedWindow
)

func (k Kind) String() string {
	switch k {
	case KindKeyValue:
		return "key-value"
	case KindTimestampedKeyValue:
		return "timestamped-key-value"
	case KindWindow:
		return "window"
	case KindSession:
		return "session"
	case KindTimestampedWindow:
		return "timestamped-window"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// windowed reports whether stores of the kind keep windows or sessions
// (retention, segments).
func (k Kind) windowed() bool {
	return k == KindWindow || k == KindTimestampedWindow || k == KindSession
}

// timestamped reports whether values of the kind carry a timestamp, which
// the changelog holds as the record's timestamp rather than in the value.
func (k Kind) timestamped() bool {
	return k == KindTimestampedKeyValue || k == KindTimestampedWindow
}

// Spec describes a store: what the topology registers and what the runtime
// needs to create its changelog topic. It is plain data.
type Spec struct {
	Name string
	Kind Kind
	// InMemory stores live in a per-task in-memory engine and are rebuilt
	// from the changelog when the task opens; persistent stores live in the
	// instance's pebble engine.
	InMemory bool
	// Logging: changes go to the changelog topic. Default on.
	Logging bool
	// ChangelogConfig is extra topic config for the changelog topic.
	ChangelogConfig map[string]string
	// Caching: writes go through the task's record cache. Default off.
	Caching bool
	// Retention of window and session stores: windows starting (sessions
	// ending) at or before stream time - Retention are dropped.
	Retention time.Duration
	// WindowSize of window stores: a window is [start, start+WindowSize).
	WindowSize time.Duration
	// SourceTopic, when set, makes the store a materialization of that
	// topic (a table read from it): the topic itself serves as the
	// changelog, so nothing is logged and the store is restored from the
	// topic, up to the application's committed offset of the task's
	// partition. Key-value stores only.
	SourceTopic string
	// SegmentInterval is the time span of one expiry unit of window and
	// session stores; expired segments are range-deleted. Default
	// max(Retention/2, 1 minute), as Kafka Streams.
	SegmentInterval time.Duration
}

// Builder creates one store per task. Builders come from KeyValue,
// TimestampedKeyValue, Window and Session. Builders are immutable and safe
// for concurrent use.
type Builder interface {
	Spec() Spec
	build(c *storeCore) (Store, error)
}

// Store is what every typed store implements. The processor package finds
// a store with Manager.Store and asserts it to KeyValueStore[K, V],
// TimestampedKeyValueStore[K, V], WindowStore[K, V] or SessionStore[K, V].
type Store interface {
	Name() string
}

// Option changes a store's Spec.
type Option interface{ apply(*Spec) }

type optFunc func(*Spec)

func (f optFunc) apply(s *Spec) { f(s) }

// InMemory keeps the store in memory instead of pebble.
func InMemory() Option { return optFunc(func(s *Spec) { s.InMemory = true }) }

// Logging switches change logging on or off (default on), as Kafka
// Streams' withLoggingEnabled / withLoggingDisabled.
func Logging(on bool) Option { return optFunc(func(s *Spec) { s.Logging = on }) }

// ChangelogConfig sets extra config for the changelog topic.
func ChangelogConfig(cfg map[string]string) Option {
	cfg = maps.Clone(cfg)
	return optFunc(func(s *Spec) { s.ChangelogConfig = cfg })
}

// SourceTopic makes the store a materialization of topic: the topic serves
// as its changelog (see Spec.SourceTopic), and logging is turned off.
func SourceTopic(topic string) Option {
	return optFunc(func(s *Spec) { s.SourceTopic, s.Logging = topic, false })
}

// Caching switches the record cache on or off (default off), as Kafka
// Streams' withCachingEnabled.
func Caching(on bool) Option { return optFunc(func(s *Spec) { s.Caching = on }) }

// SegmentInterval overrides the expiry unit of window and session stores.
func SegmentInterval(d time.Duration) Option {
	return optFunc(func(s *Spec) { s.SegmentInterval = d })
}

func newSpec(name string, kind Kind, opts []Option) Spec {
	s := Spec{Name: name, Kind: kind, Logging: true}
	for _, o := range opts {
		o.apply(&s)
	}
	if kind.windowed() && s.SegmentInterval <= 0 {
		s.SegmentInterval = max(s.Retention/2, time.Minute)
	}
	return s
}

func (s Spec) validate() error {
	if s.Name == "" {
		return fmt.Errorf("statestore: store without a name")
	}
	switch s.Kind {
	case KindWindow, KindTimestampedWindow:
		if s.WindowSize <= 0 {
			return fmt.Errorf("statestore: window store %q: window size %v must be positive", s.Name, s.WindowSize)
		}
		if s.Retention < s.WindowSize {
			return fmt.Errorf("statestore: window store %q: retention %v is shorter than the window size %v", s.Name, s.Retention, s.WindowSize)
		}
	case KindSession:
		if s.Retention <= 0 {
			return fmt.Errorf("statestore: session store %q: retention %v must be positive", s.Name, s.Retention)
		}
	}
	if s.SourceTopic != "" && s.Kind != KindKeyValue && s.Kind != KindTimestampedKeyValue {
		return fmt.Errorf("statestore: store %q: only key-value stores can use a source topic as changelog", s.Name)
	}
	if s.Kind.windowed() && s.SegmentInterval < time.Millisecond {
		return fmt.Errorf("statestore: store %q: segment interval %v below 1ms", s.Name, s.SegmentInterval)
	}
	return nil
}

// kvBuilder and friends share one implementation.
type kvBuilder[K, V any] struct {
	spec   Spec
	keys   Serde[K]
	values Serde[V]
}

func (b *kvBuilder[K, V]) Spec() Spec { return cloneSpec(b.spec) }
func (b *kvBuilder[K, V]) build(c *storeCore) (Store, error) {
	return &kvStore[K, V]{c: c, keys: b.keys, values: b.values}, nil
}

func cloneSpec(s Spec) Spec {
	s.ChangelogConfig = maps.Clone(s.ChangelogConfig)
	return s
}

// KeyValue returns a builder of KeyValueStore[K, V] stores.
func KeyValue[K, V any](name string, keys Serde[K], values Serde[V], opts ...Option) Builder {
	return &kvBuilder[K, V]{spec: newSpec(name, KindKeyValue, opts), keys: keys, values: values}
}

// TimestampedKeyValue returns a builder of TimestampedKeyValueStore[K, V]
// stores: values are kept with a timestamp.
func TimestampedKeyValue[K, V any](name string, keys Serde[K], values Serde[V], opts ...Option) Builder {
	return &kvBuilder[K, ValueAndTimestamp[V]]{
		spec:   newSpec(name, KindTimestampedKeyValue, opts),
		keys:   keys,
		values: timestampedSerde[V]{values},
	}
}

type windowBuilder[K, V any] struct {
	spec   Spec
	keys   Serde[K]
	values Serde[V]
}

func (b *windowBuilder[K, V]) Spec() Spec { return cloneSpec(b.spec) }
func (b *windowBuilder[K, V]) build(c *storeCore) (Store, error) {
	return newWindowStore(c, b.keys, b.values)
}

// Window returns a builder of WindowStore[K, V] stores holding windows of
// windowSize for retention.
func Window[K, V any](name string, retention, windowSize time.Duration, keys Serde[K], values Serde[V], opts ...Option) Builder {
	opts = append([]Option{optFunc(func(s *Spec) { s.Retention, s.WindowSize = retention, windowSize })}, opts...)
	return &windowBuilder[K, V]{spec: newSpec(name, KindWindow, opts), keys: keys, values: values}
}

// TimestampedWindow returns a builder of WindowStore[K,
// ValueAndTimestamp[V]] stores: a window store whose values carry a
// timestamp (the windowed aggregations' store).
func TimestampedWindow[K, V any](name string, retention, windowSize time.Duration, keys Serde[K], values Serde[V], opts ...Option) Builder {
	opts = append([]Option{optFunc(func(s *Spec) { s.Retention, s.WindowSize = retention, windowSize })}, opts...)
	return &windowBuilder[K, ValueAndTimestamp[V]]{spec: newSpec(name, KindTimestampedWindow, opts), keys: keys, values: timestampedSerde[V]{values}}
}

type sessionBuilder[K, V any] struct {
	spec   Spec
	keys   Serde[K]
	values Serde[V]
}

func (b *sessionBuilder[K, V]) Spec() Spec { return cloneSpec(b.spec) }
func (b *sessionBuilder[K, V]) build(c *storeCore) (Store, error) {
	return newSessionStore(c, b.keys, b.values)
}

// Session returns a builder of SessionStore[K, V] stores keeping sessions
// for retention after they end.
func Session[K, V any](name string, retention time.Duration, keys Serde[K], values Serde[V], opts ...Option) Builder {
	opts = append([]Option{optFunc(func(s *Spec) { s.Retention = retention })}, opts...)
	return &sessionBuilder[K, V]{spec: newSpec(name, KindSession, opts), keys: keys, values: values}
}

// WindowChangelogAdditionalRetention is added to the retention of window
// and session stores for their changelog topics' retention.ms, as Kafka
// Streams' windowstore.changelog.additional.retention.ms (default 1 day).
const WindowChangelogAdditionalRetention = 24 * time.Hour

// ChangelogTopicConfig returns the topic config to create the store's
// changelog with: cleanup.policy=compact for key-value stores;
// compact,delete with retention.ms = Retention +
// WindowChangelogAdditionalRetention for window and session stores. Entries
// of Spec.ChangelogConfig override these.
func (s Spec) ChangelogTopicConfig() map[string]string {
	cfg := map[string]string{"cleanup.policy": "compact"}
	if s.Kind.windowed() {
		cfg["cleanup.policy"] = "compact,delete"
		cfg["retention.ms"] = strconv.FormatInt((s.Retention + WindowChangelogAdditionalRetention).Milliseconds(), 10)
	}
	maps.Copy(cfg, s.ChangelogConfig)
	return cfg
}
