package statestore

import (
	"encoding/hex"
	"fmt"
	"testing"
	"time"
)

// Golden changelog bytes of Kafka Streams 4.4.0, printed by its own
// serializers from kafka-streams-4.4.0.jar (jshell):
//
//   - window keys: WindowKeySchema.toStoreKeyBinary(key, start, seqnum 0), what
//     ChangeLoggingWindowBytesStore.put logs (ChangeLoggingWindowBytesStoreTest
//     and ChangeLoggingTimestampedWindowBytesStoreTest.shouldLogPuts expect
//     toStoreKeyBinary(key, 0, 0) as the logged key);
//   - session keys: SessionKeySchema.toBinary(Windowed(key, SessionWindow(start,
//     end))), what ChangeLoggingSessionBytesStore logs;
//   - timestamped values: the store holds ValueAndTimestampSerializer's bytes
//     (8-byte timestamp, then the value) but logs
//     ValueAndTimestampDeserializer.rawValue with the timestamp as the record's
//     (ChangeLoggingTimestampedKeyValueBytesStoreTest.shouldWriteKeyValueBytesToInnerStoreOnPut:
//     "there" at 97 is logged as value "there", timestamp 97;
//     shouldLogKeyNullOnDelete: a delete logs a null value at the context's
//     timestamp);
//   - restoring a timestamped store: RecordConverters.rawValueToTimestampedValue
//     turns value "v" of a record at timestamp 10 into 000000000000000a76
//     (RecordConvertersTest.shouldAddTimestampToValueOnConversionWhenValueIsNotNull).
var kafkaGolden = map[string]string{
	"window k 1000":       "6b00000000000003e800000000",
	"window k -5":         "6bfffffffffffffffb00000000",
	"window a\x00b 60000": "610062000000000000ea6000000000",
	"session k 10 20":     "6b0000000000000014000000000000000a",
	"session a\x00b 0 0":  "61006200000000000000000000000000000000",
	"restored v at 10":    "000000000000000a76",
}

func goldenBytes(t *testing.T, name string) string {
	t.Helper()
	h, ok := kafkaGolden[name]
	if !ok {
		t.Fatalf("no golden %q", name)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestChangelogBytesAreKafkas writes each store kind, persistent and in
// memory, cached and not, and compares what reaches the changelog (key,
// value, record timestamp) with the golden bytes above.
func TestChangelogBytesAreKafkas(t *testing.T) {
	forEachStoreConfig(t, func(t *testing.T, e Engine, opts []Option) {
		log := &recLogger{}
		m := openManager(t, e, log, 1<<20,
			KeyValue("kv", stringSerde{}, stringSerde{}, opts...),
			TimestampedKeyValue("tkv", stringSerde{}, stringSerde{}, opts...),
			Window("w", time.Hour, time.Minute, stringSerde{}, stringSerde{}, opts...),
			TimestampedWindow("tw", time.Hour, time.Minute, stringSerde{}, stringSerde{}, opts...),
			Session("s", time.Hour, stringSerde{}, stringSerde{}, opts...))
		m.SetTimestamp(42)
		kv := mustStore[KeyValueStore[string, string]](t, m, "kv")
		tkv := mustStore[TimestampedKeyValueStore[string, string]](t, m, "tkv")
		w := mustStore[WindowStore[string, string]](t, m, "w")
		tw := mustStore[WindowStore[string, ValueAndTimestamp[string]]](t, m, "tw")
		s := mustStore[SessionStore[string, string]](t, m, "s")
		must(t, kv.Put("hi", "there"))
		must(t, tkv.Put("hi", ValueAndTimestamp[string]{Value: "there", Timestamp: 97}))
		must(t, w.Put("k", "x", 1000))
		must(t, w.Put("a\x00b", "y", 60000))
		must(t, tw.Put("k", ValueAndTimestamp[string]{Value: "there", Timestamp: 97}, 1000))
		must(t, s.Put(Windowed[string]{Key: "k", Start: 10, End: 20}, "z"))
		must(t, s.Put(Windowed[string]{Key: "a\x00b", Start: 0, End: 0}, "z"))
		must(t, m.Flush())
		m.SetTimestamp(0)
		_, _, err := tkv.Delete("hi")
		must(t, err)
		must(t, tw.Delete("k", 1000))
		must(t, s.Remove(Windowed[string]{Key: "k", Start: 10, End: 20}))
		must(t, m.Flush())
		want := []change{
			{"kv", "hi", "there", false, 42},
			{"tkv", "hi", "there", false, 97},
			{"w", goldenBytes(t, "window k 1000"), "x", false, 42},
			{"w", goldenBytes(t, "window a\x00b 60000"), "y", false, 42},
			{"tw", goldenBytes(t, "window k 1000"), "there", false, 97},
			{"s", goldenBytes(t, "session k 10 20"), "z", false, 42},
			{"s", goldenBytes(t, "session a\x00b 0 0"), "z", false, 42},
			{"tkv", "hi", "", true, 0},
			{"tw", goldenBytes(t, "window k 1000"), "", true, 0},
			{"s", goldenBytes(t, "session k 10 20"), "", true, 0},
		}
		// Stores flush in registration order; compare per store.
		if got, w := perStore(log.changes), perStore(want); got != w {
			t.Errorf("changelog\n got %s\nwant %s", got, w)
		}
	})
}

func perStore(cs []change) string {
	by := map[string][]string{}
	for _, c := range cs {
		by[c.store] = append(by[c.store], fmt.Sprintf("%x=%x(tombstone=%v)@%d", c.key, c.value, c.tombstone, c.ts))
	}
	return fmt.Sprint(by)
}

// TestRestoreFromKafkaChangelog restores each store kind from records in
// Kafka Streams' changelog format (golden bytes above; plain values with the
// timestamp as the record's, window keys with a sequence number, a
// tombstone) and reads the state back.
func TestRestoreFromKafkaChangelog(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e Engine) {
		m := openManager(t, e, nil, 1<<20,
			KeyValue("kv", stringSerde{}, stringSerde{}),
			TimestampedKeyValue("tkv", stringSerde{}, stringSerde{}),
			Window("w", time.Hour, time.Minute, stringSerde{}, stringSerde{}),
			TimestampedWindow("tw", time.Hour, time.Minute, stringSerde{}, stringSerde{}),
			Session("s", time.Hour, stringSerde{}, stringSerde{}))
		rec := func(key, value string, ts, off int64) ChangelogRecord {
			r := ChangelogRecord{Key: []byte(key), Offset: off, Timestamp: ts}
			if value != "" {
				r.Value = []byte(value)
			}
			return r
		}
		must(t, m.Restore("kv", []ChangelogRecord{rec("hi", "there", 42, 0), rec("gone", "x", 1, 1), rec("gone", "", 2, 2)}))
		must(t, m.Restore("tkv", []ChangelogRecord{rec("hi", "there", 97, 0), rec("v", "v", 10, 1)}))
		must(t, m.Restore("w", []ChangelogRecord{rec(goldenBytes(t, "window k 1000"), "x", 42, 0),
			rec(goldenBytes(t, "window a\x00b 60000"), "y", 42, 1)}))
		must(t, m.Restore("tw", []ChangelogRecord{rec(goldenBytes(t, "window k 1000"), "there", 97, 5)}))
		must(t, m.Restore("s", []ChangelogRecord{rec(goldenBytes(t, "session k 10 20"), "z", 42, 0),
			rec(goldenBytes(t, "session a\x00b 0 0"), "z", 42, 1)}))

		if got := drainKV(mustStore[KeyValueStore[string, string]](t, m, "kv").All()); got != "hi=there" {
			t.Errorf("kv restored %q", got)
		}
		tkv := mustStore[TimestampedKeyValueStore[string, string]](t, m, "tkv")
		if v, ok, err := tkv.Get("hi"); err != nil || !ok || v.Value != "there" || v.Timestamp != 97 {
			t.Errorf("tkv hi = %+v %v %v, want there at 97 (the record's timestamp)", v, ok, err)
		}
		raw, ok, err := m.stores["tkv"].core.raw.Get([]byte("v"))
		if err != nil || !ok || fmt.Sprintf("%x", raw) != kafkaGolden["restored v at 10"] {
			t.Errorf("tkv v held as %x, want %s as RecordConverters.rawValueToTimestampedValue", raw, kafkaGolden["restored v at 10"])
		}
		w := mustStore[WindowStore[string, string]](t, m, "w")
		if v, ok, _ := w.Get("k", 1000); !ok || v != "x" {
			t.Errorf("window k@1000 = %q %v", v, ok)
		}
		if v, ok, _ := w.Get("a\x00b", 60000); !ok || v != "y" {
			t.Errorf("window a\\0b@60000 = %q %v", v, ok)
		}
		tw := mustStore[WindowStore[string, ValueAndTimestamp[string]]](t, m, "tw")
		if v, ok, err := tw.Get("k", 1000); err != nil || !ok || v.Value != "there" || v.Timestamp != 97 {
			t.Errorf("tw k@1000 = %+v %v %v", v, ok, err)
		}
		s := mustStore[SessionStore[string, string]](t, m, "s")
		if v, ok, err := s.Get(Windowed[string]{Key: "k", Start: 10, End: 20}); err != nil || !ok || v != "z" {
			t.Errorf("session k[10,20] = %q %v %v", v, ok, err)
		}
		if v, ok, err := s.Get(Windowed[string]{Key: "a\x00b", Start: 0, End: 0}); err != nil || !ok || v != "z" {
			t.Errorf("session a\\0b[0,0] = %q %v %v", v, ok, err)
		}
		// A window changelog key too short for Kafka's layout is refused
		// at restore, not misread.
		if err := m.Restore("w", []ChangelogRecord{rec("\x00\x00\x00\x00\x00\x00\x03", "x", 1, 9)}); err == nil {
			t.Error("restored a window changelog key of 7 bytes")
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
