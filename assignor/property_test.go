package assignor

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/sluicestreams/sluice/task"
)

// propertyCases is how many random groups TestProperties checks; each case
// runs the assignor several times (shuffled input, rerun, convergence, adding
// a process).
var propertyCases = flag.Int("cases", 2000, "random groups checked by TestProperties")

// randomInput builds a random group: processes with racks, tags and
// capacities, tasks of a few sub-topologies, a random previous assignment
// (some processes new, some tasks unowned) and random local state.
func randomInput(r *rand.Rand) Input {
	var in Input
	np := 1 + r.IntN(7)
	if r.IntN(10) == 0 {
		np += r.IntN(15)
	}
	racks := []string{"", "r0", "r1", "r2"}[:1+r.IntN(4)]
	for i := range np {
		p := Process{
			ID:       fmt.Sprintf("p%02d", i),
			Capacity: 1 + r.IntN(3),
			Rack:     racks[r.IntN(len(racks))],
			Tags: map[string]string{
				"zone":    fmt.Sprintf("z%d", r.IntN(3)),
				"cluster": fmt.Sprintf("c%d", r.IntN(2)),
			},
			Endpoint:   fmt.Sprintf("h%d:80", i),
			OffsetSums: map[task.ID]int64{},
		}
		in.Processes = append(in.Processes, p)
	}
	nsub := 1 + r.IntN(3)
	for st := range nsub {
		parts := 1 + r.IntN(12)
		stateful := r.IntN(3) > 0
		for part := range parts {
			t := Task{ID: task.ID{Subtopology: int32(st), Partition: int32(part)}, Stateful: stateful}
			if stateful {
				t.EndOffsetSum = r.Int64N(100000)
			}
			if r.IntN(2) == 0 {
				t.Rack = racks[r.IntN(len(racks))]
			}
			in.Tasks = append(in.Tasks, t)
		}
	}
	// Previous assignment and state.
	for _, t := range in.Tasks {
		if r.IntN(4) > 0 {
			p := &in.Processes[r.IntN(np)]
			p.PrevActive = append(p.PrevActive, t.ID)
			if t.Stateful && r.IntN(3) > 0 {
				p.OffsetSums[t.ID] = max(0, t.EndOffsetSum-r.Int64N(20))
			}
		}
		if !t.Stateful {
			continue
		}
		for range r.IntN(3) {
			p := &in.Processes[r.IntN(np)]
			if slices.Contains(p.PrevActive, t.ID) {
				continue
			}
			if r.IntN(2) == 0 {
				p.PrevStandby = append(p.PrevStandby, t.ID)
			}
			switch r.IntN(4) {
			case 0: // caught up
				p.OffsetSums[t.ID] = max(0, t.EndOffsetSum-r.Int64N(100))
			case 1: // far behind
				p.OffsetSums[t.ID] = max(0, t.EndOffsetSum-20000-r.Int64N(50000))
			case 2: // unknown
				p.OffsetSums[t.ID] = -1
			}
		}
	}
	in.Config = Config{
		NumStandbyReplicas: r.IntN(3),
		MaxWarmupReplicas:  r.IntN(4),
	}
	switch r.IntN(3) {
	case 0:
		in.Config.AcceptableRecoveryLag = ZeroRecoveryLag
	case 1:
		in.Config.AcceptableRecoveryLag = 500
	}
	if r.IntN(3) == 0 {
		in.Config.RackAwareTags = []string{"zone", "cluster"}[:1+r.IntN(2)]
	}
	// Members for most groups: one per unit of capacity.
	if r.IntN(4) > 0 {
		for _, p := range in.Processes {
			for m := range p.Capacity {
				mem := Member{ID: fmt.Sprintf("%s-m%d", p.ID, m), ProcessID: p.ID}
				for _, id := range p.PrevActive {
					if r.IntN(p.Capacity) == 0 {
						mem.PrevActive = append(mem.PrevActive, id)
					}
				}
				in.Members = append(in.Members, mem)
			}
		}
	}
	return in
}

// caughtUpSet computes, independently of the solver, which processes are
// caught up on which stateful task.
func caughtUpSet(in Input) map[task.ID]map[string]bool {
	lagOK := in.Config.recoveryLag()
	out := map[task.ID]map[string]bool{}
	owner := map[task.ID]string{}
	ps := slices.Clone(in.Processes)
	slices.SortFunc(ps, func(a, b Process) int { return compareStrings(a.ID, b.ID) })
	for _, p := range ps {
		for _, id := range p.PrevActive {
			if _, ok := owner[id]; !ok {
				owner[id] = p.ID
			}
		}
	}
	for _, t := range in.Tasks {
		if !t.Stateful {
			continue
		}
		m := map[string]bool{}
		for _, p := range in.Processes {
			if owner[t.ID] == p.ID {
				m[p.ID] = true
				continue
			}
			sum, ok := p.OffsetSums[t.ID]
			if !ok || sum < 0 {
				sum = 0 // no usable local state: the lag is the whole changelog
			}
			if t.EndOffsetSum-sum <= lagOK {
				m[p.ID] = true
			}
		}
		out[t.ID] = m
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkInvariants checks every invariant of one assignment against its input.
func checkInvariants(in Input, out Assignment) error {
	procs := map[string]Process{}
	for _, p := range in.Processes {
		procs[p.ID] = p
	}
	if len(out.Processes) != len(in.Processes) {
		return fmt.Errorf("%d process assignments for %d processes", len(out.Processes), len(in.Processes))
	}
	activeOf := map[task.ID]string{}
	copies := map[task.ID]map[string]int{}
	warmups := 0
	for _, pa := range out.Processes {
		if _, ok := procs[pa.ProcessID]; !ok {
			return fmt.Errorf("assignment for unknown process %q", pa.ProcessID)
		}
		for _, l := range [][]task.ID{pa.Active, pa.Standby, pa.Warmup} {
			if !slices.IsSortedFunc(l, compareID) {
				return fmt.Errorf("process %s: unsorted tasks %v", pa.ProcessID, l)
			}
			for _, id := range l {
				if copies[id] == nil {
					copies[id] = map[string]int{}
				}
				copies[id][pa.ProcessID]++
				if copies[id][pa.ProcessID] > 1 {
					return fmt.Errorf("process %s holds two copies of %s", pa.ProcessID, id)
				}
			}
		}
		for _, id := range pa.Active {
			if prev, dup := activeOf[id]; dup {
				return fmt.Errorf("task %s active on %s and %s", id, prev, pa.ProcessID)
			}
			activeOf[id] = pa.ProcessID
		}
		warmups += len(pa.Warmup)
	}
	if warmups > in.Config.maxWarmups() {
		return fmt.Errorf("%d warmups, max %d", warmups, in.Config.maxWarmups())
	}
	caught := caughtUpSet(in)
	wantStandbys := min(in.Config.NumStandbyReplicas, len(in.Processes)-1)
	standbysOf := map[task.ID][]string{}
	for _, pa := range out.Processes {
		for _, id := range pa.Standby {
			standbysOf[id] = append(standbysOf[id], pa.ProcessID)
		}
	}
	for _, t := range in.Tasks {
		a, ok := activeOf[t.ID]
		if !ok {
			return fmt.Errorf("task %s has no active", t.ID)
		}
		n := len(copies[t.ID])
		if !t.Stateful {
			if n != 1 {
				return fmt.Errorf("stateless task %s has %d copies", t.ID, n)
			}
			continue
		}
		if got := len(standbysOf[t.ID]); got != wantStandbys {
			return fmt.Errorf("task %s has %d standbys, want %d", t.ID, got, wantStandbys)
		}
		if !caught[t.ID][a] && len(caught[t.ID]) > 0 {
			return fmt.Errorf("task %s active on %s which is not caught up, while %v are", t.ID, a, caught[t.ID])
		}
		// Standbys spread along a single dimension: as many distinct
		// values among the copies as the processes allow.
		if len(in.Config.RackAwareTags) <= 1 && wantStandbys > 0 {
			dim := func(p Process) string {
				if len(in.Config.RackAwareTags) == 1 {
					return p.Tags[in.Config.RackAwareTags[0]]
				}
				return p.Rack
			}
			all, have := map[string]bool{}, map[string]bool{dim(procs[a]): true}
			for _, p := range in.Processes {
				all[dim(p)] = true
			}
			for _, sb := range standbysOf[t.ID] {
				have[dim(procs[sb])] = true
			}
			if want := min(len(all), 1+wantStandbys); len(have) != want {
				return fmt.Errorf("task %s copies span %d racks/tags %v, want %d", t.ID, len(have), have, want)
			}
		}
	}
	if len(activeOf) != len(in.Tasks) {
		return fmt.Errorf("%d actives for %d tasks", len(activeOf), len(in.Tasks))
	}
	// Balance by capacity once nothing waits for a warmup.
	if !out.ProbingRebalanceNeeded {
		lo, hi := 1<<30, -1
		for _, pa := range out.Processes {
			c := capacityOf(in, pa.ProcessID)
			l := len(pa.Active)
			lo = min(lo, l/c)
			hi = max(hi, (l+c-1)/c)
		}
		if hi-lo > 1 {
			return fmt.Errorf("unbalanced: workers hold between %d and %d actives", lo, hi)
		}
	}
	return checkMembers(in, out)
}

func capacityOf(in Input, pid string) int {
	n := 0
	for _, m := range in.Members {
		if m.ProcessID == pid {
			n++
		}
	}
	for _, p := range in.Processes {
		if p.ID == pid && p.Capacity > 0 {
			return p.Capacity
		}
	}
	return max(n, 1)
}

// checkMembers checks that every process's tasks are split over its members
// exactly and evenly.
func checkMembers(in Input, out Assignment) error {
	if len(in.Members) == 0 {
		if out.Members != nil {
			return fmt.Errorf("member assignments without members")
		}
		return nil
	}
	if len(out.Members) != len(in.Members) {
		return fmt.Errorf("%d member assignments for %d members", len(out.Members), len(in.Members))
	}
	type agg struct {
		active, pool []task.ID
		na, np       []int
	}
	byProc := map[string]*agg{}
	for _, m := range out.Members {
		a := byProc[m.ProcessID]
		if a == nil {
			a = &agg{}
			byProc[m.ProcessID] = a
		}
		a.active = append(a.active, m.Active...)
		a.pool = append(a.pool, m.Standby...)
		a.pool = append(a.pool, m.Warmup...)
		a.na = append(a.na, len(m.Active))
		a.np = append(a.np, len(m.Standby)+len(m.Warmup))
	}
	for _, pa := range out.Processes {
		a := byProc[pa.ProcessID]
		if a == nil {
			return fmt.Errorf("process %s has no members", pa.ProcessID)
		}
		slices.SortFunc(a.active, compareID)
		slices.SortFunc(a.pool, compareID)
		pool := append(slices.Clone(pa.Standby), pa.Warmup...)
		slices.SortFunc(pool, compareID)
		if !slices.Equal(a.active, pa.Active) || !slices.Equal(a.pool, pool) {
			return fmt.Errorf("process %s: members hold %v/%v, process %v/%v", pa.ProcessID, a.active, a.pool, pa.Active, pool)
		}
		if slices.Max(a.na)-slices.Min(a.na) > 1 || slices.Max(a.np)-slices.Min(a.np) > 1 {
			return fmt.Errorf("process %s: members unbalanced: actives %v standbys %v", pa.ProcessID, a.na, a.np)
		}
	}
	return nil
}

// nextInput is the input of the next generation after out: every process
// reports what it was given, and each copy's state is caught up when
// finished, else it keeps its old offsets.
func nextInput(in Input, out Assignment, finished bool) Input {
	next := in
	end := map[task.ID]int64{}
	for _, t := range in.Tasks {
		end[t.ID] = t.EndOffsetSum
	}
	next.Processes = make([]Process, len(in.Processes))
	for i, p := range in.Processes {
		pa := out.Process(p.ID)
		np := p
		np.PrevActive = slices.Clone(pa.Active)
		np.PrevStandby = append(slices.Clone(pa.Standby), pa.Warmup...)
		np.OffsetSums = map[task.ID]int64{}
		for k, v := range p.OffsetSums {
			np.OffsetSums[k] = v
		}
		if finished {
			for _, id := range np.PrevStandby {
				np.OffsetSums[id] = end[id]
			}
		}
		next.Processes[i] = np
	}
	next.Members = make([]Member, len(in.Members))
	for i, m := range in.Members {
		ma := out.Member(m.ID)
		next.Members[i] = Member{ID: m.ID, ProcessID: m.ProcessID, PrevActive: ma.Active, PrevStandby: append(slices.Clone(ma.Standby), ma.Warmup...)}
	}
	return next
}

func shuffled(r *rand.Rand, in Input) Input {
	c := in
	c.Processes = slices.Clone(in.Processes)
	c.Tasks = slices.Clone(in.Tasks)
	c.Members = slices.Clone(in.Members)
	r.Shuffle(len(c.Processes), func(i, j int) { c.Processes[i], c.Processes[j] = c.Processes[j], c.Processes[i] })
	r.Shuffle(len(c.Tasks), func(i, j int) { c.Tasks[i], c.Tasks[j] = c.Tasks[j], c.Tasks[i] })
	r.Shuffle(len(c.Members), func(i, j int) { c.Members[i], c.Members[j] = c.Members[j], c.Members[i] })
	return c
}

func mustAssign(t *testing.T, in Input) Assignment {
	t.Helper()
	out, err := Assign(in)
	if err != nil {
		t.Fatalf("Assign: %v", err)
	}
	if err := checkInvariants(in, out); err != nil {
		t.Fatalf("invariant broken: %v\ninput: %s\noutput: %s", err, formatInput(in), formatAssignment(out))
	}
	return out
}

func activeMap(a Assignment) map[task.ID]string {
	m := map[task.ID]string{}
	for _, pa := range a.Processes {
		for _, id := range pa.Active {
			m[id] = pa.ProcessID
		}
	}
	return m
}

// converge runs generations in which every standby and warmup finishes
// restoring, until no probing rebalance is needed. It fails the test if that
// takes more rounds than the warmup budget allows, and calls each with every
// generation's input and output.
func converge(t *testing.T, in Input, out Assignment, each func(prev, next Assignment)) (Input, Assignment) {
	t.Helper()
	stateful := 0
	for _, tk := range in.Tasks {
		if tk.Stateful {
			stateful++
		}
	}
	limit := 2 + (stateful+in.Config.maxWarmups()-1)/in.Config.maxWarmups()
	for round := 0; out.ProbingRebalanceNeeded; round++ {
		if round > limit {
			t.Fatalf("no convergence after %d rounds\ninput: %s\noutput: %s", round, formatInput(in), formatAssignment(out))
		}
		in = nextInput(in, out, true)
		next := mustAssign(t, in)
		if each != nil {
			each(out, next)
		}
		out = next
	}
	return in, out
}

func TestProperties(t *testing.T) {
	n := *propertyCases
	if testing.Short() {
		n = 200
	}
	var probing, moved int
	for seed := range n {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		in := randomInput(r)
		out := mustAssign(t, in)
		if out.ProbingRebalanceNeeded {
			probing++
		}

		// Deterministic whatever the input order.
		if again := mustAssign(t, shuffled(r, in)); !reflect.DeepEqual(out, again) {
			t.Fatalf("seed %d: shuffled input gives a different assignment:\n%s\nvs\n%s", seed, formatAssignment(out), formatAssignment(again))
		}

		// Rerun with nothing caught up further: no active moves to a
		// process that is not caught up (checked by mustAssign).
		mustAssign(t, nextInput(in, out, false))

		// Warmups finish; the group converges to a balanced assignment.
		in, out = converge(t, in, out, nil)

		// Sticky: rerunning the settled group moves nothing.
		next := nextInput(in, out, false)
		if again := mustAssign(t, next); !reflect.DeepEqual(out, again) {
			t.Fatalf("seed %d: rerun moved tasks:\n%s\nvs\n%s\ninput: %s", seed, formatAssignment(out), formatAssignment(again), formatInput(next))
		}

		// Adding a process moves only tasks onto it.
		in = next
		np := Process{ID: "zz-new", Capacity: 1 + r.IntN(3), Rack: in.Processes[0].Rack, Tags: map[string]string{"zone": "z9", "cluster": "c0"}}
		in.Processes = append(slices.Clone(in.Processes), np)
		if len(in.Members) > 0 {
			in.Members = slices.Clone(in.Members)
			for m := range np.Capacity {
				in.Members = append(in.Members, Member{ID: fmt.Sprintf("zz-new-m%d", m), ProcessID: np.ID})
			}
		}
		before := activeMap(out)
		stateful := map[task.ID]bool{}
		for _, tk := range in.Tasks {
			stateful[tk.ID] = tk.Stateful
		}
		// Stateful tasks only move to the new process. Stateless ones
		// also move between old processes to even out the stateful
		// moves, but never more of them than stateful tasks moved.
		onlyToNew := func(prev, next Assignment) {
			pm := activeMap(prev)
			for id, p := range activeMap(next) {
				if p != pm[id] && stateful[id] && p != np.ID {
					t.Fatalf("seed %d: adding a process moved %s from %s to %s\n%s\n%s", seed, id, pm[id], p, formatAssignment(prev), formatAssignment(next))
				}
			}
			for _, pa := range next.Processes {
				if pa.ProcessID != np.ID && len(pa.Warmup) > 0 {
					t.Fatalf("seed %d: adding a process put warmups %v on %s", seed, pa.Warmup, pa.ProcessID)
				}
			}
		}
		grown := mustAssign(t, in)
		onlyToNew(out, grown)
		_, final := converge(t, in, grown, onlyToNew)
		var statefulMoved, statelessShuffled int
		for id, p := range activeMap(final) {
			switch {
			case p == before[id]:
			case stateful[id]:
				statefulMoved++
			case p != np.ID:
				statelessShuffled++
			}
			if p != before[id] {
				moved++
			}
		}
		if statelessShuffled > statefulMoved {
			t.Fatalf("seed %d: adding a process moved %d stateless tasks between old processes for %d stateful moves", seed, statelessShuffled, statefulMoved)
		}
	}
	t.Logf("%d random groups; %d needed a probing rebalance at first; %d tasks moved to added processes", n, probing, moved)
}

func TestAssignErrors(t *testing.T) {
	tid := task.ID{Partition: 1}
	cases := []struct {
		name string
		in   Input
	}{
		{"no processes", Input{Tasks: []Task{{ID: tid}}}},
		{"duplicate process", Input{Processes: []Process{{ID: "a"}, {ID: "a"}}}},
		{"duplicate task", Input{Processes: []Process{{ID: "a"}}, Tasks: []Task{{ID: tid}, {ID: tid}}}},
		{"unknown process", Input{Processes: []Process{{ID: "a"}}, Members: []Member{{ID: "m", ProcessID: "b"}}}},
		{"duplicate member", Input{Processes: []Process{{ID: "a"}}, Members: []Member{{ID: "m", ProcessID: "a"}, {ID: "m", ProcessID: "a"}}}},
		{"capacity mismatch", Input{Processes: []Process{{ID: "a", Capacity: 2}}, Members: []Member{{ID: "m", ProcessID: "a"}}}},
		{"negative capacity", Input{Processes: []Process{{ID: "a", Capacity: -1}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Assign(c.in)
			if err == nil || !errorsIs(err, ErrBadInput) {
				t.Fatalf("got %v, want ErrBadInput", err)
			}
		})
	}
}

func TestAssignEdges(t *testing.T) {
	// No tasks: every process and member gets an empty assignment.
	out := mustAssign(t, Input{Processes: []Process{{ID: "a"}}, Members: []Member{{ID: "m", ProcessID: "a"}}})
	if len(out.Processes) != 1 || len(out.Members) != 1 || len(out.Processes[0].Active) != 0 {
		t.Fatalf("got %s", formatAssignment(out))
	}
	// Nothing at all.
	if out, err := Assign(Input{}); err != nil || len(out.Processes) != 0 {
		t.Fatalf("got %+v, %v", out, err)
	}
	// One process cannot hold standbys of its own tasks.
	out = mustAssign(t, Input{
		Processes: []Process{{ID: "a"}},
		Tasks:     []Task{{ID: tid(0, 0), Stateful: true}},
		Config:    Config{NumStandbyReplicas: 2},
	})
	if pa := out.Processes[0]; len(pa.Active) != 1 || len(pa.Standby) != 0 {
		t.Fatalf("got %s", formatAssignment(out))
	}
}
