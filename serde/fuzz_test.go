package serde_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/sluicestreams/sluice/serde"
)

// checkDecodeErr requires a failed decode to be a *serde.Error naming the
// serde and direction, as every error from the package promises.
func checkDecodeErr(t *testing.T, name string, err error) {
	t.Helper()
	var se *serde.Error
	if !errors.As(err, &se) || se.Serde != name || se.Op != serde.OpDeserialize || se.Topic != "fuzz" {
		t.Fatalf("error %v (%T) is not a *serde.Error for %s deserialize on topic fuzz", err, err, name)
	}
}

// lengthSentinel is the error a fixed-width decoder must wrap for data of
// the wrong length.
func lengthSentinel(data []byte) error {
	if data == nil {
		return serde.ErrNull
	}
	return serde.ErrInvalidLength
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "a", "h\u00e9llo", "\xff\xfe", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := serde.String()
		v, err := s.Deserialize("fuzz", data)
		if err != nil {
			t.Fatalf("String never fails, got %v", err)
		}
		b, err := s.Serialize("fuzz", v)
		if err != nil || !bytes.Equal(b, data) || b == nil {
			t.Fatalf("Serialize(Deserialize(%x)) = %x, %v; want the input back", data, b, err)
		}
	})
}

func FuzzBytes(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("abc"))
	f.Add([]byte{0xff, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := serde.Bytes()
		v, err := s.Deserialize("fuzz", data)
		if err != nil || !bytes.Equal(v, data) {
			t.Fatalf("Deserialize(%x) = %x, %v", data, v, err)
		}
		b, err := serde.Append(s, []byte("p"), "fuzz", v)
		if err != nil || !bytes.Equal(b, append([]byte("p"), data...)) {
			t.Fatalf("Append(%x) = %x, %v", data, b, err)
		}
	})
}

func FuzzInt32(f *testing.F) {
	for _, seed := range [][]byte{{}, {0, 0, 0, 1}, {0xff, 0xff, 0xff, 0xff}, {0x80, 0, 0, 0}, {1, 2, 3}, {1, 2, 3, 4, 5}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := serde.Int32()
		v, err := s.Deserialize("fuzz", data)
		if len(data) != 4 {
			if !errors.Is(err, lengthSentinel(data)) {
				t.Fatalf("Deserialize(%x) = %v, %v; want %v", data, v, err, lengthSentinel(data))
			}
			checkDecodeErr(t, "int32", err)
			return
		}
		if err != nil || v != int32(binary.BigEndian.Uint32(data)) {
			t.Fatalf("Deserialize(%x) = %v, %v", data, v, err)
		}
		b, err := s.Serialize("fuzz", v)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("Serialize(%d) = %x, %v; want %x", v, b, err, data)
		}
	})
}

func FuzzInt64(f *testing.F) {
	for _, seed := range [][]byte{{}, {0, 0, 0, 0, 0, 0, 0, 1}, bytes.Repeat([]byte{0xff}, 8), {0x80, 0, 0, 0, 0, 0, 0, 0}, {1, 2, 3, 4}, bytes.Repeat([]byte{7}, 9)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := serde.Int64()
		v, err := s.Deserialize("fuzz", data)
		if len(data) != 8 {
			if !errors.Is(err, lengthSentinel(data)) {
				t.Fatalf("Deserialize(%x) = %v, %v; want %v", data, v, err, lengthSentinel(data))
			}
			checkDecodeErr(t, "int64", err)
			return
		}
		if err != nil || v != int64(binary.BigEndian.Uint64(data)) {
			t.Fatalf("Deserialize(%x) = %v, %v", data, v, err)
		}
		b, err := s.Serialize("fuzz", v)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("Serialize(%d) = %x, %v; want %x", v, b, err, data)
		}
	})
}

func FuzzFloat64(f *testing.F) {
	for _, seed := range [][]byte{{}, {0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, {0x7f, 0xf0, 0, 0, 0, 0, 0, 1}, {0x80, 0, 0, 0, 0, 0, 0, 0}, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 8)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := serde.Float64()
		v, err := s.Deserialize("fuzz", data)
		if len(data) != 8 {
			if !errors.Is(err, lengthSentinel(data)) {
				t.Fatalf("Deserialize(%x) = %v, %v; want %v", data, v, err, lengthSentinel(data))
			}
			checkDecodeErr(t, "float64", err)
			return
		}
		bits := binary.BigEndian.Uint64(data)
		if err != nil || math.Float64bits(v) != bits {
			t.Fatalf("Deserialize(%x) = %v, %v; want the bits kept", data, v, err)
		}
		b, err := s.Serialize("fuzz", v)
		want := data
		if math.IsNaN(v) {
			want = []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 0}
		}
		if err != nil || !bytes.Equal(b, want) {
			t.Fatalf("Serialize(%v) = %x, %v; want %x", v, b, err, want)
		}
	})
}

// fuzzDoc is a typed JSON target, so the fuzzer exercises struct decoding
// as well as the generic map form.
type fuzzDoc struct {
	ID    string            `json:"id"`
	N     int64             `json:"n"`
	F     float64           `json:"f"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
	Next  *fuzzDoc          `json:"next"`
}

func FuzzJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`, `null`, `{"id":"a","n":1,"f":1.5,"tags":["x"],"attrs":{"k":"v"},"next":{"id":"b"}}`,
		`{"n":"not a number"}`, `[1,2,3]`, `"str"`, `{"id":"\u00e9\ud83d\ude42"}`, `{`, ``, `{"a":1e400}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		typed := serde.JSON[fuzzDoc]()
		if v, err := typed.Deserialize("fuzz", data); err != nil {
			checkDecodeErr(t, "json", err)
		} else {
			jsonStable(t, typed, v)
		}
		generic := serde.JSON[map[string]any]()
		if v, err := generic.Deserialize("fuzz", data); err != nil {
			checkDecodeErr(t, "json", err)
		} else {
			jsonStable(t, generic, v)
		}
	})
}

// jsonStable checks that a decoded value re-encodes and decodes to itself.
func jsonStable[T any](t *testing.T, s serde.Serde[T], v T) {
	t.Helper()
	b, err := s.Serialize("fuzz", v)
	if err != nil {
		t.Fatalf("Serialize(%#v) of a decoded value: %v", v, err)
	}
	back, err := s.Deserialize("fuzz", b)
	if err != nil {
		t.Fatalf("Deserialize(%q) of re-encoded value: %v", b, err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Fatalf("re-encoding %#v as %q decoded to %#v", v, b, back)
	}
}
