package assignor

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicestreams/sluice/task"
)

// benchInput builds a group of nproc processes (two workers each, three
// racks) and ntask tasks (ten sub-topologies, 70% stateful, leader racks set).
// With warm set, every process reports a previous assignment and local state
// (the usual rebalance: one process restarted, everything else in place).
func benchInput(nproc, ntask int, warm bool) Input {
	r := rand.New(rand.NewPCG(1, 2))
	in := Input{Config: Config{NumStandbyReplicas: 1, RackAwareTags: []string{"zone"}}}
	for i := range nproc {
		p := Process{
			ID:         fmt.Sprintf("p%04d", i),
			Capacity:   2,
			Rack:       fmt.Sprintf("r%d", i%3),
			Tags:       map[string]string{"zone": fmt.Sprintf("r%d", i%3)},
			OffsetSums: map[task.ID]int64{},
		}
		in.Processes = append(in.Processes, p)
		for m := range 2 {
			in.Members = append(in.Members, Member{ID: fmt.Sprintf("%s-%d", p.ID, m), ProcessID: p.ID})
		}
	}
	for i := range ntask {
		t := Task{
			ID:       task.ID{Subtopology: int32(i % 10), Partition: int32(i / 10)},
			Stateful: i%10 < 7,
			Rack:     fmt.Sprintf("r%d", r.IntN(3)),
		}
		if t.Stateful {
			t.EndOffsetSum = 1_000_000
		}
		in.Tasks = append(in.Tasks, t)
	}
	if warm {
		out, err := Assign(in)
		if err != nil {
			panic(err)
		}
		in = nextInput(in, out, true)
		// One process restarts with an empty disk.
		p := &in.Processes[nproc/2]
		p.PrevActive, p.PrevStandby, p.OffsetSums = nil, nil, nil
	}
	return in
}

func BenchmarkAssign(b *testing.B) {
	for _, bc := range []struct {
		name         string
		nproc, ntask int
		warm         bool
	}{
		{"tasks=10000/procs=1000/fresh", 1000, 10000, false},
		{"tasks=10000/procs=1000/warm", 1000, 10000, true},
		{"tasks=1000/procs=100/warm", 100, 1000, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := benchInput(bc.nproc, bc.ntask, bc.warm)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Assign(in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bc.ntask)*float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
		})
	}
}
