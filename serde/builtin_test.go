package serde_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/sluicestreams/sluice/serde"
)

// TestDeserializeFixedWidthErrors covers the decoders that reject input:
// nil is ErrNull, any other wrong length is ErrInvalidLength with both
// lengths in the message.
func TestDeserializeFixedWidthErrors(t *testing.T) {
	type decoder struct {
		name  string
		width int
		de    func(topic string, b []byte) error
	}
	decoders := []decoder{
		{"int32", 4, func(topic string, b []byte) error { _, err := serde.Int32().Deserialize(topic, b); return err }},
		{"int64", 8, func(topic string, b []byte) error { _, err := serde.Int64().Deserialize(topic, b); return err }},
		{"float64", 8, func(topic string, b []byte) error { _, err := serde.Float64().Deserialize(topic, b); return err }},
	}
	for _, d := range decoders {
		tests := []struct {
			name    string
			data    []byte
			wantErr error
			wantMsg string
		}{
			{"nil", nil, serde.ErrNull, "null data"},
			{"empty", []byte{}, serde.ErrInvalidLength, "got 0"},
			{"short", make([]byte, d.width-1), serde.ErrInvalidLength, "got " + itoa(d.width-1)},
			{"long", make([]byte, d.width+1), serde.ErrInvalidLength, "got " + itoa(d.width+1)},
			{"double", make([]byte, 2*d.width), serde.ErrInvalidLength, "got " + itoa(2*d.width)},
		}
		for _, tt := range tests {
			t.Run(d.name+"/"+tt.name, func(t *testing.T) {
				err := d.de("orders", tt.data)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want one wrapping %v", err, tt.wantErr)
				}
				var se *serde.Error
				if !errors.As(err, &se) {
					t.Fatalf("err %T is not *serde.Error", err)
				}
				if se.Serde != d.name || se.Topic != "orders" || se.Op != serde.OpDeserialize {
					t.Errorf("Error = {Serde %q, Topic %q, Op %q}, want {%q, orders, deserialize}", se.Serde, se.Topic, se.Op, d.name)
				}
				msg := err.Error()
				wantPrefix := "serde: " + d.name + ` deserialize (topic "orders"): `
				if !strings.HasPrefix(msg, wantPrefix) {
					t.Errorf("message %q does not start with %q", msg, wantPrefix)
				}
				if strings.Count(msg, "serde:") != 1 {
					t.Errorf("message %q repeats the package prefix", msg)
				}
				if !strings.Contains(msg, tt.wantMsg) || !strings.Contains(msg, "want "+itoa(d.width)+" bytes") {
					t.Errorf("message %q should contain %q and the expected length %d", msg, tt.wantMsg, d.width)
				}
			})
		}
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *serde.Error
		want string
	}{
		{&serde.Error{Serde: "int64", Topic: "t", Op: serde.OpDeserialize, Err: errors.New("boom")},
			`serde: int64 deserialize (topic "t"): boom`},
		{&serde.Error{Serde: "json", Op: serde.OpSerialize, Err: errors.New("boom")},
			`serde: json serialize: boom`},
		{&serde.Error{Serde: "x", Topic: "t", Op: serde.OpSerialize, Err: serde.ErrUnsupported},
			`serde: x serialize (topic "t"): operation not supported`},
		{&serde.Error{Serde: "x", Op: serde.OpSerialize},
			`serde: x serialize`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	cause := errors.New("cause")
	if got := (&serde.Error{Err: cause}).Unwrap(); got != cause {
		t.Errorf("Unwrap() = %v, want the cause", got)
	}
}

// TestNullHandling pins the documented tombstone table in doc.go.
func TestNullHandling(t *testing.T) {
	t.Run("string", func(t *testing.T) {
		s := serde.String()
		for _, in := range [][]byte{nil, {}} {
			v, err := s.Deserialize("t", in)
			if err != nil || v != "" {
				t.Errorf("Deserialize(%#v) = %q, %v; want \"\", nil", in, v, err)
			}
		}
		b, err := s.Serialize("t", "")
		if err != nil || b == nil || len(b) != 0 {
			t.Errorf("Serialize(\"\") = %#v, %v; want empty non-nil", b, err)
		}
		b, err = serde.Append(s, nil, "t", "")
		if err != nil || b == nil || len(b) != 0 {
			t.Errorf("Append(nil, \"\") = %#v, %v; want empty non-nil", b, err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		s := serde.Bytes()
		for _, in := range [][]byte{nil, {}} {
			b, err := s.Serialize("t", in)
			if err != nil || (b == nil) != (in == nil) || len(b) != 0 {
				t.Errorf("Serialize(%#v) = %#v, %v; nil must stay nil and empty stay empty", in, b, err)
			}
			v, err := s.Deserialize("t", in)
			if err != nil || (v == nil) != (in == nil) || len(v) != 0 {
				t.Errorf("Deserialize(%#v) = %#v, %v; nil must stay nil and empty stay empty", in, v, err)
			}
		}
		buf := []byte("keep")
		out, err := serde.Append(s, buf[:0], "t", nil)
		if err != nil || out != nil {
			t.Errorf("Append(nil value) = %#v, %v; want nil (tombstone)", out, err)
		}
		out, err = serde.Append(s, nil, "t", []byte{})
		if err != nil || out == nil || len(out) != 0 {
			t.Errorf("Append(empty value) = %#v, %v; want empty non-nil", out, err)
		}
	})
	t.Run("json", func(t *testing.T) {
		type rec struct{ A int }
		s := serde.JSON[*rec]()
		v, err := s.Deserialize("t", nil)
		if err != nil || v != nil {
			t.Errorf("Deserialize(nil) = %v, %v; want nil, nil", v, err)
		}
		b, err := s.Serialize("t", nil)
		if err != nil || b != nil {
			t.Errorf("Serialize(nil pointer) = %q, %v; want nil bytes (tombstone)", b, err)
		}
		out, err := serde.Append(s, []byte("x"), "t", nil)
		if err != nil || out != nil {
			t.Errorf("Append(nil pointer) = %q, %v; want nil (tombstone)", out, err)
		}
		if _, err := s.Deserialize("t", []byte{}); err == nil {
			t.Error("Deserialize(empty non-nil) succeeded; empty bytes are not null")
		}
		sv := serde.JSON[rec]()
		zero, err := sv.Deserialize("t", nil)
		if err != nil || zero != (rec{}) {
			t.Errorf("JSON[rec].Deserialize(nil) = %+v, %v; want zero, nil", zero, err)
		}
		b, err = sv.Serialize("t", rec{})
		if err != nil || string(b) != `{"A":0}` {
			t.Errorf("JSON[rec].Serialize(zero) = %q, %v; a zero struct is a value, not null", b, err)
		}
	})
}

func TestFloat64NaNCanonical(t *testing.T) {
	payloads := []uint64{0x7ff0000000000001, 0x7ff8000000000001, 0xfff8000000000000, 0x7fffffffffffffff}
	for _, p := range payloads {
		nan := math.Float64frombits(p)
		b, err := serde.Float64().Serialize("t", nan)
		if err != nil || !bytes.Equal(b, []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 0}) {
			t.Errorf("Serialize(NaN %#x) = %x, %v; want 7ff8000000000000 as Java writes", p, b, err)
		}
		in := []byte{byte(p >> 56), byte(p >> 48), byte(p >> 40), byte(p >> 32), byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p)}
		v, err := serde.Float64().Deserialize("t", in)
		if err != nil || math.Float64bits(v) != p {
			t.Errorf("Deserialize(%x) bits = %#x, %v; want the bits kept", in, math.Float64bits(v), err)
		}
	}
}

func TestJSON(t *testing.T) {
	type order struct {
		ID    string            `json:"id"`
		Qty   int               `json:"qty"`
		Price float64           `json:"price,omitempty"`
		Tags  map[string]string `json:"tags,omitempty"`
	}
	s := serde.JSON[order]()
	tests := []struct {
		name    string
		in      string
		want    order
		wantErr bool
	}{
		{"full", `{"id":"a","qty":2,"price":1.5,"tags":{"k":"v"}}`, order{"a", 2, 1.5, map[string]string{"k": "v"}}, false},
		{"unknown field ignored", `{"id":"b","extra":true}`, order{ID: "b"}, false},
		{"whitespace", " {\"qty\": 3}\n", order{Qty: 3}, false},
		{"null text", `null`, order{}, false},
		{"wrong type", `{"qty":"three"}`, order{}, true},
		{"truncated", `{"id":"a"`, order{}, true},
		{"trailing data", `{} {}`, order{}, true},
		{"not json", `hello`, order{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Deserialize("orders", []byte(tt.in))
			if tt.wantErr {
				var se *serde.Error
				if !errors.As(err, &se) || se.Serde != "json" || se.Op != serde.OpDeserialize || se.Topic != "orders" {
					t.Fatalf("err = %#v, want *serde.Error for json deserialize on orders", err)
				}
				if !strings.HasPrefix(err.Error(), `serde: json deserialize (topic "orders"): `) {
					t.Errorf("message %q", err.Error())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.want.ID || got.Qty != tt.want.Qty || got.Price != tt.want.Price || len(got.Tags) != len(tt.want.Tags) || got.Tags["k"] != tt.want.Tags["k"] {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}

	b, err := s.Serialize("orders", order{ID: "a", Qty: 2})
	if err != nil || string(b) != `{"id":"a","qty":2}` {
		t.Errorf("Serialize = %s, %v", b, err)
	}

	// A value encoding/json cannot encode is an error, not a panic.
	_, err = serde.JSON[float64]().Serialize("t", math.Inf(1))
	var se *serde.Error
	if !errors.As(err, &se) || se.Op != serde.OpSerialize || se.Serde != "json" {
		t.Errorf("Serialize(+Inf) err = %v, want *serde.Error for json serialize", err)
	}
	if out, err := serde.Append(serde.JSON[float64](), []byte("keep"), "t", math.Inf(1)); err == nil || out != nil {
		t.Errorf("Append(+Inf) = %q, %v; want nil and an error", out, err)
	}
	_, err = serde.JSON[chan int]().Serialize("t", make(chan int))
	if !errors.As(err, &se) {
		t.Errorf("Serialize(chan) err = %v, want *serde.Error", err)
	}
}

// TestRoundTrip checks Deserialize(Serialize(v)) == v and that Serialize and
// Append agree, for each built-in over edge values.
func TestRoundTrip(t *testing.T) {
	t.Run("string", func(t *testing.T) {
		for _, v := range []string{"", "a", "hello, world", "h\u00e9llo", "\xff\xfe invalid utf-8", strings.Repeat("x", 1<<16)} {
			roundTrip(t, serde.String(), v, func(a, b string) bool { return a == b })
		}
	})
	t.Run("bytes", func(t *testing.T) {
		for _, v := range [][]byte{{}, {0}, []byte("abc"), bytes.Repeat([]byte{0xff}, 1000)} {
			roundTrip(t, serde.Bytes(), v, bytes.Equal)
		}
	})
	t.Run("int32", func(t *testing.T) {
		for _, v := range []int32{0, 1, -1, 127, 128, -128, 1 << 16, math.MaxInt32, math.MinInt32} {
			roundTrip(t, serde.Int32(), v, func(a, b int32) bool { return a == b })
		}
	})
	t.Run("int64", func(t *testing.T) {
		for _, v := range []int64{0, 1, -1, 1 << 31, -1 << 31, 1 << 32, math.MaxInt64, math.MinInt64} {
			roundTrip(t, serde.Int64(), v, func(a, b int64) bool { return a == b })
		}
	})
	t.Run("float64", func(t *testing.T) {
		for _, v := range []float64{0, math.Copysign(0, -1), 1, -1.5, math.Pi, math.SmallestNonzeroFloat64, math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN()} {
			roundTrip(t, serde.Float64(), v, sameFloat)
		}
	})
	t.Run("json", func(t *testing.T) {
		type point struct {
			X, Y int
			Name string
		}
		for _, v := range []point{{}, {1, 2, "p"}, {-1, 1 << 40, "\u65e5"}} {
			roundTrip(t, serde.JSON[point](), v, func(a, b point) bool { return a == b })
		}
		for _, v := range []map[string]int{{}, {"a": 1, "b": 2}} {
			roundTrip(t, serde.JSON[map[string]int](), v, func(a, b map[string]int) bool {
				if len(a) != len(b) {
					return false
				}
				for k, x := range a {
					if y, ok := b[k]; !ok || x != y {
						return false
					}
				}
				return true
			})
		}
	})
}

func roundTrip[T any](t *testing.T, s serde.Serde[T], v T, eq func(a, b T) bool) {
	t.Helper()
	b, err := s.Serialize("t", v)
	if err != nil {
		t.Fatalf("Serialize(%v): %v", v, err)
	}
	if b == nil {
		t.Fatalf("Serialize(%v) = nil, a tombstone; want a value", v)
	}
	got, err := s.Deserialize("t", b)
	if err != nil {
		t.Fatalf("Deserialize(%x): %v", b, err)
	}
	if !eq(got, v) {
		t.Errorf("round trip of %v gave %v", v, got)
	}
	// The fast path must produce the same bytes after an existing prefix,
	// and write into dst's storage when it has room.
	buf := make([]byte, 3, len(b)+3)
	copy(buf, "pre")
	out, err := serde.Append(s, buf, "t", v)
	if err != nil || !bytes.Equal(out, append([]byte("pre"), b...)) {
		t.Errorf("Append(%v) = %x, %v; want pre+%x", v, out, err, b)
	}
	if len(b) > 0 && &out[0] != &buf[0] {
		t.Errorf("Append(%v) did not reuse dst's storage", v)
	}
}
