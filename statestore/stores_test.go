package statestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/twmb/franz-go/pkg/kgo"
	"math"
	"strings"
	"testing"
	"time"
)

type stringSerde struct{}

func (stringSerde) Serialize(_ string, v string) ([]byte, error) { return []byte(v), nil }
func (stringSerde) Deserialize(_ string, b []byte) (string, error) {
	return string(b), nil
}

type int64Serde struct{}

func (int64Serde) Serialize(_ string, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, uint64(v)), nil
}

func (int64Serde) Deserialize(_ string, b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("int64 of %d bytes", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// change is one LogChange call.
type change struct {
	store, key, value string
	tombstone         bool
	ts                int64
}

type recLogger struct{ changes []change }

func (l *recLogger) LogChange(store string, key, value []byte, ts int64) error {
	l.changes = append(l.changes, change{store, string(key), string(value), value == nil, ts})
	return nil
}

// storeConfig is one way of running the store suite: engine x caching.
type storeConfig struct {
	name    string
	engine  func(t testing.TB) Engine
	caching bool
}

func storeConfigs() []storeConfig {
	var out []storeConfig
	for _, ec := range engineCases {
		for _, cached := range []bool{false, true} {
			name := ec.name
			if cached {
				name += "/cached"
			}
			out = append(out, storeConfig{name, ec.open, cached})
		}
	}
	return out
}

// openManager opens a manager over e with the given builders.
func openManager(t testing.TB, e Engine, log ChangeLogger, cacheBytes int64, b ...Builder) *Manager {
	t.Helper()
	m, err := OpenManager(ManagerConfig{ApplicationID: "app", Task: "0_1", Partition: 1, Engine: e,
		Stores: b, ChangeLogger: log, CacheMaxBytes: cacheBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func forEachStoreConfig(t *testing.T, fn func(t *testing.T, e Engine, opts []Option)) {
	for _, sc := range storeConfigs() {
		t.Run(sc.name, func(t *testing.T) {
			fn(t, sc.engine(t), []Option{Caching(sc.caching)})
		})
	}
}

// drainKV renders an iterator as "k=v k=v"; errors appear in the text, so
// comparisons with expected strings fail on them.
func drainKV[K, V any](it KeyValueIterator[K, V], err error) string {
	if err != nil {
		return "ERROR: " + err.Error()
	}
	defer it.Close()
	var parts []string
	for it.Next() {
		parts = append(parts, fmt.Sprintf("%v=%v", it.Key(), it.Value()))
	}
	if err := it.Err(); err != nil {
		parts = append(parts, "ERROR: "+err.Error())
	}
	return strings.Join(parts, " ")
}

func TestKeyValueStore(t *testing.T) {
	forEachStoreConfig(t, func(t *testing.T, e Engine, opts []Option) {
		log := &recLogger{}
		m := openManager(t, e, log, 1<<20, KeyValue("kv", stringSerde{}, stringSerde{}, opts...))
		st, _ := m.Store("kv")
		s := st.(KeyValueStore[string, string])
		m.SetTimestamp(7)
		for _, k := range []string{"b", "a", "ab", "c", "b\x00", "ba"} {
			if err := s.Put(k, "v"+k); err != nil {
				t.Fatal(err)
			}
		}
		if v, ok, err := s.Get("ab"); err != nil || !ok || v != "vab" {
			t.Fatalf("Get = %q %v %v", v, ok, err)
		}
		if _, ok, _ := s.Get("zz"); ok {
			t.Fatal("absent key found")
		}
		old, existed, err := s.PutIfAbsent("a", "new")
		if err != nil || !existed || old != "va" {
			t.Fatalf("PutIfAbsent existing = %q %v %v", old, existed, err)
		}
		if _, existed, _ := s.PutIfAbsent("d", "vd"); existed {
			t.Fatal("PutIfAbsent on absent reported existing")
		}
		old, existed, err = s.Delete("c")
		if err != nil || !existed || old != "vc" {
			t.Fatalf("Delete = %q %v %v", old, existed, err)
		}
		if _, existed, _ := s.Delete("c"); existed {
			t.Fatal("second Delete found a value")
		}
		checks := []struct {
			name string
			it   func() (KeyValueIterator[string, string], error)
			want string
		}{
			{"all", s.All, "a=va ab=vab b=vb b\x00=vb\x00 ba=vba d=vd"},
			{"range inclusive", func() (KeyValueIterator[string, string], error) { return s.Range("ab", "b\x00") }, "ab=vab b=vb b\x00=vb\x00"},
			{"range empty", func() (KeyValueIterator[string, string], error) { return s.Range("x", "a") }, ""},
			{"prefix b", func() (KeyValueIterator[string, string], error) { return s.PrefixScan("b") }, "b=vb b\x00=vb\x00 ba=vba"},
			{"prefix empty", func() (KeyValueIterator[string, string], error) { return s.PrefixScan("") }, "a=va ab=vab b=vb b\x00=vb\x00 ba=vba d=vd"},
		}
		for _, c := range checks {
			if got := drainKV(c.it()); got != c.want {
				t.Errorf("%s = %q, want %q", c.name, got, c.want)
			}
		}
		if n, err := s.ApproximateNumEntries(); err != nil || n != 6 {
			t.Errorf("ApproximateNumEntries = %d %v", n, err)
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		// Whatever the caching, after Flush the changelog holds the latest
		// value of every key ever written, with the record timestamp.
		latest := map[string]change{}
		for _, c := range log.changes {
			if c.store != "kv" || c.ts != 7 {
				t.Fatalf("bad change %+v", c)
			}
			latest[c.key] = c
		}
		if len(latest) != 7 || !latest["c"].tombstone || latest["a"].value != "va" {
			t.Fatalf("changelog latest = %+v", latest)
		}
		if got := drainKV(s.All()); got != "a=va ab=vab b=vb b\x00=vb\x00 ba=vba d=vd" {
			t.Fatalf("after flush all = %q", got)
		}
	})
}

func TestTimestampedKeyValueStore(t *testing.T) {
	forEachStoreConfig(t, func(t *testing.T, e Engine, opts []Option) {
		m := openManager(t, e, nil, 1<<20, TimestampedKeyValue("tkv", stringSerde{}, int64Serde{}, opts...))
		st, _ := m.Store("tkv")
		s, ok := st.(TimestampedKeyValueStore[string, int64])
		if !ok {
			t.Fatalf("store is %T", st)
		}
		s.Put("k", ValueAndTimestamp[int64]{Value: -5, Timestamp: 1234})
		v, ok, err := s.Get("k")
		if err != nil || !ok || v.Value != -5 || v.Timestamp != 1234 {
			t.Fatalf("Get = %+v %v %v", v, ok, err)
		}
	})
}

func TestWindowStore(t *testing.T) {
	forEachStoreConfig(t, func(t *testing.T, e Engine, opts []Option) {
		log := &recLogger{}
		opts = append(opts, SegmentInterval(100*time.Millisecond))
		m := openManager(t, e, log, 1<<20, Window("w", 300*time.Millisecond, 10*time.Millisecond, stringSerde{}, stringSerde{}, opts...))
		st, _ := m.Store("w")
		s := st.(WindowStore[string, string])
		// Keys chosen to interleave if the encoding were naive: "a" and
		// "a\x00..." and "ab".
		for _, k := range []string{"a", "a\x00", "ab", "a\x00\x00\x00\x00\x00\x00\x00\x00"} {
			for _, ts := range []int64{0, 50, 100, 150, 250} {
				if err := s.Put(k, fmt.Sprintf("%s@%d", k, ts), ts); err != nil {
					t.Fatal(err)
				}
			}
		}
		fetch := func(k string, from, to int64) string {
			it, err := s.Fetch(k, from, to)
			var parts []string
			if err != nil {
				t.Fatal(err)
			}
			defer it.Close()
			for it.Next() {
				w := it.Key()
				if w.Key != k || w.End != w.Start+10 || it.Value() != fmt.Sprintf("%s@%d", k, w.Start) {
					t.Fatalf("Fetch(%q) yielded %+v = %q", k, w, it.Value())
				}
				parts = append(parts, fmt.Sprint(w.Start))
			}
			if it.Err() != nil {
				t.Fatal(it.Err())
			}
			return strings.Join(parts, ",")
		}
		for _, k := range []string{"a", "a\x00", "ab", "a\x00\x00\x00\x00\x00\x00\x00\x00"} {
			if got := fetch(k, 0, 1000); got != "0,50,100,150,250" {
				t.Errorf("Fetch(%q) = %s", k, got)
			}
			if got := fetch(k, 50, 150); got != "50,100,150" {
				t.Errorf("Fetch(%q, 50, 150) = %s", k, got)
			}
		}
		if v, ok, _ := s.Get("ab", 100); !ok || v != "ab@100" {
			t.Fatalf("Get = %q %v", v, ok)
		}
		s.Delete("ab", 100)
		if _, ok, _ := s.Get("ab", 100); ok {
			t.Fatal("deleted window found")
		}
		it, _ := s.FetchAll(100, 150)
		n := 0
		for it.Next() {
			if w := it.Key(); w.Start < 100 || w.Start > 150 {
				t.Fatalf("FetchAll out of range: %+v", w)
			}
			n++
		}
		it.Close()
		if n != 7 {
			t.Fatalf("FetchAll(100,150) = %d windows, want 7", n)
		}
		// Advance stream time to 400: retention 300 keeps starts >= 101.
		// A cached store's clock moves when the write reaches the engine,
		// at the flush (as AbstractRocksDBSegmentedBytesStore's
		// observedStreamTime below CachingWindowStore).
		s.Put("z", "z@400", 400)
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := fetch("a", 0, 1000); got != "150,250" {
			t.Errorf("after expiry Fetch(a) = %s", got)
		}
		// Too old to store (a cached store logs it at the flush all the
		// same, as ChangeLoggingWindowBytesStore above the segmented store).
		s.Put("old", "old@50", 50)
		if _, ok, _ := s.Get("old", 50); ok {
			t.Fatal("expired put stored")
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		// Changelog keys are key || start (8 bytes).
		for _, c := range log.changes {
			k, start, err := decodeWindowLogKey([]byte(c.key))
			if err != nil || start < 0 || (!c.tombstone && c.value != fmt.Sprintf("%s@%d", k, start)) {
				t.Fatalf("bad changelog record %+v", c)
			}
		}
	})
}

func TestSessionStore(t *testing.T) {
	forEachStoreConfig(t, func(t *testing.T, e Engine, opts []Option) {
		m := openManager(t, e, &recLogger{}, 1<<20, Session("s", time.Second, stringSerde{}, int64Serde{}, opts...))
		st, _ := m.Store("s")
		s := st.(SessionStore[string, int64])
		put := func(k string, start, end, v int64) {
			if err := s.Put(Windowed[string]{k, start, end}, v); err != nil {
				t.Fatal(err)
			}
		}
		put("a", 0, 10, 1)
		put("a", 20, 30, 2)
		put("a", 100, 150, 3)
		put("a\x00", 0, 200, 9)
		put("b", 25, 25, 4)
		find := func(k string, earliestEnd, latestStart int64) string {
			it, err := s.FindSessions(k, earliestEnd, latestStart)
			if err != nil {
				t.Fatal(err)
			}
			defer it.Close()
			var parts []string
			for it.Next() {
				w := it.Key()
				if w.Key != k {
					t.Fatalf("FindSessions(%q) yielded key %q", k, w.Key)
				}
				parts = append(parts, fmt.Sprintf("[%d,%d]=%d", w.Start, w.End, it.Value()))
			}
			return strings.Join(parts, " ")
		}
		// A record at 25 with gap 5 touches sessions ending >= 20, starting <= 30.
		if got := find("a", 20, 30); got != "[20,30]=2" {
			t.Errorf("FindSessions(a,20,30) = %s", got)
		}
		if got := find("a", 0, 1000); got != "[0,10]=1 [20,30]=2 [100,150]=3" {
			t.Errorf("FindSessions(a,all) = %s", got)
		}
		if got := find("a\x00", 0, 1000); got != "[0,200]=9" {
			t.Errorf("FindSessions(a\\x00) = %s", got)
		}
		// Merge: remove the two touched sessions and put the merged one.
		s.Remove(Windowed[string]{"a", 0, 10})
		s.Remove(Windowed[string]{"a", 20, 30})
		put("a", 0, 30, 3)
		if got := find("a", math.MinInt64, math.MaxInt64); got != "[0,30]=3 [100,150]=3" {
			t.Errorf("after merge = %s", got)
		}
		if v, ok, _ := s.Get(Windowed[string]{"b", 25, 25}); !ok || v != 4 {
			t.Errorf("Get b = %d %v", v, ok)
		}
		// Stream time 1200: retention 1s keeps sessions ending >= 201.
		put("c", 1200, 1200, 1)
		if err := m.Flush(); err != nil { // a cached store's clock moves at the flush
			t.Fatal(err)
		}
		if got := find("a", math.MinInt64, math.MaxInt64); got != "" {
			t.Errorf("expired sessions visible: %s", got)
		}
		if err := s.Put(Windowed[string]{"x", 5, 4}, 1); err == nil {
			t.Error("session ending before its start accepted")
		}
	})
}

// TestRestoreRoundTrip logs changes of every store kind through one
// manager and restores them into a fresh one on another engine.
func TestRestoreRoundTrip(t *testing.T) {
	forEachStoreConfig(t, func(t *testing.T, e Engine, opts []Option) {
		builders := func(opts []Option) []Builder {
			return []Builder{
				KeyValue("kv", stringSerde{}, int64Serde{}, opts...),
				Window("w", time.Hour, time.Minute, stringSerde{}, int64Serde{}, opts...),
				Session("s", time.Hour, stringSerde{}, int64Serde{}, opts...),
			}
		}
		log := &recLogger{}
		m := openManager(t, e, log, 1<<20, builders(opts)...)
		kv := mustStore[KeyValueStore[string, int64]](t, m, "kv")
		w := mustStore[WindowStore[string, int64]](t, m, "w")
		ss := mustStore[SessionStore[string, int64]](t, m, "s")
		for i := int64(0); i < 50; i++ {
			k := fmt.Sprint("k", i%7)
			kv.Put(k, i)
			w.Put(k, i, (i%5)*60000)
			ss.Put(Windowed[string]{k, i * 1000, i*1000 + 10}, i)
		}
		kv.Delete("k3")
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		recs := map[string][]ChangelogRecord{}
		for i, c := range log.changes {
			r := ChangelogRecord{Key: []byte(c.key), Offset: int64(i)}
			if !c.tombstone {
				r.Value = []byte(c.value)
			}
			recs[c.store] = append(recs[c.store], r)
		}
		m2 := openManager(t, NewMemEngine(), nil, 0, builders(nil)...)
		for store, rs := range recs {
			if err := m2.Restore(store, rs); err != nil {
				t.Fatal(err)
			}
			off, ok, err := m2.Checkpoint(store)
			if err != nil || !ok || off != rs[len(rs)-1].Offset+1 {
				t.Fatalf("checkpoint of %s = %d %v %v", store, off, ok, err)
			}
		}
		kv2 := mustStore[KeyValueStore[string, int64]](t, m2, "kv")
		w2 := mustStore[WindowStore[string, int64]](t, m2, "w")
		s2 := mustStore[SessionStore[string, int64]](t, m2, "s")
		if a, b := drainKV(kv.All()), drainKV(kv2.All()); a != b || a == "" {
			t.Errorf("kv restored %q, want %q", b, a)
		}
		if a, b := drainKV(w.All()), drainKV(w2.All()); a != b || a == "" {
			t.Errorf("window restored %q, want %q", b, a)
		}
		for i := 0; i < 7; i++ {
			k := fmt.Sprint("k", i)
			if a, b := drainKV(ss.Fetch(k)), drainKV(s2.Fetch(k)); a != b || a == "" {
				t.Errorf("sessions of %s restored %q, want %q", k, b, a)
			}
		}
	})
}

func mustStore[S any](t testing.TB, m *Manager, name string) S {
	t.Helper()
	st, ok := m.Store(name)
	if !ok {
		t.Fatalf("no store %q", name)
	}
	s, ok := st.(S)
	if !ok {
		var zero S
		t.Fatalf("store %q is %T, not %T", name, st, zero)
	}
	return s
}

func TestManagerErrors(t *testing.T) {
	_, err := OpenManager(ManagerConfig{ApplicationID: "app", Task: "0_0", Stores: []Builder{
		KeyValue("a", stringSerde{}, stringSerde{}), KeyValue("a", stringSerde{}, stringSerde{})}})
	if err == nil || !strings.Contains(err.Error(), `"a" registered twice`) {
		t.Errorf("duplicate store: %v", err)
	}
	_, err = OpenManager(ManagerConfig{ApplicationID: "app", Task: "0_0", Stores: []Builder{
		Window("w", time.Second, time.Minute, stringSerde{}, stringSerde{})}})
	if err == nil || !strings.Contains(err.Error(), "shorter than the window size") {
		t.Errorf("bad window: %v", err)
	}
	m := openManager(t, nil, nil, 0, KeyValue("a", stringSerde{}, stringSerde{}))
	if err := m.Commit(map[string]int64{"nope": 1}); err == nil {
		t.Error("Commit of unknown store succeeded")
	}
	s := mustStore[KeyValueStore[string, string]](t, m, "a")
	m.Close()
	if err := m.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v", err)
	}
	if err := s.Put("k", "v"); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v", err)
	}
	if _, _, err := s.Get("k"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v", err)
	}
}

// TestReopenPersistent closes a task and its engine and opens them again:
// data, checkpoints and window stream time come back.
func TestReopenPersistent(t *testing.T) {
	dir := t.TempDir()
	builders := []Builder{
		KeyValue("kv", stringSerde{}, stringSerde{}, Caching(true)),
		Window("w", time.Hour, time.Minute, stringSerde{}, stringSerde{}),
		KeyValue("mem", stringSerde{}, stringSerde{}, InMemory()),
	}
	e := openTestPebble(t, dir)
	m, err := OpenManager(ManagerConfig{ApplicationID: "app", Task: "0_4", Partition: 4, Engine: e, Stores: builders, CacheMaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	mustStore[KeyValueStore[string, string]](t, m, "kv").Put("k", "v")
	mustStore[KeyValueStore[string, string]](t, m, "mem").Put("k", "v")
	w := mustStore[WindowStore[string, string]](t, m, "w")
	w.Put("k", "early", 10*60000)
	w.Put("k", "late", 70*60000)
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := m.Commit(map[string]int64{"kv": 5, "w": 9}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if tasks, _ := e.Tasks(); fmt.Sprint(tasks) != "[0_4]" {
		t.Fatalf("tasks on disk = %v", tasks)
	}
	e.Close()

	e = openTestPebble(t, dir)
	defer e.Close()
	m, err = OpenManager(ManagerConfig{ApplicationID: "app", Task: "0_4", Partition: 4, Engine: e, Stores: builders})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for store, want := range map[string]int64{"kv": 5, "w": 9} {
		if off, ok, err := m.Checkpoint(store); err != nil || !ok || off != want {
			t.Errorf("checkpoint %s = %d %v %v, want %d", store, off, ok, err, want)
		}
	}
	if _, ok, _ := m.Checkpoint("mem"); ok {
		t.Error("in-memory store has a checkpoint after reopen")
	}
	if v, ok, _ := mustStore[KeyValueStore[string, string]](t, m, "kv").Get("k"); !ok || v != "v" {
		t.Errorf("kv after reopen = %q %v", v, ok)
	}
	if _, ok, _ := mustStore[KeyValueStore[string, string]](t, m, "mem").Get("k"); ok {
		t.Error("in-memory store kept data across reopen")
	}
	w = mustStore[WindowStore[string, string]](t, m, "w")
	if got := drainKV(w.Fetch("k", 0, math.MaxInt64)); !strings.Contains(got, "=late") || !strings.Contains(got, "=early") {
		t.Errorf("windows after reopen = %q", got)
	}
	// Stream time is known again: this put expires the early window.
	w.Put("k", "later", 71*60000)
	if got := drainKV(w.Fetch("k", 0, math.MaxInt64)); strings.Contains(got, "early") {
		t.Errorf("early window survived expiry after reopen: %q", got)
	}
}

type headerLogger struct {
	recLogger
	headers [][]kgo.RecordHeader
}

func (l *headerLogger) LogChangeWithHeaders(store string, key, value []byte, h []kgo.RecordHeader, ts int64) error {
	l.headers = append(l.headers, h)
	return l.LogChange(store, key, value, ts)
}

// TestChangelogHeaders: a store with ChangelogHeaders logs its values with
// them through a HeaderLogger (Kafka Streams' suppression buffer puts v=3
// on its changelog values) and its tombstones without.
func TestChangelogHeaders(t *testing.T) {
	log := &headerLogger{}
	m := openManager(t, NewMemEngine(), log, 0, KeyValue("s", stringSerde{}, stringSerde{},
		ChangelogHeaders(kgo.RecordHeader{Key: "v", Value: []byte{3}})))
	st, _ := m.Store("s")
	kv := st.(KeyValueStore[string, string])
	if err := kv.Put("k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kv.Delete("k"); err != nil {
		t.Fatal(err)
	}
	if len(log.headers) != 1 || len(log.headers[0]) != 1 || log.headers[0][0].Key != "v" || len(log.changes) != 2 || !log.changes[1].tombstone {
		t.Errorf("headers %v, changes %+v: want v on the value only", log.headers, log.changes)
	}
}
