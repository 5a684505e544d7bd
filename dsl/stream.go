package dsl

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
)

// Stream is a record stream (Kafka Streams' KStream) of keys K and values V:
// every record is an independent event. Its methods keep the types; the
// package functions Map, MapValues, FlatMap, FlatMapValues, SelectKey,
// GroupBy and Process change them.
//
// A Stream is a small value naming a node of the builder's topology; copying
// it is cheap and both copies name the same node. Applying two operations to
// one Stream sends every record to both.
type Stream[K, V any] struct {
	b    *Builder
	node string
	// Serdes the stream's records can be written with; nil after an
	// operation changed the type they are for.
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	// keyChanged: an operation may have changed the key since the records
	// were last partitioned by it, so grouping must repartition.
	keyChanged bool
}

// KeyValue is one key and value, the result type of FlatMap's function.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// KV returns KeyValue{k, v}.
func KV[K, V any](k K, v V) KeyValue[K, V] { return KeyValue[K, V]{Key: k, Value: v} }

// NewStream reads topics (at least one) as a Stream, deserializing keys and
// values with the given serdes. Options: Named (the source node),
// WithTimestampExtractor, WithOffsetReset. A null key or value (nil bytes)
// reaches the stream as the zero value of its type, marked null in
// processor.Record.Null: operations that keep the value (Filter, Peek,
// Merge, Split, Repartition) keep the mark, so a sink writes it back as
// nil bytes (a tombstone stays a tombstone); operations whose function
// computes a new value or key (MapValues, Map, SelectKey, ...) drop it;
// aggregations and joins skip null keys and values as Kafka Streams does.
func NewStream[K, V any](b *Builder, topics []string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...Option) Stream[K, V] {
	o := b.collect("NewStream", opts, optSource)
	name := b.nodeName(o, prefixSource)
	b.check(processor.AddSource(b.top, name, processor.SourceSpec[K, V]{
		Topics: topics, KeySerde: keySerde, ValueSerde: valueSerde,
		TimestampExtractor: o.extractor, OffsetReset: o.reset,
	}))
	return Stream[K, V]{b: b, node: name, keySerde: keySerde, valueSerde: valueSerde}
}

// Name is the name of the topology node the stream's records come from.
func (s Stream[K, V]) Name() string { return s.node }

// WithSerdes returns the stream with the serdes that operations writing its
// records (To, Repartition, grouping with a repartition, ToTable) use. It
// adds no node. Streams from sources carry their source's serdes; those
// made by Map, MapValues, FlatMap, FlatMapValues, SelectKey and Process keep
// a serde only where the type stayed the same, and need the others given
// here.
func (s Stream[K, V]) WithSerdes(keySerde serde.Serde[K], valueSerde serde.Serde[V]) Stream[K, V] {
	s.keySerde, s.valueSerde = keySerde, valueSerde
	return s
}

// derive is the stream of a new node, keeping serdes and the key flag.
func (s Stream[K, V]) derive(node string) Stream[K, V] {
	s.node = node
	return s
}

// same returns s as a Serde[T] when it is one: an operation whose function
// keeps the type (MapValues from string to string) keeps the serde.
func same[T, U any](s serde.Serde[U]) serde.Serde[T] {
	if s == nil {
		return nil
	}
	t, _ := any(s).(serde.Serde[T])
	return t
}

// addStateless adds a processor node running fn for each record of parent.
func addStateless[K, V, KR, VR any](b *Builder, name, parent string, fn func(ctx processor.Context[KR, VR], r processor.Record[K, V]) error) {
	b.check(processor.AddProcessor(b.top, name, processor.Func(fn), parent))
}

// Filter keeps the records for which pred returns true. Options: Named.
func (s Stream[K, V]) Filter(pred func(key K, value V) bool, opts ...Option) Stream[K, V] {
	name := s.b.nodeName(s.b.collect("Filter", opts, optNamed), prefixFilter)
	addStateless(s.b, name, s.node, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		if pred(r.Key, r.Value) {
			return ctx.Forward(r)
		}
		return nil
	})
	return s.derive(name)
}

// FilterNot drops the records for which pred returns true. Options: Named.
func (s Stream[K, V]) FilterNot(pred func(key K, value V) bool, opts ...Option) Stream[K, V] {
	name := s.b.nodeName(s.b.collect("FilterNot", opts, optNamed), prefixFilter)
	addStateless(s.b, name, s.node, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		if !pred(r.Key, r.Value) {
			return ctx.Forward(r)
		}
		return nil
	})
	return s.derive(name)
}

// Peek calls fn for each record and passes the record on unchanged.
// Options: Named.
func (s Stream[K, V]) Peek(fn func(key K, value V), opts ...Option) Stream[K, V] {
	name := s.b.nodeName(s.b.collect("Peek", opts, optNamed), prefixPeek)
	addStateless(s.b, name, s.node, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		fn(r.Key, r.Value)
		return ctx.Forward(r)
	})
	return s.derive(name)
}

// Foreach calls fn for each record. It ends the stream. Options: Named.
func (s Stream[K, V]) Foreach(fn func(key K, value V), opts ...Option) {
	name := s.b.nodeName(s.b.collect("Foreach", opts, optNamed), prefixForeach)
	addStateless(s.b, name, s.node, func(_ processor.Context[K, V], r processor.Record[K, V]) error {
		fn(r.Key, r.Value)
		return nil
	})
}

// Merge returns a stream of the records of s and other, in the order they
// are processed. The merged stream keeps s's serdes; it needs a repartition
// before grouping if either input does. Options: Named.
func (s Stream[K, V]) Merge(other Stream[K, V], opts ...Option) Stream[K, V] {
	if other.b != s.b {
		s.b.fail(fmt.Errorf("dsl: Merge: the streams come from different builders"))
		return s
	}
	name := s.b.nodeName(s.b.collect("Merge", opts, optNamed), prefixMerge)
	s.b.check(processor.AddProcessor(s.b.top, name, processor.Func(func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		return ctx.Forward(r)
	}), s.node, other.node))
	out := s.derive(name)
	out.keyChanged = s.keyChanged || other.keyChanged
	return out
}

// Process runs a Processor API processor on each record of s and returns the
// stream of what it forwards. Options: Named, WithStores (stores added with
// Builder.AddStore that the processor reaches through its context). The
// processor may change keys, so grouping the result repartitions; the
// result carries no serdes (see WithSerdes).
func Process[K, V, KR, VR any](s Stream[K, V], supplier processor.Supplier[K, V, KR, VR], opts ...Option) Stream[KR, VR] {
	o := s.b.collect("Process", opts, optNamed|optStores)
	// A named process() takes no index in Kafka Streams (KStreamImpl.process).
	name := o.name
	if name == "" {
		name = s.b.newName(prefixProcessor)
	}
	s.b.check(processor.AddProcessor(s.b.top, name, supplier, s.node))
	if len(o.stores) > 0 {
		s.b.check(s.b.top.ConnectStores(o.stores[0], name))
		for _, st := range o.stores[1:] {
			s.b.check(s.b.top.ConnectStores(st, name))
		}
	}
	return Stream[KR, VR]{b: s.b, node: name, keySerde: same[KR](s.keySerde), valueSerde: same[VR](s.valueSerde), keyChanged: true}
}

// Map replaces each record's key and value by what fn returns. The result
// carries no serdes (see WithSerdes) and is repartitioned before grouping.
// Options: Named.
func Map[K, V, KR, VR any](s Stream[K, V], fn func(key K, value V) (KR, VR), opts ...Option) Stream[KR, VR] {
	name := s.b.nodeName(s.b.collect("Map", opts, optNamed), prefixMap)
	addStateless(s.b, name, s.node, func(ctx processor.Context[KR, VR], r processor.Record[K, V]) error {
		k, v := fn(r.Key, r.Value)
		return ctx.Forward(processor.WithKeyValue(r, k, v))
	})
	return Stream[KR, VR]{b: s.b, node: name, keySerde: same[KR](s.keySerde), valueSerde: same[VR](s.valueSerde), keyChanged: true}
}

// MapValues replaces each record's value by fn's result. The key, its serde
// and its partitioning stay; the result carries no value serde. Options:
// Named.
func MapValues[K, V, VR any](s Stream[K, V], fn func(value V) VR, opts ...Option) Stream[K, VR] {
	name := s.b.nodeName(s.b.collect("MapValues", opts, optNamed), prefixMapValues)
	addStateless(s.b, name, s.node, func(ctx processor.Context[K, VR], r processor.Record[K, V]) error {
		return ctx.Forward(processor.WithValue(r, fn(r.Value)))
	})
	return Stream[K, VR]{b: s.b, node: name, keySerde: s.keySerde, valueSerde: same[VR](s.valueSerde), keyChanged: s.keyChanged}
}

// FlatMap replaces each record by the records fn returns (none, one or
// more), each with the input's timestamp and headers. The result carries no
// serdes and is repartitioned before grouping. Options: Named.
func FlatMap[K, V, KR, VR any](s Stream[K, V], fn func(key K, value V) []KeyValue[KR, VR], opts ...Option) Stream[KR, VR] {
	name := s.b.nodeName(s.b.collect("FlatMap", opts, optNamed), prefixFlatMap)
	addStateless(s.b, name, s.node, func(ctx processor.Context[KR, VR], r processor.Record[K, V]) error {
		for _, kv := range fn(r.Key, r.Value) {
			if err := ctx.Forward(processor.WithKeyValue(r, kv.Key, kv.Value)); err != nil {
				return err
			}
		}
		return nil
	})
	return Stream[KR, VR]{b: s.b, node: name, keySerde: same[KR](s.keySerde), valueSerde: same[VR](s.valueSerde), keyChanged: true}
}

// FlatMapValues replaces each record by one record per value fn returns,
// each with the input's key, timestamp and headers. Options: Named.
func FlatMapValues[K, V, VR any](s Stream[K, V], fn func(value V) []VR, opts ...Option) Stream[K, VR] {
	name := s.b.nodeName(s.b.collect("FlatMapValues", opts, optNamed), prefixFlatMapValues)
	addStateless(s.b, name, s.node, func(ctx processor.Context[K, VR], r processor.Record[K, V]) error {
		for _, v := range fn(r.Value) {
			if err := ctx.Forward(processor.WithValue(r, v)); err != nil {
				return err
			}
		}
		return nil
	})
	return Stream[K, VR]{b: s.b, node: name, keySerde: s.keySerde, valueSerde: same[VR](s.valueSerde), keyChanged: s.keyChanged}
}

// SelectKey replaces each record's key by fn's result. The value serde stays;
// the result carries no key serde and is repartitioned before grouping.
// Options: Named.
func SelectKey[K, V, KR any](s Stream[K, V], fn func(key K, value V) KR, opts ...Option) Stream[KR, V] {
	name := s.b.nodeName(s.b.collect("SelectKey", opts, optNamed), prefixKeySelect)
	addStateless(s.b, name, s.node, func(ctx processor.Context[KR, V], r processor.Record[K, V]) error {
		// The value passes unchanged, so a null one stays null
		// (KStreamImpl#selectKey maps the key only).
		out := processor.WithKeyValue(r, fn(r.Key, r.Value), r.Value)
		out.Null = r.Null & processor.NullValue
		return ctx.Forward(out)
	})
	return Stream[KR, V]{b: s.b, node: name, keySerde: same[KR](s.keySerde), valueSerde: s.valueSerde, keyChanged: true}
}

// Splitter routes each record of a stream to the first branch whose
// predicate matches (Kafka Streams' split()). Make it with Stream.Split, add
// branches with Branch and, optionally, a default branch with Default.
// Records that match no branch, when there is no default branch, are
// dropped.
type Splitter[K, V any] struct {
	s      Stream[K, V]
	node   string
	prefix string
	preds  *[]branchPred[K, V] // shared with the node's processors
	count  int
	done   bool
}

type branchPred[K, V any] struct {
	child string
	pred  func(K, V) bool // nil: the default branch
}

// Split starts splitting s into branches. Options: Named, which names the
// split node and is the prefix of the branch names; without it the split
// node is KSTREAM-BRANCH-0000000001 and the branches are named after it
// (KSTREAM-BRANCH-0000000001a), as in Kafka Streams' BranchedKStreamImpl.
func (s Stream[K, V]) Split(opts ...Option) *Splitter[K, V] {
	node := s.b.nodeName(s.b.collect("Split", opts, optNamed), prefixBranch)
	prefix := node
	preds := &[]branchPred[K, V]{}
	s.b.check(processor.AddProcessor(s.b.top, node, func() processor.Processor[K, V, K, V] {
		return &splitProcessor[K, V]{preds: preds}
	}, s.node))
	return &Splitter[K, V]{s: s, node: node, prefix: prefix, preds: preds}
}

// Branch adds a branch named prefix+name (name "" means its number, from
// 1) receiving the records that match pred and no earlier branch.
func (sp *Splitter[K, V]) Branch(name string, pred func(key K, value V) bool) Stream[K, V] {
	if pred == nil {
		sp.s.b.fail(fmt.Errorf("dsl: Split: branch %q has no predicate", name))
	}
	return sp.add(name, pred)
}

// Default adds the branch (named prefix+name, "" meaning "0") that receives
// the records no other branch matched. It must be the last branch.
func (sp *Splitter[K, V]) Default(name string) Stream[K, V] {
	if name == "" {
		name = "0"
	}
	out := sp.add(name, nil)
	sp.done = true
	return out
}

func (sp *Splitter[K, V]) add(name string, pred func(K, V) bool) Stream[K, V] {
	if sp.done {
		sp.s.b.fail(fmt.Errorf("dsl: Split %s: branch %q added after the default branch", sp.node, name))
	}
	sp.count++
	if name == "" {
		name = fmt.Sprint(sp.count)
	}
	child := sp.prefix + name
	sp.s.b.nextIndex() // each branch takes an index in Kafka Streams
	*sp.preds = append(*sp.preds, branchPred[K, V]{child: child, pred: pred})
	addStateless(sp.s.b, child, sp.node, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		return ctx.Forward(r)
	})
	return sp.s.derive(child)
}

type splitProcessor[K, V any] struct {
	ctx   processor.Context[K, V]
	preds *[]branchPred[K, V]
}

func (p *splitProcessor[K, V]) Init(ctx processor.Context[K, V]) error {
	p.ctx = ctx
	return nil
}

func (p *splitProcessor[K, V]) Process(r processor.Record[K, V]) error {
	for _, bp := range *p.preds {
		if bp.pred == nil || bp.pred(r.Key, r.Value) {
			return p.ctx.ForwardTo(bp.child, r)
		}
	}
	return nil
}

func (p *splitProcessor[K, V]) Close() error { return nil }

// Produced configures a sink: where records go and how they are written.
type Produced[K, V any] struct {
	// Topic is the topic written to; TopicFunc, if set instead, picks the
	// topic for each record (Kafka Streams' TopicNameExtractor).
	Topic     string
	TopicFunc func(key K, value V) string
	// KeySerde and ValueSerde serialize the records; nil means the
	// stream's.
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Partitioner picks the partition; nil hashes the serialized key with
	// murmur2, as Kafka's Java producer does, except that a key serialized
	// by TimeWindowedSerde or SessionWindowedSerde is hashed by its base
	// key's bytes alone, as Kafka Streams' WindowedStreamPartitioner does.
	Partitioner func(topic string, key K, value V, numPartitions int32) int32
	// Name names the sink node.
	Name string
}

// To writes the stream to topic with the stream's serdes. Options: Named
// (the sink node).
func (s Stream[K, V]) To(topic string, opts ...Option) {
	s.ToWith(Produced[K, V]{Topic: topic, Name: s.b.collect("To", opts, optNamed).name})
}

// ToWith writes the stream as p says.
func (s Stream[K, V]) ToWith(p Produced[K, V]) {
	ks, vs := p.KeySerde, p.ValueSerde
	if ks == nil {
		ks = s.keySerde
	}
	if vs == nil {
		vs = s.valueSerde
	}
	name := s.b.nodeName(&options{name: p.Name}, prefixSink)
	if ks == nil || vs == nil {
		s.b.fail(fmt.Errorf("%w: sink %s: give serdes in Produced or with WithSerdes", ErrNoSerde, name))
		return
	}
	part := p.Partitioner
	if part == nil {
		part = windowedPartitioner[K, V](ks)
	}
	spec := processor.SinkSpec[K, V]{Topic: p.Topic, KeySerde: ks, ValueSerde: vs, Partitioner: part}
	if p.TopicFunc != nil {
		fn := p.TopicFunc
		spec.TopicFunc = func(r processor.Record[K, V]) string { return fn(r.Key, r.Value) }
	}
	s.b.check(processor.AddSink(s.b.top, name, spec, s.node))
}

// Repartition writes the stream through an internal topic,
// "<application.id>-<name>-repartition", and continues from it, so that
// records are partitioned by their current key. It splits the topology into
// two sub-topologies. Options: Named (the topic's <name>; default the
// generated KSTREAM-REPARTITION-0000000005), Partitions. Named or not, the
// nodes are named as Kafka Streams names them (see repartition).
func (s Stream[K, V]) Repartition(opts ...Option) Stream[K, V] {
	o := s.b.collect("Repartition", opts, optNamed|optPartitions)
	// A named repartition takes no index (KStreamImpl.repartition).
	base := o.name
	if base == "" {
		base = s.b.newName(prefixRepartition)
	}
	return repartition(s, base, o.partitions)
}

// generatedName matches the names Kafka Streams generates for streams
// (KSTREAM-...-0000000007); a repartition topic prefixed by one gets
// generated node names too.
var generatedName = regexp.MustCompile(`^KSTREAM.*-[0-9]{10}$`)

// repartition writes s to the internal topic prefix-repartition and
// continues from a source reading it, with the nodes Kafka Streams adds
// (KStreamImpl.createRepartitionedSource): a filter, then the sink, and the
// source. Three indexes are taken for their generated names whether or not
// they are used; they are used when prefix is itself a generated name,
// otherwise the nodes are <topic>-filter, <topic>-sink and <topic>-source.
//
// The filter forwards every record: in Kafka Streams 4.4 its predicate is
// (k, v) -> true (the operations after a repartition skip null keys
// themselves). It is kept so that node names, indexes and Describe match.
func repartition[K, V any](s Stream[K, V], prefix string, partitions int32) Stream[K, V] {
	b := s.b
	topic := prefix
	if !strings.HasSuffix(topic, "-repartition") {
		topic += "-repartition"
	}
	sinkName, filterName, sourceName := b.newName(prefixSink), b.newName(prefixFilter), b.newName(prefixSource)
	if !generatedName.MatchString(prefix) {
		sinkName, filterName, sourceName = topic+"-sink", topic+"-filter", topic+"-source"
	}
	if s.keySerde == nil || s.valueSerde == nil {
		b.fail(fmt.Errorf("%w: repartition topic %s: the stream has no serdes after a type change; give them with WithSerdes", ErrNoSerde, topic))
		return s
	}
	// Kafka's filter node drops null keys unless a left join is downstream
	// (settled at Build: Builder.relaxNullKeyFilters). A Go key is null
	// only on the wire (marked, or serialized to nil bytes), so the sink
	// after the filter does the dropping; the node stays for names and
	// Describe.
	drop := b.nullKeyFilter(filterName)
	addStateless(b, filterName, s.node, func(ctx processor.Context[K, V], r processor.Record[K, V]) error {
		return ctx.Forward(r)
	})
	b.check(processor.AddSink(b.top, sinkName, processor.SinkSpec[K, V]{
		Topic: topic, KeySerde: s.keySerde, ValueSerde: s.valueSerde, Internal: true, Partitions: partitions,
		Partitioner: windowedPartitioner[K, V](s.keySerde), DropNullKeys: func() bool { return *drop },
	}, filterName))
	return repartitionSource(s, topic, sourceName)
}

// repartitionSource adds the source reading the internal topic and returns
// the stream from it.
func repartitionSource[K, V any](s Stream[K, V], topic, sourceName string) Stream[K, V] {
	s.b.check(processor.AddSource(s.b.top, sourceName, processor.SourceSpec[K, V]{
		Topics: []string{topic}, KeySerde: s.keySerde, ValueSerde: s.valueSerde, Internal: true,
	}))
	out := s.derive(sourceName)
	out.keyChanged = false
	return out
}
