package eosapp_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicestreams/sluice/eostest/eosapp"
	"github.com/sluicestreams/sluice/eostest/verify"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streamstest"
)

// TestTopologyPassesVerifier runs the app's topology on the broker-less test
// driver (one partition per topic) and checks its outputs with the same
// verifier the system test uses: one correct output per input everywhere.
func TestTopologyPassesVerifier(t *testing.T) {
	topics := eosapp.NewTopics("t-")
	top, err := eosapp.Topology(topics)
	if err != nil {
		t.Fatal(err)
	}
	if d := top.Describe(); !strings.Contains(d, eosapp.Repartition) {
		t.Fatalf("topology has no repartition topic:\n%s", d)
	}
	d, err := streamstest.New(top, streamstest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, topics.Input, serde.String(), serde.Int64())
	rng := rand.New(rand.NewPCG(5, 6))
	data := verify.Data{Input: map[int32][]verify.Rec{}, Aggs: map[string]map[int32][]verify.Rec{}}
	for i := 0; i < 2000; i++ {
		k, v := fmt.Sprint(rng.IntN(50)), rng.Int64N(1000)-500
		if err := in.Pipe(k, v); err != nil {
			t.Fatal(err)
		}
		data.Input[0] = append(data.Input[0], verify.Rec{Key: k, Value: v, Offset: int64(i)})
	}
	read := func(topic string) map[int32][]verify.Rec {
		kvs, err := streamstest.NewOutputTopic(d, topic, serde.String(), serde.Int64()).ReadKeyValues()
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32][]verify.Rec{0: nil}
		for i, kv := range kvs {
			out[0] = append(out[0], verify.Rec{Key: kv.Key, Value: kv.Value, Offset: int64(i)})
		}
		return out
	}
	outs := topics.Outputs()
	data.Echo = read(outs["echo"])
	for _, a := range verify.Aggregates {
		data.Aggs[a.Name] = read(outs[a.Name])
	}
	res := verify.Check(data)
	if !res.OK() {
		t.Fatalf("%s\n%v", res.Summary(), res.Problems)
	}
	for name, n := range res.Records {
		if n != 2000 {
			t.Errorf("%s: %d records, want 2000", name, n)
		}
	}
}
