package serde_test

import (
	"testing"

	"github.com/sluicestreams/sluice/serde"
)

// benchOrder is a small record of the kind a JSON value serde carries.
type benchOrder struct {
	ID       string  `json:"id"`
	Customer string  `json:"customer"`
	Qty      int     `json:"qty"`
	Price    float64 `json:"price"`
}

// benchSerde reports, for one serde and value, the cost of Serialize,
// of Append into a reused buffer, and of Deserialize.
func benchSerde[T any](b *testing.B, s serde.Serde[T], v T) {
	enc, err := s.Serialize("bench", v)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Serialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Serialize("bench", v); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
	b.Run("Append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 256)
		for b.Loop() {
			out, err := serde.Append(s, buf[:0], "bench", v)
			if err != nil {
				b.Fatal(err)
			}
			if out != nil {
				buf = out
			}
		}
		reportRate(b)
	})
	b.Run("Deserialize", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, err := s.Deserialize("bench", enc); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
}

func reportRate(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "records/s")
	}
}

func BenchmarkString(b *testing.B) { benchSerde(b, serde.String(), "the quick brown fox jumps over") }
func BenchmarkBytes(b *testing.B) {
	benchSerde(b, serde.Bytes(), []byte("the quick brown fox jumps over"))
}
func BenchmarkInt32(b *testing.B)   { benchSerde(b, serde.Int32(), int32(123456)) }
func BenchmarkInt64(b *testing.B)   { benchSerde(b, serde.Int64(), int64(1234567890123)) }
func BenchmarkFloat64(b *testing.B) { benchSerde(b, serde.Float64(), 3.14159) }
func BenchmarkJSON(b *testing.B) {
	benchSerde(b, serde.JSON[benchOrder](), benchOrder{ID: "o-1001", Customer: "c-42", Qty: 3, Price: 19.99})
}
