package statestore

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
)

var keySeeds = [][]byte{nil, {}, {0}, {0, 0}, {0, 1}, {0, 0xFF}, {1}, []byte("a"), []byte("a\x00"), []byte("a\x00\x01"),
	[]byte("ab"), {0xFF}, {0xFF, 0}, bytes.Repeat([]byte{0}, 9)}

func TestEscapedOrderAndPrefixFree(t *testing.T) {
	for _, a := range keySeeds {
		for _, b := range keySeeds {
			ea, eb := appendEscaped(nil, a), appendEscaped(nil, b)
			if got, want := bytes.Compare(ea, eb), bytes.Compare(a, b); got != want {
				t.Errorf("order of %q vs %q: escaped %d, raw %d", a, b, got, want)
			}
			if !bytes.Equal(a, b) && bytes.HasPrefix(eb, ea) {
				t.Errorf("escaped %q is a prefix of escaped %q", a, b)
			}
		}
	}
}

// TestWindowKeysDoNotInterleave checks the property scans rely on: every
// window of key a sorts before every window of key b when a < b,
// whatever the times, for keys that are prefixes of one another.
func TestWindowKeysDoNotInterleave(t *testing.T) {
	times := []int64{math.MinInt64, -1, 0, 1, 255, 256, math.MaxInt64}
	for _, a := range keySeeds {
		for _, b := range keySeeds {
			if bytes.Compare(a, b) >= 0 {
				continue
			}
			for _, ta := range times {
				for _, tb := range times {
					ka, kb := appendWindowKey(nil, 3, a, ta), appendWindowKey(nil, 3, b, tb)
					if bytes.Compare(ka, kb) >= 0 {
						t.Fatalf("window (%q,%d) sorts after (%q,%d)", a, ta, b, tb)
					}
					sa, sb := appendSessionKey(nil, 3, a, ta, tb), appendSessionKey(nil, 3, b, tb, ta)
					if bytes.Compare(sa, sb) >= 0 {
						t.Fatalf("session of %q sorts after session of %q", a, b)
					}
				}
			}
		}
	}
	// Times of one key sort numerically, negatives included.
	for i := 1; i < len(times); i++ {
		if bytes.Compare(appendWindowKey(nil, 0, []byte("k"), times[i-1]), appendWindowKey(nil, 0, []byte("k"), times[i])) >= 0 {
			t.Fatalf("time %d does not sort before %d", times[i-1], times[i])
		}
	}
}

func FuzzEscaped(f *testing.F) {
	for _, k := range keySeeds {
		f.Add(k, []byte("x"))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ea := appendEscaped(nil, a)
		if len(ea) != escapedLen(a) {
			t.Fatalf("escapedLen %d, encoded %d", escapedLen(a), len(ea))
		}
		got, rest, err := decodeEscaped(append(ea, 7))
		if err != nil || !bytes.Equal(got, a) || !bytes.Equal(rest, []byte{7}) {
			t.Fatalf("round trip of %q: %q %q %v", a, got, rest, err)
		}
		eb := appendEscaped(nil, b)
		if bytes.Compare(ea, eb) != bytes.Compare(a, b) {
			t.Fatalf("order of %q, %q not preserved", a, b)
		}
		// Decoding arbitrary bytes never panics.
		decodeEscaped(a)
	})
}

func FuzzWindowKey(f *testing.F) {
	for _, k := range keySeeds {
		f.Add(k, int64(7), int64(123456))
	}
	f.Add([]byte("k"), int64(math.MinInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, key []byte, seg, start int64) {
		b := appendWindowKey(nil, seg, key, start)
		s, k, st, err := decodeWindowKey(b)
		if err != nil || s != seg || st != start || !bytes.Equal(k, key) {
			t.Fatalf("window key round trip: %d %q %d %v", s, k, st, err)
		}
		lk := appendWindowLogKey(nil, key, start)
		k, st, err = decodeWindowLogKey(lk)
		if err != nil || st != start || !bytes.Equal(k, key) {
			t.Fatalf("window log key round trip: %q %d %v", k, st, err)
		}
		decodeWindowKey(key)
		decodeWindowLogKey(key)
	})
}

func FuzzSessionKey(f *testing.F) {
	for _, k := range keySeeds {
		f.Add(k, int64(1), int64(50), int64(10))
	}
	f.Fuzz(func(t *testing.T, key []byte, seg, end, start int64) {
		b := appendSessionKey(nil, seg, key, end, start)
		s, k, e, st, err := decodeSessionKey(b)
		if err != nil || s != seg || e != end || st != start || !bytes.Equal(k, key) {
			t.Fatalf("session key round trip: %d %q %d %d %v", s, k, e, st, err)
		}
		k, e, st, err = decodeSessionLogKey(appendSessionLogKey(nil, key, end, start))
		if err != nil || e != end || st != start || !bytes.Equal(k, key) {
			t.Fatalf("session log key round trip: %q %d %d %v", k, e, st, err)
		}
		decodeSessionKey(key)
		decodeSessionLogKey(key)
	})
}

func FuzzTimestamped(f *testing.F) {
	f.Add(int64(0), []byte{})
	f.Add(int64(-1), []byte("value"))
	f.Fuzz(func(t *testing.T, ts int64, v []byte) {
		gts, gv, err := decodeTimestamped(appendTimestamped(nil, ts, v))
		if err != nil || gts != ts || !bytes.Equal(gv, v) {
			t.Fatalf("timestamped round trip: %d %q %v", gts, gv, err)
		}
		decodeTimestamped(v)
	})
}

func FuzzStorePrefix(f *testing.F) {
	f.Add("0_3", "counts", []byte("k"))
	f.Add("", "", []byte{})
	f.Add("12_1000", "KSTREAM-AGGREGATE-STATE-STORE-0000000001", []byte{0, 0xFF})
	f.Fuzz(func(t *testing.T, task, store string, key []byte) {
		for _, kind := range []byte{kindData, kindCheckpoint} {
			b := append(appendStorePrefix(nil, task, kind, store), key...)
			gt, gk, gs, gkey, err := decodeStorePrefix(b)
			if err != nil || gt != task || gk != kind || gs != store || !bytes.Equal(gkey, key) {
				t.Fatalf("prefix round trip: %q %c %q %q %v", gt, gk, gs, gkey, err)
			}
			if !bytes.HasPrefix(b, appendTaskPrefix(nil, task)) {
				t.Fatal("store prefix does not start with the task prefix")
			}
		}
		decodeStorePrefix(key)
	})
}

func FuzzCheckpoint(f *testing.F) {
	f.Add(encodeCheckpoint(nil))
	f.Add(encodeCheckpoint(Checkpoint{{"app-counts-changelog", 3}: 1001}))
	f.Add(encodeCheckpoint(Checkpoint{{"a", 0}: 0, {"a", 1}: -1, {"b", math.MaxInt32}: math.MaxInt64}))
	f.Add([]byte{1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F})
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := decodeCheckpoint(b)
		if err != nil {
			if !errors.Is(err, errEncoding) {
				t.Fatalf("decoder error not marked: %v", err)
			}
			return
		}
		// Whatever decodes re-encodes to something that decodes equal.
		again, err := decodeCheckpoint(encodeCheckpoint(cp))
		if err != nil || !reflect.DeepEqual(cp, again) {
			t.Fatalf("checkpoint round trip: %v vs %v (%v)", cp, again, err)
		}
	})
}

func TestPrefixEnd(t *testing.T) {
	cases := []struct{ in, want []byte }{
		{[]byte("a"), []byte("b")},
		{[]byte{1, 0xFF}, []byte{2}},
		{[]byte{0xFF, 0xFF}, nil},
		{[]byte{}, nil},
	}
	for _, c := range cases {
		if got := prefixEnd(c.in); !slices.Equal(got, c.want) {
			t.Errorf("prefixEnd(%x) = %x, want %x", c.in, got, c.want)
		}
	}
}
