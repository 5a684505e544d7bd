package dsl_test

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/streamstest"
)

// pipeWithHeader pipes key=value at ts with the one header h=hv.
func pipeWithHeader(t *testing.T, in *streamstest.InputTopic[string, string], key, value, hv string, ts int64) {
	t.Helper()
	must(t, in.PipeRaw([]byte(key), []byte(value), []processor.Header{{Key: "h", Value: []byte(hv)}}, ts))
}

// countHeaders runs a count over "in" to "out" and returns the driver.
func countHeaders(t *testing.T, cfg streamstest.Config, opts ...dsl.Option) *streamstest.Driver {
	t.Helper()
	b := dsl.NewBuilder()
	dsl.NonNull(dsl.ToStream(source(b).GroupByKey().Count(opts...))).WithSerdes(serde.String(), serde.Int64()).To("out")
	return buildDriver(t, b, cfg)
}

func readHeaders(t *testing.T, d *streamstest.Driver) []string {
	t.Helper()
	recs, err := streamstest.NewOutputTopic(d, "out", serde.String(), serde.Int64()).ReadRecords()
	must(t, err)
	var out []string
	for _, r := range recs {
		s := fmt.Sprintf("%s=%d", r.Key, r.Value)
		for _, h := range r.Headers {
			s += fmt.Sprintf(" %s:%s", h.Key, h.Value)
		}
		out = append(out, s)
	}
	return out
}

// TestCachedAggregationKeepsWriterHeaders: a cached count's output carries
// the headers of the record that last wrote the cache entry, at a commit
// flush and at an eviction, as the uncached count's does. Kafka Streams'
// CachingKeyValueStore.putAndMaybeForward forwards the dirty entry with its
// own record context's headers (the entry keeps the writer's
// ProcessorRecordContext, as CachingInMemoryKeyValueStoreTest sets one
// before each put; shouldForwardDirtyItemsWhenFlushCalled,
// shouldForwardDirtyItemToListenerWhenEvicted).
func TestCachedAggregationKeepsWriterHeaders(t *testing.T) {
	for _, caching := range []bool{false, true} {
		t.Run(fmt.Sprint("caching=", caching), func(t *testing.T) {
			d := countHeaders(t, streamstest.Config{ManualCommit: true}, dsl.Caching(caching))
			in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
			pipeWithHeader(t, in, "a", "x", "1", 1)
			must(t, d.Commit())
			if got := fmt.Sprint(readHeaders(t, d)); got != "[a=1 h:1]" {
				t.Errorf("got %s, want [a=1 h:1]", got)
			}
		})
	}
	t.Run("eviction", func(t *testing.T) {
		// Room for one entry: b's write evicts a's, which goes downstream
		// with a's headers, not with those of b, the record in hand.
		d := countHeaders(t, streamstest.Config{ManualCommit: true, CacheMaxBytes: 300}, dsl.Caching(true))
		in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
		pipeWithHeader(t, in, "a", "x", "A", 1)
		pipeWithHeader(t, in, "b", "x", "B", 2)
		if got := fmt.Sprint(readHeaders(t, d)); got != "[a=1 h:A]" {
			t.Errorf("evicted %s, want [a=1 h:A]", got)
		}
		must(t, d.Commit())
		if got := fmt.Sprint(readHeaders(t, d)); got != "[b=1 h:B]" {
			t.Errorf("flushed %s, want [b=1 h:B]", got)
		}
	})
}

// TestSuppressionUnderCachedAggregationBuffersWriterContext: a suppression
// under a cached windowed count buffers (in its changelogged store) the
// record context of the record that last wrote the window: topic, partition
// and offset of that input record and its headers, whether the window left
// the cache at a commit or by eviction. Kafka Streams'
// CachingWindowStore.putAndMaybeForward sets the entry's context
// (setRecordContext) while it forwards, and KTableSuppressProcessor buffers
// context.recordContext(); the buffer value's layout is the one
// TestBufferValueBytesMatchKafka checks against
// TimeOrderedKeyValueBufferChangelogDeserializationHelper's format.
func TestSuppressionUnderCachedAggregationBuffersWriterContext(t *testing.T) {
	for _, c := range []struct {
		name  string
		cache int64
		// pipe sends the records; the buffered a@0 must be the one at
		// offset wantOff with header h=wantH and timestamp wantTS.
		pipe            func(*streamstest.Driver, *streamstest.InputTopic[string, string])
		wantOff, wantTS int64
		wantH           string
	}{
		{"flush", 0, func(d *streamstest.Driver, in *streamstest.InputTopic[string, string]) {
			pipeWithHeader(t, in, "a", "x", "1", 3)
			pipeWithHeader(t, in, "a", "x", "2", 5)
			must(t, d.Commit())
		}, 1, 5, "2"},
		{"eviction", 300, func(d *streamstest.Driver, in *streamstest.InputTopic[string, string]) {
			pipeWithHeader(t, in, "a", "x", "1", 3)
			pipeWithHeader(t, in, "b", "x", "2", 4) // evicts a@0
		}, 0, 3, "1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := dsl.NewBuilder()
			counts := dsl.WindowedBy(source(b).GroupByKey(), dsl.TumblingWindows(10*time.Millisecond, 0)).
				Count(dsl.StoreName("counts"), dsl.Caching(true))
			dsl.ToStream(dsl.SuppressUntilWindowCloses(counts, dsl.Named("final"))).To("out")
			cfg := streamstest.Config{ManualCommit: true}
			if c.cache > 0 {
				cfg.CacheMaxBytes = c.cache
			}
			d := buildDriver(t, b, cfg)
			c.pipe(d, streamstest.NewInputTopic(d, "in", serde.String(), serde.String()))
			buf, err := streamstest.Store[statestore.KeyValueStore[[]byte, []byte]](d, "final-store")
			must(t, err)
			key, err := dsl.TimeWindowedSerde(serde.String(), 10*time.Millisecond).Serialize("", dsl.Windowed[string]{Key: "a", Start: 0, End: 10})
			must(t, err)
			v, ok, err := buf.Get(key)
			must(t, err)
			// timestamp, offset, topic (sized), partition, header count,
			// then each header's key and value (sized).
			want := binary.BigEndian.AppendUint64(nil, uint64(c.wantTS))
			want = binary.BigEndian.AppendUint64(want, uint64(c.wantOff))
			want = append(binary.BigEndian.AppendUint32(want, 2), "in"...)
			want = binary.BigEndian.AppendUint32(want, 0)
			want = binary.BigEndian.AppendUint32(want, 1)
			want = append(binary.BigEndian.AppendUint32(want, 1), 'h')
			want = append(binary.BigEndian.AppendUint32(want, 1), c.wantH...)
			if !ok || len(v) < len(want) || fmt.Sprintf("%x", v[:len(want)]) != fmt.Sprintf("%x", want) {
				t.Errorf("buffered a@0 = %x (%v), want it to start with %x", v, ok, want)
			}
		})
	}
}
