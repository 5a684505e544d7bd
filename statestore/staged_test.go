package statestore

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func stagedView(t *testing.T, rs RawStore, lo, hi []byte) string {
	t.Helper()
	it, err := rs.Iter(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var parts []string
	for ok := it.First(); ok; ok = it.Next() {
		parts = append(parts, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(parts, " ")
}

func TestStagedCommitAndAbort(t *testing.T) {
	eng := NewMemEngine()
	defer eng.Close()
	base, _ := eng.RawStore("0_0", "s")
	if err := base.Write([]Entry{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("c"), Value: []byte("3")}, {Key: []byte("e"), Value: []byte("5")}}, Checkpoint{{Topic: "cl", Partition: 0}: 10}, true); err != nil {
		t.Fatal(err)
	}
	st := newStagedRaw(base)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Set([]byte("b"), []byte("2")))
	must(st.Delete([]byte("c")))
	must(st.Set([]byte("e"), []byte("55")))
	if got := stagedView(t, st, nil, nil); got != "a=1 b=2 e=55" {
		t.Fatalf("staged view %q", got)
	}
	if got := stagedView(t, base, nil, nil); got != "a=1 c=3 e=5" {
		t.Fatalf("base changed before commit: %q", got)
	}
	if _, ok, _ := st.Get([]byte("c")); ok {
		t.Fatal("staged delete not visible to Get")
	}
	st.abort()
	if got := stagedView(t, st, nil, nil); got != "a=1 c=3 e=5" {
		t.Fatalf("after abort %q", got)
	}
	must(st.Set([]byte("d"), []byte("4")))
	must(st.DeleteRange([]byte("a"), []byte("c\xff")))
	if got := stagedView(t, st, nil, nil); got != "d=4 e=5" {
		t.Fatalf("after staged DeleteRange %q", got)
	}
	must(st.commit(Checkpoint{{Topic: "cl", Partition: 0}: 20}, true))
	if got := stagedView(t, base, nil, nil); got != "d=4 e=5" {
		t.Fatalf("base after commit %q", got)
	}
	cp, _ := base.Checkpoint()
	if cp[TopicPartition{Topic: "cl", Partition: 0}] != 20 {
		t.Fatalf("checkpoint %v", cp)
	}
	if st.pending() != 0 {
		t.Fatal("staged writes left after commit")
	}
}

// TestStagedMatchesPlain runs random operations on a staged store and on a
// plain one; after every commit they hold the same data, and reads agree at
// every step.
func TestStagedMatchesPlain(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		eng := NewMemEngine()
		plainEng := NewMemEngine()
		base, _ := eng.RawStore("t", "s")
		plain, _ := plainEng.RawStore("t", "s")
		st := newStagedRaw(base)
		key := func() []byte { return []byte(fmt.Sprintf("k%02d", rng.IntN(30))) }
		shadow := map[string]string{} // plain store after commits
		pendingOps := []func(){}      // ops to apply to plain on commit
		for i := 0; i < 400; i++ {
			switch op := rng.IntN(10); {
			case op < 5:
				k, v := key(), []byte(fmt.Sprint(rng.IntN(1000)))
				_ = st.Set(k, v)
				pendingOps = append(pendingOps, func() { _ = plain.Set(k, v); shadow[string(k)] = string(v) })
			case op < 7:
				k := key()
				_ = st.Delete(k)
				pendingOps = append(pendingOps, func() { _ = plain.Delete(k); delete(shadow, string(k)) })
			case op < 8:
				lo, hi := key(), key()
				if string(lo) > string(hi) {
					lo, hi = hi, lo
				}
				_ = st.DeleteRange(lo, hi)
				pendingOps = append(pendingOps, func() { _ = plain.DeleteRange(lo, hi) })
			case op < 9:
				if err := st.commit(nil, false); err != nil {
					t.Fatal(err)
				}
				for _, f := range pendingOps {
					f()
				}
				pendingOps = nil
				if a, b := stagedView(t, st, nil, nil), stagedView(t, plain, nil, nil); a != b {
					t.Fatalf("seed %d op %d: staged %q, plain %q", seed, i, a, b)
				}
			default:
				st.abort()
				pendingOps = nil
				if a, b := stagedView(t, st, nil, nil), stagedView(t, plain, nil, nil); a != b {
					t.Fatalf("seed %d op %d after abort: staged %q, plain %q", seed, i, a, b)
				}
			}
		}
		eng.Close()
		plainEng.Close()
	}
}

// TestManagerTransactional: through a Manager in transactional mode, writes
// are visible before Commit, reach the engine only with Commit, and Abort
// takes the store back to the last Commit.
func TestManagerTransactional(t *testing.T) {
	eng := NewMemEngine()
	defer eng.Close()
	open := func() (*Manager, KeyValueStore[string, string]) {
		m, err := OpenManager(ManagerConfig{ApplicationID: "app", Task: "0_0", Engine: eng, Transactional: true,
			Stores: []Builder{KeyValue[string, string]("kv", strSerde{}, strSerde{}, Logging(false))}})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := m.Store("kv")
		return m, st.(KeyValueStore[string, string])
	}
	m, kv := open()
	if err := kv.Put("a", "1"); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := kv.Get("a"); !ok || v != "1" {
		t.Fatalf("staged write not readable: %q %v", v, ok)
	}
	if err := m.Commit(nil); err != nil {
		t.Fatal(err)
	}
	_ = kv.Put("a", "2")
	_ = kv.Put("b", "3")
	if err := m.Abort(); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := kv.Get("a"); v != "1" {
		t.Fatalf("after Abort a = %q, want 1", v)
	}
	if _, ok, _ := kv.Get("b"); ok {
		t.Fatal("after Abort b exists")
	}
	_ = kv.Put("c", "4")
	_ = m.Close() // a crash: c was never committed
	_, kv2 := open()
	if _, ok, _ := kv2.Get("c"); ok {
		t.Fatal("an uncommitted write survived the close")
	}
	if v, _, _ := kv2.Get("a"); v != "1" {
		t.Fatalf("reopened a = %q, want 1", v)
	}
}

type strSerde struct{}

func (strSerde) Serialize(_ string, v string) ([]byte, error)   { return []byte(v), nil }
func (strSerde) Deserialize(_ string, b []byte) (string, error) { return string(b), nil }
