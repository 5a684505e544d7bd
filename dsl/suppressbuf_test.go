package dsl

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicestreams/sluice/processor"
)

// TestBufferValueBytesMatchKafka: the suppression buffer's changelog values
// are Kafka Streams 4.4's BufferValue.serialize(8) followed by the buffer
// time. The expected bytes were produced by kafka-streams-4.4.0.jar's
// BufferValue and ProcessorRecordContext for the same inputs (distinct
// prior and old values; old equal to prior, written as the -2 sentinel; a
// first put with no old value and no headers; a deletion).
func TestBufferValueBytesMatchKafka(t *testing.T) {
	ctx := recordContext{timestamp: 42, offset: 7, partition: 3, topic: "in",
		headers: []processor.Header{{Key: "h", Value: []byte{1, 2}}, {Key: "n"}}}
	long := func(n byte) []byte { return []byte{0, 0, 0, 0, 0, 0, 0, n} }
	cases := []struct {
		v    bufferValue
		time int64
		want string
	}{
		{bufferValue{ctx, long(1), long(2), long(3)}, 10000,
			"000000000000002a000000000000000700000002696e00000003000000020000000168000000020102000000016effffffff0000000800000000000000010000000800000000000000020000000800000000000000030000000000002710"},
		{bufferValue{ctx, long(2), long(2), long(3)}, 10000,
			"000000000000002a000000000000000700000002696e00000003000000020000000168000000020102000000016effffffff000000080000000000000002fffffffe0000000800000000000000030000000000002710"},
		{bufferValue{recordContext{timestamp: 5, offset: -1, partition: -1}, nil, nil, long(3)}, 20000,
			"0000000000000005ffffffffffffffff00000000ffffffff00000000ffffffffffffffff0000000800000000000000030000000000004e20"},
		{bufferValue{ctx, long(1), long(2), nil}, 10000,
			"000000000000002a000000000000000700000002696e00000003000000020000000168000000020102000000016effffffff000000080000000000000001000000080000000000000002ffffffff0000000000002710"},
	}
	for i, c := range cases {
		got := hex.EncodeToString(c.v.appendTo(nil, c.time))
		if got != c.want {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, c.want)
		}
		back, time, err := decodeBufferValue(c.v.appendTo(nil, c.time))
		if err != nil || time != c.time || hex.EncodeToString(back.appendTo(nil, time)) != c.want {
			t.Errorf("case %d: round trip %+v %d %v", i, back, time, err)
		}
	}
}

// TestBufferValueRestoresKafkaV3 follows TimeOrderedKeyValueBufferTest
// shouldRestoreV3Format: values captured from Kafka Streams (header count
// -1, the older way to write no headers) decode to their record context,
// prior, old and new values and buffer time.
func TestBufferValueRestoresKafkaV3(t *testing.T) {
	cases := []struct{ bin, want string }{
		{"0000000000000001000000000000000000000005746F70696300000000FFFFFFFFFFFFFFFFFFFFFFFF00000004717765720000000000000002",
			"ts=1 off=0 topic=topic p=0 prior=<nil> old=<nil> new=qwer time=2"},
		{"0000000000000003000000000000000000000005746F70696300000000FFFFFFFF0000000870726576696F757300000005336F34696D000000046E6578740000000000000001",
			"ts=3 off=0 topic=topic p=0 prior=previous old=3o4im new=next time=1"},
		{"0000000000000000000000000000000000000005746F70696300000000FFFFFFFFFFFFFFFFFFFFFFFF00000006646F6F6D65640000000000000000",
			"ts=0 off=0 topic=topic p=0 prior=<nil> old=<nil> new=doomed time=0"},
	}
	str := func(b []byte) string {
		if b == nil {
			return "<nil>"
		}
		return string(b)
	}
	for _, c := range cases {
		raw, err := hex.DecodeString(strings.ToLower(c.bin))
		if err != nil {
			t.Fatal(err)
		}
		v, time, err := decodeBufferValue(raw)
		if err != nil {
			t.Fatalf("%s: %v", c.bin, err)
		}
		got := strings.Join([]string{"ts=" + itoa(v.ctx.timestamp), "off=" + itoa(v.ctx.offset), "topic=" + v.ctx.topic,
			"p=" + itoa(int64(v.ctx.partition)), "prior=" + str(v.priorValue), "old=" + str(v.oldValue),
			"new=" + str(v.newValue), "time=" + itoa(time)}, " ")
		if got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
	for _, bad := range []string{"", "00", strings.Repeat("00", 40), "0000000000000001000000000000000000000005746F706963000000007FFFFFFF"} {
		raw, _ := hex.DecodeString(strings.ToLower(bad))
		if _, _, err := decodeBufferValue(raw); err == nil {
			t.Errorf("decoding %q: no error", bad)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func FuzzDecodeBufferValue(f *testing.F) {
	f.Add([]byte{})
	raw, _ := hex.DecodeString("0000000000000003000000000000000000000005746f70696300000000ffffffff0000000870726576696f757300000005336f34696d000000046e6578740000000000000001")
	f.Add(raw)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, time, err := decodeBufferValue(data)
		if err != nil {
			return
		}
		again, time2, err := decodeBufferValue(v.appendTo(nil, time))
		if err != nil || time2 != time || string(again.newValue) != string(v.newValue) || string(again.priorValue) != string(v.priorValue) {
			t.Fatalf("re-encoding %x does not decode the same: %v", data, err)
		}
	})
}
