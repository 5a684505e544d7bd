package statestore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// engineCase builds a fresh engine for a test.
type engineCase struct {
	name string
	open func(t testing.TB) Engine
}

func openTestPebble(t testing.TB, dir string) *PebbleEngine {
	t.Helper()
	e, err := OpenPebble(PebbleOptions{Dir: dir, ApplicationID: "app", CacheBytes: 1 << 20, MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var engineCases = []engineCase{
	{"mem", func(t testing.TB) Engine {
		e := NewMemEngine()
		t.Cleanup(func() { e.Close() })
		return e
	}},
	{"pebble", func(t testing.TB) Engine {
		e := openTestPebble(t, t.TempDir())
		t.Cleanup(func() { e.Close() })
		return e
	}},
}

// forEachEngine runs fn once per engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, e Engine)) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) { fn(t, ec.open(t)) })
	}
}

func collect(t testing.TB, rs RawStore, lo, hi []byte) []string {
	t.Helper()
	it, err := rs.Iter(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRawStoreBasics(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e Engine) {
		a, _ := e.RawStore("0_1", "s")
		b, _ := e.RawStore("0_1", "s2") // same task, other store
		c, _ := e.RawStore("0_10", "s") // task id that extends "0_1"
		for _, k := range []string{"b", "a", "c", "", "ab"} {
			if err := a.Set([]byte(k), []byte("v"+k)); err != nil {
				t.Fatal(err)
			}
		}
		b.Set([]byte("a"), []byte("other"))
		c.Set([]byte("a"), []byte("other"))
		v, ok, err := a.Get([]byte("a"))
		if err != nil || !ok || string(v) != "va" {
			t.Fatalf("Get a = %q %v %v", v, ok, err)
		}
		v, ok, err = a.Get([]byte(""))
		if err != nil || !ok || string(v) != "v" {
			t.Fatalf("Get empty key = %q %v %v", v, ok, err)
		}
		if _, ok, _ := a.Get([]byte("zz")); ok {
			t.Fatal("absent key found")
		}
		want := "=v,a=va,ab=vab,b=vb,c=vc"
		if got := strings.Join(collect(t, a, nil, nil), ","); got != want {
			t.Fatalf("all = %s, want %s", got, want)
		}
		if got := strings.Join(collect(t, a, []byte("a"), []byte("b")), ","); got != "a=va,ab=vab" {
			t.Fatalf("range = %s", got)
		}
		if n, _ := a.ApproximateCount(); n != 5 {
			t.Fatalf("count = %d", n)
		}
		it, _ := a.Iter(nil, []byte("c"))
		if !it.Last() || string(it.Key()) != "b" {
			t.Fatalf("Last = %q", it.Key())
		}
		it.Close()
		a.Delete([]byte("b"))
		a.DeleteRange([]byte("a"), []byte("ab\x00"))
		if got := strings.Join(collect(t, a, nil, nil), ","); got != "=v,c=vc" {
			t.Fatalf("after deletes = %s", got)
		}
		if got := strings.Join(collect(t, b, nil, nil), ","); got != "a=other" {
			t.Fatalf("other store = %s", got)
		}
		if got := strings.Join(collect(t, c, nil, nil), ","); got != "a=other" {
			t.Fatalf("other task = %s", got)
		}
		cp := Checkpoint{{"app-s-changelog", 1}: 42}
		if err := a.Write([]Entry{{Key: []byte("x"), Value: []byte("1")}, {Key: []byte("c")}}, cp, true); err != nil {
			t.Fatal(err)
		}
		got, err := a.Checkpoint()
		if err != nil || fmt.Sprint(got) != fmt.Sprint(cp) {
			t.Fatalf("checkpoint = %v %v", got, err)
		}
		if g := strings.Join(collect(t, a, nil, nil), ","); g != "=v,x=1" {
			t.Fatalf("after write = %s", g)
		}
		b.Write(nil, Checkpoint{{"t", 0}: 1}, false)
		c.Write(nil, Checkpoint{{"t", 0}: 1}, false)
		tasks, _ := e.Tasks()
		if fmt.Sprint(tasks) != "[0_1 0_10]" {
			t.Fatalf("tasks = %v", tasks)
		}
		cps, err := e.Checkpoints("0_1")
		if err != nil || fmt.Sprint(cps) != "map[s:map[{app-s-changelog 1}:42] s2:map[{t 0}:1]]" {
			t.Fatalf("Checkpoints = %v %v", cps, err)
		}
		if err := e.DropTask("0_1"); err != nil {
			t.Fatal(err)
		}
		if len(collect(t, a, nil, nil))+len(collect(t, b, nil, nil)) != 0 {
			t.Fatal("DropTask left data")
		}
		if cp, _ := a.Checkpoint(); cp != nil {
			t.Fatalf("DropTask left checkpoint %v", cp)
		}
		if got := strings.Join(collect(t, c, nil, nil), ","); got != "a=other" {
			t.Fatalf("DropTask touched another task: %s", got)
		}
		tasks, _ = e.Tasks()
		if fmt.Sprint(tasks) != "[0_10]" {
			t.Fatalf("tasks after drop = %v", tasks)
		}
		if err := c.Wipe(); err != nil {
			t.Fatal(err)
		}
		if len(collect(t, c, nil, nil)) != 0 {
			t.Fatal("Wipe left data")
		}
	})
}

// TestIterWhileWriting checks that the owner can modify a store while an
// iterator is open (delete-as-you-go expiry does this).
func TestIterWhileWriting(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e Engine) {
		rs, _ := e.RawStore("0_0", "s")
		for i := 0; i < 100; i++ {
			rs.Set([]byte(fmt.Sprintf("k%03d", i)), []byte("v"))
		}
		it, _ := rs.Iter(nil, nil)
		n := 0
		prev := []byte(nil)
		for ok := it.First(); ok; ok = it.Next() {
			if prev != nil && bytes.Compare(it.Key(), prev) <= 0 {
				t.Fatalf("order broken at %q after %q", it.Key(), prev)
			}
			prev = append(prev[:0], it.Key()...)
			if err := rs.Delete(it.Key()); err != nil {
				t.Fatal(err)
			}
			n++
		}
		it.Close()
		if n != 100 {
			t.Fatalf("visited %d", n)
		}
		if c, _ := rs.ApproximateCount(); c != 0 {
			t.Fatalf("left %d", c)
		}
	})
}

func TestPebbleMissingDirIsFresh(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "does", "not", "exist")
	e := openTestPebble(t, dir)
	defer e.Close()
	if tasks, err := e.Tasks(); err != nil || len(tasks) != 0 {
		t.Fatalf("fresh tasks = %v %v", tasks, err)
	}
}

func TestPebbleCorrupt(t *testing.T) {
	dir := t.TempDir()
	e := openTestPebble(t, dir)
	rs, _ := e.RawStore("0_0", "s")
	rs.Write([]Entry{{Key: []byte("k"), Value: []byte("v")}}, Checkpoint{{"t", 0}: 1}, true)
	e.Close()
	path := filepath.Join(dir, "app")
	files, _ := filepath.Glob(filepath.Join(path, "MANIFEST-*"))
	if len(files) == 0 {
		t.Fatal("no MANIFEST")
	}
	for _, f := range files {
		if err := os.WriteFile(f, bytes.Repeat([]byte{0xAB}, 300), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := OpenPebble(PebbleOptions{Dir: dir, ApplicationID: "app"})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if testing.Verbose() {
		t.Log(err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Fatalf("err %q does not name %s", err, path)
	}
}

func TestPebbleLockedIsNotCorrupt(t *testing.T) {
	dir := t.TempDir()
	e := openTestPebble(t, dir)
	defer e.Close()
	_, err := OpenPebble(PebbleOptions{Dir: dir, ApplicationID: "app"})
	if err == nil {
		t.Fatal("second open of a locked DB succeeded")
	}
	if errors.Is(err, ErrCorrupt) {
		t.Fatalf("lock error reported as corrupt: %v", err)
	}
}

// TestPebbleCrashish writes on the NoSync hot path, commits a checkpoint
// with sync, then reopens: data and checkpoint must agree.
func TestPebbleCrashish(t *testing.T) {
	dir := t.TempDir()
	e := openTestPebble(t, dir)
	rs, _ := e.RawStore("1_3", "counts")
	for i := 0; i < 1000; i++ {
		rs.Set([]byte(fmt.Sprintf("k%04d", i)), []byte(fmt.Sprint(i)))
	}
	if err := rs.Write([]Entry{{Key: []byte("last"), Value: []byte("x")}}, Checkpoint{{"app-counts-changelog", 3}: 1001}, true); err != nil {
		t.Fatal(err)
	}
	// Close without any further sync; pebble's Close does not sync the WAL
	// beyond what was synced, so the reopened state is what Write made
	// durable.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openTestPebble(t, dir)
	defer e.Close()
	rs, _ = e.RawStore("1_3", "counts")
	cp, err := rs.Checkpoint()
	if err != nil || cp[TopicPartition{"app-counts-changelog", 3}] != 1001 {
		t.Fatalf("checkpoint = %v %v", cp, err)
	}
	if n, _ := rs.ApproximateCount(); n != 1001 {
		t.Fatalf("count = %d, want 1001", n)
	}
	v, ok, _ := rs.Get([]byte("k0999"))
	if !ok || string(v) != "999" {
		t.Fatalf("k0999 = %q %v", v, ok)
	}
}

func TestPebbleMissingManifestIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	e := openTestPebble(t, dir)
	rs, _ := e.RawStore("0_0", "s")
	rs.Write([]Entry{{Key: []byte("k"), Value: []byte("v")}}, nil, true)
	e.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "app", "MANIFEST-*"))
	for _, f := range files {
		os.Remove(f)
	}
	_, err := OpenPebble(PebbleOptions{Dir: dir, ApplicationID: "app"})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}
