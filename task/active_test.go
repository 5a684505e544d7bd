package task_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/task"
	"github.com/twmb/franz-go/pkg/kgo"
)

type collector struct{ values []string }

func (c *collector) Send(_ string, _ int32, _, value []byte, _ []processor.Header, _ int64) error {
	c.values = append(c.values, string(value))
	return nil
}
func (c *collector) Partitions(string) (int32, error) { return 1, nil }

// echoTopology reads topics a and b (co-partitioned) into one sink.
func echoTopology(t *testing.T) *processor.Topology {
	top := processor.NewTopology()
	if err := processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{"a", "b"}, KeySerde: serde.String(), ValueSerde: serde.String()}); err != nil {
		t.Fatal(err)
	}
	if err := processor.AddSink(top, "out", processor.SinkSpec[string, string]{Topic: "out", KeySerde: serde.String(), ValueSerde: serde.String()}, "src"); err != nil {
		t.Fatal(err)
	}
	return top
}

func recs(topic string, start int64, pairs ...any) []*kgo.Record {
	var out []*kgo.Record
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, &kgo.Record{Topic: topic, Offset: start + int64(i/2), Value: []byte(pairs[i].(string)), Timestamp: time.UnixMilli(int64(pairs[i+1].(int)))})
	}
	return out
}

func newTask(t *testing.T, col *collector, cfg task.Config) *task.Active {
	a, err := task.NewActive(task.ID{}, []task.TopicPartition{{Topic: "a"}, {Topic: "b"}}, echoTopology(t), processor.TaskEnv{Collector: col}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Init(); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestTimestampOrderAndStreamTime: the lowest head timestamp goes first,
// stream time is the maximum seen and never decreases.
func TestTimestampOrderAndStreamTime(t *testing.T) {
	col := &collector{}
	a := newTask(t, col, task.Config{MaxTaskIdle: -1})
	mustAdd(t, a, "a", recs("a", 0, "a1", 10, "a2", 30, "a3", 25), 3)
	mustAdd(t, a, "b", recs("b", 0, "b1", 20, "b2", 40), 2)
	n, err := a.Process(100, nil)
	if err != nil || n != 5 {
		t.Fatalf("Process = %d, %v", n, err)
	}
	if got := strings.Join(col.values, " "); got != "a1 b1 a2 a3 b2" {
		t.Errorf("order %q, want a1 b1 a2 a3 b2", got)
	}
	if a.StreamTime() != 40 {
		t.Errorf("stream time %d, want 40", a.StreamTime())
	}
	offs := a.CommitOffsets()
	if len(offs) != 2 || offs[0].Offset != 3 || offs[1].Offset != 2 {
		t.Errorf("commit offsets %+v, want a@3 b@2", offs)
	}
	if ts, err := task.DecodeCommitMetadata(offs[0].Metadata); err != nil || ts != 40 {
		t.Errorf("metadata %q decodes to %d, %v", offs[0].Metadata, ts, err)
	}
}

func mustAdd(t *testing.T, a *task.Active, topic string, rs []*kgo.Record, end int64) bool {
	t.Helper()
	pause, err := a.AddRecords(topic, 0, rs, end)
	if err != nil {
		t.Fatal(err)
	}
	return pause
}

// TestWaitsForEmptyPartition: with max.task.idle.ms > 0 an empty partition
// that may have data blocks processing until the idle time passes; one whose
// lag is known to be zero does not.
func TestWaitsForEmptyPartition(t *testing.T) {
	now := time.Unix(100, 0)
	col := &collector{}
	a := newTask(t, col, task.Config{MaxTaskIdle: time.Second, Now: func() time.Time { return now }})
	mustAdd(t, a, "a", recs("a", 0, "a1", 10), -1)
	if n, _ := a.Process(10, nil); n != 0 {
		t.Fatalf("processed %d records while b's lag is unknown", n)
	}
	now = now.Add(999 * time.Millisecond)
	if n, _ := a.Process(10, nil); n != 0 {
		t.Fatalf("processed %d records before max.task.idle.ms", n)
	}
	now = now.Add(time.Millisecond)
	if n, _ := a.Process(10, nil); n != 1 {
		t.Fatalf("processed %d records after max.task.idle.ms, want 1", n)
	}
	// b caught up (fetched to its end offset): no waiting.
	mustAdd(t, a, "b", recs("b", 0, "b1", 5), 1)
	mustAdd(t, a, "a", recs("a", 1, "a2", 20), -1)
	if n, _ := a.Process(10, nil); n != 2 {
		t.Fatalf("processed %d, want 2", n)
	}
	mustAdd(t, a, "a", recs("a", 2, "a3", 30), -1)
	if n, _ := a.Process(10, nil); n != 1 {
		t.Fatalf("processed %d with b at its end offset, want 1", n)
	}
	if got := strings.Join(col.values, " "); got != "a1 b1 a2 a3" {
		t.Errorf("order %q", got)
	}
}

func TestPauseAndResume(t *testing.T) {
	a := newTask(t, &collector{}, task.Config{MaxTaskIdle: -1, BufferedRecordsPerPartition: 4})
	var many []any
	for i := 0; i < 6; i++ {
		many = append(many, "v", i)
	}
	if !mustAdd(t, a, "a", recs("a", 0, many...), -1) {
		t.Fatal("6 records over a bound of 4 did not ask to pause")
	}
	if len(a.Resumable()) != 0 {
		t.Fatal("resumable before draining")
	}
	if _, err := a.Process(4, nil); err != nil {
		t.Fatal(err)
	}
	if r := a.Resumable(); len(r) != 1 || r[0].Topic != "a" {
		t.Fatalf("Resumable() = %v after draining to 2", r)
	}
}

func TestInvalidTimestampGoesToHandler(t *testing.T) {
	a := newTask(t, &collector{}, task.Config{MaxTaskIdle: -1})
	bad := &kgo.Record{Topic: "a", Offset: 0, Value: []byte("x"), Timestamp: time.UnixMilli(-5)}
	mustAdd(t, a, "a", []*kgo.Record{bad}, -1)
	mustAdd(t, a, "a", recs("a", 1, "ok", 3), -1)
	_, err := a.Process(10, nil)
	var ite *task.InvalidTimestampError
	var te *task.Error
	if !errors.As(err, &ite) || !errors.As(err, &te) || te.Offset != 0 || te.Topic != "a" {
		t.Fatalf("error = %v, want an InvalidTimestampError at a[0]@0", err)
	}
	var skipped []int64
	n, err := a.Process(10, func(rec *kgo.Record, err error) error {
		skipped = append(skipped, rec.Offset)
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("Process = %d, %v", n, err)
	}
	if offs := a.CommitOffsets(); len(offs) != 1 || offs[0].Offset != 2 {
		t.Errorf("commit offsets %+v, want a@2", offs)
	}
}

func TestCommitMetadata(t *testing.T) {
	for _, ts := range []int64{-1, 0, 1700000000000} {
		got, err := task.DecodeCommitMetadata(task.EncodeCommitMetadata(ts))
		if err != nil || got != ts {
			t.Errorf("round trip of %d = %d, %v", ts, got, err)
		}
	}
	if ts, err := task.DecodeCommitMetadata(""); err != nil || ts != -1 {
		t.Errorf("empty metadata = %d, %v", ts, err)
	}
	for _, bad := range []string{"AQAAAXx=", "sluice1:", "sluice1:abc", "sluice1:-7"} {
		if _, err := task.DecodeCommitMetadata(bad); err == nil {
			t.Errorf("metadata %q decoded without error", bad)
		}
	}
}

func FuzzDecodeCommitMetadata(f *testing.F) {
	f.Add("sluice1:123")
	f.Add("")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, md string) {
		ts, err := task.DecodeCommitMetadata(md)
		if err != nil {
			return
		}
		if md != "" && task.EncodeCommitMetadata(ts) != md && !strings.HasPrefix(md, "sluice1:") {
			t.Fatalf("%q decoded to %d", md, ts)
		}
	})
}

func TestParseID(t *testing.T) {
	id, err := task.ParseID("3_17")
	if err != nil || id != (task.ID{Subtopology: 3, Partition: 17}) || id.String() != "3_17" {
		t.Fatalf("ParseID = %v, %v", id, err)
	}
	for _, bad := range []string{"", "3", "a_1", "1_-2", "1_2_3"} {
		if _, err := task.ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) succeeded", bad)
		}
	}
}
