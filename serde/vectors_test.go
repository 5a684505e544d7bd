package serde_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicestreams/sluice/serde"
)

// vector is one line of testdata/java_vectors.txt: the bytes Kafka's Java
// serializer produced for a value.
type vector struct {
	line  int
	serde string
	value string
	bytes []byte
}

func readVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open("testdata/java_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			t.Fatalf("java_vectors.txt:%d: want 3 tab-separated fields, got %d", n, len(parts))
		}
		b, err := hex.DecodeString(parts[2])
		if err != nil {
			t.Fatalf("java_vectors.txt:%d: %v", n, err)
		}
		vs = append(vs, vector{line: n, serde: parts[0], value: parts[1], bytes: b})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestJavaVectors checks that every built-in encodes as Kafka's Java
// serializers do and decodes their output back to the same value.
func TestJavaVectors(t *testing.T) {
	vs := readVectors(t)
	seen := map[string]int{}
	for _, v := range vs {
		seen[v.serde]++
		switch v.serde {
		case "int32":
			n, err := strconv.ParseInt(v.value, 10, 32)
			if err != nil {
				t.Fatalf("line %d: %v", v.line, err)
			}
			checkVector(t, v, serde.Int32(), int32(n), func(a, b int32) bool { return a == b })
		case "int64":
			n, err := strconv.ParseInt(v.value, 10, 64)
			if err != nil {
				t.Fatalf("line %d: %v", v.line, err)
			}
			checkVector(t, v, serde.Int64(), n, func(a, b int64) bool { return a == b })
		case "float64":
			x, err := strconv.ParseFloat(v.value, 64)
			if err != nil {
				t.Fatalf("line %d: %v", v.line, err)
			}
			checkVector(t, v, serde.Float64(), x, sameFloat)
		case "string":
			checkVector(t, v, serde.String(), v.value, func(a, b string) bool { return a == b })
		default:
			t.Fatalf("line %d: unknown serde %q", v.line, v.serde)
		}
	}
	// Guard against a truncated or emptied vector file passing silently.
	for _, name := range []string{"int32", "int64", "float64", "string"} {
		if seen[name] < 5 {
			t.Errorf("java_vectors.txt has %d %s vectors, want at least 5", seen[name], name)
		}
	}
}

// sameFloat treats all NaNs as equal and tells 0 from -0.
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Float64bits(a) == math.Float64bits(b)
}

func checkVector[T any](t *testing.T, v vector, s serde.Serde[T], want T, eq func(a, b T) bool) {
	t.Helper()
	got, err := s.Serialize("t", want)
	if err != nil {
		t.Errorf("line %d: %s Serialize(%v): %v", v.line, v.serde, want, err)
	} else if !bytes.Equal(got, v.bytes) || got == nil {
		t.Errorf("line %d: %s Serialize(%v) = %x, Java gives %x", v.line, v.serde, want, got, v.bytes)
	}
	app, err := serde.Append(s, []byte("prefix"), "t", want)
	if err != nil || !bytes.Equal(app, append([]byte("prefix"), v.bytes...)) {
		t.Errorf("line %d: %s Append(%v) = %x, %v; want prefix+%x", v.line, v.serde, want, app, err, v.bytes)
	}
	back, err := s.Deserialize("t", v.bytes)
	if err != nil {
		t.Errorf("line %d: %s Deserialize(%x): %v", v.line, v.serde, v.bytes, err)
	} else if !eq(back, want) {
		t.Errorf("line %d: %s Deserialize(%x) = %v, want %v", v.line, v.serde, v.bytes, back, want)
	}
}
