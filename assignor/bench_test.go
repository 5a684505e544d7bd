package assignor

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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

// BenchmarkLeaderBalance measures the whole leader path of the Balancer:
// decoding subscriptions, Assign, and encoding every member's assignment. It
// reports the size of the SyncGroup assignments, which grows with members x
// partitions when processes have endpoints: every member gets the
// partitions-by-host map for interactive queries.
func BenchmarkLeaderBalance(b *testing.B) {
	for _, bc := range []struct {
		nproc, ntask int
		iq           bool
	}{{100, 1000, true}, {1000, 10000, false}, {1000, 10000, true}} {
		b.Run(fmt.Sprintf("tasks=%d/procs=%d/endpoints=%t", bc.ntask, bc.nproc, bc.iq), func(b *testing.B) {
			in := benchInput(bc.nproc, bc.ntask, true)
			layout := TaskLayout{Tasks: map[task.ID][]Partition{}, Stateful: map[task.ID]int64{}}
			for _, t := range in.Tasks {
				layout.Tasks[t.ID] = []Partition{{fmt.Sprintf("topic-%d", t.ID.Subtopology), t.ID.Partition}}
				if t.Stateful {
					layout.Stateful[t.ID] = t.EndOffsetSum
				}
			}
			bal := NewBalancer(BalancerConfig{Assignor: in.Config, Topology: func(map[string]int32) (TaskLayout, error) { return layout, nil }})
			var members []kmsg.JoinGroupResponseMember
			for _, m := range in.Members {
				var p Process
				for _, q := range in.Processes {
					if q.ID == m.ProcessID {
						p = q
					}
				}
				meta := kmsg.NewConsumerMemberMetadata()
				meta.Version = 3
				meta.Topics = []string{"topic-0"}
				sub := SubscriptionInfo{ProcessID: p.ID, Capacity: 2, Rack: p.Rack,
					PrevActive: m.PrevActive, PrevStandby: m.PrevStandby, OffsetSums: p.OffsetSums}
				if bc.iq {
					sub.Endpoint = p.ID + ":80"
				}
				meta.UserData = EncodeSubscription(sub)
				jm := kmsg.NewJoinGroupResponseMember()
				jm.MemberID = m.ID
				jm.ProtocolMetadata = meta.AppendTo(nil)
				members = append(members, jm)
			}
			b.ReportAllocs()
			var size int
			for b.Loop() {
				mb, _, _ := bal.MemberBalancer(members)
				into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(nil)
				if err != nil {
					b.Fatal(err)
				}
				size = 0
				for _, sa := range into.IntoSyncAssignment() {
					size += len(sa.MemberAssignment)
				}
			}
			b.ReportMetric(float64(size), "sync-bytes")
		})
	}
}
