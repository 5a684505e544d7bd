package serde_test

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/sluicestreams/sluice/serde"
)

// TestBuiltinsImplementAppender checks the fast path every built-in promises.
func TestBuiltinsImplementAppender(t *testing.T) {
	check := func(name string, s any, ok bool) {
		if !ok {
			t.Errorf("%s (%T) does not implement Appender", name, s)
		}
	}
	_, ok := serde.String().(serde.Appender[string])
	check("String", serde.String(), ok)
	_, ok = serde.Bytes().(serde.Appender[[]byte])
	check("Bytes", serde.Bytes(), ok)
	_, ok = serde.Int32().(serde.Appender[int32])
	check("Int32", serde.Int32(), ok)
	_, ok = serde.Int64().(serde.Appender[int64])
	check("Int64", serde.Int64(), ok)
	_, ok = serde.Float64().(serde.Appender[float64])
	check("Float64", serde.Float64(), ok)
	_, ok = serde.JSON[map[string]int]().(serde.Appender[map[string]int])
	check("JSON", serde.JSON[map[string]int](), ok)
}

// celsiusSerde is a user type with its own methods, showing that any type
// with Serialize and Deserialize is a Serde.
type celsiusSerde struct{}

func (celsiusSerde) Serialize(_ string, v float32) ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(v), 'f', -1, 32)), nil
}

func (celsiusSerde) Deserialize(topic string, b []byte) (float32, error) {
	f, err := strconv.ParseFloat(string(b), 32)
	return float32(f), err
}

func TestAppendFallback(t *testing.T) {
	var s serde.Serde[float32] = celsiusSerde{}
	out, err := serde.Append(s, []byte("t="), "temps", 21.5)
	if err != nil || string(out) != "t=21.5" {
		t.Errorf("Append = %q, %v; want t=21.5", out, err)
	}

	// Fallback keeps the Appender contract: empty encodings are non-nil,
	// tombstones and errors are nil.
	empty := serde.New(func(string, int) ([]byte, error) { return []byte{}, nil }, nil)
	out, err = serde.Append(empty, nil, "t", 1)
	if err != nil || out == nil || len(out) != 0 {
		t.Errorf("Append(empty encoding) = %#v, %v; want empty non-nil", out, err)
	}
	tomb := serde.New(func(string, int) ([]byte, error) { return nil, nil }, nil)
	out, err = serde.Append(tomb, []byte("x"), "t", 1)
	if err != nil || out != nil {
		t.Errorf("Append(tombstone) = %#v, %v; want nil", out, err)
	}
	boom := errors.New("boom")
	failing := serde.New(func(string, int) ([]byte, error) { return []byte("partial"), boom }, nil)
	out, err = serde.Append(failing, []byte("x"), "t", 1)
	if !errors.Is(err, boom) || out != nil {
		t.Errorf("Append(failing) = %q, %v; want nil and boom", out, err)
	}
}

type point struct{ X, Y int32 }

func TestNew(t *testing.T) {
	boom := errors.New("boom")
	s := serde.New(
		func(topic string, p point) ([]byte, error) {
			if p.X < 0 {
				return nil, boom
			}
			return fmt.Appendf(nil, "%s:%d,%d", topic, p.X, p.Y), nil
		},
		func(topic string, b []byte) (point, error) {
			var p point
			var tp string
			if _, err := fmt.Sscanf(string(bytes.ReplaceAll(b, []byte(":"), []byte(" "))), "%s %d,%d", &tp, &p.X, &p.Y); err != nil {
				return point{X: 99}, err
			}
			if tp != topic {
				return point{}, &serde.Error{Serde: "custom", Topic: topic, Op: serde.OpDeserialize, Err: boom}
			}
			return p, nil
		},
	)
	b, err := s.Serialize("pts", point{1, 2})
	if err != nil || string(b) != "pts:1,2" {
		t.Fatalf("Serialize = %q, %v", b, err)
	}
	p, err := s.Deserialize("pts", b)
	if err != nil || p != (point{1, 2}) {
		t.Fatalf("Deserialize = %v, %v", p, err)
	}

	tests := []struct {
		name      string
		call      func() error
		wantSerde string
		wantOp    string
		wantIs    error
	}{
		{"ser error wrapped", func() error { _, err := s.Serialize("pts", point{-1, 0}); return err },
			"serde_test.point", serde.OpSerialize, boom},
		{"de error wrapped", func() error {
			v, err := s.Deserialize("pts", []byte("garbage"))
			if v != (point{}) {
				return fmt.Errorf("value %v returned with an error, want zero", v)
			}
			return err
		}, "serde_test.point", serde.OpDeserialize, nil},
		{"*Error passed through", func() error { _, err := s.Deserialize("other", []byte("pts:1,2")); return err },
			"custom", serde.OpDeserialize, boom},
		{"nil ser", func() error {
			_, err := serde.New(nil, func(string, []byte) (int, error) { return 0, nil }).Serialize("t", 1)
			return err
		}, "int", serde.OpSerialize, serde.ErrUnsupported},
		{"nil de", func() error {
			_, err := serde.New(func(string, []int) ([]byte, error) { return nil, nil }, nil).Deserialize("t", nil)
			return err
		}, "[]int", serde.OpDeserialize, serde.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var se *serde.Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want *serde.Error", err, err)
			}
			if se.Serde != tt.wantSerde || se.Op != tt.wantOp {
				t.Errorf("Error{Serde %q, Op %q}, want {%q, %q}", se.Serde, se.Op, tt.wantSerde, tt.wantOp)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.wantIs)
			}
		})
	}
}

// TestAllocs pins the allocation budget of the hot paths: fixed-width
// decoders and every AppendSerialize into a buffer with room allocate
// nothing, and String's Deserialize allocates only the string.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds allocations")
	}
	i32 := []byte{0, 0, 1, 0}
	i64 := []byte{0, 0, 0, 0, 0, 0, 1, 0}
	str := []byte("a string long enough to need the heap")
	buf := make([]byte, 0, 256)
	var sink any
	tests := []struct {
		name string
		max  float64
		fn   func()
	}{
		{"Int32.Deserialize", 0, func() { v, _ := serde.Int32().Deserialize("t", i32); sink = v == 0 }},
		{"Int64.Deserialize", 0, func() { v, _ := serde.Int64().Deserialize("t", i64); sink = v == 0 }},
		{"Float64.Deserialize", 0, func() { v, _ := serde.Float64().Deserialize("t", i64); sink = v == 0 }},
		{"Bytes.Deserialize", 0, func() { v, _ := serde.Bytes().Deserialize("t", str); sink = len(v) == 0 }},
		{"String.Deserialize", 1, func() { v, _ := serde.String().Deserialize("t", str); sink = len(v) == 0 }},
		{"Append Int32", 0, func() { b, _ := serde.Append(serde.Int32(), buf[:0], "t", 7); sink = len(b) == 0 }},
		{"Append Int64", 0, func() { b, _ := serde.Append(serde.Int64(), buf[:0], "t", 7); sink = len(b) == 0 }},
		{"Append Float64", 0, func() { b, _ := serde.Append(serde.Float64(), buf[:0], "t", 7.5); sink = len(b) == 0 }},
		{"Append String", 0, func() { b, _ := serde.Append(serde.String(), buf[:0], "t", "hello"); sink = len(b) == 0 }},
		{"Append Bytes", 0, func() { b, _ := serde.Append(serde.Bytes(), buf[:0], "t", str); sink = len(b) == 0 }},
		{"Int64.Serialize", 1, func() { b, _ := serde.Int64().Serialize("t", 7); sink = len(b) == 0 }},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, tt.fn); got > tt.max {
			t.Errorf("%s: %v allocs per call, want at most %v", tt.name, got, tt.max)
		}
	}
	_ = sink
}
