package assignor_test

import (
	"fmt"

	"github.com/sluicestreams/sluice/assignor"
	"github.com/sluicestreams/sluice/task"
)

// Process b joins a group where a ran four stateful tasks. b has no state, so
// the tasks it should take stay on a while b warms one up (one warmup
// allowed), and a probing rebalance will finish the move.
func ExampleAssign() {
	var tasks []assignor.Task
	offsets := map[task.ID]int64{}
	var prev []task.ID
	for p := range int32(4) {
		id := task.ID{Subtopology: 0, Partition: p}
		tasks = append(tasks, assignor.Task{ID: id, Stateful: true, EndOffsetSum: 50000})
		offsets[id] = 50000
		prev = append(prev, id)
	}
	out, err := assignor.Assign(assignor.Input{
		Processes: []assignor.Process{
			{ID: "a", Capacity: 1, PrevActive: prev, OffsetSums: offsets},
			{ID: "b", Capacity: 1},
		},
		Tasks:  tasks,
		Config: assignor.Config{MaxWarmupReplicas: 1},
	})
	if err != nil {
		panic(err)
	}
	for _, p := range out.Processes {
		fmt.Printf("%s: active %v standby %v warmup %v\n", p.ProcessID, p.Active, p.Standby, p.Warmup)
	}
	fmt.Println("probing rebalance:", out.ProbingRebalanceNeeded)
	// Output:
	// a: active [0_0 0_1 0_2 0_3] standby [] warmup []
	// b: active [] standby [] warmup [0_0]
	// probing rebalance: true
}

// A subscription travels as compact, versioned userdata.
func ExampleEncodeSubscription() {
	b := assignor.EncodeSubscription(assignor.SubscriptionInfo{
		ProcessID: "p1",
		Capacity:  2,
		Endpoint:  "10.0.0.7:8080",
		OffsetSums: map[task.ID]int64{
			{Subtopology: 0, Partition: 3}: 120_000,
		},
	})
	s, err := assignor.DecodeSubscription(b)
	fmt.Println(len(b), "bytes;", s.ProcessID, s.Capacity, s.Endpoint, s.OffsetSums, err)
	// Output:
	// 39 bytes; p1 2 10.0.0.7:8080 map[0_3:120000] <nil>
}
