package dsl

import (
	"errors"
	"fmt"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/statestore"
)

// ErrNoSerde is matched (errors.Is) by the Build error of an operation that
// needs a serde the stream does not carry: a stream loses its serdes when
// Map, FlatMap, SelectKey or Process change its types, and gets them back
// with WithSerdes.
var ErrNoSerde = errors.New("dsl: serde missing")

// Builder collects the operations of a DSL program and compiles them to a
// processor.Topology. Operations add their nodes to the topology as they
// are called; the first error any of them meets is kept and returned by
// Build, so a program is written without checking errors on every call.
//
// A Builder and the Stream, Table and Grouped handles made from it are not
// safe for concurrent use; build a topology on one goroutine.
type Builder struct {
	top     *processor.Topology
	counter int
	err     error
	// joinRepartitions maps a stream's node to the source of the
	// repartition topic its joins read (see joinRepartition).
	joinRepartitions map[string]string
	// nullKeyFilters are the repartitions' filter nodes with the flag that
	// makes them drop null keys; relaxedJoins the nodes of joins that keep
	// a null key (LeftJoin). See relaxNullKeyFilters.
	nullKeyFilters map[string]*bool
	relaxedJoins   map[string]bool
}

// nullKeyFilter registers a repartition's filter node and returns the flag
// its processor reads.
func (b *Builder) nullKeyFilter(node string) *bool {
	if b.nullKeyFilters == nil {
		b.nullKeyFilters = map[string]*bool{}
	}
	drop := new(bool)
	b.nullKeyFilters[node] = drop
	return drop
}

// relaxedJoin marks a join node that keeps records with a null key.
func (b *Builder) relaxedJoin(node string) {
	if b.relaxedJoins == nil {
		b.relaxedJoins = map[string]bool{}
	}
	b.relaxedJoins[node] = true
}

// relaxNullKeyFilters settles what each repartition's filter does, as Kafka
// Streams' InternalStreamsBuilder.rewriteRepartitionNodes (KIP-962): it
// drops records with a null key, unless a join that keeps them (a left
// join) is downstream of the repartition, through any number of nodes and
// topics (NodesWithRelaxedNullKeyJoinDownstream).
func (b *Builder) relaxNullKeyFilters() {
	for node, drop := range b.nullKeyFilters {
		*drop = true
		for _, d := range b.top.Downstream(node) {
			if b.relaxedJoins[d] {
				*drop = false
				break
			}
		}
	}
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder {
	return &Builder{top: processor.NewTopology()}
}

// Build validates the topology and returns it, or the first error met by any
// operation. The topology must not be changed through the builder after
// Build.
func (b *Builder) Build() (*processor.Topology, error) {
	if b.err != nil {
		return nil, b.err
	}
	if err := b.top.Validate(); err != nil {
		return nil, fmt.Errorf("dsl: %w", err)
	}
	b.relaxNullKeyFilters()
	return b.top, nil
}

// AddStore adds a state store to the topology, for processors added with
// Process and the WithStores option. The store's name is its Spec().Name.
func (b *Builder) AddStore(s statestore.Builder) {
	if s == nil {
		b.fail(errors.New("dsl: AddStore: nil store builder"))
		return
	}
	b.check(b.top.AddStateStore(s))
}

// fail keeps the first error.
func (b *Builder) fail(err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
}

// check keeps the first error of a processor call, prefixed with the
// package name.
func (b *Builder) check(err error) {
	if err != nil {
		b.fail(fmt.Errorf("dsl: %w", err))
	}
}

// nextIndex returns the builder's counter and advances it. Every generated
// name takes one index, as in Kafka Streams, so that names are unique and
// say in which order operations were called.
func (b *Builder) nextIndex() int {
	i := b.counter
	b.counter++
	return i
}

// newName returns prefix followed by the next index in 10 digits:
// KSTREAM-FILTER-0000000003.
func (b *Builder) newName(prefix string) string {
	return fmt.Sprintf("%s%010d", prefix, b.nextIndex())
}

// nodeName returns the user's name if given, else a generated one. A user's
// name takes an index all the same, as in Kafka Streams
// (NamedInternal.orElseGenerateWithPrefix), so that naming one operation
// does not change the generated names of the operations after it.
func (b *Builder) nodeName(o *options, prefix string) string {
	gen := b.newName(prefix)
	if o.name != "" {
		return o.name
	}
	return gen
}

// storeName returns the materialized store name if given, else a generated
// one: prefix + "STATE-STORE-" + index. A given store name takes no index,
// as in Kafka Streams' MaterializedInternal.
func (b *Builder) storeName(o *options, prefix string) string {
	if o.storeName != "" {
		return o.storeName
	}
	return b.newName(prefix + "STATE-STORE-")
}

// Generated name prefixes, as in Kafka Streams.
const (
	prefixSource        = "KSTREAM-SOURCE-"
	prefixSink          = "KSTREAM-SINK-"
	prefixFilter        = "KSTREAM-FILTER-"
	prefixMap           = "KSTREAM-MAP-"
	prefixMapValues     = "KSTREAM-MAPVALUES-"
	prefixFlatMap       = "KSTREAM-FLATMAP-"
	prefixFlatMapValues = "KSTREAM-FLATMAPVALUES-"
	prefixKeySelect     = "KSTREAM-KEY-SELECT-"
	prefixPeek          = "KSTREAM-PEEK-"
	prefixForeach       = "KSTREAM-FOREACH-"
	prefixMerge         = "KSTREAM-MERGE-"
	prefixBranch        = "KSTREAM-BRANCH-"
	prefixProcessor     = "KSTREAM-PROCESSOR-"
	prefixRepartition   = "KSTREAM-REPARTITION-"
	prefixToTable       = "KSTREAM-TOTABLE-"
	prefixAggregate     = "KSTREAM-AGGREGATE-"
	prefixReduce        = "KSTREAM-REDUCE-"
	prefixJoin          = "KSTREAM-JOIN-"
	prefixLeftJoin      = "KSTREAM-LEFTJOIN-"
	prefixSuppress      = "KTABLE-SUPPRESS-"
	prefixTableSource   = "KTABLE-SOURCE-"
	prefixTableFilter   = "KTABLE-FILTER-"
	prefixTableMapVals  = "KTABLE-MAPVALUES-"
	prefixTableToStream = "KTABLE-TOSTREAM-"
	prefixTableSelect   = "KTABLE-SELECT-"
	prefixTableAgg      = "KTABLE-AGGREGATE-"
	prefixTableReduce   = "KTABLE-REDUCE-"
)
