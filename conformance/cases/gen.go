package cases

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Record is one generated input record. A nil Key or Value is Kafka's null.
type Record struct {
	Key, Value []byte
	Timestamp  int64
}

// BaseTimestamp returns the timestamp of a run's first record: an hour
// before now, on a whole minute, so that windows (of whole seconds) fall
// the same way relative to it in every run. It is recent because brokers
// delete records older than a topic's retention (7 days by default) at
// once, which would empty the inputs and every internal topic with
// time-based retention.
func BaseTimestamp(now time.Time) int64 {
	return now.Add(-time.Hour).Truncate(time.Minute).UnixMilli()
}

var vocab = []string{"apple", "kiwi", "banana", "fig", "cherry", "date", "avocado", "lime"}

// Generate returns n records for input number idx of a case, from seed:
// the same arguments always give the same records. Record i is stamped
// about base + i seconds; one in ten is out of order (1 to 5 s
// early) and one in thirty is late (40 s early: behind every window's end
// plus grace, so windowed aggregations drop it). Keys are "k0".."k6", one in
// thirty null. Stream values are one to three words, one in thirty null;
// table values are one word, one in eight a tombstone. Input idx > 0 is
// stamped half a second after input 0, so that two inputs interleave.
func Generate(seed uint64, base int64, kind InputKind, idx, n int) []Record {
	r := rand.New(rand.NewPCG(seed, uint64(idx)+1))
	out := make([]Record, n)
	for i := range out {
		ts := base + int64(i)*1000
		if idx > 0 {
			ts += 500
		}
		switch p := r.IntN(30); {
		case p == 0:
			ts -= 40_000
		case p <= 3:
			ts -= int64(1+r.IntN(5)) * 1000
		}
		rec := Record{Timestamp: ts}
		if r.IntN(30) != 0 {
			rec.Key = fmt.Appendf(nil, "k%d", r.IntN(7))
		}
		switch kind {
		case TableInput:
			if r.IntN(8) != 0 {
				rec.Value = []byte(vocab[r.IntN(len(vocab))])
			}
		default:
			if r.IntN(30) != 0 {
				w := make([]string, 1+r.IntN(3))
				for j := range w {
					w[j] = vocab[r.IntN(len(vocab))]
				}
				rec.Value = []byte(strings.Join(w, " "))
			}
		}
		out[i] = rec
	}
	return out
}
