package statestore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type flushed struct {
	key, newV, oldV string
	hasNew, hasOld  bool
	ts              int64
}

func TestCacheMergesAndFlushes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e Engine) {
		log := &recLogger{}
		m := openManager(t, e, log, 1<<20, KeyValue("kv", stringSerde{}, stringSerde{}, Caching(true)))
		s := mustStore[KeyValueStore[string, string]](t, m, "kv")
		var got []flushed
		if !s.SetFlushListener(func(r FlushedRecord[string, string]) error {
			got = append(got, flushed{r.Key, r.New, r.Old, r.HasNew, r.HasOld, r.Timestamp})
			return nil
		}, true) {
			t.Fatal("SetFlushListener on a cached store returned false")
		}
		raw := m.stores["kv"].core.raw
		m.SetTimestamp(1)
		s.Put("a", "1")
		m.SetTimestamp(2)
		s.Put("a", "2")
		s.Put("b", "x")
		// Reads see the cache; the engine has nothing yet.
		if v, ok, _ := s.Get("a"); !ok || v != "2" {
			t.Fatalf("cached Get = %q %v", v, ok)
		}
		if _, ok, _ := raw.Get([]byte("a")); ok {
			t.Fatal("engine written before flush")
		}
		if len(log.changes) != 0 || len(got) != 0 {
			t.Fatal("logged or forwarded before flush")
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		want := []flushed{{"a", "2", "", true, false, 2}, {"b", "x", "", true, false, 2}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("flushed %v, want %v", got, want)
		}
		if len(log.changes) != 2 || log.changes[0].value != "2" {
			t.Fatalf("changelog %v", log.changes)
		}
		// Second round: old values come from the engine; deletes are flushed
		// as tombstones.
		got, log.changes = nil, nil
		m.SetTimestamp(3)
		s.Put("a", "3")
		s.Delete("b")
		s.Put("c", "new")
		s.Delete("c")
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		// A delete of a key that never reached the engine ("c") is neither
		// forwarded nor logged, as Kafka Streams'
		// CachingInMemoryKeyValueStoreTest.shouldAvoidFlushingDeletionsWithoutDirtyKeys
		// and CachingPersistentSessionStoreTest.shouldForwardChangedValuesDuringFlush
		// (put, put, remove, flush: nothing forwarded).
		want = []flushed{{"a", "3", "2", true, true, 3}, {"b", "", "x", false, true, 3}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("flushed %v, want %v", got, want)
		}
		if len(log.changes) != 2 || !log.changes[1].tombstone {
			t.Fatalf("changelog %v", log.changes)
		}
		// Nothing dirty: a flush does nothing.
		got = nil
		m.Flush()
		if len(got) != 0 {
			t.Fatalf("clean flush forwarded %v", got)
		}
	})
}

// TestCacheKeepsWriterRecordContext: a cached entry keeps the record
// context of the record that last wrote it, counted in the cache's size as
// Kafka Streams' LRUCacheEntry counts ProcessorRecordContext's
// residentMemorySizeEstimate (offset, partition, topic, header bytes), and
// hands it to the flush listener at a flush and at an eviction
// (CachingInMemoryKeyValueStoreTest shouldForwardDirtyItemsWhenFlushCalled,
// shouldForwardDirtyItemToListenerWhenEvicted, whose store forwards each
// entry with its own context).
func TestCacheKeepsWriterRecordContext(t *testing.T) {
	m := openManager(t, nil, nil, 1<<20, KeyValue("kv", stringSerde{}, stringSerde{}, Caching(true)))
	s := mustStore[KeyValueStore[string, string]](t, m, "kv")
	var got []string
	s.SetFlushListener(func(r FlushedRecord[string, string]) error {
		c := r.Context
		got = append(got, fmt.Sprintf("%s=%s ts=%d %s/%d@%d %v", r.Key, r.New, r.Timestamp, c.Topic, c.Partition, c.Offset, c.Headers))
		return nil
	}, false)
	hdr := []kgo.RecordHeader{{Key: "h", Value: []byte("12")}}
	m.SetRecord(5, RecordContext{Topic: "in", Partition: 3, Offset: 7, Headers: hdr})
	s.Put("a", "1")
	if n, want := m.Cache().SizeBytes(), int64(cacheEntryOverhead+1+1+8+4+len("in")+len("h")+len("12")); n != want {
		t.Errorf("size %d, want %d", n, want)
	}
	m.SetRecord(6, RecordContext{Topic: "in", Partition: 3, Offset: 8})
	s.Put("b", "2")
	m.SetTimestamp(9) // a punctuation: no record context
	s.Put("c", "3")
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "[a=1 ts=5 in/3@7 [{h [49 50]}] b=2 ts=6 in/3@8 [] c=3 ts=9 /-1@-1 []]"
	if fmt.Sprint(got) != want {
		t.Errorf("flushed %v\nwant    %s", got, want)
	}
	// Eviction: shrink the bound to one entry; the entry b's write evicts
	// goes with its own context, not the one in force.
	got = nil
	m.SetRecord(10, RecordContext{Topic: "in", Partition: 3, Offset: 9, Headers: hdr})
	s.Put("a", "4")
	m.Cache().SetMaxBytes(cacheEntryOverhead + 40)
	m.SetRecord(11, RecordContext{Topic: "in", Partition: 3, Offset: 10})
	s.Put("b", "5")
	want = "[a=4 ts=10 in/3@9 [{h [49 50]}]]"
	if fmt.Sprint(got) != want {
		t.Errorf("evicted %v\nwant    %s", got, want)
	}
}

// TestFlushForwardWritesWithWritersContext: what a flush listener writes
// to another cached store while it forwards a flushed entry takes that
// entry's timestamp and record context, not those of the record in hand,
// which come back after it: Kafka Streams' caching stores set the entry's
// record context (ProcessorContext.setRecordContext) around the forward
// and restore the current one (CachingKeyValueStore.putAndMaybeForward).
func TestFlushForwardWritesWithWritersContext(t *testing.T) {
	m := openManager(t, nil, nil, 1<<20, KeyValue("up", stringSerde{}, stringSerde{}, Caching(true)),
		KeyValue("down", stringSerde{}, stringSerde{}, Caching(true)))
	up := mustStore[KeyValueStore[string, string]](t, m, "up")
	down := mustStore[KeyValueStore[string, string]](t, m, "down")
	up.SetFlushListener(func(r FlushedRecord[string, string]) error { return down.Put(r.Key, r.New) }, false)
	var got []string
	down.SetFlushListener(func(r FlushedRecord[string, string]) error {
		got = append(got, fmt.Sprintf("%s ts=%d @%d", r.Key, r.Timestamp, r.Context.Offset))
		return nil
	}, false)
	m.SetRecord(1, RecordContext{Topic: "in", Offset: 1})
	up.Put("a", "1")
	m.SetRecord(2, RecordContext{Topic: "in", Offset: 2})
	if err := m.Flush(); err != nil { // up forwards a into down
		t.Fatal(err)
	}
	down.Put("b", "2") // the record in hand again
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "[a ts=1 @1 b ts=2 @2]"; fmt.Sprint(got) != want {
		t.Errorf("down flushed %v, want %s", got, want)
	}
}

func TestCacheEvictsLRU(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e Engine) {
		log := &recLogger{}
		// Key "kN", value "vN", and a context of no topic nor headers:
		// its offset and partition (ProcessorRecordContext's estimate).
		entry := int64(cacheEntryOverhead + 2 + 2 + 12)
		m := openManager(t, e, log, 4*entry, KeyValue("kv", stringSerde{}, stringSerde{}, Caching(true)),
			KeyValue("other", stringSerde{}, stringSerde{}, Caching(true)))
		s := mustStore[KeyValueStore[string, string]](t, m, "kv")
		o := mustStore[KeyValueStore[string, string]](t, m, "other")
		for i := 0; i < 4; i++ {
			s.Put(fmt.Sprint("k", i), fmt.Sprint("v", i))
		}
		if len(log.changes) != 0 {
			t.Fatalf("evicted below the bound: %v", log.changes)
		}
		s.Get("k0")       // k0 is now most recently used
		o.Put("o1", "xx") // evicts k1, the least recently used
		s.Put("k4", "v4") // evicts k2
		if got := changeKeys(log); got != "kv/k1 kv/k2" {
			t.Fatalf("evicted %s, want kv/k1 kv/k2", got)
		}
		// Evicted entries are readable from the engine.
		if v, ok, _ := s.Get("k1"); !ok || v != "v1" {
			t.Fatalf("evicted k1 = %q %v", v, ok)
		}
		if n := m.Cache().SizeBytes(); n > 4*entry {
			t.Fatalf("cache holds %d bytes over its bound %d", n, 4*entry)
		}
		// Shrinking the bound writes nothing (it runs outside any record's
		// processing, where a failed write could only be lost): the dirty
		// entries stay readable until the next flush writes them, in the
		// order of their last write, and drops them.
		if err := m.Cache().SetMaxBytes(0); err != nil {
			t.Fatal(err)
		}
		if got := changeKeys(log); got != "kv/k1 kv/k2" {
			t.Fatalf("shrinking the bound wrote: changelog %s", got)
		}
		if v, ok, _ := s.Get("k3"); !ok || v != "v3" {
			t.Fatalf("k3 after shrinking = %q %v", v, ok)
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := changeKeys(log); got != "kv/k1 kv/k2 kv/k0 kv/k3 kv/k4 other/o1" {
			t.Fatalf("after shrink and flush changelog %s", got)
		}
		if m.Cache().SizeBytes() != 0 {
			t.Fatalf("cache not empty: %d", m.Cache().SizeBytes())
		}
		if st := m.Cache().Stats(); st.Evictions != 6 || st.Hits == 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func changeKeys(l *recLogger) string {
	var parts []string
	for _, c := range l.changes {
		parts = append(parts, c.store+"/"+c.key)
	}
	return strings.Join(parts, " ")
}

// TestCacheMergedIteration checks iteration over cache and engine together:
// cached updates win, cached deletes hide engine keys.
func TestCacheMergedIteration(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e Engine) {
		m := openManager(t, e, nil, 1<<20, KeyValue("kv", stringSerde{}, stringSerde{}, Caching(true)))
		s := mustStore[KeyValueStore[string, string]](t, m, "kv")
		for _, k := range []string{"a", "b", "c", "e"} {
			s.Put(k, "old")
		}
		m.Flush()
		s.Put("b", "new")
		s.Delete("c")
		s.Put("d", "new")
		s.Delete("e")
		s.Put("f", "new")
		s.Delete("zz") // delete of an absent key
		if got, want := drainKV(s.All()), "a=old b=new d=new f=new"; got != want {
			t.Fatalf("All = %q, want %q", got, want)
		}
		if got, want := drainKV(s.Range("b", "e")), "b=new d=new"; got != want {
			t.Fatalf("Range = %q, want %q", got, want)
		}
		if n, _ := s.ApproximateNumEntries(); n != 4 {
			t.Fatalf("count = %d", n)
		}
		// Writes during iteration do not disturb it.
		it, _ := s.All()
		var keys []string
		for it.Next() {
			keys = append(keys, it.Key())
			s.Put(it.Key()+"x", "w")
		}
		it.Close()
		if strings.Join(keys, ",") != "a,b,d,f" {
			t.Fatalf("iteration with writes saw %v", keys)
		}
	})
}

func TestWipeAndCloseDropCache(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e Engine) {
		log := &recLogger{}
		m := openManager(t, e, log, 1<<20, KeyValue("kv", stringSerde{}, stringSerde{}, Caching(true)))
		s := mustStore[KeyValueStore[string, string]](t, m, "kv")
		s.Put("a", "1")
		m.Flush()
		if err := m.Commit(map[string]int64{"kv": 10}); err != nil {
			t.Fatal(err)
		}
		s.Put("b", "dirty")
		if err := m.Wipe(); err != nil {
			t.Fatal(err)
		}
		if got := drainKV(s.All()); got != "" {
			t.Fatalf("after Wipe: %q", got)
		}
		if _, ok, _ := m.Checkpoint("kv"); ok {
			t.Fatal("checkpoint survived Wipe")
		}
		m.Flush()
		if len(log.changes) != 1 {
			t.Fatalf("wiped dirty entry was flushed: %v", log.changes)
		}
		s.Put("c", "dirty")
		m.Close()
		if m.Cache().SizeBytes() != 0 {
			t.Fatal("Close kept cache entries")
		}
	})
}

// TestRestoreOverridesCache restores into a cached store that holds an
// older cached copy of the key.
func TestRestoreOverridesCache(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e Engine) {
		m := openManager(t, e, nil, 1<<20,
			KeyValue("kv", stringSerde{}, stringSerde{}, Caching(true)),
			Window("w", time.Hour, time.Minute, stringSerde{}, stringSerde{}, Caching(true)))
		s := mustStore[KeyValueStore[string, string]](t, m, "kv")
		w := mustStore[WindowStore[string, string]](t, m, "w")
		s.Put("k", "cached")
		w.Put("k", "cached", 60000)
		if err := m.Restore("kv", []ChangelogRecord{{Key: []byte("k"), Value: []byte("restored"), Offset: 4}}); err != nil {
			t.Fatal(err)
		}
		if err := m.Restore("w", []ChangelogRecord{{Key: appendWindowLogKey(nil, []byte("k"), 60000), Value: []byte("restored"), Offset: 4}}); err != nil {
			t.Fatal(err)
		}
		if v, _, _ := s.Get("k"); v != "restored" {
			t.Fatalf("kv Get after restore = %q", v)
		}
		if v, _, _ := w.Get("k", 60000); v != "restored" {
			t.Fatalf("window Get after restore = %q", v)
		}
	})
}

// TestCacheFlushesDirtyEntriesOfExpiredSegments puts windows and sessions
// into a cached store and moves stream time past their retention before any
// flush (a backlog processed faster than commits). Kafka Streams' record
// cache knows nothing of retention: CachingWindowStore and
// CachingSessionStore flush such entries like any other (putAndMaybeForward),
// the change-logging layer logs them and the segmented store below skips
// them ("Skipping record for expired segment", as
// AbstractRocksDBSegmentedBytesStoreTest.shouldLogAndMeasureExpiredRecords
// and InMemoryWindowStoreTest.shouldNotExpireFromOpenIterator expect of the
// inner stores). So each one reaches the flush listener and the changelog,
// with no old value, and not the engine.
func TestCacheFlushesDirtyEntriesOfExpiredSegments(t *testing.T) {
	for _, tx := range []bool{false, true} {
		t.Run(fmt.Sprint("transactional=", tx), func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, e Engine) {
				testFlushExpired(t, e, tx)
			})
		})
	}
}

func testFlushExpired(t *testing.T, e Engine, tx bool) {
	min := time.Minute.Milliseconds()
	log := &recLogger{}
	m := openManagerCfg(t, ManagerConfig{ApplicationID: "app", Task: "0_1", Partition: 1, Engine: e, ChangeLogger: log,
		Transactional: tx, CacheMaxBytes: 1 << 20, Stores: []Builder{
			Window("w", 2*time.Minute, time.Minute, stringSerde{}, stringSerde{}, Caching(true), SegmentInterval(time.Minute)),
			Session("s", 2*time.Minute, stringSerde{}, stringSerde{}, Caching(true), SegmentInterval(time.Minute)),
		}})
	t.Cleanup(func() { m.Close() })
	w := mustStore[WindowStore[string, string]](t, m, "w")
	s := mustStore[SessionStore[string, string]](t, m, "s")
	var got []string
	w.SetFlushListener(func(r FlushedRecord[Windowed[string], string]) error {
		got = append(got, fmt.Sprintf("w %s@%d=%s old=%v", r.Key.Key, r.Key.Start, r.New, r.HasOld))
		return nil
	}, true)
	s.SetFlushListener(func(r FlushedRecord[Windowed[string], string]) error {
		got = append(got, fmt.Sprintf("s %s@%d-%d=%s old=%v", r.Key.Key, r.Key.Start, r.Key.End, r.New, r.HasOld))
		return nil
	}, true)
	m.SetTimestamp(5)
	w.Put("a", "1", 0)
	w.Put("a", "2", 0) // merged in the cache
	s.Put(Windowed[string]{Key: "a", Start: 0, End: 5}, "x")
	m.SetTimestamp(10 * min)
	w.Put("b", "late", 10*min) // segment 0 expires
	s.Put(Windowed[string]{Key: "b", Start: 10 * min, End: 10 * min}, "y")
	// Until the flush the dirty window is in the cache, which
	// CachingWindowStore.fetch reads first, whatever the clock.
	if v, ok, _ := w.Get("a", 0); !ok || v != "2" {
		t.Fatalf("dirty window read %q %v, want 2 from the cache", v, ok)
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "w a@0=2 old=false,w b@600000=late old=false,s a@0-5=x old=false,s b@600000-600000=y old=false"
	if strings.Join(got, ",") != want {
		t.Fatalf("flushed\n %s\nwant\n %s", strings.Join(got, ","), want)
	}
	if len(log.changes) != 4 || log.changes[0].key != string(appendWindowLogKey(nil, []byte("a"), 0)) ||
		log.changes[0].value != "2" || log.changes[0].ts != 5 {
		t.Fatalf("changelog %+v", log.changes)
	}
	// The expired entries did not reach the engine.
	for _, name := range []string{"w", "s"} {
		raw := m.stores[name].core.raw
		it, err := raw.Iter(nil, appendTime(nil, 1))
		if err != nil {
			t.Fatal(err)
		}
		if it.First() {
			t.Fatalf("%s: engine holds %x in an expired segment", name, it.Key())
		}
		it.Close()
	}
	// Eviction takes the same path: an expired dirty entry is forwarded
	// when it leaves the cache.
	got, log.changes = nil, nil
	m.SetTimestamp(20 * min)
	w.Put("c", "3", 10*min)
	w.Put("d", "4", 20*min) // segment 10 expires with c dirty
	if err := m.Cache().SetMaxBytes(0); err != nil {
		t.Fatal(err)
	}
	w.Put("e", "5", 20*min) // evicts everything
	if want := "w c@600000=3 old=false,w d@1200000=4 old=false,w e@1200000=5 old=false"; strings.Join(got, ",") != want {
		t.Fatalf("evicted %v, want %s", got, want)
	}
}

// TestCachedSessionMergeForwardsTombstoneAcrossRetention merges a flushed
// session in the cache while a later record moves the cache past the merged
// session's retention before the next flush (session gap 5 s, grace 5 s,
// the conformance case). Kafka Streams' segmented store advances its clock
// only when a write reaches it, so CachingSessionStore.putAndMaybeForward
// still finds the old session at flush and forwards its deletion, as
// CachingPersistentSessionStoreTest.shouldForwardChangedValuesDuringFlush
// and shouldRemove expect of a removed session.
func TestCachedSessionMergeForwardsTombstoneAcrossRetention(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e Engine) {
		m := openManagerCfg(t, ManagerConfig{ApplicationID: "app", Task: "0_1", Partition: 1, Engine: e,
			ChangeLogger: &recLogger{}, CacheMaxBytes: 1 << 20, Stores: []Builder{
				Session("s", 10*time.Second, stringSerde{}, stringSerde{}, Caching(true)),
			}})
		t.Cleanup(func() { m.Close() })
		s := mustStore[SessionStore[string, string]](t, m, "s")
		var got []string
		s.SetFlushListener(func(r FlushedRecord[Windowed[string], string]) error {
			got = append(got, fmt.Sprintf("%s@%d/%d=%s(%v) old=%s(%v)", r.Key.Key, r.Key.Start, r.Key.End,
				r.New, r.HasNew, r.Old, r.HasOld))
			return nil
		}, true)
		m.SetTimestamp(4000)
		s.Put(Windowed[string]{Key: "k6", Start: 4000, End: 4000}, "1")
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		m.SetTimestamp(8000)
		s.Remove(Windowed[string]{Key: "k6", Start: 4000, End: 4000})
		s.Put(Windowed[string]{Key: "k6", Start: 4000, End: 8000}, "2")
		m.SetTimestamp(80000)
		s.Put(Windowed[string]{Key: "k1", Start: 80000, End: 80000}, "1")
		// Until the flush the cache still shows the merged session.
		if v, ok, _ := s.Get(Windowed[string]{Key: "k6", Start: 4000, End: 8000}); !ok || v != "2" {
			t.Fatalf("merged session before flush = %q %v", v, ok)
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		want := "k6@4000/4000=1(true) old=(false)," +
			"k6@4000/4000=(false) old=1(true),k6@4000/8000=2(true) old=(false),k1@80000/80000=1(true) old=(false)"
		if strings.Join(got, ",") != want {
			t.Fatalf("flushed\n %s\nwant\n %s", strings.Join(got, ","), want)
		}
		// The flush moved the clock: the merged session is past retention.
		if _, ok, _ := s.Get(Windowed[string]{Key: "k6", Start: 4000, End: 8000}); ok {
			t.Fatal("expired session readable after the flush")
		}
	})
}
