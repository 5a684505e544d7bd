package statestore

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestMetamorphic runs the same seeded random operations against every
// combination of engine (memory, pebble) and caching (off, tiny cache that
// evicts constantly, large cache) and demands identical results from every
// read, and the same final state and changelog-derived state.
func TestMetamorphic(t *testing.T) {
	type cfg struct {
		engine  func(t testing.TB) Engine
		name    string
		cache   bool
		cacheSz int64
		txn     bool
	}
	var cfgs []cfg
	for _, ec := range engineCases {
		cfgs = append(cfgs,
			cfg{ec.open, ec.name, false, 0, false},
			cfg{ec.open, ec.name + "/tinycache", true, 2000, false},
			cfg{ec.open, ec.name + "/bigcache", true, 1 << 24, false},
			cfg{ec.open, ec.name + "/transactional", false, 0, true},
			cfg{ec.open, ec.name + "/transactional/tinycache", true, 2000, true})
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			var ref []string
			var refName string
			for _, c := range cfgs {
				t.Logf("config %s", c.name)
				out := runRandomOps(t, c.engine(t), seed, c.cache, c.cacheSz, c.txn)
				if ref == nil {
					ref, refName = out, c.name
					continue
				}
				if len(out) != len(ref) {
					t.Fatalf("%s produced %d results, %s %d", c.name, len(out), refName, len(ref))
				}
				for i := range ref {
					if out[i] != ref[i] {
						t.Fatalf("result %d differs:\n%s: %s\n%s: %s", i, refName, ref[i], c.name, out[i])
					}
				}
			}
		})
	}
}

func runRandomOps(t *testing.T, e Engine, seed uint64, cache bool, cacheSz int64, txn bool) []string {
	rng := rand.New(rand.NewPCG(seed, 99))
	log := &recLogger{}
	m, err := OpenManager(ManagerConfig{ApplicationID: "app", Task: "0_1", Partition: 1, Engine: e,
		ChangeLogger: log, CacheMaxBytes: cacheSz, Transactional: txn, Stores: []Builder{
			KeyValue("kv", stringSerde{}, stringSerde{}, Caching(cache)),
			Window("w", 50*time.Millisecond, 10*time.Millisecond, stringSerde{}, stringSerde{}, Caching(cache), SegmentInterval(20*time.Millisecond)),
			Session("s", 50*time.Millisecond, stringSerde{}, stringSerde{}, Caching(cache), SegmentInterval(20*time.Millisecond)),
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	kv := mustStore[KeyValueStore[string, string]](t, m, "kv")
	w := mustStore[WindowStore[string, string]](t, m, "w")
	ss := mustStore[SessionStore[string, string]](t, m, "s")
	key := func() string {
		// Short keys over a small alphabet with zero bytes, so that keys are
		// often prefixes of each other.
		n := rng.IntN(3)
		b := make([]byte, n)
		for i := range b {
			b[i] = "a\x00b"[rng.IntN(3)]
		}
		return string(b)
	}
	var out []string
	now := int64(0)
	// Windows and sessions are written up to 60 ms before now, past the
	// 50 ms retention, but read only within it: a cached store's clock
	// moves when a write reaches the engine (as Kafka Streams' segmented
	// stores below CachingWindowStore and CachingSessionStore), so until a
	// flush it shows more of what is past retention than an uncached one.
	const live = 50
	for i := 0; i < 1500; i++ {
		now += int64(rng.IntN(3))
		m.SetTimestamp(now)
		var r string
		switch op := rng.IntN(14); op {
		case 0, 1:
			k := key()
			r = fmt.Sprint(kv.Put(k, fmt.Sprint(i)))
		case 2:
			v, ok, err := kv.Get(key())
			r = fmt.Sprint(v, ok, err)
		case 3:
			v, ok, err := kv.Delete(key())
			r = fmt.Sprint(v, ok, err)
		case 4:
			v, ok, err := kv.PutIfAbsent(key(), fmt.Sprint(i))
			r = fmt.Sprint(v, ok, err)
		case 5:
			a, b := key(), key()
			r = drainKV(kv.Range(a, b))
		case 6:
			r = drainKV(kv.PrefixScan(key()))
		case 7:
			r = fmt.Sprint(w.Put(key(), fmt.Sprint(i), now-int64(rng.IntN(60))))
		case 8:
			r = drainKV(w.Fetch(key(), now-int64(rng.IntN(live)), now-int64(rng.IntN(20))))
		case 9:
			r = drainKV(w.FetchAll(now-int64(rng.IntN(live)), now))
		case 10:
			start := now - int64(rng.IntN(60))
			r = fmt.Sprint(ss.Put(Windowed[string]{key(), start, start + int64(rng.IntN(10))}, fmt.Sprint(i)))
		case 11:
			r = drainKV(ss.FindSessions(key(), now-int64(rng.IntN(live)), now-int64(rng.IntN(40))))
		case 12:
			it, err := ss.FindSessions(key(), now-live+1, math.MaxInt64)
			if err == nil && it.Next() {
				r = fmt.Sprint(ss.Remove(it.Key()))
			}
			if it != nil {
				it.Close()
			}
		case 13:
			r = fmt.Sprint(m.Flush())
			if rng.IntN(2) == 0 {
				// A commit point (in transactional mode it applies the staged
				// writes); results must not depend on it.
				m.Commit(map[string]int64{"kv": int64(i)})
			}
		}
		out = append(out, r)
	}
	out = append(out, drainKV(kv.All()), drainKV(w.FetchAll(now-live+1, now)))
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	// The changelog, replayed, gives the key-value store's final state.
	state := map[string]string{}
	for _, c := range log.changes {
		if c.store != "kv" {
			continue
		}
		if c.tombstone {
			delete(state, c.key)
		} else {
			state[c.key] = c.value
		}
	}
	var want []string
	it, _ := kv.All()
	for it.Next() {
		want = append(want, it.Key()+"="+it.Value())
		if state[it.Key()] != it.Value() {
			t.Fatalf("changelog has %q=%q, store has %q", it.Key(), state[it.Key()], it.Value())
		}
	}
	it.Close()
	if len(want) != len(state) {
		t.Fatalf("changelog replays to %d keys, store has %d", len(state), len(want))
	}
	return append(out, strings.Join(want, " "))
}
