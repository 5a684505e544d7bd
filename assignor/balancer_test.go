package assignor

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicestreams/sluice/task"
)

// coPartitioned is a topology with one sub-topology reading two
// co-partitioned topics: task 0_p reads partition p of both.
func coPartitioned(topics ...string) func(map[string]int32) (TaskLayout, error) {
	return func(counts map[string]int32) (TaskLayout, error) {
		n := counts[topics[0]]
		for _, t := range topics[1:] {
			if counts[t] != n {
				return TaskLayout{}, fmt.Errorf("topics %s (%d) and %s (%d) are not co-partitioned", topics[0], n, t, counts[t])
			}
		}
		l := TaskLayout{Tasks: map[task.ID][]Partition{}}
		for p := range n {
			for _, t := range topics {
				l.Tasks[tid(0, p)] = append(l.Tasks[tid(0, p)], Partition{t, p})
			}
		}
		return l, nil
	}
}

func joinMember(t *testing.T, id string, b *Balancer, topics []string) kmsg.JoinGroupResponseMember {
	t.Helper()
	m := kmsg.NewJoinGroupResponseMember()
	m.MemberID = id
	m.ProtocolMetadata = b.JoinGroupMetadata(topics, nil, 1)
	return m
}

// rawMember is a member with consumer metadata around the given userdata.
func rawMember(id string, topics []string, userdata []byte) kmsg.JoinGroupResponseMember {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = topics
	meta.UserData = userdata
	m := kmsg.NewJoinGroupResponseMember()
	m.MemberID = id
	m.ProtocolMetadata = meta.AppendTo(nil)
	return m
}

type parsed struct {
	parts map[string][]int32
	info  AssignmentInfo
}

// balance runs the leader path as kgo does and parses every member's
// assignment with a fresh Balancer, as that member would.
func balance(t *testing.T, leader *Balancer, members []kmsg.JoinGroupResponseMember, counts map[string]int32) map[string]parsed {
	t.Helper()
	mb, topics, err := leader.MemberBalancer(members)
	if err != nil {
		t.Fatalf("MemberBalancer: %v", err)
	}
	for topic := range counts {
		if _, ok := topics[topic]; !ok {
			t.Fatalf("topic %s missing from member topics %v", topic, topics)
		}
	}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(counts)
	if err != nil {
		t.Fatalf("BalanceOrError: %v", err)
	}
	out := map[string]parsed{}
	for _, sa := range into.IntoSyncAssignment() {
		var got AssignmentInfo
		member := NewBalancer(BalancerConfig{OnAssignment: func(a AssignmentInfo) { got = a }})
		parts, err := member.ParseSyncAssignment(sa.MemberAssignment)
		if err != nil {
			t.Fatalf("member %s: ParseSyncAssignment: %v", sa.MemberID, err)
		}
		if !equalInfo(member.LastAssignment(), got) {
			t.Fatalf("LastAssignment differs from what OnAssignment saw")
		}
		out[sa.MemberID] = parsed{parts, got}
	}
	if len(out) != len(members) {
		t.Fatalf("%d assignments for %d members", len(out), len(members))
	}
	return out
}

func equalInfo(a, b AssignmentInfo) bool {
	return bytes.Equal(EncodeAssignment(a), EncodeAssignment(b)) && a.Version == b.Version
}

func TestLeaderPath(t *testing.T) {
	var logs bytes.Buffer
	topics := []string{"clicks", "views"}
	cfg := BalancerConfig{
		Topology: coPartitioned(topics...),
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Now:      func() time.Time { return time.UnixMilli(1000) },
	}
	procA := func(prev ...task.ID) *Balancer {
		c := cfg
		c.ProcessID, c.Endpoint = "A", "a:80"
		c.Subscription = func() SubscriptionInfo { return SubscriptionInfo{Capacity: 2, PrevActive: prev} }
		return NewBalancer(c)
	}
	leader := procA(tid(0, 0), tid(0, 1))
	// A newer peer: version 3 with a section and a field we do not know.
	newer := rawMember("m-newer", topics, newerSubscription())
	members := []kmsg.JoinGroupResponseMember{
		joinMember(t, "m-a1", leader, topics),
		joinMember(t, "m-a2", procA(tid(0, 2)), topics),
		newer,
		rawMember("m-garbage", topics, []byte{0xde, 0xad, 0xbe, 0xef}),
		{MemberID: "m-not-consumer", ProtocolMetadata: []byte{0, 9}},
	}
	out := balance(t, leader, members, map[string]int32{"clicks": 6, "views": 6})

	seen := map[int32]string{}
	for _, id := range []string{"m-a1", "m-a2", "m-newer"} {
		p := out[id]
		if p.info.Error != ErrorNone || p.info.Version != CurrentVersion {
			t.Fatalf("%s: error %v version %d", id, p.info.Error, p.info.Version)
		}
		// Co-partitioned topics move together, as tasks.
		if !slices.Equal(p.parts["clicks"], p.parts["views"]) {
			t.Fatalf("%s: clicks %v and views %v split", id, p.parts["clicks"], p.parts["views"])
		}
		var want []task.ID
		for _, part := range p.parts["clicks"] {
			if other, dup := seen[part]; dup {
				t.Fatalf("partition %d on %s and %s", part, other, id)
			}
			seen[part] = id
			want = append(want, tid(0, part))
		}
		if !slices.Equal(p.info.Active, want) {
			t.Fatalf("%s: active tasks %v for partitions %v", id, p.info.Active, p.parts)
		}
		if len(want) != 2 {
			t.Fatalf("%s: %d tasks, want 2 (6 tasks over 3 workers)", id, len(want))
		}
	}
	if len(seen) != 6 {
		t.Fatalf("partitions %v not all assigned", seen)
	}
	// Sticky through the userdata: A's workers keep what they reported.
	if a1 := out["m-a1"].info.Active; !slices.Equal(a1, []task.ID{tid(0, 0), tid(0, 1)}) {
		t.Fatalf("m-a1 got %v, had 0_0 and 0_1", a1)
	}
	// Partitions by host name A's endpoint with A's partitions; the newer
	// peer's endpoint too.
	hosts := out["m-a1"].info.ActiveByHost
	if got := hosts["a:80"]["clicks"]; len(got) != 4 {
		t.Fatalf("active by host %v", hosts)
	}
	if got := hosts["h:9"]["views"]; !slices.Equal(got, out["m-newer"].parts["views"]) {
		t.Fatalf("active by host %v, newer member has %v", hosts, out["m-newer"].parts)
	}
	for _, id := range []string{"m-garbage", "m-not-consumer"} {
		if p := out[id]; p.info.Error != ErrorAssignmentFailed || len(p.parts) != 0 {
			t.Fatalf("%s: got %+v, want no partitions and ErrorAssignmentFailed", id, p)
		}
	}
	for _, want := range []string{"member=m-garbage", "malformed userdata", "member=m-not-consumer"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestLeaderPathErrors(t *testing.T) {
	topics := []string{"clicks", "views"}
	b := NewBalancer(BalancerConfig{ProcessID: "A", Topology: coPartitioned(topics...)})
	members := []kmsg.JoinGroupResponseMember{joinMember(t, "m1", b, topics)}
	out := balance(t, b, members, map[string]int32{"clicks": 6, "views": 4})
	if p := out["m1"]; p.info.Error != ErrorIncompatibleTopology || len(p.parts) != 0 {
		t.Fatalf("got %+v, want ErrorIncompatibleTopology", p)
	}

	quitter := NewBalancer(BalancerConfig{ProcessID: "B", Topology: coPartitioned(topics...),
		Subscription: func() SubscriptionInfo { return SubscriptionInfo{ShutdownRequested: true} }})
	members = append(members, joinMember(t, "m2", quitter, topics))
	out = balance(t, b, members, map[string]int32{"clicks": 6, "views": 6})
	for id, p := range out {
		if p.info.Error != ErrorShutdownApplication {
			t.Fatalf("%s: got %v, want ErrorShutdownApplication", id, p.info.Error)
		}
	}

	// Bad assignment userdata from a leader does not fail the member's
	// sync; it learns of the problem through OnAssignment.
	var got AssignmentInfo
	m := NewBalancer(BalancerConfig{OnAssignment: func(a AssignmentInfo) { got = a }})
	ka := kmsg.NewConsumerMemberAssignment()
	ka.UserData = []byte{0xff}
	if _, err := m.ParseSyncAssignment(ka.AppendTo(nil)); err != nil || got.Error != ErrorAssignmentFailed {
		t.Fatalf("got %v, %+v", err, got)
	}
	if _, err := m.ParseSyncAssignment([]byte{0, 0, 0xff}); err == nil {
		t.Fatal("unreadable consumer assignment accepted")
	}
}

// TestLeaderPathStateful checks that lag and warmups reach the members: a
// new process without state gets a warmup, the owner keeps the task, and
// everyone is told when to probe.
func TestLeaderPathStateful(t *testing.T) {
	topics := []string{"t"}
	layout := func(counts map[string]int32) (TaskLayout, error) {
		l, err := coPartitioned(topics...)(counts)
		l.Stateful = map[task.ID]int64{}
		for id := range l.Tasks {
			l.Stateful[id] = 100000
		}
		return l, err
	}
	now := time.UnixMilli(5000)
	cfg := BalancerConfig{Topology: layout, Now: func() time.Time { return now }, ProbingRebalanceInterval: time.Minute}
	a := cfg
	a.ProcessID = "A"
	a.Subscription = func() SubscriptionInfo {
		return SubscriptionInfo{PrevActive: []task.ID{tid(0, 0), tid(0, 1)}, OffsetSums: map[task.ID]int64{tid(0, 0): 100000, tid(0, 1): 100000}}
	}
	bcfg := cfg
	bcfg.ProcessID = "B"
	leader := NewBalancer(a)
	out := balance(t, leader, []kmsg.JoinGroupResponseMember{
		joinMember(t, "a", leader, topics),
		joinMember(t, "b", NewBalancer(bcfg), topics),
	}, map[string]int32{"t": 2})
	if got := out["a"].info.Active; len(got) != 2 {
		t.Fatalf("owner lost tasks before the new process warmed up: %v", got)
	}
	if got := out["b"].info.Warmup; len(got) != 1 {
		t.Fatalf("new process warmups %v, want one", got)
	}
	if want := now.Add(time.Minute); !out["a"].info.NextProbingRebalance.Equal(want) {
		t.Fatalf("next probing rebalance %v, want %v", out["a"].info.NextProbingRebalance, want)
	}
}

// TestBalancerKfake runs group members on an in-process cluster: two
// workers of one process and one of another, joining one after another, then
// the other process leaving. No partition is ever held by two members.
func TestBalancerKfake(t *testing.T) {
	for _, coop := range []bool{false, true} {
		t.Run(map[bool]string{false: "eager", true: "cooperative"}[coop], func(t *testing.T) { testBalancerKfake(t, coop) })
	}
}

func testBalancerKfake(t *testing.T, cooperative bool) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "words"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	type state struct {
		mu       sync.Mutex
		info     AssignmentInfo
		assigned []int32
		calls    int
	}
	var (
		ownersMu sync.Mutex
		owners   = map[int32]int{}
		overlaps []string
	)
	workers := []struct{ process, endpoint string }{{"P1", "p1:80"}, {"P1", "p1:80"}, {"P2", "p2:80"}}
	states := make([]*state, len(workers))
	var wg sync.WaitGroup
	clients := make([]*kgo.Client, len(workers))
	cancels := make([]context.CancelFunc, len(workers))
	defer func() {
		for _, cancel := range cancels {
			if cancel != nil {
				cancel()
			}
		}
		wg.Wait()
		for _, cl := range clients {
			if cl != nil {
				cl.Close() // closing twice is fine
			}
		}
	}()
	start := func(i int) {
		w := workers[i]
		st := &state{}
		states[i] = st
		b := NewBalancer(BalancerConfig{
			ProcessID:   w.process,
			Endpoint:    w.endpoint,
			Topology:    coPartitioned("words"),
			Cooperative: cooperative,
			OnAssignment: func(a AssignmentInfo) {
				st.mu.Lock()
				st.info = a
				st.calls++
				st.mu.Unlock()
			},
		})
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(c.ListenAddrs()...),
			kgo.ConsumerGroup("sluice-test"),
			kgo.ConsumeTopics("words"),
			kgo.Balancers(b),
			kgo.HeartbeatInterval(100*time.Millisecond), // notice rebalances quickly
			// Both callbacks get what changed: everything when eager,
			// the difference when cooperative.
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				ownersMu.Lock()
				for _, p := range m["words"] {
					if o, ok := owners[p]; ok && o != i {
						overlaps = append(overlaps, fmt.Sprintf("partition %d given to worker %d while worker %d holds it", p, i, o))
					}
					owners[p] = i
				}
				ownersMu.Unlock()
				st.mu.Lock()
				st.assigned = slices.Sorted(slices.Values(append(st.assigned, m["words"]...)))
				st.mu.Unlock()
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				ownersMu.Lock()
				for _, p := range m["words"] {
					if owners[p] == i {
						delete(owners, p)
					}
				}
				ownersMu.Unlock()
				st.mu.Lock()
				st.assigned = slices.DeleteFunc(st.assigned, func(p int32) bool { return slices.Contains(m["words"], p) })
				st.mu.Unlock()
			}),
		)
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = cl
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				cl.PollFetches(ctx)
			}
		}()
	}

	// settle waits until the live workers hold every partition once,
	// perWorker tasks each, each worker's tasks being its partitions, and
	// the partitions by host match hosts.
	settle := func(live []int, perWorker int, hosts map[string]int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var problem string
			all := map[int32]bool{}
			for _, i := range live {
				st := states[i]
				st.mu.Lock()
				var tasks []int32
				for _, id := range st.info.Active {
					tasks = append(tasks, id.Partition)
				}
				switch {
				case st.calls == 0:
					problem = fmt.Sprintf("worker %d has no assignment", i)
				case !slices.Equal(tasks, st.assigned):
					problem = fmt.Sprintf("worker %d: tasks %v, partitions %v", i, tasks, st.assigned)
				case len(tasks) != perWorker:
					problem = fmt.Sprintf("worker %d: %d tasks", i, len(tasks))
				}
				for _, p := range st.assigned {
					all[p] = true
				}
				for h, n := range hosts {
					if got := st.info.ActiveByHost[h]["words"]; problem == "" && len(got) != n {
						problem = fmt.Sprintf("worker %d: partitions by host %v", i, st.info.ActiveByHost)
					}
				}
				st.mu.Unlock()
			}
			if problem == "" && len(all) != 6 {
				problem = fmt.Sprintf("partitions assigned: %v", slices.Sorted(maps.Keys(all)))
			}
			if problem == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("group did not settle: %s", problem)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	start(0)
	settle([]int{0}, 6, map[string]int{"p1:80": 6})
	start(1)
	settle([]int{0, 1}, 3, map[string]int{"p1:80": 6})
	start(2)
	settle([]int{0, 1, 2}, 2, map[string]int{"p1:80": 4, "p2:80": 2})

	// P2 leaves: P1's workers take its tasks and keep their own.
	var before [][]task.ID
	for _, st := range states[:2] {
		st.mu.Lock()
		before = append(before, slices.Clone(st.info.Active))
		st.mu.Unlock()
	}
	cancels[2]()
	clients[2].Close()
	settle([]int{0, 1}, 3, map[string]int{"p1:80": 6})
	for i, st := range states[:2] {
		st.mu.Lock()
		for _, id := range before[i] {
			if !slices.Contains(st.info.Active, id) {
				t.Errorf("worker %d lost task %s when another process left", i, id)
			}
		}
		st.mu.Unlock()
	}
	ownersMu.Lock()
	defer ownersMu.Unlock()
	for _, o := range overlaps {
		t.Error(o)
	}
}

// TestLeaderPathCooperative: a task whose partition another member still
// owns is withheld from its new owner until that member has revoked it.
func TestLeaderPathCooperative(t *testing.T) {
	topics := []string{"t"}
	cfg := BalancerConfig{Topology: coPartitioned(topics...), Cooperative: true}
	a, b := cfg, cfg
	a.ProcessID, b.ProcessID = "A", "B"
	a.Subscription = func() SubscriptionInfo {
		return SubscriptionInfo{PrevActive: []task.ID{tid(0, 0), tid(0, 1), tid(0, 2), tid(0, 3)}}
	}
	leader := NewBalancer(a)
	if leader.ProtocolName() != CooperativeProtocolName || !leader.IsCooperative() {
		t.Fatal("not cooperative")
	}
	ma := kmsg.NewJoinGroupResponseMember()
	ma.MemberID = "a"
	ma.ProtocolMetadata = leader.JoinGroupMetadata(topics, map[string][]int32{"t": {0, 1, 2, 3}}, 1)
	out := balance(t, leader, []kmsg.JoinGroupResponseMember{ma, joinMember(t, "b", NewBalancer(b), topics)}, map[string]int32{"t": 4})
	if got := out["a"].parts["t"]; len(got) != 2 {
		t.Fatalf("a keeps %v, want two partitions", got)
	}
	if got := out["b"]; len(got.parts["t"]) != 0 || len(got.info.Active) != 0 {
		t.Fatalf("b got %v / %v while a still owns them", got.parts, got.info.Active)
	}
}

func TestLeaderPathOverlappingTasks(t *testing.T) {
	var logs bytes.Buffer
	b := NewBalancer(BalancerConfig{
		ProcessID: "A",
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
		Topology: func(map[string]int32) (TaskLayout, error) {
			return TaskLayout{Tasks: map[task.ID][]Partition{tid(0, 0): {{"t", 0}}, tid(1, 0): {{"t", 0}}}}, nil
		},
	})
	out := balance(t, b, []kmsg.JoinGroupResponseMember{joinMember(t, "m", b, []string{"t"})}, map[string]int32{"t": 1})
	if got := out["m"].info.Error; got != ErrorIncompatibleTopology {
		t.Fatalf("got %v, want ErrorIncompatibleTopology", got)
	}
	if !strings.Contains(logs.String(), "partition 0 of t is in tasks 0_0 and 1_0") {
		t.Fatalf("log: %s", logs.String())
	}
}
