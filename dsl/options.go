package dsl

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/statestore"
)

// Option names an operation or configures the store it materializes. Each
// operation's doc lists the options it takes; an option it has no use for
// (a store option given to Filter, for example) makes Build fail with an
// error matching ErrOptionNotApplicable that names the operation and the
// option. Options carry no types; serdes, which do, are positional
// arguments.
type Option interface{ apply(*options) }

// ErrOptionNotApplicable is matched (errors.Is) by the Build error of an
// operation given an option it cannot use:
// "dsl: Filter: option StoreName does not apply".
var ErrOptionNotApplicable = errors.New("does not apply")

// optKind is one kind of Option; a set of them says what an operation
// takes.
type optKind uint16

const (
	optNamed optKind = 1 << iota
	optStoreName
	optInMemory
	optCaching
	optLogging
	optRetention
	optPartitions
	optStores
	optExtractor
	optReset

	// optStore is what a materialized key-value or window store takes.
	optStore = optStoreName | optInMemory | optCaching | optLogging
	// optSource is what a source takes besides its store options.
	optSource = optNamed | optExtractor | optReset
)

var optKindNames = []string{"Named", "StoreName", "InMemory", "Caching", "Logging", "Retention",
	"Partitions", "WithStores", "WithTimestampExtractor", "WithOffsetReset"}

func (k optKind) String() string {
	for i, n := range optKindNames {
		if k == 1<<i {
			return n
		}
	}
	return "option"
}

type options struct {
	name       string
	storeName  string
	inMemory   bool
	caching    *bool
	logging    *bool
	partitions int32
	retention  time.Duration
	stores     []string
	extractor  processor.TimestampExtractor
	reset      processor.OffsetReset
	given      optKind // the kinds of the options applied
}

// opt is an Option of one kind.
type opt struct {
	kind optKind
	set  func(*options)
}

func (f opt) apply(o *options) {
	o.given |= f.kind
	f.set(o)
}

// collect applies opts for the operation op, which takes the options in
// allowed; the first option it does not take fails the builder.
func (b *Builder) collect(op string, opts []Option, allowed optKind) *options {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(o)
		}
	}
	if extra := o.given &^ allowed; extra != 0 {
		b.fail(fmt.Errorf("dsl: %s: option %s %w", op, extra&-extra, ErrOptionNotApplicable))
	}
	return o
}

// countIndex takes the extra index that Kafka Streams' count(Materialized)
// takes when the Materialized names no store, for compatibility with its
// older releases (KGroupedStreamImpl, TimeWindowedKStreamImpl and
// SessionWindowedKStreamImpl.count): Count with store options but no
// StoreName is that call. Errors in opts are left to the aggregation.
func (b *Builder) countIndex(opts []Option) {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(o)
		}
	}
	if o.given&(optStore|optRetention) != 0 && o.storeName == "" {
		b.nextIndex()
	}
}

// Named names the processor node an operation adds, instead of a generated
// KSTREAM-...-0000000007 name (Kafka Streams' Named.as). For NewStream it
// names the source node (Consumed.as); for NewTable the KTABLE-SOURCE node,
// the source being <name>-source; for Split the split node, which is also
// the prefix of the branch names; for a grouping (GroupByKey, GroupBy,
// GroupTableBy) the repartition topic, and for GroupBy and GroupTableBy
// the key-selecting node (Grouped.as); for Repartition the topic; for
// Join and LeftJoin the join node and its repartition topic (Joined.as).
func Named(name string) Option { return opt{optNamed, func(o *options) { o.name = name }} }

// StoreName names the store an aggregation or table materializes (Kafka
// Streams' Materialized.as). The store's changelog topic is
// "<application.id>-<name>-changelog" and, for aggregations after a key
// change, the repartition topic is "<application.id>-<name>-repartition".
// Without it the name is generated: KSTREAM-AGGREGATE-STATE-STORE-0000000003.
func StoreName(name string) Option { return opt{optStoreName, func(o *options) { o.storeName = name }} }

// InMemory keeps the materialized store in memory instead of the instance's
// persistent engine. It is rebuilt from its changelog when a task opens.
func InMemory() Option { return opt{optInMemory, func(o *options) { o.inMemory = true }} }

// Caching switches the record cache of the materialized store on or off.
// The default is on, as in Kafka Streams: updates to one key between two
// commits are merged and only the latest goes downstream. Off sends every
// update downstream.
func Caching(on bool) Option { return opt{optCaching, func(o *options) { o.caching = &on }} }

// Logging switches change logging of the materialized store on or off
// (default on). Without a changelog the store cannot be restored on
// another instance.
func Logging(on bool) Option { return opt{optLogging, func(o *options) { o.logging = &on }} }

// Retention sets how long a windowed aggregation keeps windows, in stream
// time after their start (Kafka Streams' Materialized.withRetention). It must
// be at least the window size plus grace, which is the default.
func Retention(d time.Duration) Option {
	return opt{optRetention, func(o *options) { o.retention = d }}
}

// Partitions sets the partition count of a repartition topic (Repartition,
// or the automatic one of a grouping). The default is the largest partition
// count among the topics read by the sub-topology that writes it.
func Partitions(n int32) Option { return opt{optPartitions, func(o *options) { o.partitions = n }} }

// WithStores connects the named stores (added with Builder.AddStore) to the
// processor added by Process.
func WithStores(names ...string) Option {
	return opt{optStores, func(o *options) { o.stores = append(o.stores, names...) }}
}

// WithTimestampExtractor sets the timestamp extractor of a source (Stream,
// Table). The default is the record's own timestamp.
func WithTimestampExtractor(fn processor.TimestampExtractor) Option {
	return opt{optExtractor, func(o *options) { o.extractor = fn }}
}

// WithOffsetReset sets where a source starts reading partitions that have
// no committed offset.
func WithOffsetReset(r processor.OffsetReset) Option {
	return opt{optReset, func(o *options) { o.reset = r }}
}

// storeOpts turns the store options into statestore options. DSL stores
// cache by default, as Kafka Streams' do.
func (o *options) storeOpts() []statestore.Option {
	caching := true
	if o.caching != nil {
		caching = *o.caching
	}
	out := []statestore.Option{statestore.Caching(caching)}
	if o.logging != nil {
		out = append(out, statestore.Logging(*o.logging))
	}
	if o.inMemory {
		out = append(out, statestore.InMemory())
	}
	return out
}
