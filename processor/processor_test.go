package processor_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

var update = flag.Bool("update", false, "rewrite golden files")

type sent struct {
	topic      string
	partition  int32
	key, value string
	ts         int64
}

type captureCollector struct {
	out   []sent
	parts map[string]int32
}

func (c *captureCollector) Send(topic string, partition int32, key, value []byte, _ []processor.Header, ts int64) error {
	c.out = append(c.out, sent{topic, partition, string(key), string(value), ts})
	return nil
}

func (c *captureCollector) Partitions(topic string) (int32, error) {
	n, ok := c.parts[topic]
	if !ok {
		return 0, errors.New("unknown topic " + topic)
	}
	return n, nil
}

func stringSource(t *processor.Topology, name string, topics ...string) error {
	return processor.AddSource(t, name, processor.SourceSpec[string, string]{Topics: topics, KeySerde: serde.String(), ValueSerde: serde.String()})
}

func stringSink(t *processor.Topology, name, topic string, parents ...string) error {
	return processor.AddSink(t, name, processor.SinkSpec[string, string]{Topic: topic, KeySerde: serde.String(), ValueSerde: serde.String()}, parents...)
}

func upper() processor.Supplier[string, string, string, string] {
	return processor.Func(func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		return ctx.Forward(processor.WithValue(r, strings.ToUpper(r.Value)))
	})
}

func namedStore(name string) processor.StoreBuilder {
	return statestore.KeyValue(name, serde.String(), serde.Int64())
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name  string
		build func(t *processor.Topology)
		want  string
	}{
		{"unknown parent", func(t *processor.Topology) {
			_ = stringSource(t, "src", "in")
			_ = processor.AddProcessor(t, "p", upper(), "nope")
		}, `processor "p": unknown parent "nope"`},
		{"duplicate name", func(t *processor.Topology) {
			_ = stringSource(t, "src", "in")
			_ = processor.AddProcessor(t, "src", upper(), "src")
		}, `node name "src" is already used`},
		{"sink with children", func(t *processor.Topology) {
			_ = stringSource(t, "src", "in")
			_ = stringSink(t, "out", "o", "src")
			_ = processor.AddProcessor(t, "p", upper(), "out")
		}, `parent "out" is a sink, and sinks cannot have children`},
		{"source without topics", func(t *processor.Topology) {
			_ = stringSource(t, "src")
		}, `source "src" has no topics`},
		{"store not connected", func(t *processor.Topology) {
			_ = stringSource(t, "src", "in")
			_ = processor.AddProcessor(t, "p", upper(), "src")
			_ = t.AddStateStore(namedStore("lonely"))
		}, `state store "lonely" is not connected to any processor`},
		{"cycle through itself", func(t *processor.Topology) {
			_ = stringSource(t, "src", "in")
			_ = processor.AddProcessor(t, "p", upper(), "src", "p")
		}, `processor "p" names itself as its parent`},
		{"type mismatch", func(t *processor.Topology) {
			_ = stringSource(t, "src", "in")
			_ = processor.AddSink(t, "out", processor.SinkSpec[string, int64]{Topic: "o", KeySerde: serde.String(), ValueSerde: serde.Int64()}, "src")
		}, `sink "out" takes processor.Record[string,int64] but parent "src" forwards processor.Record[string,string]`},
		{"topic read twice", func(t *processor.Topology) {
			_ = stringSource(t, "a", "in")
			_ = stringSource(t, "b", "in")
		}, `topic "in" is already read by source "a"`},
		{"no source", func(t *processor.Topology) {}, `the topology has no source`},
		{"store to a sink", func(t *processor.Topology) {
			_ = stringSource(t, "src", "in")
			_ = stringSink(t, "out", "o", "src")
			_ = t.AddStateStore(namedStore("s"), "out")
		}, `"out" is a sink; only processors have stores`},
		{"sink without topic", func(t *processor.Topology) {
			_ = stringSource(t, "src", "in")
			_ = stringSink(t, "out", "", "src")
		}, `sink "out" needs exactly one of Topic and TopicFunc`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top := processor.NewTopology()
			tc.build(top)
			err := top.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", tc.want)
			}
			if !errors.Is(err, processor.ErrInvalidTopology) {
				t.Errorf("error %v does not match ErrInvalidTopology", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got != string(want) {
		t.Errorf("Describe() differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// describeTopology has two sub-topologies, one joined through a shared
// store, fan-out and merge; route is its last sink, to topic or, if topic
// is "", to a topic function.
func describeTopology(t *testing.T, topic string) *processor.Topology {
	top := processor.NewTopology()
	must(t, stringSource(top, "orders-source", "orders", "orders-eu"))
	must(t, processor.AddProcessor(top, "validate", upper(), "orders-source"))
	must(t, processor.AddProcessor(top, "enrich", upper(), "validate"))
	must(t, processor.AddProcessor(top, "audit", upper(), "validate"))
	must(t, stringSink(top, "orders-out", "orders-valid", "enrich", "audit"))
	must(t, stringSource(top, "payments-source", "payments"))
	must(t, processor.AddProcessor(top, "settle", upper(), "payments-source"))
	must(t, stringSource(top, "refunds-source", "refunds"))
	must(t, processor.AddProcessor(top, "refund", upper(), "refunds-source"))
	must(t, top.AddStateStore(namedStore("balances"), "settle", "refund"))
	spec := processor.SinkSpec[string, string]{Topic: topic, KeySerde: serde.String(), ValueSerde: serde.String()}
	if topic == "" {
		spec.TopicFunc = func(r processor.Record[string, string]) string { return "ledger-" + r.Key }
	}
	must(t, processor.AddSink(top, "route", spec, "settle", "refund"))
	return top
}

// TestDescribe: a topic-function sink, which Kafka Streams describes by
// its extractor object, has no Java counterpart; the rest of the text is
// as in TestDescribeAsKafkaStreams.
func TestDescribe(t *testing.T) {
	top := describeTopology(t, "")
	golden(t, "describe_two_subtopologies.txt", top.Describe())

	subs, err := top.Subtopologies()
	must(t, err)
	if len(subs) != 2 {
		t.Fatalf("got %d sub-topologies, want 2", len(subs))
	}
	if got := strings.Join(subs[1].SourceTopics, ","); got != "payments,refunds" {
		t.Errorf("sub-topology 1 reads %q, want payments,refunds (joined by the shared store)", got)
	}
}

// TestDescribeAsKafkaStreams compares Describe with the text Kafka Streams
// 4.4.0's Topology.describe().toString() gives for the same Processor API
// program (testdata/kafka/Describe.java writes it): nodes by the size of
// the graph below them, then by name; arrows in Java's TreeSet order
// ("audit, enrich" but "enrich, audit"); a blank line after each
// sub-topology and two spaces before the later ones, as
// InternalTopologyBuilder.TopologyDescription's toString writes them.
func TestDescribeAsKafkaStreams(t *testing.T) {
	got := describeTopology(t, "ledger").Describe()
	want, err := os.ReadFile(filepath.Join("testdata", "kafka", "two_subtopologies.txt"))
	must(t, err)
	if got != string(want) {
		t.Errorf("Describe() differs from Kafka Streams':\n--- got\n%s--- want\n%s", got, want)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func kgoRecord(topic string, p int32, off int64, key, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: p, Offset: off, Key: []byte(key), Value: []byte(value)}
}

func TestTaskGraphForwardsAndNamesErrors(t *testing.T) {
	top := processor.NewTopology()
	must(t, stringSource(top, "src", "in"))
	must(t, processor.AddProcessor(top, "route", processor.Func(func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		md, ok := ctx.RecordMetadata()
		if !ok || md.Topic != "in" {
			return errors.New("no metadata")
		}
		switch r.Key {
		case "bad":
			return errors.New("boom")
		case "a":
			return ctx.ForwardTo("to-a", r)
		}
		return ctx.Forward(processor.WithValue(r, r.Value+"@"+strconv.FormatInt(md.Offset, 10)))
	}), "src"))
	must(t, stringSink(top, "to-a", "a-topic", "route"))
	must(t, stringSink(top, "to-all", "all-topic", "route"))
	col := &captureCollector{}
	g, err := top.NewTaskGraph(processor.TaskID{Subtopology: 0, Partition: 2}, processor.TaskEnv{ApplicationID: "app", Collector: col})
	must(t, err)
	must(t, g.Init())
	must(t, g.Process(kgoRecord("in", 2, 7, "a", "x"), 100))
	must(t, g.Process(kgoRecord("in", 2, 8, "b", "y"), 200))
	want := []sent{{"a-topic", -1, "a", "x", 100}, {"a-topic", -1, "b", "y@8", 200}, {"all-topic", -1, "b", "y@8", 200}}
	if len(col.out) != len(want) {
		t.Fatalf("sent %v, want %v", col.out, want)
	}
	for i := range want {
		if col.out[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, col.out[i], want[i])
		}
	}
	err = g.Process(kgoRecord("in", 2, 9, "bad", "z"), 300)
	var ne *processor.NodeError
	if !errors.As(err, &ne) || ne.Node != "route" || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error = %v, want a NodeError naming route", err)
	}
	must(t, g.Close())
}

func TestDeserializationErrorNamesRecord(t *testing.T) {
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "nums", processor.SourceSpec[string, int64]{Topics: []string{"n"}, KeySerde: serde.String(), ValueSerde: serde.Int64()}))
	must(t, processor.AddSink(top, "out", processor.SinkSpec[string, int64]{Topic: "o", KeySerde: serde.String(), ValueSerde: serde.Int64()}, "nums"))
	g, err := top.NewTaskGraph(processor.TaskID{}, processor.TaskEnv{Collector: &captureCollector{}})
	must(t, err)
	must(t, g.Init())
	err = g.Process(kgoRecord("n", 0, 42, "k", "abc"), 1)
	var de *processor.DeserializationError
	if !errors.As(err, &de) || de.Offset != 42 || de.Topic != "n" || de.Key || de.Node != "nums" {
		t.Fatalf("error = %v, want a DeserializationError for n[0]@42 value at nums", err)
	}
}

func TestPartitionerAndInternalTopics(t *testing.T) {
	top := processor.NewTopology()
	must(t, stringSource(top, "src", "in"))
	must(t, processor.AddSink(top, "rep", processor.SinkSpec[string, string]{
		Topic: "agg-repartition", Internal: true, KeySerde: serde.String(), ValueSerde: serde.String(),
		Partitioner: func(_ string, key, _ string, n int32) int32 { return int32(len(key)) % n },
	}, "src"))
	must(t, processor.AddSource(top, "rep-src", processor.SourceSpec[string, string]{Topics: []string{"agg-repartition"}, Internal: true, KeySerde: serde.String(), ValueSerde: serde.String()}))
	must(t, stringSink(top, "out", "out", "rep-src"))
	col := &captureCollector{parts: map[string]int32{"app-agg-repartition": 4}}
	g, err := top.NewTaskGraph(processor.TaskID{}, processor.TaskEnv{ApplicationID: "app", Collector: col})
	must(t, err)
	must(t, g.Init())
	must(t, g.Process(kgoRecord("in", 0, 0, "abcdef", "v"), 5))
	if len(col.out) != 1 || col.out[0].topic != "app-agg-repartition" || col.out[0].partition != 2 {
		t.Fatalf("sent %+v, want app-agg-repartition partition 2", col.out)
	}
	g2, err := top.NewTaskGraph(processor.TaskID{Subtopology: 1}, processor.TaskEnv{ApplicationID: "app", Collector: col})
	must(t, err)
	must(t, g2.Init())
	must(t, g2.Process(kgoRecord("app-agg-repartition", 0, 0, "k", "v"), 5))
	if len(col.out) != 2 || col.out[1].topic != "out" {
		t.Fatalf("sent %+v, want a record on out", col.out)
	}
	sinks, err := top.InternalSinks()
	must(t, err)
	if len(sinks) != 1 || sinks[0].Topic != "agg-repartition" || sinks[0].Subtopology != 0 {
		t.Errorf("InternalSinks() = %+v", sinks)
	}
}

// TestPunctuation checks Kafka Streams' rules: stream-time punctuators are
// aligned to 0 and fire as records advance stream time, skipping missed
// intervals; wall-clock ones fire one interval after scheduling.
func TestPunctuation(t *testing.T) {
	var streamTime int64 = -1
	var wall int64 = 1000
	var fired []string
	var cancel processor.Cancellable
	top := processor.NewTopology()
	must(t, stringSource(top, "src", "in"))
	must(t, processor.AddProcessor(top, "p", func() processor.Processor[string, string, string, string] {
		return &punctuating{
			onInit: func(ctx processor.Context[string, string]) {
				ctx.Schedule(10*time.Millisecond, processor.StreamTime, func(ts int64) error {
					fired = append(fired, "stream@"+strconv.FormatInt(ts, 10))
					return nil
				})
				cancel = ctx.Schedule(100*time.Millisecond, processor.WallClockTime, func(ts int64) error {
					fired = append(fired, "wall@"+strconv.FormatInt(ts, 10))
					return nil
				})
			},
		}
	}, "src"))
	g, err := top.NewTaskGraph(processor.TaskID{}, processor.TaskEnv{
		Collector:  &captureCollector{},
		StreamTime: func() int64 { return streamTime },
		WallClock:  func() int64 { return wall },
	})
	must(t, err)
	must(t, g.Init())
	step := func(st int64) {
		streamTime = st
		_, err := g.PunctuateStreamTime()
		must(t, err)
	}
	step(-1) // no record yet: nothing fires
	step(3)  // first record: due at 0
	step(9)  // next due at 10
	step(10)
	step(47) // 20, 30, 40 missed: fires once, next at 50
	step(49)
	step(50)
	wall = 1099
	_, err = g.PunctuateWallClock()
	must(t, err)
	wall = 1100
	_, err = g.PunctuateWallClock()
	must(t, err)
	if next, ok := g.NextWallClock(); !ok || next != 1200 {
		t.Errorf("NextWallClock() = %d, %v; want 1200, true", next, ok)
	}
	wall = 1450 // 1200..1400 missed: once, next at 1500
	_, err = g.PunctuateWallClock()
	must(t, err)
	cancel.Cancel()
	wall = 1500
	_, err = g.PunctuateWallClock()
	must(t, err)
	got := strings.Join(fired, " ")
	want := "stream@3 stream@10 stream@47 stream@50 wall@1100 wall@1450"
	if got != want {
		t.Errorf("fired %q, want %q", got, want)
	}
}

type punctuating struct {
	onInit func(ctx processor.Context[string, string])
}

func (p *punctuating) Init(ctx processor.Context[string, string]) error {
	p.onInit(ctx)
	return nil
}
func (p *punctuating) Process(processor.Record[string, string]) error { return nil }
func (p *punctuating) Close() error                                   { return nil }

type countingCollector struct{ n, bytes int }

func (c *countingCollector) Send(_ string, _ int32, key, value []byte, _ []processor.Header, _ int64) error {
	c.n++
	c.bytes += len(key) + len(value)
	return nil
}
func (c *countingCollector) Partitions(string) (int32, error) { return 1, nil }

// BenchmarkStatelessChain runs source -> filter -> map -> sink in process:
// string deserialization at the source, a filter on the key, a map to the
// value's length, and Int64 serialization at the sink.
func BenchmarkStatelessChain(b *testing.B) {
	top := processor.NewTopology()
	must(b, stringSource(top, "src", "in"))
	must(b, processor.AddProcessor(top, "filter", processor.Func(func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		if r.Key == "drop" {
			return nil
		}
		return ctx.Forward(r)
	}), "src"))
	must(b, processor.AddProcessor(top, "map", processor.Func(func(ctx processor.Context[string, int64], r processor.Record[string, string]) error {
		return ctx.Forward(processor.WithValue(r, int64(len(r.Value))))
	}), "filter"))
	must(b, processor.AddSink(top, "sink", processor.SinkSpec[string, int64]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.Int64()}, "map"))
	col := &countingCollector{}
	g, err := top.NewTaskGraph(processor.TaskID{}, processor.TaskEnv{Collector: col})
	must(b, err)
	must(b, g.Init())
	recs := make([]*kgo.Record, 1024)
	for i := range recs {
		recs[i] = kgoRecord("in", 0, int64(i), "key-"+strconv.Itoa(i%50), "some line of text number "+strconv.Itoa(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := g.Process(recs[i%len(recs)], int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if col.n != b.N {
		b.Fatalf("sink saw %d records, want %d", col.n, b.N)
	}
}

// TestRecordNullMarks: WithValue replaces the value, so it is no longer
// null, and keeps a null key; WithKeyValue replaces both.
func TestRecordNullMarks(t *testing.T) {
	r := processor.Record[string, string]{Null: processor.NullKey | processor.NullValue}
	if v := processor.WithValue(r, 1); !v.Null.Key() || v.Null.Value() {
		t.Errorf("WithValue: null marks %b, want the key's only", v.Null)
	}
	if kv := processor.WithKeyValue(r, 1, 2); kv.Null != 0 {
		t.Errorf("WithKeyValue: null marks %b, want none", kv.Null)
	}
}
