package dsl

import (
	"testing"
	"time"

	"github.com/sluicestreams/sluice/serde"
)

// murmur2Partitions6 are the partitions, of 6, that Kafka's default
// partitioner gives these keys: toPositive(murmur2(key)) % 6, with the
// murmur2 values of Kafka's UtilsTest.testMurmur2 ("21" -> -973932308,
// "foobar" -> -790332482, ...).
var murmur2Partitions6 = map[string]int32{
	"21":                         0,
	"foobar":                     0,
	"a-little-bit-long-string":   2,
	"a-little-bit-longer-string": 5,
	"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": 5,
	"abc": 3,
}

// TestWindowedPartitioner follows Kafka Streams'
// WindowedStreamPartitionerTest.testCopartitioning: a windowed key goes to
// the partition the default partitioner gives its base key, whatever the
// window (time windows 10w..20w for w = 1..9 there; session windows too).
func TestWindowedPartitioner(t *testing.T) {
	for name, ks := range map[string]serde.Serde[Windowed[string]]{
		"time":    TimeWindowedSerde(serde.String(), 10*time.Millisecond),
		"session": SessionWindowedSerde(serde.String()),
	} {
		part := windowedPartitioner[Windowed[string], string](ks)
		if part == nil {
			t.Fatalf("%s: no windowed partitioner for the %s-windowed serde", name, name)
		}
		for key, want := range murmur2Partitions6 {
			for w := int64(1); w < 10; w++ {
				wk := Windowed[string]{Key: key, Start: 10 * w, End: 20 * w}
				if got := part("topic", wk, key, 6); got != want {
					t.Errorf("%s: %q in window [%d,%d) went to partition %d, want %d", name, key, wk.Start, wk.End, got, want)
				}
			}
		}
	}
	if windowedPartitioner[string, string](serde.String()) != nil {
		t.Error("a plain key serde got the windowed partitioner")
	}
}
