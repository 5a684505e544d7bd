package processor

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"

	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topology is a graph of source, processor and sink nodes with the state
// stores connected to them. Build it with AddSource, AddProcessor, AddSink and
// AddStateStore; a parent must be added before its children, so a topology
// cannot contain a cycle.
//
// Every Add function returns an error naming what is wrong, and the topology
// remembers the first one: Validate (and the runtime, when it starts) reports
// it even if the caller ignored it.
//
// A Topology is not safe for concurrent use while it is being built. Once
// built, the runtime only reads it, from any number of goroutines.
type Topology struct {
	nodes   []*node
	byName  map[string]*node
	stores  []*storeDef
	storeBy map[string]*storeDef
	readers map[string]*node // topic -> the source that reads it
	err     error

	built *structure // cached by Validate; reset by every Add
}

// NewTopology returns an empty topology.
func NewTopology() *Topology {
	return &Topology{
		byName:  map[string]*node{},
		storeBy: map[string]*storeDef{},
		readers: map[string]*node{},
	}
}

type nodeKind uint8

const (
	kindSource nodeKind = iota
	kindProcessor
	kindSink
)

func (k nodeKind) String() string {
	switch k {
	case kindSource:
		return "source"
	case kindProcessor:
		return "processor"
	}
	return "sink"
}

// node is the definition of one node; TaskGraph makes a runtime instance of it
// per task through make.
type node struct {
	name     string
	kind     nodeKind
	index    int
	parents  []*node
	children []*node
	stores   []string
	in, out  reflect.Type // Record types taken and forwarded; nil where none

	// Sources.
	topics    []string
	internal  bool
	extractor TimestampExtractor
	reset     OffsetReset
	// Sinks.
	sinkTopic     string // "" when a topic function picks the topic
	sinkInternal  bool
	sinkPartition int32 // partitions wanted for an internal topic (0: derive)

	make func(g *TaskGraph) runtimeNode
}

type storeDef struct {
	builder    StoreBuilder
	processors []string
}

// StoreBuilder describes a state store to the topology: its spec (name,
// kind, persistence, logging, caching) and how the runtime makes one per task.
// statestore.KeyValue, Window, Session and TimestampedKeyValue make them.
type StoreBuilder = statestore.Builder

// OffsetReset says where a source starts reading a partition that has no
// committed offset.
type OffsetReset int8

const (
	// ResetDefault defers to the application's configuration (earliest,
	// unless configured otherwise).
	ResetDefault OffsetReset = iota
	// ResetEarliest starts at the log start offset.
	ResetEarliest
	// ResetLatest starts at the end of the partition.
	ResetLatest
)

// TimestampExtractor returns the timestamp, in milliseconds, that a consumed
// record carries into the topology. partitionTime is the largest timestamp
// seen so far on the record's partition (-1 before the first). A negative
// result or an error stops the record from being processed and goes to the
// deserialization error handler.
type TimestampExtractor func(rec *kgo.Record, partitionTime int64) (int64, error)

// RecordTimestamp is the default TimestampExtractor: the record's own
// timestamp (create time or log-append time, as the topic says).
func RecordTimestamp(rec *kgo.Record, _ int64) (int64, error) {
	return rec.Timestamp.UnixMilli(), nil
}

// SourceSpec configures a source node.
type SourceSpec[K, V any] struct {
	// Topics are the topics the source reads; at least one. Topics read by
	// one sub-topology must have the same number of partitions.
	Topics []string
	// KeySerde and ValueSerde deserialize what is read. Both are required.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// TimestampExtractor gives each record its timestamp; nil means
	// RecordTimestamp.
	TimestampExtractor TimestampExtractor
	// OffsetReset applies to partitions with no committed offset.
	OffsetReset OffsetReset
	// Internal marks Topics as topics the application owns (repartition
	// topics): the runtime prefixes them with "<application.id>-" and
	// creates them.
	Internal bool
}

// SinkSpec configures a sink node.
type SinkSpec[K, V any] struct {
	// Topic is the topic written to. Exactly one of Topic and TopicFunc is
	// set.
	Topic string
	// TopicFunc picks the topic per record (Kafka Streams'
	// TopicNameExtractor).
	TopicFunc func(rec Record[K, V]) string
	// KeySerde and ValueSerde serialize what is written. Both are required.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Partitioner picks the partition; nil means the producer's default,
	// which hashes the serialized key with murmur2 as Kafka's Java producer
	// does (so Java and Go writers agree).
	Partitioner func(topic string, key K, value V, numPartitions int32) int32
	// Internal marks Topic as a topic the application owns; see
	// SourceSpec.Internal. Partitions is its partition count, 0 meaning the
	// largest partition count among the sources feeding this sink's
	// sub-topology.
	Internal   bool
	Partitions int32
	// DropNullKeys, if set and true when asked, makes the sink drop a
	// record whose key is null (marked, or serialized to nil bytes)
	// instead of writing it: Kafka Streams' repartition filter, which
	// drops null keys unless a left join is downstream (KIP-962). It is
	// asked only for such records.
	DropNullKeys func() bool
}

func recordType[K, V any]() reflect.Type { return reflect.TypeFor[Record[K, V]]() }

// fail records the first error and returns err.
func (t *Topology) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *Topology) addNode(n *node, parents []string) error {
	t.built = nil
	if n.name == "" {
		return t.fail(fmt.Errorf("%w: empty %s name", ErrInvalidTopology, n.kind))
	}
	if _, dup := t.byName[n.name]; dup {
		return t.fail(fmt.Errorf("%w: node name %q is already used", ErrInvalidTopology, n.name))
	}
	if n.kind != kindSource && len(parents) == 0 {
		return t.fail(fmt.Errorf("%w: %s %q has no parent", ErrInvalidTopology, n.kind, n.name))
	}
	for _, pn := range parents {
		if pn == n.name {
			return t.fail(fmt.Errorf("%w: %s %q names itself as its parent", ErrInvalidTopology, n.kind, n.name))
		}
		p, ok := t.byName[pn]
		if !ok {
			return t.fail(fmt.Errorf("%w: %s %q: unknown parent %q (parents must be added first)", ErrInvalidTopology, n.kind, n.name, pn))
		}
		if p.kind == kindSink {
			return t.fail(fmt.Errorf("%w: %s %q: parent %q is a sink, and sinks cannot have children", ErrInvalidTopology, n.kind, n.name, pn))
		}
		if p.out != n.in {
			return t.fail(fmt.Errorf("%w: %s %q takes %s but parent %q forwards %s", ErrInvalidTopology, n.kind, n.name, n.in, pn, p.out))
		}
		if slices.Contains(n.parents, p) {
			return t.fail(fmt.Errorf("%w: %s %q names parent %q twice", ErrInvalidTopology, n.kind, n.name, pn))
		}
		n.parents = append(n.parents, p)
	}
	n.index = len(t.nodes)
	for _, p := range n.parents {
		p.children = append(p.children, n)
	}
	t.nodes = append(t.nodes, n)
	t.byName[n.name] = n
	return nil
}

// AddSource adds a source node called name that reads spec.Topics and
// forwards Record[K, V].
func AddSource[K, V any](t *Topology, name string, spec SourceSpec[K, V]) error {
	if len(spec.Topics) == 0 {
		return t.fail(fmt.Errorf("%w: source %q has no topics", ErrInvalidTopology, name))
	}
	if spec.KeySerde == nil || spec.ValueSerde == nil {
		return t.fail(fmt.Errorf("%w: source %q needs a key serde and a value serde", ErrInvalidTopology, name))
	}
	for i, topic := range spec.Topics {
		if topic == "" {
			return t.fail(fmt.Errorf("%w: source %q has an empty topic name", ErrInvalidTopology, name))
		}
		if other, ok := t.readers[topic]; ok {
			return t.fail(fmt.Errorf("%w: source %q: topic %q is already read by source %q", ErrInvalidTopology, name, topic, other.name))
		}
		if slices.Contains(spec.Topics[:i], topic) {
			return t.fail(fmt.Errorf("%w: source %q lists topic %q twice", ErrInvalidTopology, name, topic))
		}
	}
	ext := spec.TimestampExtractor
	if ext == nil {
		ext = RecordTimestamp
	}
	n := &node{
		name: name, kind: kindSource, out: recordType[K, V](),
		topics: slices.Clone(spec.Topics), internal: spec.Internal,
		extractor: ext, reset: spec.OffsetReset,
	}
	ks, vs := spec.KeySerde, spec.ValueSerde
	n.make = func(g *TaskGraph) runtimeNode {
		return &sourceNode[K, V]{def: n, g: g, keySerde: ks, valueSerde: vs}
	}
	if err := t.addNode(n, nil); err != nil {
		return err
	}
	for _, topic := range n.topics {
		t.readers[topic] = n
	}
	return nil
}

// AddProcessor adds a processor node called name, fed by the named parents,
// that runs a Processor made by supplier for each task. Every parent must
// forward Record[KIn, VIn].
func AddProcessor[KIn, VIn, KOut, VOut any](t *Topology, name string, supplier Supplier[KIn, VIn, KOut, VOut], parents ...string) error {
	if supplier == nil {
		return t.fail(fmt.Errorf("%w: processor %q has a nil supplier", ErrInvalidTopology, name))
	}
	n := &node{name: name, kind: kindProcessor, in: recordType[KIn, VIn](), out: recordType[KOut, VOut]()}
	n.make = func(g *TaskGraph) runtimeNode {
		return &procNode[KIn, VIn, KOut, VOut]{def: n, g: g, supplier: supplier}
	}
	return t.addNode(n, parents)
}

// AddSink adds a sink node called name, fed by the named parents, that writes
// to a topic.
func AddSink[K, V any](t *Topology, name string, spec SinkSpec[K, V], parents ...string) error {
	if (spec.Topic == "") == (spec.TopicFunc == nil) {
		return t.fail(fmt.Errorf("%w: sink %q needs exactly one of Topic and TopicFunc", ErrInvalidTopology, name))
	}
	if spec.KeySerde == nil || spec.ValueSerde == nil {
		return t.fail(fmt.Errorf("%w: sink %q needs a key serde and a value serde", ErrInvalidTopology, name))
	}
	if spec.Internal && spec.TopicFunc != nil {
		return t.fail(fmt.Errorf("%w: sink %q: an internal topic must be named, not chosen by a function", ErrInvalidTopology, name))
	}
	n := &node{
		name: name, kind: kindSink, in: recordType[K, V](),
		sinkTopic: spec.Topic, sinkInternal: spec.Internal, sinkPartition: spec.Partitions,
	}
	n.make = func(g *TaskGraph) runtimeNode {
		return newSinkNode(n, g, spec)
	}
	return t.addNode(n, parents)
}

// AddStateStore adds a state store and connects it to the named processors
// (more can be connected later with ConnectStores). Processors that share a
// store are always in the same sub-topology.
func (t *Topology) AddStateStore(b StoreBuilder, processors ...string) error {
	t.built = nil
	if b == nil || b.Spec().Name == "" {
		return t.fail(fmt.Errorf("%w: state store without a name", ErrInvalidTopology))
	}
	name := b.Spec().Name
	if _, dup := t.storeBy[name]; dup {
		return t.fail(fmt.Errorf("%w: state store %q is already added", ErrInvalidTopology, name))
	}
	sd := &storeDef{builder: b}
	t.stores = append(t.stores, sd)
	t.storeBy[name] = sd
	return t.ConnectStores(name, processors...)
}

// ConnectStores connects an added store to processors, which can then reach
// it through Context.StateStore.
func (t *Topology) ConnectStores(store string, processors ...string) error {
	t.built = nil
	sd, ok := t.storeBy[store]
	if !ok {
		return t.fail(fmt.Errorf("%w: unknown state store %q", ErrInvalidTopology, store))
	}
	for _, pn := range processors {
		p, ok := t.byName[pn]
		if !ok {
			return t.fail(fmt.Errorf("%w: state store %q: unknown processor %q", ErrInvalidTopology, store, pn))
		}
		if p.kind != kindProcessor {
			return t.fail(fmt.Errorf("%w: state store %q: %q is a %s; only processors have stores", ErrInvalidTopology, store, pn, p.kind))
		}
		if slices.Contains(p.stores, store) {
			continue
		}
		p.stores = append(p.stores, store)
		sd.processors = append(sd.processors, pn)
	}
	return nil
}

// Downstream returns the names of the nodes that records forwarded by the
// node called name can reach: its children and theirs, and through a sink
// with a fixed topic the sources reading that topic (a repartition topic),
// in no particular order. An unknown name gives nil.
func (t *Topology) Downstream(name string) []string {
	start, ok := t.byName[name]
	if !ok {
		return nil
	}
	readers := map[string][]*node{}
	for _, n := range t.byName {
		for _, topic := range n.topics {
			readers[topic] = append(readers[topic], n)
		}
	}
	seen := map[*node]bool{start: true}
	var out []string
	stack := []*node{start}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		next := n.children
		if n.kind == kindSink && n.sinkTopic != "" {
			next = readers[n.sinkTopic]
		}
		for _, c := range next {
			if !seen[c] {
				seen[c] = true
				out = append(out, c.name)
				stack = append(stack, c)
			}
		}
	}
	return out
}

// Validate checks the whole topology and returns the first error found,
// including errors returned (and perhaps ignored) by earlier Add calls. The
// errors match ErrInvalidTopology.
func (t *Topology) Validate() error {
	_, err := t.structure()
	return err
}

func (t *Topology) structure() (*structure, error) {
	if t.err != nil {
		return nil, t.err
	}
	if t.built != nil {
		return t.built, nil
	}
	if len(t.readers) == 0 {
		return nil, fmt.Errorf("%w: the topology has no source", ErrInvalidTopology)
	}
	for _, sd := range t.stores {
		if len(sd.processors) == 0 {
			return nil, fmt.Errorf("%w: state store %q is not connected to any processor", ErrInvalidTopology, sd.builder.Spec().Name)
		}
	}
	s := buildStructure(t)
	t.built = s
	return s, nil
}

// ErrInvalidTopology is matched (errors.Is) by every error describing a
// mistake in building a topology.
var ErrInvalidTopology = errors.New("processor: invalid topology")

// structure is the validated shape: sub-topologies and lookups.
type structure struct {
	subs      []*Subtopology
	nodeSub   map[*node]*Subtopology
	topicSub  map[string]*Subtopology
	storeSub  map[string]*Subtopology
	nodeOrder map[*Subtopology][]*node
}

// Subtopology is one connected component of the topology: nodes joined by
// edges or by shared stores. One task runs per partition number of its source
// topics.
type Subtopology struct {
	// ID numbers sub-topologies from 0, in the order their first node was
	// added.
	ID int32
	// SourceTopics are the topics its sources read, sorted; internal ones
	// are named without the application id prefix (see InternalSources).
	SourceTopics []string
	// InternalSources are the SourceTopics that are internal (repartition)
	// topics.
	InternalSources []string
	// SinkTopics are the fixed topics its sinks write, sorted.
	SinkTopics []string
	// Stores are the names of the stores its processors use, sorted.
	Stores []string
}

func buildStructure(t *Topology) *structure {
	parent := make([]int, len(t.nodes))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) {
		ra, rb := find(a), find(b)
		if ra == rb {
			return
		}
		if ra > rb {
			ra, rb = rb, ra
		}
		parent[rb] = ra // the root is the smallest index, so IDs follow creation order
	}
	for _, n := range t.nodes {
		for _, c := range n.children {
			union(n.index, c.index)
		}
	}
	for _, sd := range t.stores {
		first := t.byName[sd.processors[0]].index
		for _, pn := range sd.processors[1:] {
			union(first, t.byName[pn].index)
		}
	}
	s := &structure{
		nodeSub:   map[*node]*Subtopology{},
		topicSub:  map[string]*Subtopology{},
		storeSub:  map[string]*Subtopology{},
		nodeOrder: map[*Subtopology][]*node{},
	}
	byRoot := map[int]*Subtopology{}
	for _, n := range t.nodes {
		r := find(n.index)
		sub, ok := byRoot[r]
		if !ok {
			sub = &Subtopology{ID: int32(len(s.subs))}
			byRoot[r] = sub
			s.subs = append(s.subs, sub)
		}
		s.nodeSub[n] = sub
		s.nodeOrder[sub] = append(s.nodeOrder[sub], n)
		switch n.kind {
		case kindSource:
			sub.SourceTopics = append(sub.SourceTopics, n.topics...)
			if n.internal {
				sub.InternalSources = append(sub.InternalSources, n.topics...)
			}
			for _, topic := range n.topics {
				s.topicSub[topic] = sub
			}
		case kindSink:
			if n.sinkTopic != "" && !slices.Contains(sub.SinkTopics, n.sinkTopic) {
				sub.SinkTopics = append(sub.SinkTopics, n.sinkTopic)
			}
		case kindProcessor:
			for _, st := range n.stores {
				if !slices.Contains(sub.Stores, st) {
					sub.Stores = append(sub.Stores, st)
				}
				s.storeSub[st] = sub
			}
		}
	}
	for _, sub := range s.subs {
		sort.Strings(sub.SourceTopics)
		sort.Strings(sub.InternalSources)
		sort.Strings(sub.SinkTopics)
		sort.Strings(sub.Stores)
	}
	return s
}

// Subtopologies returns the validated topology's sub-topologies in ID order.
func (t *Topology) Subtopologies() ([]Subtopology, error) {
	s, err := t.structure()
	if err != nil {
		return nil, err
	}
	out := make([]Subtopology, len(s.subs))
	for i, sub := range s.subs {
		out[i] = *sub
	}
	return out, nil
}

// SourceTopic describes one topic read by the topology.
type SourceTopic struct {
	Topic       string
	Subtopology int32
	Internal    bool
	OffsetReset OffsetReset
	Extractor   TimestampExtractor
}

// SourceTopics returns every topic the topology reads, sorted by name.
func (t *Topology) SourceTopics() ([]SourceTopic, error) {
	s, err := t.structure()
	if err != nil {
		return nil, err
	}
	out := make([]SourceTopic, 0, len(t.readers))
	for topic, n := range t.readers {
		out = append(out, SourceTopic{Topic: topic, Subtopology: s.topicSub[topic].ID, Internal: n.internal, OffsetReset: n.reset, Extractor: n.extractor})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out, nil
}

// InternalSink describes an internal topic written by the topology, with the
// partition count asked for (0: derive from the writing sub-topology's
// sources).
type InternalSink struct {
	Topic       string
	Subtopology int32
	Partitions  int32
}

// InternalSinks returns the internal topics the topology writes.
func (t *Topology) InternalSinks() ([]InternalSink, error) {
	s, err := t.structure()
	if err != nil {
		return nil, err
	}
	var out []InternalSink
	for _, n := range t.nodes {
		if n.kind == kindSink && n.sinkInternal {
			out = append(out, InternalSink{Topic: n.sinkTopic, Subtopology: s.nodeSub[n].ID, Partitions: n.sinkPartition})
		}
	}
	return out, nil
}

// StoreBuilders returns the builders of the stores used by a sub-topology,
// in the order of the first processor using each (parents come before
// children). That is the order record caches must be flushed in: flushing a
// cached store forwards its updates downstream, into the caches of stores
// later in the list, which are then flushed in the same pass.
func (t *Topology) StoreBuilders(subtopology int32) ([]StoreBuilder, error) {
	s, err := t.structure()
	if err != nil {
		return nil, err
	}
	if subtopology < 0 || int(subtopology) >= len(s.subs) {
		return nil, fmt.Errorf("processor: no sub-topology %d", subtopology)
	}
	var out []StoreBuilder
	seen := map[string]bool{}
	for _, n := range s.nodeOrder[s.subs[subtopology]] {
		for _, name := range n.stores {
			if !seen[name] {
				seen[name] = true
				out = append(out, t.storeBy[name].builder)
			}
		}
	}
	return out, nil
}
