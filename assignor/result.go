package assignor

import (
	"slices"

	"github.com/sluicestreams/sluice/task"
)

// result collects the per-process and per-member assignment.
func (s *solver) result() Assignment {
	np := len(s.procs)
	type lists struct{ active, standby, warmup []int32 }
	per := make([]lists, np)
	for xi := range s.tasks {
		x := int32(xi)
		per[s.active[x]].active = append(per[s.active[x]].active, x)
		for _, p := range s.standby[x] {
			per[p].standby = append(per[p].standby, x)
		}
		if w := s.warmup[x]; w >= 0 {
			per[w].warmup = append(per[w].warmup, x)
		}
	}
	out := Assignment{
		Processes:              make([]ProcessAssignment, np),
		ProbingRebalanceNeeded: s.probing,
	}
	if len(s.mems) > 0 {
		out.Members = make([]MemberAssignment, len(s.mems))
	}
	for p := range s.procs {
		l := &per[p]
		out.Processes[p] = ProcessAssignment{
			ProcessID: s.procs[p].id,
			Active:    s.ids(l.active),
			Standby:   s.ids(l.standby),
			Warmup:    s.ids(l.warmup),
		}
		ms := s.procs[p].members
		if len(ms) == 0 {
			continue
		}
		isActive := func(m *minfo, id task.ID) (bool, bool) {
			_, a := m.prevActive[id]
			_, b := m.prevStandby[id]
			return a, b
		}
		isStandby := func(m *minfo, id task.ID) (bool, bool) {
			a, b := isActive(m, id)
			return b, a
		}
		actives := s.split(ms, l.active, isActive)
		pool := append(slices.Clone(l.standby), l.warmup...)
		slices.Sort(pool) // task indexes are in task order
		standbys := s.split(ms, pool, isStandby)
		for i, mi := range ms {
			m := &s.mems[mi]
			ma := MemberAssignment{MemberID: m.id, ProcessID: s.procs[p].id, Active: s.ids(actives[i])}
			for _, x := range standbys[i] {
				if s.warmup[x] == int32(p) {
					ma.Warmup = append(ma.Warmup, s.tasks[x].id)
				} else {
					ma.Standby = append(ma.Standby, s.tasks[x].id)
				}
			}
			out.Members[mi] = ma
		}
	}
	return out
}

func (s *solver) ids(xs []int32) []task.ID {
	if len(xs) == 0 {
		return nil
	}
	out := make([]task.ID, len(xs))
	for i, x := range xs {
		out[i] = s.tasks[x].id
	}
	return out
}

// split spreads tasks over the members ms so that their counts differ by at
// most one. A task stays with the member that had it (prev's first result),
// else goes to one that had it in the other role (prev's second result), else
// to the member with the fewest.
func (s *solver) split(ms []int32, xs []int32, prev func(*minfo, task.ID) (bool, bool)) [][]int32 {
	n := len(ms)
	out := make([][]int32, n)
	ones := make([]int, n)
	pref := make([]int, n)
	for i := range ones {
		ones[i] = 1
	}
	owner := make([]int, len(xs))
	for j, x := range xs {
		owner[j] = -1
		for i, mi := range ms {
			if same, _ := prev(&s.mems[mi], s.tasks[x].id); same {
				owner[j] = i
				pref[i]++
				break
			}
		}
	}
	q := quotas(ones, n, len(xs), nil, pref)
	var todo []int
	for j, x := range xs {
		if i := owner[j]; i >= 0 && len(out[i]) < q[i] {
			out[i] = append(out[i], x)
		} else {
			todo = append(todo, j)
		}
	}
	for _, j := range todo {
		x := xs[j]
		best, bestOther := -1, false
		for i, mi := range ms {
			if len(out[i]) >= q[i] {
				continue
			}
			_, other := prev(&s.mems[mi], s.tasks[x].id)
			if best < 0 || (other && !bestOther) || (other == bestOther && len(out[i]) < len(out[best])) {
				best, bestOther = i, other
			}
		}
		out[best] = append(out[best], x)
	}
	for i := range out {
		slices.Sort(out[i])
	}
	return out
}
