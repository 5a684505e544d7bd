package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicestreams/sluice/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RecordCollector receives what sinks write. The runtime implements it over
// its producer; tests and the test driver implement it to capture output.
type RecordCollector interface {
	// Send hands over one serialized record. partition < 0 means the
	// producer's default partitioner. Key, value and headers stay unchanged
	// after the call, so the collector may keep them.
	Send(topic string, partition int32, key, value []byte, headers []Header, timestamp int64) error
	// Partitions returns the partition count of topic, for sinks that
	// partition records themselves.
	Partitions(topic string) (int32, error)
}

// TaskEnv is what a TaskGraph needs from the runtime.
type TaskEnv struct {
	// ApplicationID prefixes internal topic names and is reported by
	// Context.ApplicationID.
	ApplicationID string
	// Collector receives every record the sinks write. Required.
	Collector RecordCollector
	// Stores opens the task's instance of a state store by name; required
	// when the sub-topology has stores.
	Stores func(name string) (StateStore, error)
	// RequestCommit is called by Context.Commit; nil ignores requests.
	RequestCommit func()
	// StreamTime reports the task's stream time; nil reports -1.
	StreamTime func() int64
	// WallClock returns the wall-clock time in milliseconds; nil means the
	// system clock. The test driver sets a simulated one.
	WallClock func() int64
	// Logger receives the graph's few log lines; nil discards them.
	Logger *slog.Logger
	// OnDropped is called by Context.Dropped with the node and the reason;
	// nil ignores it.
	OnDropped func(node, reason string)
}

// TaskGraph is one task's running instance of a sub-topology: a processor
// made by each supplier, wired to its children through typed functions.
//
// A TaskGraph is not safe for concurrent use; the task's worker goroutine owns
// it.
type TaskGraph struct {
	id      TaskID
	env     TaskEnv
	nodes   []runtimeNode // in creation order: parents before children
	sources map[string]sourceRuntime

	meta    RecordMetadata
	hasMeta bool

	streamSchedules []*schedule
	wallSchedules   []*schedule
	pendingErr      error
	initialized     bool
	closed          bool
}

type runtimeNode interface {
	// input returns the node's typed process function,
	// func(Record[K, V]) error, or nil for sources.
	input() any
	wire(children []runtimeNode) error
	init() error
	close() error
}

type sourceRuntime interface {
	deliver(rec *kgo.Record, timestamp int64) error
}

// NewTaskGraph instantiates sub-topology id.Subtopology for task id. Call Init
// before the first record.
func (t *Topology) NewTaskGraph(id TaskID, env TaskEnv) (*TaskGraph, error) {
	s, err := t.structure()
	if err != nil {
		return nil, err
	}
	if id.Subtopology < 0 || int(id.Subtopology) >= len(s.subs) {
		return nil, fmt.Errorf("processor: task %s: no sub-topology %d", id, id.Subtopology)
	}
	if env.Collector == nil {
		return nil, errors.New("processor: TaskEnv.Collector is required")
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	g := &TaskGraph{id: id, env: env, sources: map[string]sourceRuntime{}}
	sub := s.subs[id.Subtopology]
	order := s.nodeOrder[sub]
	rt := make(map[*node]runtimeNode, len(order))
	for _, n := range order {
		r := n.make(g)
		rt[n] = r
		g.nodes = append(g.nodes, r)
		if n.kind == kindSource {
			for _, topic := range n.topics {
				g.sources[g.resolve(topic, n.internal)] = r.(sourceRuntime)
			}
		}
	}
	for _, n := range order {
		children := make([]runtimeNode, len(n.children))
		for i, c := range n.children {
			children[i] = rt[c]
		}
		if err := rt[n].wire(children); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func (g *TaskGraph) resolve(topic string, internal bool) string {
	if internal {
		return InternalTopicName(g.env.ApplicationID, topic)
	}
	return topic
}

// InternalTopicName is the full name of an internal topic of an application:
// "<application.id>-<name>".
func InternalTopicName(applicationID, name string) string {
	return applicationID + "-" + name
}

// ID is the graph's task.
func (g *TaskGraph) ID() TaskID { return g.id }

// Init initializes every processor, parents before children. If one fails,
// the ones already initialized are closed.
func (g *TaskGraph) Init() error {
	if g.initialized {
		return errors.New("processor: task graph initialized twice")
	}
	g.initialized = true
	for i, n := range g.nodes {
		if err := n.init(); err != nil {
			for _, done := range g.nodes[:i] {
				_ = done.close()
			}
			g.closed = true
			return err
		}
	}
	return g.takeErr()
}

// Process runs one consumed record through the graph: deserialized by the
// source reading rec.Topic, with the given (extracted) timestamp.
func (g *TaskGraph) Process(rec *kgo.Record, timestamp int64) error {
	src, ok := g.sources[rec.Topic]
	if !ok {
		return fmt.Errorf("processor: task %s has no source for topic %q", g.id, rec.Topic)
	}
	g.meta = RecordMetadata{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
	g.hasMeta = true
	err := src.deliver(rec, timestamp)
	g.hasMeta = false
	return err
}

// Close closes every processor, children first, and returns their errors
// joined. Closing twice is a no-op.
func (g *TaskGraph) Close() error {
	if g.closed || !g.initialized {
		g.closed = true
		return nil
	}
	g.closed = true
	var errs []error
	for i := len(g.nodes) - 1; i >= 0; i-- {
		errs = append(errs, g.nodes[i].close())
	}
	return errors.Join(errs...)
}

func (g *TaskGraph) streamTime() int64 {
	if g.env.StreamTime == nil {
		return -1
	}
	return g.env.StreamTime()
}

func (g *TaskGraph) wallClock() int64 {
	if g.env.WallClock == nil {
		return time.Now().UnixMilli()
	}
	return g.env.WallClock()
}

// sourceNode deserializes consumed records and forwards them.
type sourceNode[K, V any] struct {
	def        *node
	g          *TaskGraph
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	children   []func(Record[K, V]) error
}

func (n *sourceNode[K, V]) input() any  { return nil }
func (n *sourceNode[K, V]) init() error { return nil }
func (n *sourceNode[K, V]) close() error {
	return nil
}

func (n *sourceNode[K, V]) wire(children []runtimeNode) error {
	fns, err := childInputs[K, V](n.def, children)
	n.children = fns
	return err
}

// deliver deserializes rec. A nil key or value (Kafka's null) arrives as the
// zero value of its type, marked in Record.Null, without calling the serde.
func (n *sourceNode[K, V]) deliver(rec *kgo.Record, timestamp int64) error {
	var r Record[K, V]
	var err error
	if rec.Key == nil {
		r.Null |= NullKey
	} else if r.Key, err = n.keySerde.Deserialize(rec.Topic, rec.Key); err != nil {
		return &DeserializationError{Node: n.def.name, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: true, Err: err}
	}
	if rec.Value == nil {
		r.Null |= NullValue
	} else if r.Value, err = n.valueSerde.Deserialize(rec.Topic, rec.Value); err != nil {
		return &DeserializationError{Node: n.def.name, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Err: err}
	}
	r.Timestamp = timestamp
	r.Headers = rec.Headers
	for _, c := range n.children {
		if err := c(r); err != nil {
			return err
		}
	}
	return nil
}

// childInputs converts children's input functions to the typed form. It is
// the one place where a function value changes static type, at wiring time,
// never per record.
func childInputs[K, V any](def *node, children []runtimeNode) ([]func(Record[K, V]) error, error) {
	fns := make([]func(Record[K, V]) error, len(children))
	for i, c := range children {
		fn, ok := c.input().(func(Record[K, V]) error)
		if !ok {
			return nil, fmt.Errorf("%w: node %q forwards %s, which child %q does not take", ErrInvalidTopology, def.name, def.out, def.children[i].name)
		}
		fns[i] = fn
	}
	return fns, nil
}

// procNode runs a user Processor and is its Context.
type procNode[KIn, VIn, KOut, VOut any] struct {
	def      *node
	g        *TaskGraph
	supplier Supplier[KIn, VIn, KOut, VOut]
	p        Processor[KIn, VIn, KOut, VOut]
	children []func(Record[KOut, VOut]) error
	byName   map[string]func(Record[KOut, VOut]) error
	inited   bool
}

func (n *procNode[KIn, VIn, KOut, VOut]) input() any {
	return n.process
}

func (n *procNode[KIn, VIn, KOut, VOut]) wire(children []runtimeNode) error {
	fns, err := childInputs[KOut, VOut](n.def, children)
	if err != nil {
		return err
	}
	n.children = fns
	n.byName = make(map[string]func(Record[KOut, VOut]) error, len(fns))
	for i, c := range n.def.children {
		n.byName[c.name] = fns[i]
	}
	n.p = n.supplier()
	if n.p == nil {
		return fmt.Errorf("%w: the supplier of processor %q returned nil", ErrInvalidTopology, n.def.name)
	}
	return nil
}

func (n *procNode[KIn, VIn, KOut, VOut]) init() error {
	if err := n.p.Init(n); err != nil {
		return &NodeError{Node: n.def.name, Op: "init", Err: err}
	}
	n.inited = true
	return nil
}

func (n *procNode[KIn, VIn, KOut, VOut]) close() error {
	if !n.inited {
		return nil
	}
	n.inited = false
	if err := n.p.Close(); err != nil {
		return &NodeError{Node: n.def.name, Op: "close", Err: err}
	}
	return nil
}

func (n *procNode[KIn, VIn, KOut, VOut]) process(r Record[KIn, VIn]) error {
	if err := n.p.Process(r); err != nil {
		return wrapNode(n.def.name, err)
	}
	return nil
}

func (n *procNode[KIn, VIn, KOut, VOut]) Forward(r Record[KOut, VOut]) error {
	for _, c := range n.children {
		if err := c(r); err != nil {
			return err
		}
	}
	return nil
}

func (n *procNode[KIn, VIn, KOut, VOut]) ForwardTo(child string, r Record[KOut, VOut]) error {
	c, ok := n.byName[child]
	if !ok {
		return fmt.Errorf("processor: node %q has no child %q", n.def.name, child)
	}
	return c(r)
}

func (n *procNode[KIn, VIn, KOut, VOut]) Schedule(interval time.Duration, typ PunctuationType, fn func(int64) error) Cancellable {
	return n.g.schedule(n.def.name, interval, typ, fn)
}

func (n *procNode[KIn, VIn, KOut, VOut]) RecordMetadata() (RecordMetadata, bool) {
	return n.g.meta, n.g.hasMeta
}

func (n *procNode[KIn, VIn, KOut, VOut]) swapMeta(md RecordMetadata, ok bool) (RecordMetadata, bool) {
	prev, prevOk := n.g.meta, n.g.hasMeta
	n.g.meta, n.g.hasMeta = md, ok
	return prev, prevOk
}

// metaSwapper is a Context whose graph's record metadata can be set.
type metaSwapper interface {
	swapMeta(md RecordMetadata, ok bool) (RecordMetadata, bool)
}

// ForwardWithMetadata forwards r from ctx's node while every node's
// Context.RecordMetadata reports md (ok false: none), then restores what it
// reported before. Cached stores' flush listeners use it: a record that
// leaves the cache at a commit or an eviction goes downstream as the record
// that last wrote the cache entry, as Kafka Streams' caching stores set the
// entry's record context (ProcessorContext.setRecordContext) while they
// forward it. A Context not made by a TaskGraph just forwards.
func ForwardWithMetadata[K, V any](ctx Context[K, V], md RecordMetadata, ok bool, r Record[K, V]) error {
	n, isNode := ctx.(metaSwapper)
	if !isNode {
		return ctx.Forward(r)
	}
	prev, prevOk := n.swapMeta(md, ok)
	err := ctx.Forward(r)
	n.swapMeta(prev, prevOk)
	return err
}

func (n *procNode[KIn, VIn, KOut, VOut]) TaskID() TaskID        { return n.g.id }
func (n *procNode[KIn, VIn, KOut, VOut]) ApplicationID() string { return n.g.env.ApplicationID }
func (n *procNode[KIn, VIn, KOut, VOut]) StreamTime() int64     { return n.g.streamTime() }

func (n *procNode[KIn, VIn, KOut, VOut]) Dropped(reason string) {
	if n.g.env.OnDropped != nil {
		n.g.env.OnDropped(n.def.name, reason)
	}
}

func (n *procNode[KIn, VIn, KOut, VOut]) Commit() {
	if n.g.env.RequestCommit != nil {
		n.g.env.RequestCommit()
	}
}

func (n *procNode[KIn, VIn, KOut, VOut]) StateStore(name string) (StateStore, error) {
	connected := false
	for _, s := range n.def.stores {
		if s == name {
			connected = true
			break
		}
	}
	if !connected {
		return nil, fmt.Errorf("processor: node %q is not connected to state store %q (connect it with AddStateStore or ConnectStores): %w", n.def.name, name, ErrUnknownStore)
	}
	if n.g.env.Stores == nil {
		return nil, fmt.Errorf("processor: task %s has no store provider for %q", n.g.id, name)
	}
	return n.g.env.Stores(name)
}

// sinkNode serializes records and hands them to the collector.
type sinkNode[K, V any] struct {
	def      *node
	g        *TaskGraph
	spec     SinkSpec[K, V]
	topic    string // resolved fixed topic
	keyApp   serde.Appender[K]
	valueApp serde.Appender[V]
	buf      []byte // arena: serialized bytes of records handed over
}

// arenaChunk is the size of a sink's serialization arena. Records point into
// it, so a chunk lives while any of them is in flight; a fresh chunk is made
// when the current one has less than arenaReserve bytes free.
const (
	arenaChunk   = 64 << 10
	arenaReserve = 1 << 10
)

func newSinkNode[K, V any](n *node, g *TaskGraph, spec SinkSpec[K, V]) *sinkNode[K, V] {
	s := &sinkNode[K, V]{def: n, g: g, spec: spec}
	if spec.Topic != "" {
		s.topic = g.resolve(spec.Topic, spec.Internal)
	}
	s.keyApp, _ = spec.KeySerde.(serde.Appender[K])
	s.valueApp, _ = spec.ValueSerde.(serde.Appender[V])
	return s
}

func (n *sinkNode[K, V]) input() any                 { return n.process }
func (n *sinkNode[K, V]) wire(_ []runtimeNode) error { return nil }
func (n *sinkNode[K, V]) init() error                { return nil }
func (n *sinkNode[K, V]) close() error               { return nil }

func (n *sinkNode[K, V]) process(r Record[K, V]) error {
	topic := n.topic
	if n.spec.TopicFunc != nil {
		topic = n.spec.TopicFunc(r)
		if topic == "" {
			return &NodeError{Node: n.def.name, Op: "process", Err: errors.New("topic function returned an empty topic name")}
		}
	}
	if cap(n.buf)-len(n.buf) < arenaReserve {
		n.buf = make([]byte, 0, arenaChunk)
	}
	// A key or value marked null is sent as nil, without its serde.
	var key, value []byte
	var err error
	if !r.Null.Key() {
		if key, err = appendField(n, n.keyApp, n.spec.KeySerde, topic, r.Key); err != nil {
			return &NodeError{Node: n.def.name, Op: "serialize key", Err: err}
		}
	}
	if key == nil && n.spec.DropNullKeys != nil && n.spec.DropNullKeys() {
		return nil
	}
	if !r.Null.Value() {
		if value, err = appendField(n, n.valueApp, n.spec.ValueSerde, topic, r.Value); err != nil {
			return &NodeError{Node: n.def.name, Op: "serialize value", Err: err}
		}
	}
	partition := int32(-1)
	if n.spec.Partitioner != nil {
		np, err := n.g.env.Collector.Partitions(topic)
		if err != nil {
			return &NodeError{Node: n.def.name, Op: "partition", Err: err}
		}
		partition = n.spec.Partitioner(topic, r.Key, r.Value, np)
		if partition < 0 || partition >= np {
			return &NodeError{Node: n.def.name, Op: "partition", Err: fmt.Errorf("partitioner chose partition %d of topic %q, which has %d", partition, topic, np)}
		}
	}
	if err := n.g.env.Collector.Send(topic, partition, key, value, r.Headers, r.Timestamp); err != nil {
		return &NodeError{Node: n.def.name, Op: "send", Err: err}
	}
	return nil
}

// appendField serializes v at the end of the sink's arena and returns its
// bytes there. Appenders return nil for Kafka's null (a tombstone value, a
// null key) and leave the buffer alone: keep the arena and return nil.
func appendField[K, V, T any](n *sinkNode[K, V], app serde.Appender[T], s serde.Serde[T], topic string, v T) ([]byte, error) {
	start := len(n.buf)
	var out []byte
	var err error
	if app != nil {
		out, err = app.AppendSerialize(n.buf, topic, v)
	} else {
		out, err = serde.Append(s, n.buf, topic, v)
	}
	if err != nil || out == nil {
		return nil, err
	}
	n.buf = out
	return n.buf[start:len(n.buf):len(n.buf)], nil
}
