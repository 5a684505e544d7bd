package assignor

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/sluicestreams/sluice/task"
)

// Assign computes the assignment of tasks to processes and their members.
// It is a pure function of its input: the same input gives the same output,
// whatever the order of the slices and maps in it. It is safe to call
// concurrently; it does not modify the input.
//
// The steps follow Kafka Streams' HighAvailabilityTaskAssignor:
//
//  1. Stateful actives are balanced by capacity (every worker gets n/C or
//     n/C+1 of them), keeping each task on its previous owner while that
//     owner is within its share; tasks that must move go to the process with
//     room that has the most caught-up state, then to one in the task's
//     preferred rack, then to the least loaded.
//  2. A task whose balanced owner is not caught up stays on a caught-up
//     process instead, and the balanced owner gets a warmup replica (at most
//     Config.MaxWarmupReplicas in the group); ProbingRebalanceNeeded is set.
//  3. Stateless actives fill up every process to its share of all tasks
//     (counting deferred tasks at their balanced owner, so that stateless
//     tasks need not move again when the warmups finish).
//  4. Standbys go to other processes, spread over racks / tag values first,
//     then kept where they were, then to the least loaded; a last pass
//     moves standbys off processes above their share where the spread
//     allows.
//  5. Each process's tasks are split over its members the same way.
func Assign(in Input) (Assignment, error) {
	s, err := newSolver(in)
	if err != nil {
		return Assignment{}, err
	}
	s.assignStatefulActives()
	s.deferUncaughtMoves()
	s.assignStatelessActives()
	s.assignStandbys()
	s.assignWarmups()
	return s.result(), nil
}

type holder struct {
	p           int32
	lag         int64 // math.MaxInt64 when unknown
	caught      bool
	prevStandby bool
}

type tinfo struct {
	id         task.ID
	stateful   bool
	end        int64
	rack       string
	prevActive int32 // process index or -1
	holders    []holder
}

type pinfo struct {
	id      string
	cap     int
	rack    string
	dims    []string // values along the standby spreading dimensions
	members []int32
}

type minfo struct {
	id          string
	p           int32
	prevActive  map[task.ID]struct{}
	prevStandby map[task.ID]struct{}
}

type solver struct {
	lagOK int64 // acceptable.recovery.lag in effect

	cfg   Config
	procs []pinfo
	tasks []tinfo
	mems  []minfo
	capC  int // total capacity

	active  []int32 // per task: process index
	target  []int32 // per task: balanced owner when deferred, else -1
	standby [][]int32
	warmup  []int32 // per task: process index or -1
	probing bool
}

func newSolver(in Input) (*solver, error) {
	s := &solver{cfg: in.Config}
	if len(in.Processes) == 0 && len(in.Tasks) > 0 {
		return nil, fmt.Errorf("%w: %d tasks and no processes", ErrBadInput, len(in.Tasks))
	}

	procs := slices.Clone(in.Processes)
	slices.SortFunc(procs, func(a, b Process) int { return cmp.Compare(a.ID, b.ID) })
	pidx := make(map[string]int32, len(procs))
	s.procs = make([]pinfo, len(procs))
	for i := range procs {
		p := &procs[i]
		if _, dup := pidx[p.ID]; dup {
			return nil, fmt.Errorf("%w: process %q listed twice", ErrBadInput, p.ID)
		}
		pidx[p.ID] = int32(i)
		pi := &s.procs[i]
		pi.id, pi.cap, pi.rack = p.ID, p.Capacity, p.Rack
		if len(in.Config.RackAwareTags) > 0 {
			for _, k := range in.Config.RackAwareTags {
				pi.dims = append(pi.dims, p.Tags[k])
			}
		} else {
			pi.dims = []string{p.Rack}
		}
	}

	mems := slices.Clone(in.Members)
	slices.SortFunc(mems, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	s.mems = make([]minfo, len(mems))
	for i := range mems {
		m := &mems[i]
		if i > 0 && mems[i-1].ID == m.ID {
			return nil, fmt.Errorf("%w: member %q listed twice", ErrBadInput, m.ID)
		}
		p, ok := pidx[m.ProcessID]
		if !ok {
			return nil, fmt.Errorf("%w: member %q names unknown process %q", ErrBadInput, m.ID, m.ProcessID)
		}
		s.mems[i] = minfo{id: m.ID, p: p, prevActive: toSet(m.PrevActive), prevStandby: toSet(m.PrevStandby)}
		s.procs[p].members = append(s.procs[p].members, int32(i))
	}
	for i := range s.procs {
		pi := &s.procs[i]
		switch n := len(pi.members); {
		case pi.cap < 0:
			return nil, fmt.Errorf("%w: process %q has negative capacity %d", ErrBadInput, pi.id, pi.cap)
		case pi.cap == 0 && n > 0:
			pi.cap = n
		case pi.cap == 0:
			pi.cap = 1
		case n > 0 && n != pi.cap:
			return nil, fmt.Errorf("%w: process %q has capacity %d but %d members", ErrBadInput, pi.id, pi.cap, n)
		}
		s.capC += pi.cap
	}

	tasks := slices.Clone(in.Tasks)
	slices.SortFunc(tasks, func(a, b Task) int { return compareID(a.ID, b.ID) })
	tidx := make(map[task.ID]int32, len(tasks))
	s.tasks = make([]tinfo, len(tasks))
	for i := range tasks {
		t := &tasks[i]
		if _, dup := tidx[t.ID]; dup {
			return nil, fmt.Errorf("%w: task %s listed twice", ErrBadInput, t.ID)
		}
		tidx[t.ID] = int32(i)
		s.tasks[i] = tinfo{id: t.ID, stateful: t.Stateful, end: t.EndOffsetSum, rack: t.Rack, prevActive: -1}
	}

	// Previous owners. When two processes claim the same active (a
	// process that missed a generation), the first in id order wins; the
	// other still counts as holding state through its offset sums.
	for i := range procs {
		for _, id := range procs[i].PrevActive {
			if x, ok := tidx[id]; ok && s.tasks[x].prevActive < 0 {
				s.tasks[x].prevActive = int32(i)
			}
		}
	}
	// Holders of state: offset sums, previous standbys, previous actives.
	lagOK := in.Config.recoveryLag()
	s.lagOK = lagOK
	for i := range procs {
		p := int32(i)
		add := func(x int32) *holder {
			t := &s.tasks[x]
			// Holders are appended process by process, so this
			// process's entry, if any, is the last one.
			if n := len(t.holders); n > 0 && t.holders[n-1].p == p {
				return &t.holders[n-1]
			}
			// Until an offset sum says otherwise, the process has no
			// state: its lag is the whole changelog (Kafka Streams' rule).
			t.holders = append(t.holders, holder{p: p, lag: t.end, caught: t.end <= lagOK})
			return &t.holders[len(t.holders)-1]
		}
		// Iterate the map through sorted keys so that holders lists are
		// built in the same order every time.
		for _, id := range sortedKeys(procs[i].OffsetSums) {
			x, ok := tidx[id]
			if !ok || !s.tasks[x].stateful {
				continue
			}
			sum := procs[i].OffsetSums[id]
			if sum < 0 {
				continue
			}
			h := add(x)
			h.lag = max(0, s.tasks[x].end-sum)
			h.caught = h.lag <= lagOK
		}
		for _, id := range procs[i].PrevStandby {
			if x, ok := tidx[id]; ok && s.tasks[x].stateful {
				add(x).prevStandby = true
			}
		}
		for _, id := range procs[i].PrevActive {
			if x, ok := tidx[id]; ok && s.tasks[x].stateful && s.tasks[x].prevActive == p {
				h := add(x)
				h.caught = true
				h.lag = 0
			}
		}
	}

	n := len(s.tasks)
	s.active = make([]int32, n)
	s.target = make([]int32, n)
	s.warmup = make([]int32, n)
	s.standby = make([][]int32, n)
	for i := range n {
		s.active[i], s.target[i], s.warmup[i] = -1, -1, -1
	}
	return s, nil
}

func compareID(a, b task.ID) int {
	if c := cmp.Compare(a.Subtopology, b.Subtopology); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

func toSet(ids []task.ID) map[task.ID]struct{} {
	m := make(map[task.ID]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

func sortedKeys(m map[task.ID]int64) []task.ID {
	keys := make([]task.ID, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareID)
	return keys
}

// quotas splits n units over processes by capacity so that every worker gets
// n/C or n/C+1: process p gets cap*base plus up to cap extra units. Extra units
// go first to cover need[p] (units already there that cannot move), then to
// the processes whose pref[p] (units they held before) exceeds cap*base the
// most, so that as little as possible moves; ties go by process order.
func quotas(caps []int, capC, n int, need, pref []int) []int {
	q := make([]int, len(caps))
	if capC == 0 {
		return q
	}
	base, rem := n/capC, n%capC
	extra := make([]int, len(caps))
	for p, c := range caps {
		q[p] = c * base
	}
	if need != nil {
		for p, c := range caps {
			e := min(c, max(0, need[p]-q[p]), rem)
			extra[p] += e
			rem -= e
		}
	}
	order := make([]int, len(caps))
	for p := range order {
		order[p] = p
	}
	surplus := func(p int) int {
		if pref == nil {
			return 0
		}
		return pref[p] - q[p] - extra[p]
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(surplus(b), surplus(a)) })
	for _, p := range order {
		if rem == 0 {
			break
		}
		if s := surplus(p); s > 0 {
			e := min(caps[p]-extra[p], s, rem)
			extra[p] += e
			rem -= e
		}
	}
	// Whatever is left goes to the processes with the most free extra
	// slots, in process order.
	for p := 0; rem > 0; p = (p + 1) % len(caps) {
		if extra[p] < caps[p] {
			extra[p]++
			rem--
		}
	}
	for p := range q {
		q[p] += extra[p]
	}
	return q
}

// lessLoaded reports whether process a is less loaded than b relative to
// capacity.
func (s *solver) lessLoaded(load []int, a, b int32) bool {
	la, lb := load[a]*s.procs[b].cap, load[b]*s.procs[a].cap
	if la != lb {
		return la < lb
	}
	return a < b
}

func (s *solver) caps() []int {
	c := make([]int, len(s.procs))
	for i := range s.procs {
		c[i] = s.procs[i].cap
	}
	return c
}

// betterHolder orders holders for taking over a task: caught up first, then
// known lag (smaller first), then previous standbys.
func betterHolder(a, b holder) int {
	if a.caught != b.caught {
		if a.caught {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(a.lag, b.lag); c != 0 {
		return c
	}
	if a.prevStandby != b.prevStandby {
		if a.prevStandby {
			return -1
		}
		return 1
	}
	return 0
}

// assignStatefulActives computes the balanced owner of every stateful task.
func (s *solver) assignStatefulActives() {
	np := len(s.procs)
	var sf []int32
	prevCount := make([]int, np)
	byProc := make([][]int32, np)
	for x := range s.tasks {
		t := &s.tasks[x]
		if !t.stateful {
			continue
		}
		sf = append(sf, int32(x))
		if t.prevActive >= 0 {
			prevCount[t.prevActive]++
			byProc[t.prevActive] = append(byProc[t.prevActive], int32(x))
		}
	}
	// Extra units of the quotas go where tasks are: to previous owners,
	// and for a task without one, to its best caught-up holder.
	claims := slices.Clone(prevCount)
	for _, x := range sf {
		t := &s.tasks[x]
		if t.prevActive >= 0 {
			continue
		}
		best := holder{p: -1}
		for _, h := range t.holders {
			if h.caught && (best.p < 0 || betterHolder(h, best) < 0) {
				best = h
			}
		}
		if best.p >= 0 {
			claims[best.p]++
		}
	}
	q := quotas(s.caps(), s.capC, len(sf), nil, claims)
	load := make([]int, np)

	// Sticky: keep previous actives within the quota. An overloaded
	// process sheds first the tasks that have the best other home: a
	// holder with room that is caught up, then the one with the least lag.
	type shed struct {
		x   int32
		alt holder
	}
	var cand []shed
	for p := range byProc {
		xs := byProc[p]
		if len(xs) <= q[p] {
			for _, x := range xs {
				s.active[x] = int32(p)
			}
			load[p] = len(xs)
			continue
		}
		cand = cand[:0]
		for _, x := range xs {
			alt := holder{p: -1, lag: math.MaxInt64}
			for _, h := range s.tasks[x].holders {
				if h.p == int32(p) || prevCount[h.p] >= q[h.p] {
					continue
				}
				if alt.p < 0 || betterHolder(h, alt) < 0 {
					alt = h
				}
			}
			cand = append(cand, shed{x, alt})
		}
		slices.SortStableFunc(cand, func(a, b shed) int {
			if (a.alt.p >= 0) != (b.alt.p >= 0) {
				if a.alt.p >= 0 {
					return -1
				}
				return 1
			}
			return betterHolder(a.alt, b.alt)
		})
		for _, c := range cand[len(cand)-q[p]:] {
			s.active[c.x] = int32(p)
		}
		load[p] = q[p]
	}

	var todo []int32
	for _, x := range sf {
		if s.active[x] < 0 {
			todo = append(todo, x)
		}
	}
	// Tasks with state somewhere first, then tasks with a rack, so that
	// the scarce slots on preferred processes go to those who care.
	rank := func(x int32) int {
		switch {
		case len(s.tasks[x].holders) > 0:
			return 0
		case s.tasks[x].rack != "":
			return 1
		}
		return 2
	}
	slices.SortStableFunc(todo, func(a, b int32) int { return cmp.Compare(rank(a), rank(b)) })
	for _, x := range todo {
		p := s.pickActive(x, load, q)
		s.active[x] = p
		load[p]++
	}
}

// pickActive chooses a process with room for task x: the best holder of its
// state, else one in its rack, else the least loaded.
func (s *solver) pickActive(x int32, load, q []int) int32 {
	t := &s.tasks[x]
	best := holder{p: -1}
	for _, h := range t.holders {
		if load[h.p] >= q[h.p] {
			continue
		}
		if best.p < 0 {
			best = h
			continue
		}
		c := betterHolder(h, best)
		if c == 0 {
			if rh, rb := s.rackMatch(t, h.p), s.rackMatch(t, best.p); rh != rb {
				if rh {
					c = -1
				}
			} else if s.lessLoaded(load, h.p, best.p) {
				c = -1
			}
		}
		if c < 0 {
			best = h
		}
	}
	if best.p >= 0 {
		return best.p
	}
	return s.leastLoaded(t, load, q)
}

func (s *solver) rackMatch(t *tinfo, p int32) bool {
	return t.rack != "" && s.procs[p].rack == t.rack
}

// leastLoaded returns the least loaded process with room, preferring the
// task's rack. Some process always has room: the quotas add up to the tasks.
func (s *solver) leastLoaded(t *tinfo, load, q []int) int32 {
	best, bestRack := int32(-1), false
	for i := range s.procs {
		p := int32(i)
		if load[p] >= q[p] {
			continue
		}
		r := s.rackMatch(t, p)
		if best < 0 || (r && !bestRack) || (r == bestRack && s.lessLoaded(load, p, best)) {
			best, bestRack = p, r
		}
	}
	return best
}

func (s *solver) caughtUp(x, p int32) bool {
	for _, h := range s.tasks[x].holders {
		if h.p == p {
			return h.caught
		}
	}
	// No local state: the lag is the whole changelog, as in Kafka Streams,
	// so a process is caught up on a task whose changelog is short.
	return s.tasks[x].end <= s.lagOK
}

// deferUncaughtMoves keeps a stateful task on a caught-up process when its
// balanced owner is not caught up; the balanced owner is remembered as the
// task's target and will get a warmup.
func (s *solver) deferUncaughtMoves() {
	load := make([]int, len(s.procs))
	for x := range s.tasks {
		if s.active[x] >= 0 {
			load[s.active[x]]++
		}
	}
	for xi := range s.tasks {
		x := int32(xi)
		t := &s.tasks[x]
		dst := s.active[x]
		if !t.stateful || s.caughtUp(x, dst) {
			continue
		}
		src := int32(-1)
		if t.prevActive >= 0 && s.caughtUp(x, t.prevActive) {
			src = t.prevActive
		} else {
			var best holder
			for _, h := range t.holders {
				if !h.caught {
					continue
				}
				if src < 0 || h.lag < best.lag || (h.lag == best.lag && s.lessLoaded(load, h.p, src)) {
					src, best = h.p, h
				}
			}
		}
		if src < 0 {
			continue // nobody is caught up: the task restores wherever it goes
		}
		s.active[x], s.target[x] = src, dst
		load[src]++
		load[dst]--
		s.probing = true
	}
}

// assignStatelessActives gives every process its share of all tasks, as
// they will be once deferred stateful tasks reach their balanced owners.
func (s *solver) assignStatelessActives() {
	np := len(s.procs)
	loadSF := make([]int, np)
	prevSL := make([]int, np)
	pref := make([]int, np)
	var sl []int32
	for x := range s.tasks {
		t := &s.tasks[x]
		if t.stateful {
			// Count deferred tasks at their balanced owner: stateless
			// tasks then go where they stay once warmups finish, and
			// never move twice.
			if s.target[x] >= 0 {
				loadSF[s.target[x]]++
			} else {
				loadSF[s.active[x]]++
			}
			continue
		}
		sl = append(sl, int32(x))
		if t.prevActive >= 0 {
			prevSL[t.prevActive]++
		}
	}
	if len(sl) == 0 {
		return
	}
	for p := range pref {
		pref[p] = loadSF[p] + prevSL[p]
	}
	qAll := quotas(s.caps(), s.capC, len(s.tasks), loadSF, pref)
	q := make([]int, np)
	for p := range q {
		q[p] = max(0, qAll[p]-loadSF[p])
	}
	load := make([]int, np)
	var todo []int32
	for _, x := range sl {
		if p := s.tasks[x].prevActive; p >= 0 && load[p] < q[p] {
			s.active[x] = p
			load[p]++
		} else {
			todo = append(todo, x)
		}
	}
	slices.SortStableFunc(todo, func(a, b int32) int {
		ra, rb := s.tasks[a].rack != "", s.tasks[b].rack != ""
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return 0
	})
	// Least loaded means least loaded in all tasks, not only stateless.
	total := make([]int, np)
	for x := range s.tasks {
		if s.active[x] >= 0 {
			total[s.active[x]]++
		}
	}
	for _, x := range todo {
		t := &s.tasks[x]
		best, bestRack := int32(-1), false
		for i := range s.procs {
			p := int32(i)
			if load[p] >= q[p] {
				continue
			}
			r := s.rackMatch(t, p)
			if best < 0 || (r && !bestRack) || (r == bestRack && s.lessLoaded(total, p, best)) {
				best, bestRack = p, r
			}
		}
		s.active[x] = best
		load[best]++
		total[best]++
	}
}

// assignStandbys places Config.NumStandbyReplicas standbys of every stateful
// task on processes other than its active.
func (s *solver) assignStandbys() {
	np := len(s.procs)
	k := min(s.cfg.NumStandbyReplicas, np-1)
	if k <= 0 {
		return
	}
	var nsf int
	for x := range s.tasks {
		if s.tasks[x].stateful {
			nsf++
		}
	}
	total := nsf * k
	softCap := make([]int, np)
	for p := range softCap {
		softCap[p] = (total*s.procs[p].cap + s.capC - 1) / s.capC
	}
	load := make([]int, np)
	hs := make([]holder, np) // scratch: holder of the current task per process
	for p := range hs {
		hs[p].p = -1
	}
	var prev []int32
	for xi := range s.tasks {
		x := int32(xi)
		t := &s.tasks[x]
		if !t.stateful {
			continue
		}
		prev = prev[:0]
		for _, h := range t.holders {
			hs[h.p] = h
			if h.prevStandby && h.p != s.active[x] {
				prev = append(prev, h.p)
			}
		}
		greedy := s.pickStandbys(x, nil, k, load, softCap, hs)
		chosen := greedy
		// Picking one standby at a time can miss that the previous
		// standbys, taken together, are spread as well: keep them then.
		if len(prev) > 0 {
			slices.SortStableFunc(prev, func(a, b int32) int { return betterHolder(hs[a], hs[b]) })
			sticky := s.pickStandbys(x, prev[:min(k, len(prev))], k, load, softCap, hs)
			if s.spread(append([]int32{s.active[x]}, sticky...)) >= s.spread(append([]int32{s.active[x]}, greedy...)) {
				chosen = sticky
			}
		}
		s.standby[x] = chosen
		for _, p := range chosen {
			load[p]++
		}
		for _, h := range t.holders {
			hs[h.p].p = -1
		}
	}
	s.evenStandbys(load, softCap)
}

// pickStandbys chooses k processes for standbys of task x, starting with the
// given ones: one at a time, the best by betterStandby.
func (s *solver) pickStandbys(x int32, given []int32, k int, load, softCap []int, hs []holder) []int32 {
	copies := append([]int32{s.active[x]}, given...)
	for len(copies) <= k {
		best, bestScore := int32(-1), 0
		for i := range s.procs {
			p := int32(i)
			if slices.Contains(copies, p) {
				continue
			}
			score := 0
			for d := range s.procs[p].dims {
				v := s.procs[p].dims[d]
				seen := false
				for _, c := range copies {
					if s.procs[c].dims[d] == v {
						seen = true
						break
					}
				}
				if !seen {
					score++
				}
			}
			if best < 0 || s.betterStandby(x, p, best, score, bestScore, load, softCap, hs) {
				best, bestScore = p, score
			}
		}
		copies = append(copies, best)
	}
	return copies[1:]
}

// evenStandbys moves standbys off processes above their share to processes
// below it, where that keeps the task's copies as spread over racks / tags.
// The greedy pass above fills processes in task order and can leave the last
// tasks no choice but a full process.
func (s *solver) evenStandbys(load, softCap []int) {
	byProc := make([][]int32, len(s.procs))
	for x := range s.standby {
		for _, p := range s.standby[x] {
			byProc[p] = append(byProc[p], int32(x))
		}
	}
	var copies []int32
	for pi := range s.procs {
		p := int32(pi)
		for _, x := range byProc[p] {
			if load[p] <= softCap[p] {
				break
			}
			copies = append(append(copies[:0], s.active[x]), s.standby[x]...)
			before := s.spread(copies)
			j := slices.Index(copies, p)
			best, bestSpread := int32(-1), 0
			for qi := range s.procs {
				q := int32(qi)
				if load[q] >= softCap[q] || slices.Contains(copies, q) {
					continue
				}
				copies[j] = q
				sp := s.spread(copies)
				copies[j] = p
				if sp < before {
					continue
				}
				if best < 0 || sp > bestSpread || (sp == bestSpread && s.betterMove(x, q, best, load)) {
					best, bestSpread = q, sp
				}
			}
			if best < 0 {
				continue
			}
			s.standby[x][j-1] = best
			load[p]--
			load[best]++
		}
	}
}

// betterMove orders the destinations of a standby that moves: a holder of the
// task's state first, then the least loaded.
func (s *solver) betterMove(x, a, b int32, load []int) bool {
	ha, hb := holder{p: -1}, holder{p: -1}
	for _, h := range s.tasks[x].holders {
		switch h.p {
		case a:
			ha = h
		case b:
			hb = h
		}
	}
	if (ha.p >= 0) != (hb.p >= 0) {
		return ha.p >= 0
	}
	if ha.p >= 0 {
		if c := betterHolder(ha, hb); c != 0 {
			return c < 0
		}
	}
	return s.lessLoaded(load, a, b)
}

// spread counts the distinct rack / tag values among the processes, summed
// over the dimensions.
func (s *solver) spread(ps []int32) int {
	n := 0
	for d := range s.procs[0].dims {
		for i, p := range ps {
			v := s.procs[p].dims[d]
			seen := false
			for _, o := range ps[:i] {
				if s.procs[o].dims[d] == v {
					seen = true
					break
				}
			}
			if !seen {
				n++
			}
		}
	}
	return n
}

// betterStandby reports whether process a is a better home than b for a
// standby of task x.
func (s *solver) betterStandby(x, a, b int32, sa, sb int, load, softCap []int, hs []holder) bool {
	if sa != sb {
		return sa > sb
	}
	ha, hb := hs[a], hs[b]
	// A previous standby stays where it is, loaded or not: evenStandbys
	// moves what must move afterwards. That keeps reruns stable.
	if pa, pb := ha.p >= 0 && ha.prevStandby, hb.p >= 0 && hb.prevStandby; pa != pb {
		return pa
	}
	if ua, ub := load[a] < softCap[a], load[b] < softCap[b]; ua != ub {
		return ua
	}
	if ta, tb := s.target[x] == a, s.target[x] == b; ta != tb {
		return ta
	}
	if (ha.p >= 0) != (hb.p >= 0) {
		return ha.p >= 0
	}
	if ha.p >= 0 {
		if c := betterHolder(ha, hb); c != 0 {
			return c < 0
		}
	}
	return s.lessLoaded(load, a, b)
}

// assignWarmups gives the targets of deferred tasks a warmup, within the
// group's budget. Warmups that already have state go first so that a warmup
// in progress keeps its slot.
func (s *solver) assignWarmups() {
	var deferred []int32
	for x := range s.tasks {
		tg := s.target[x]
		if tg >= 0 && !slices.Contains(s.standby[x], tg) {
			deferred = append(deferred, int32(x))
		}
	}
	holderOf := func(x int32) holder {
		for _, h := range s.tasks[x].holders {
			if h.p == s.target[x] {
				return h
			}
		}
		return holder{p: -1, lag: math.MaxInt64}
	}
	slices.SortStableFunc(deferred, func(a, b int32) int {
		ha, hb := holderOf(a), holderOf(b)
		if (ha.p >= 0) != (hb.p >= 0) {
			if ha.p >= 0 {
				return -1
			}
			return 1
		}
		return betterHolder(ha, hb)
	})
	budget := s.cfg.maxWarmups()
	for _, x := range deferred[:min(budget, len(deferred))] {
		s.warmup[x] = s.target[x]
	}
}
