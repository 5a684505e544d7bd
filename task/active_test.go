package task_test

import (
	"encoding/base64"
	"encoding/binary"
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
	// Each partition commits its own partition time, the largest timestamp
	// processed from it (StreamTask.committableOffsetsAndMetadata).
	if ts, err := task.DecodeCommitMetadata(offs[0].Metadata); err != nil || ts != 30 {
		t.Errorf("a's metadata %q decodes to %d, %v; want 30", offs[0].Metadata, ts, err)
	}
	if ts, err := task.DecodeCommitMetadata(offs[1].Metadata); err != nil || ts != 40 {
		t.Errorf("b's metadata %q decodes to %d, %v; want 40", offs[1].Metadata, ts, err)
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

// The tests of max.task.idle.ms follow Kafka Streams' PartitionGroupTest
// (shouldNeverWaitIfIdlingIsDisabled, shouldBeReadyIfAllPartitionsAreBuffered,
// shouldWaitForFetchesWhenMetadataIsIncomplete,
// shouldWaitForPollWhenLagIsNonzero, shouldIdleAsSpecifiedWhenLagIsZero):
// partition a holds records at offsets 1 and 5 (timestamps 1 and 5 here),
// partition b is empty with the lag the case names.

// wantProcessed processes up to max records and fails unless want were.
func wantProcessed(t *testing.T, a *task.Active, max, want int, when string) {
	t.Helper()
	if n, err := a.Process(max, nil); err != nil || n != want {
		t.Fatalf("processed %d (%v) %s, want %d", n, err, when, want)
	}
}

func idleTask(t *testing.T, idle time.Duration, now *time.Time) (*task.Active, *collector) {
	t.Helper()
	col := &collector{}
	a := newTask(t, col, task.Config{MaxTaskIdle: idle, Now: func() time.Time { return *now }})
	mustAdd(t, a, "a", recs("a", 1, "a1", 1, "a5", 5), 3)
	return a, col
}

// TestIdleDisabledNeverWaits follows shouldNeverWaitIfIdlingIsDisabled: at
// -1 an empty partition never blocks, whatever its lag.
func TestIdleDisabledNeverWaits(t *testing.T) {
	now := time.Unix(0, 0)
	a, _ := idleTask(t, -1, &now)
	wantProcessed(t, a, 10, 2, "with max.task.idle.ms -1 and b empty")
	if a.EnforcedProcessing() != 0 {
		t.Errorf("enforced processing %d with idling disabled, want 0", a.EnforcedProcessing())
	}
}

// TestReadyWhenAllPartitionsBuffered follows
// shouldBeReadyIfAllPartitionsAreBuffered.
func TestReadyWhenAllPartitionsBuffered(t *testing.T) {
	now := time.Unix(0, 0)
	a, col := idleTask(t, 0, &now)
	mustAdd(t, a, "b", recs("b", 1, "b1", 1, "b5", 5), 3)
	wantProcessed(t, a, 2, 2, "with both partitions buffered")
	if got := strings.Join(col.values, " "); got != "a1 b1" {
		t.Errorf("order %q, want a1 b1", got)
	}
}

// TestIdleZeroWaitsForFetch follows
// shouldWaitForFetchesWhenMetadataIsIncomplete: at 0, an empty partition
// whose lag is not known yet blocks the task until a fetch says it is 0.
// Sluice's old code processed at once here.
func TestIdleZeroWaitsForFetch(t *testing.T) {
	now := time.Unix(0, 0)
	a, _ := idleTask(t, 0, &now)
	wantProcessed(t, a, 10, 0, "while b's lag is unknown")
	if w := a.WaitingForLag(); len(w) != 1 || w[0].Topic != "b" {
		t.Fatalf("WaitingForLag() = %v, want [b]", w)
	}
	now = now.Add(time.Hour) // no idle time makes an unknown lag known
	wantProcessed(t, a, 10, 0, "an hour later with b's lag still unknown")
	a.SetEndOffset("b", 0, 0, 0) // b is empty on the broker: lag 0
	if len(a.WaitingForLag()) != 0 {
		t.Fatalf("WaitingForLag() = %v after b's lag became known", a.WaitingForLag())
	}
	wantProcessed(t, a, 10, 2, "once b's lag is 0")
	if a.EnforcedProcessing() == 0 {
		t.Error("processing past empty b was not counted as enforced")
	}
}

// TestIdleZeroWaitsForPollWhenLagNonzero follows
// shouldWaitForPollWhenLagIsNonzero: records known to be on the broker are
// waited for, however long it takes.
func TestIdleZeroWaitsForPollWhenLagNonzero(t *testing.T) {
	now := time.Unix(0, 0)
	a, col := idleTask(t, 0, &now)
	a.SetEndOffset("b", 0, 1, 0) // one record on the broker, none fetched
	now = now.Add(time.Hour)
	wantProcessed(t, a, 10, 0, "while b has lag 1")
	mustAdd(t, a, "b", recs("b", 0, "b0", 0), 1)
	wantProcessed(t, a, 10, 3, "after b's record arrived")
	if got := strings.Join(col.values, " "); got != "b0 a1 a5" {
		t.Errorf("order %q, want b0 a1 a5 (b's earlier record first)", got)
	}
}

// TestIdleAsSpecifiedWhenLagZero follows shouldIdleAsSpecifiedWhenLagIsZero:
// with max.task.idle.ms 1 and b's lag 0, not ready at 0 ms, ready (enforced)
// at 1 and 2 ms.
func TestIdleAsSpecifiedWhenLagZero(t *testing.T) {
	now := time.Unix(0, 0)
	a, _ := idleTask(t, time.Millisecond, &now)
	a.SetEndOffset("b", 0, 0, 0)
	wantProcessed(t, a, 1, 0, "at 0 ms")
	now = now.Add(time.Millisecond)
	wantProcessed(t, a, 1, 1, "at the 1 ms deadline")
	now = now.Add(time.Millisecond)
	wantProcessed(t, a, 1, 1, "at 2 ms")
	if a.EnforcedProcessing() != 2 {
		t.Errorf("enforced processing %d, want 2", a.EnforcedProcessing())
	}
	// b gets data and drains to its end again: the idle time starts over.
	mustAdd(t, a, "b", recs("b", 0, "b9", 9), 1)
	mustAdd(t, a, "a", recs("a", 3, "a7", 7), 4)
	if n, _ := a.Process(10, nil); n != 1 {
		t.Fatalf("processed %d, want 1 (a7 before b9, then b empty again)", n)
	}
	wantProcessed(t, a, 10, 0, "right after b emptied")
}

// TestTransactionMarkerEndsLag: a control record (transaction marker) at the
// end of a partition is not processed but moves the position past it, so
// the lag reaches 0 and the task does not wait forever.
func TestTransactionMarkerEndsLag(t *testing.T) {
	now := time.Unix(0, 0)
	a, col := idleTask(t, 0, &now)
	b := recs("b", 0, "b0", 0, "marker", 0)
	b[1].Attrs = kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Control: true, Transactional: true})
	mustAdd(t, a, "b", b, 2)
	if n, _ := a.Process(10, nil); n != 3 {
		t.Fatalf("processed %d, want 3 (the marker is not a record)", n)
	}
	if got := strings.Join(col.values, " "); got != "b0 a1 a5" {
		t.Errorf("order %q, want b0 a1 a5", got)
	}
	// With nothing buffered the consumer's position is committed, past the
	// marker (StreamTaskTest.shouldCommitConsumerPositionIfRecordQueueIsEmpty;
	// KAFKA-6607), or a transactional input's lag would never reach 0.
	if offs := a.CommitOffsets(); len(offs) != 2 || offs[1].Offset != 2 {
		t.Errorf("commit offsets %+v, want b at 2 (past the marker)", offs)
	}
}

// TestCommitPastLaterMarker follows StreamTaskTest.shouldRespectCommitNeeded
// and commitNeeded's position check: a marker fetched after the last commit,
// with nothing processed since, still needs a commit, at the position past
// it; a buffered record is committed at its own offset
// (shouldCommitNextOffsetAndProcessorMetadataFromQueueIfAvailable).
func TestCommitPastLaterMarker(t *testing.T) {
	a := newTask(t, &collector{}, task.Config{MaxTaskIdle: -1})
	mustAdd(t, a, "b", recs("b", 0, "b0", 0), 1)
	wantProcessed(t, a, 10, 1, "b0")
	if offs := a.CommitOffsets(); len(offs) != 1 || offs[0].Offset != 1 {
		t.Fatalf("commit offsets %+v, want b at 1", offs)
	}
	a.Committed()
	if a.CommitNeeded() {
		t.Fatal("commit needed right after a commit")
	}
	m := recs("b", 1, "marker", 0)
	m[0].Attrs = kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Control: true, Transactional: true})
	mustAdd(t, a, "b", m, 2)
	if !a.CommitNeeded() {
		t.Fatal("no commit needed after the consumer moved past a marker")
	}
	if offs := a.CommitOffsets(); len(offs) != 1 || offs[0].Offset != 2 {
		t.Fatalf("commit offsets %+v, want b at 2 (past the marker)", offs)
	}
	a.Committed()
	m = recs("b", 2, "marker", 0, "b3", 3, "b4", 4)
	m[0].Attrs = kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Control: true, Transactional: true})
	mustAdd(t, a, "b", m, 5)
	wantProcessed(t, a, 1, 1, "b3")
	if offs := a.CommitOffsets(); len(offs) != 1 || offs[0].Offset != 4 {
		t.Fatalf("commit offsets %+v, want b at 4 (the buffered head)", offs)
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

// TestCommitMetadata follows Kafka Streams' TopicPartitionMetadataTest: the
// encoding is base64 of magic byte 2 and the big-endian partition time
// (shouldEncodeDecodeEmptyMetaVersionTwo: 100 with empty processor metadata);
// version 1 decodes (shouldDecodeVersionOne); version 2 with processor
// metadata decodes to its time (shouldEncodeDecodeVersionTwo, "some_key" ->
// 100); the empty string is unknown (shouldDecodeEmptyStringVersionTwo); an
// unknown version and invalid base64 give unknown
// (shouldReturnUnknownTimestampIfUnknownVersion,
// shouldReturnUnknownTimestampIfInvalidMetadata). Sluice's older
// "sluice1:<time>" still decodes.
func TestCommitMetadata(t *testing.T) {
	// bytes 02 00 00 00 00 00 00 00 64, as Java's encode() for time 100.
	if got := task.EncodeCommitMetadata(100); got != "AgAAAAAAAABk" {
		t.Errorf("EncodeCommitMetadata(100) = %q, want Kafka's AgAAAAAAAABk", got)
	}
	// -1 (RecordQueue.UNKNOWN) is eight 0xff bytes.
	if got := task.EncodeCommitMetadata(-1); got != "Av//////////" {
		t.Errorf("EncodeCommitMetadata(-1) = %q, want Av//////////", got)
	}
	for _, ts := range []int64{-1, 0, 1700000000000} {
		got, err := task.DecodeCommitMetadata(task.EncodeCommitMetadata(ts))
		if err != nil || got != ts {
			t.Errorf("round trip of %d = %d, %v", ts, got, err)
		}
	}
	// Version 2 with processor metadata {"some_key": 100}: count 1, key
	// length 8, "some_key", int64 100.
	withMeta := base64.StdEncoding.EncodeToString(append(
		[]byte{2, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 1, 0, 0, 0, 8},
		append([]byte("some_key"), 0, 0, 0, 0, 0, 0, 0, 100)...))
	for _, c := range []struct {
		md string
		ts int64
	}{
		{"", -1},
		{"AQAAAAAAAABk", 100}, // version 1: 01 + int64 100
		{withMeta, 100},
		{"sluice1:123", 123},
		{"sluice1:-1", -1},
	} {
		if ts, err := task.DecodeCommitMetadata(c.md); err != nil || ts != c.ts {
			t.Errorf("DecodeCommitMetadata(%q) = %d, %v; want %d", c.md, ts, err, c.ts)
		}
	}
	for _, bad := range []string{"Aw==", "{}", "AQAAAXx=", "sluice1:", "sluice1:abc", "sluice1:-7"} {
		ts, err := task.DecodeCommitMetadata(bad)
		if err == nil || ts != -1 {
			t.Errorf("DecodeCommitMetadata(%q) = %d, %v; want -1 and an error", bad, ts, err)
		}
	}
	// Damaged processor metadata: Kafka keeps the time it read first.
	damaged := base64.StdEncoding.EncodeToString([]byte{2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0})
	if ts, err := task.DecodeCommitMetadata(damaged); err == nil || ts != 7 {
		t.Errorf("damaged processor metadata = %d, %v; want 7 and an error", ts, err)
	}
}

func FuzzDecodeCommitMetadata(f *testing.F) {
	f.Add("sluice1:123")
	f.Add("AgAAAAAAAABk")
	f.Add("")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, md string) {
		ts, err := task.DecodeCommitMetadata(md)
		if err != nil {
			return
		}
		if again, err := task.DecodeCommitMetadata(task.EncodeCommitMetadata(ts)); err != nil || again != ts {
			t.Fatalf("%q decoded to %d, which does not round-trip (%d, %v)", md, ts, again, err)
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

// TestStalledLagIsTakenAsCaughtUp: a partition whose lag stays above 0 with
// no records arriving (kgo skipped a compacted-away tail without a record to
// show for it) is reported after the given time and, once taken as caught
// up, no longer blocks the task; a record arriving resets the clock.
func TestStalledLagIsTakenAsCaughtUp(t *testing.T) {
	now := time.Unix(0, 0)
	a, _ := idleTask(t, 0, &now)
	a.SetEndOffset("b", 0, 5, 3) // position 3, end 5: lag 2
	wantProcessed(t, a, 10, 0, "while b has lag 2")
	now = now.Add(9 * time.Second)
	if s := a.StalledPartitions(10 * time.Second); len(s) != 0 {
		t.Fatalf("stalled after 9s: %v", s)
	}
	now = now.Add(time.Second)
	s := a.StalledPartitions(10 * time.Second)
	if len(s) != 1 || s[0].Topic != "b" {
		t.Fatalf("StalledPartitions = %v after 10s, want [b]", s)
	}
	a.AssumeCaughtUp("b", 0)
	wantProcessed(t, a, 10, 2, "once b is taken as caught up")
	if len(a.StalledPartitions(0)) != 0 {
		t.Error("b still stalled after AssumeCaughtUp")
	}
}

// TestExpiredCommittedOffsetDoesNotStall: a committed offset (50) whose
// records retention deleted (log start = end = 100) is never fetched; the
// consumer's position moves to the log start without a record, and Kafka
// Streams measures the lag from that position (PartitionGroup.readyToProcess
// takes the lag from mainConsumer.currentLag), so the task is not blocked
// forever. Sluice learns the log start from the lag probe.
func TestExpiredCommittedOffsetDoesNotStall(t *testing.T) {
	now := time.Unix(0, 0)
	a, _ := idleTask(t, 0, &now) // a has 2 records buffered
	a.SetPosition("b", 0, 50)    // committed offset
	a.SetEndOffset("b", 0, 100, 100)
	now = now.Add(time.Hour)
	if n, _ := a.Process(10, nil); n == 0 {
		t.Fatal("blocked forever; WaitingForLag =", a.WaitingForLag())
	}
}

// TestKnownLagWithoutProgressIsProbedAgain: a partition whose known lag
// stays above 0 with no record arriving is listed by WaitingForLag again
// after a while, so its position can be checked against the log start;
// before that, a fetch is simply awaited (shouldWaitForPollWhenLagIsNonzero).
func TestKnownLagWithoutProgressIsProbedAgain(t *testing.T) {
	now := time.Unix(0, 0)
	a, _ := idleTask(t, 0, &now)
	a.SetPosition("b", 0, 50)
	a.SetEndOffset("b", 0, 100, -1)
	wantProcessed(t, a, 10, 0, "with b's lag 50")
	if w := a.WaitingForLag(); len(w) != 0 {
		t.Fatalf("WaitingForLag() = %v right after the lag became known, want none", w)
	}
	now = now.Add(2 * time.Second)
	if w := a.WaitingForLag(); len(w) != 1 || w[0].Topic != "b" {
		t.Fatalf("WaitingForLag() = %v after 2 s without records for b, want [b]", w)
	}
	a.SetEndOffset("b", 0, 100, 0) // a log start below the position changes nothing
	wantProcessed(t, a, 10, 0, "with b's lag still 50")
}

// javaMetadata is TopicPartitionMetadata.encode() of a partition time with
// processor metadata of the given keys and values (ProcessorMetadata
// serialization: int32 count, then int32 key length, key, int64 value).
func javaMetadata(ts int64, kv ...any) string {
	b := binary.BigEndian.AppendUint64([]byte{2}, uint64(ts))
	b = binary.BigEndian.AppendUint32(b, uint32(len(kv)/2))
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint64(b, uint64(kv[i+1].(int64)))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestProcessorMetadataCommittedBack: the processor metadata in a committed
// offset's TopicPartitionMetadata (Kafka Streams writes keys there, e.g. for
// emit-on-window-close, through addProcessorMetadataKeyValue) is merged over
// the task's partitions and committed back with every offset, as
// StreamTask.initializeTaskTimeAndProcessorMetadata and
// committableOffsetsAndMetadata do
// (StreamTaskTest.shouldCommitNextOffsetAndProcessorMetadataFromQueueIfAvailable).
// Sluice committed an empty section, so a Java instance taking over lost it.
func TestProcessorMetadataCommittedBack(t *testing.T) {
	a := newTask(t, &collector{}, task.Config{MaxTaskIdle: -1})
	md := javaMetadata(7, "emit-window-close-key", int64(12345))
	a.InitPartitionTime("a", 0, 7)
	a.InitProcessorMetadata(md)
	mustAdd(t, a, "a", recs("a", 3, "a7", 7), 4)
	wantProcessed(t, a, 10, 1, "a7")
	offs := a.CommitOffsets()
	if len(offs) != 1 || offs[0].Metadata != md {
		t.Fatalf("commit offsets %+v, want a's metadata %q unchanged", offs, md)
	}
	// A second partition's section is merged; both partitions commit the
	// merged metadata.
	a.InitProcessorMetadata(javaMetadata(1, "other", int64(-1)))
	mustAdd(t, a, "b", recs("b", 0, "b8", 8), 1)
	wantProcessed(t, a, 10, 1, "b8")
	want := javaMetadata(8, "emit-window-close-key", int64(12345), "other", int64(-1))
	for _, o := range a.CommitOffsets() {
		if o.Topic == "b" && o.Metadata != want {
			t.Errorf("b's metadata %q, want %q (merged processor metadata)", o.Metadata, want)
		}
	}
}
