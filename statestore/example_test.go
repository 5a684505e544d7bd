package statestore_test

import (
	"fmt"
	"strconv"

	"github.com/sluicestreams/sluice/statestore"
)

type str struct{}

func (str) Serialize(_ string, v string) ([]byte, error)   { return []byte(v), nil }
func (str) Deserialize(_ string, b []byte) (string, error) { return string(b), nil }

type decimal struct{}

func (decimal) Serialize(_ string, v int64) ([]byte, error) {
	return strconv.AppendInt(nil, v, 10), nil
}
func (decimal) Deserialize(_ string, b []byte) (int64, error) {
	return strconv.ParseInt(string(b), 10, 64)
}

// printLogger stands in for the runtime's changelog producer.
type printLogger struct{}

func (printLogger) LogChange(store string, key, value []byte, ts int64) error {
	fmt.Printf("changelog %s: %s=%s @%d\n", store, key, value, ts)
	return nil
}

func Example() {
	m, err := statestore.OpenManager(statestore.ManagerConfig{
		ApplicationID: "wordcount",
		Task:          "0_0",
		Stores:        []statestore.Builder{statestore.KeyValue("counts", str{}, decimal{}, statestore.Caching(true))},
		ChangeLogger:  printLogger{},
		CacheMaxBytes: 1 << 20,
	})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	st, _ := m.Store("counts")
	counts := st.(statestore.KeyValueStore[string, int64])

	for i, w := range []string{"to", "be", "or", "not", "to", "be"} {
		m.SetTimestamp(int64(i))
		n, _, _ := counts.Get(w)
		counts.Put(w, n+1)
	}
	// The cache merged the updates: one changelog record per word.
	m.Flush()

	it, _ := counts.All()
	defer it.Close()
	for it.Next() {
		fmt.Println(it.Key(), it.Value())
	}
	// Output:
	// changelog counts: or=1 @2
	// changelog counts: not=1 @3
	// changelog counts: to=2 @4
	// changelog counts: be=2 @5
	// be 2
	// not 1
	// or 1
	// to 2
}
