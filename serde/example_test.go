package serde_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicestreams/sluice/serde"
)

func Example() {
	// Kafka Streams' count() writes 8-byte big-endian longs.
	counts := serde.Int64()
	b, _ := counts.Serialize("word-counts", 3)
	fmt.Printf("%x\n", b)

	n, _ := counts.Deserialize("word-counts", b)
	fmt.Println(n)

	// A wrong-length value is an error, never a panic.
	_, err := counts.Deserialize("word-counts", []byte{1, 2, 3})
	fmt.Println(err)
	fmt.Println(errors.Is(err, serde.ErrInvalidLength))

	// Output:
	// 0000000000000003
	// 3
	// serde: int64 deserialize (topic "word-counts"): invalid length: want 8 bytes, got 3
	// true
}

func ExampleNew() {
	// An upper-casing string serde, for illustration.
	upper := serde.New(
		func(_ string, v string) ([]byte, error) { return []byte(strings.ToUpper(v)), nil },
		func(_ string, b []byte) (string, error) { return string(b), nil },
	)
	b, _ := upper.Serialize("greetings", "hello")
	fmt.Println(string(b))
	// Output: HELLO
}

func ExampleJSON() {
	type order struct {
		ID  string `json:"id"`
		Qty int    `json:"qty"`
	}
	orders := serde.JSON[*order]()
	b, _ := orders.Serialize("orders", &order{ID: "o-1", Qty: 2})
	fmt.Println(string(b))

	// A nil pointer is a tombstone (nil bytes), and nil bytes decode to nil.
	b, _ = orders.Serialize("orders", nil)
	fmt.Println(b == nil)
	o, _ := orders.Deserialize("orders", nil)
	fmt.Println(o == nil)
	// Output:
	// {"id":"o-1","qty":2}
	// true
	// true
}

func ExampleAppend() {
	buf := make([]byte, 0, 64)
	for _, v := range []int32{1, -1} {
		out, err := serde.Append(serde.Int32(), buf[:0], "t", v)
		if err != nil {
			panic(err)
		}
		buf = out // reuse the storage for the next record
		fmt.Printf("%x\n", out)
	}
	// Output:
	// 00000001
	// ffffffff
}
