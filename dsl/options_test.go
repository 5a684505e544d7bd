package dsl_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
)

// TestOptionThatDoesNotApply: every operation fails Build when given an
// option it cannot use, naming itself and the option, instead of ignoring
// it.
func TestOptionThatDoesNotApply(t *testing.T) {
	str := serde.String()
	tumbling := dsl.TumblingWindows(time.Second, 0)
	sessions := dsl.SessionWindowsWithGap(time.Second, 0)
	noop := processor.Func(func(processor.Context[string, string], processor.Record[string, string]) error { return nil })
	table := func(b *dsl.Builder) dsl.Table[string, string] { return dsl.NewTable(b, "t", str, str) }
	grouped := func(b *dsl.Builder) dsl.GroupedTable[string, string] {
		return dsl.GroupTableBy(table(b), pair, str, str)
	}
	windowed := func(b *dsl.Builder) dsl.Table[dsl.Windowed[string], int64] {
		return dsl.WindowedBy(source(b).GroupByKey(), tumbling).Count()
	}
	cases := []struct {
		want  string
		build func(b *dsl.Builder, o dsl.Option)
		opt   dsl.Option
	}{
		{"dsl: NewStream: option StoreName does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.NewStream(b, []string{"in"}, str, str, o)
		}, dsl.StoreName("s")},
		{"dsl: Filter: option StoreName does not apply", func(b *dsl.Builder, o dsl.Option) { source(b).Filter(keep, o) }, dsl.StoreName("s")},
		{"dsl: FilterNot: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) { source(b).FilterNot(keep, o) }, dsl.Partitions(2)},
		{"dsl: Peek: option Caching does not apply", func(b *dsl.Builder, o dsl.Option) { source(b).Peek(func(string, string) {}, o) }, dsl.Caching(false)},
		{"dsl: Foreach: option Logging does not apply", func(b *dsl.Builder, o dsl.Option) { source(b).Foreach(func(string, string) {}, o) }, dsl.Logging(false)},
		{"dsl: Merge: option Retention does not apply", func(b *dsl.Builder, o dsl.Option) { s := source(b); s.Merge(s.Filter(keep), o) }, dsl.Retention(time.Hour)},
		{"dsl: Process: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) { dsl.Process(source(b), noop, o) }, dsl.Partitions(2)},
		{"dsl: Map: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) { dsl.Map(source(b), swap, o) }, dsl.Partitions(2)},
		{"dsl: MapValues: option StoreName does not apply", func(b *dsl.Builder, o dsl.Option) { dsl.MapValues(source(b), same, o) }, dsl.StoreName("s")},
		{"dsl: FlatMap: option InMemory does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.FlatMap(source(b), func(string, string) []dsl.KeyValue[string, string] { return nil }, o)
		}, dsl.InMemory()},
		{"dsl: FlatMapValues: option WithStores does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.FlatMapValues(source(b), func(string) []string { return nil }, o)
		}, dsl.WithStores("s")},
		{"dsl: SelectKey: option WithTimestampExtractor does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.SelectKey(source(b), value, o)
		}, dsl.WithTimestampExtractor(processor.RecordTimestamp)},
		{"dsl: Split: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) { source(b).Split(o).Default("") }, dsl.Partitions(2)},
		{"dsl: To: option StoreName does not apply", func(b *dsl.Builder, o dsl.Option) { source(b).To("out", o) }, dsl.StoreName("s")},
		{"dsl: Repartition: option StoreName does not apply", func(b *dsl.Builder, o dsl.Option) { source(b).Repartition(o) }, dsl.StoreName("s")},
		{"dsl: GroupByKey: option StoreName does not apply", func(b *dsl.Builder, o dsl.Option) { source(b).GroupByKey(o).Count() }, dsl.StoreName("s")},
		{"dsl: GroupBy: option Caching does not apply", func(b *dsl.Builder, o dsl.Option) { dsl.GroupBy(source(b), value, str, o).Count() }, dsl.Caching(true)},
		{"dsl: Count: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) { source(b).GroupByKey().Count(o) }, dsl.Partitions(2)},
		{"dsl: Reduce: option Retention does not apply", func(b *dsl.Builder, o dsl.Option) {
			source(b).GroupByKey().Reduce(func(a, _ string) string { return a }, o)
		}, dsl.Retention(time.Hour)},
		{"dsl: Aggregate: option WithStores does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.Aggregate(source(b).GroupByKey(), func() string { return "" }, func(_, _, a string) string { return a }, str, o)
		}, dsl.WithStores("s")},
		{"dsl: WindowedAggregate: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.WindowedBy(source(b).GroupByKey(), tumbling).Count(o)
		}, dsl.Partitions(2)},
		{"dsl: WindowedGrouped.Reduce: option WithOffsetReset does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.WindowedBy(source(b).GroupByKey(), tumbling).Reduce(func(a, _ string) string { return a }, o)
		}, dsl.WithOffsetReset(processor.ResetLatest)},
		{"dsl: SessionAggregate: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.SessionWindowedBy(source(b).GroupByKey(), sessions).Count(o)
		}, dsl.Partitions(2)},
		{"dsl: SuppressUntilWindowCloses: option Caching does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.SuppressUntilWindowCloses(windowed(b), o)
		}, dsl.Caching(true)},
		{"dsl: NewTable: option Logging does not apply", func(b *dsl.Builder, o dsl.Option) { dsl.NewTable(b, "t", str, str, o) }, dsl.Logging(true)},
		{"dsl: ToTable: option Retention does not apply", func(b *dsl.Builder, o dsl.Option) { source(b).ToTable(o) }, dsl.Retention(time.Hour)},
		{"dsl: Table.Filter: option StoreName does not apply", func(b *dsl.Builder, o dsl.Option) { table(b).Filter(keep, o) }, dsl.StoreName("s")},
		{"dsl: Table.FilterNot: option InMemory does not apply", func(b *dsl.Builder, o dsl.Option) { table(b).FilterNot(keep, o) }, dsl.InMemory()},
		{"dsl: MapTableValues: option Caching does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.MapTableValues(table(b), func(_, v string) string { return v }, o)
		}, dsl.Caching(false)},
		{"dsl: ToStream: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) { table(b).ToStream(o) }, dsl.Partitions(2)},
		{"dsl: ChangeStream: option StoreName does not apply", func(b *dsl.Builder, o dsl.Option) { dsl.ChangeStream(table(b), o) }, dsl.StoreName("s")},
		{"dsl: Table.To: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) { table(b).To("out", o) }, dsl.Partitions(2)},
		{"dsl: GroupTableBy: option StoreName does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.GroupTableBy(table(b), pair, str, str, o).Count()
		}, dsl.StoreName("s")},
		{"dsl: GroupedTable.Count: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) { grouped(b).Count(o) }, dsl.Partitions(2)},
		{"dsl: GroupedTable.Reduce: option Retention does not apply", func(b *dsl.Builder, o dsl.Option) {
			grouped(b).Reduce(func(a, _ string) string { return a }, func(a, _ string) string { return a }, o)
		}, dsl.Retention(time.Hour)},
		{"dsl: AggregateTable: option WithStores does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.AggregateTable(grouped(b), func() string { return "" }, func(_, _, a string) string { return a },
				func(_, _, a string) string { return a }, str, o)
		}, dsl.WithStores("s")},
		{"dsl: Join: option StoreName does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.Join(source(b), table(b), func(_, v, _ string) string { return v }, o)
		}, dsl.StoreName("s")},
		{"dsl: LeftJoin: option Partitions does not apply", func(b *dsl.Builder, o dsl.Option) {
			dsl.LeftJoin(source(b), table(b), func(_, v, _ string, _ bool) string { return v }, o)
		}, dsl.Partitions(2)},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			b := dsl.NewBuilder()
			tc.build(b, tc.opt)
			_, err := b.Build()
			if err == nil || err.Error() != tc.want || !errors.Is(err, dsl.ErrOptionNotApplicable) {
				t.Fatalf("Build error %v, want %q matching ErrOptionNotApplicable", err, tc.want)
			}
			// The same program without the option builds.
			b = dsl.NewBuilder()
			tc.build(b, nil)
			if _, err := b.Build(); err != nil {
				t.Fatalf("without the option: %v", err)
			}
		})
	}
}
