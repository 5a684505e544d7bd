package statestore

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

type bytesSerde struct{}

func (bytesSerde) Serialize(_ string, v []byte) ([]byte, error)   { return v, nil }
func (bytesSerde) Deserialize(_ string, b []byte) ([]byte, error) { return b, nil }

type nopLogger struct{}

func (nopLogger) LogChange(string, []byte, []byte, int64) error { return nil }

func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = binary.BigEndian.AppendUint64([]byte("key-"), uint64(i)*2654435761%uint64(n))
	}
	return keys
}

func benchEngine(b *testing.B, persistent bool) Engine {
	if !persistent {
		return NewMemEngine()
	}
	e, err := OpenPebble(PebbleOptions{Dir: b.TempDir(), ApplicationID: "bench", CacheBytes: 32 << 20, MemTableBytes: 16 << 20})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func benchPut(b *testing.B, persistent, cached bool) { benchPutKeys(b, persistent, cached, 100_000) }

func benchPutKeys(b *testing.B, persistent, cached bool, nkeys int) {
	e := benchEngine(b, persistent)
	defer e.Close()
	m := openManager(b, e, nopLogger{}, 10<<20, KeyValue("kv", bytesSerde{}, bytesSerde{}, Caching(cached)))
	s := mustStore[KeyValueStore[[]byte, []byte]](b, m, "kv")
	keys := benchKeys(nkeys)
	val := bytes.Repeat([]byte("v"), 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Put(keys[i%len(keys)], val); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func benchGet(b *testing.B, persistent bool) {
	e := benchEngine(b, persistent)
	defer e.Close()
	m := openManager(b, e, nil, 0, KeyValue("kv", bytesSerde{}, bytesSerde{}, Logging(false)))
	s := mustStore[KeyValueStore[[]byte, []byte]](b, m, "kv")
	keys := benchKeys(100_000)
	val := bytes.Repeat([]byte("v"), 100)
	for _, k := range keys {
		s.Put(k, val)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := s.Get(keys[i%len(keys)]); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPebbleStorePut: uncached, logged key-value puts of 100-byte
// values over 100k keys on the NoSync path.
func BenchmarkPebbleStorePut(b *testing.B) { benchPut(b, true, false) }

// BenchmarkPebbleStoreGet: random gets of 100k present keys.
func BenchmarkPebbleStoreGet(b *testing.B)   { benchGet(b, true) }
func BenchmarkInMemoryStorePut(b *testing.B) { benchPut(b, false, false) }
func BenchmarkInMemoryStoreGet(b *testing.B) { benchGet(b, false) }

// BenchmarkCachePut: puts through a 10 MiB record cache in front of pebble
// over 20k keys that fit in it, so puts merge in the cache and reach pebble
// only at the final flush.
func BenchmarkCachePut(b *testing.B) { benchPutKeys(b, true, true, 20_000) }

// BenchmarkCachePutEvicting: the worst case, 100k keys cycled through a
// cache that holds about a third of them, so every put evicts one entry to
// pebble and the changelog.
func BenchmarkCachePutEvicting(b *testing.B) { benchPutKeys(b, true, true, 100_000) }

// BenchmarkPebbleRestore applies changelog batches of 10k 100-byte records.
func BenchmarkPebbleRestore(b *testing.B) {
	e := benchEngine(b, true)
	defer e.Close()
	m := openManager(b, e, nil, 0, KeyValue("kv", bytesSerde{}, bytesSerde{}))
	keys := benchKeys(1_000_000)
	val := bytes.Repeat([]byte("v"), 100)
	batch := make([]ChangelogRecord, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		n := min(len(batch), b.N-i)
		for j := 0; j < n; j++ {
			batch[j] = ChangelogRecord{Key: keys[(i+j)%len(keys)], Value: val, Offset: int64(i + j)}
		}
		if err := m.Restore("kv", batch[:n]); err != nil {
			b.Fatal(err)
		}
		i += n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// BenchmarkManyTasksMemory opens 200 tasks x 3 cached stores on one pebble
// engine with a small cache and memtable bound, writes 100-byte values to
// every store, commits, then reads them back, and reports RSS against the
// configured bound. Run with -benchtime=1x; it measures, it does not assert.
var manyTasksPerStore = flag.Int("statestore.perstore", 2000, "records per store in BenchmarkManyTasksMemory")

func BenchmarkManyTasksMemory(b *testing.B) {
	const tasks = 200
	perStore := *manyTasksPerStore
	opts := PebbleOptions{Dir: b.TempDir(), ApplicationID: "mem", CacheBytes: 8 << 20, MemTableBytes: 4 << 20}
	cacheTotal := int64(10 << 20) // statestore.cache.max.bytes
	for i := 0; i < b.N; i++ {
		runtime.GC()
		debug.FreeOSMemory()
		base := rssBytes()
		e, err := OpenPebble(opts)
		if err != nil {
			b.Fatal(err)
		}
		val := bytes.Repeat([]byte("x"), 100)
		var peak int64
		ms := make([]*Manager, tasks)
		start := time.Now()
		for t := range ms {
			ms[t] = openManagerCfg(b, ManagerConfig{ApplicationID: "mem", Task: fmt.Sprintf("0_%d", t), Partition: int32(t),
				Engine: e, ChangeLogger: nopLogger{}, CacheMaxBytes: cacheTotal / tasks, Stores: []Builder{
					KeyValue("a", bytesSerde{}, bytesSerde{}, Caching(true)),
					KeyValue("b", bytesSerde{}, bytesSerde{}, Caching(true)),
					Window("c", time.Hour, time.Minute, bytesSerde{}, bytesSerde{}, Caching(true)),
				}})
		}
		written := 0
		for t, m := range ms {
			a := mustStore[KeyValueStore[[]byte, []byte]](b, m, "a")
			bb := mustStore[KeyValueStore[[]byte, []byte]](b, m, "b")
			c := mustStore[WindowStore[[]byte, []byte]](b, m, "c")
			for j := 0; j < perStore; j++ {
				k := binary.BigEndian.AppendUint64(nil, uint64(j))
				a.Put(k, val)
				bb.Put(k, val)
				c.Put(k, val, int64(j%60)*1000)
				written += 3
			}
			m.Flush()
			m.Commit(map[string]int64{"a": int64(perStore), "b": int64(perStore), "c": int64(perStore)})
			if t%20 == 0 {
				peak = max(peak, rssBytes())
			}
		}
		for _, m := range ms {
			a := mustStore[KeyValueStore[[]byte, []byte]](b, m, "a")
			for j := 0; j < perStore; j += 7 {
				a.Get(binary.BigEndian.AppendUint64(nil, uint64(j)))
			}
		}
		peak = max(peak, rssBytes())
		elapsed := time.Since(start)
		var cached int64
		for _, m := range ms {
			cached += m.Cache().SizeBytes()
		}
		b.ReportMetric(float64(cached)/(1<<20), "record-cache-MiB")
		var hs runtime.MemStats
		runtime.ReadMemStats(&hs)
		bound := opts.MemoryBound() + cacheTotal
		b.ReportMetric(float64(peak-base)/(1<<20), "rss-growth-MiB")
		b.ReportMetric(float64(bound)/(1<<20), "bound-MiB")
		b.ReportMetric(float64(hs.HeapInuse)/(1<<20), "go-heap-MiB")
		b.ReportMetric(float64(written)/elapsed.Seconds(), "records/s")
		for _, m := range ms {
			m.Close()
		}
		e.Close()
	}
}

func openManagerCfg(t testing.TB, cfg ManagerConfig) *Manager {
	t.Helper()
	m, err := OpenManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
