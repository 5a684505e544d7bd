package statestore

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestConcurrentReaders has other goroutines read (as interactive queries
// do) while the task goroutine writes, flushes and evicts. Run with -race.
func TestConcurrentReaders(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e Engine) {
		m := openManager(t, e, &recLogger{}, 4096,
			KeyValue("kv", stringSerde{}, int64Serde{}, Caching(true)),
			Window("w", time.Minute, time.Second, stringSerde{}, int64Serde{}, Caching(true)))
		kv := mustStore[KeyValueStore[string, int64]](t, m, "kv")
		w := mustStore[WindowStore[string, int64]](t, m, "w")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for r := 0; r < 2; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if v, ok, err := kv.Get("k1"); err != nil || (ok && v < 0) {
						t.Errorf("Get = %d %v %v", v, ok, err)
						return
					}
					it, err := kv.All()
					if err != nil {
						t.Error(err)
						return
					}
					for it.Next() {
					}
					if err := it.Err(); err != nil {
						t.Error(err)
					}
					it.Close()
					if it, err := w.FetchAll(0, 1<<40); err == nil {
						for it.Next() {
						}
						it.Close()
					}
				}
			}()
		}
		for i := int64(0); i < 3000; i++ {
			m.SetTimestamp(i)
			if err := kv.Put(fmt.Sprint("k", i%50), i); err != nil {
				t.Fatal(err)
			}
			if err := w.Put(fmt.Sprint("k", i%50), i, i*10); err != nil {
				t.Fatal(err)
			}
			if i%500 == 0 {
				if err := m.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		close(stop)
		wg.Wait()
		if v, ok, _ := kv.Get("k49"); !ok || v != 2999 {
			t.Fatalf("k49 = %d %v", v, ok)
		}
	})
}
