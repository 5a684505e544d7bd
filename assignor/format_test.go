package assignor

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicestreams/sluice/task"
)

// The text format of assignor inputs and assignments used by the golden
// files under testdata/ and by failure messages. One line per item:
//
//	config standbys=1 lag=10000 warmups=2 tags=zone,cluster
//	process p0 cap=2 rack=r1 tags=zone:z1,cluster:c0 active=0_0 standby=0_1 offsets=0_1:95,0_2:-1
//	member p0-a process=p0 active=0_0 standby=0_1
//	task 0_0 stateful end=100 rack=r1
//
// and for assignments:
//
//	process p0 active=0_0 standby=0_1 warmup=-
//	member p0-a active=0_0 standby=- warmup=-
//	probing false

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func formatIDs(ids []task.ID) string {
	if len(ids) == 0 {
		return "-"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ",")
}

func parseIDs(s string) ([]task.ID, error) {
	if s == "-" || s == "" {
		return nil, nil
	}
	var out []task.ID
	for _, f := range strings.Split(s, ",") {
		id, err := task.ParseID(f)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func formatInput(in Input) string {
	var b strings.Builder
	c := in.Config
	fmt.Fprintf(&b, "config standbys=%d lag=%d warmups=%d", c.NumStandbyReplicas, c.AcceptableRecoveryLag, c.MaxWarmupReplicas)
	if len(c.RackAwareTags) > 0 {
		fmt.Fprintf(&b, " tags=%s", strings.Join(c.RackAwareTags, ","))
	}
	b.WriteByte('\n')
	for _, p := range in.Processes {
		fmt.Fprintf(&b, "process %s cap=%d", p.ID, p.Capacity)
		if p.Rack != "" {
			fmt.Fprintf(&b, " rack=%s", p.Rack)
		}
		if len(p.Tags) > 0 {
			var kv []string
			for k, v := range p.Tags {
				kv = append(kv, k+":"+v)
			}
			slices.Sort(kv)
			fmt.Fprintf(&b, " tags=%s", strings.Join(kv, ","))
		}
		if p.Endpoint != "" {
			fmt.Fprintf(&b, " endpoint=%s", p.Endpoint)
		}
		if len(p.PrevActive) > 0 {
			fmt.Fprintf(&b, " active=%s", formatIDs(p.PrevActive))
		}
		if len(p.PrevStandby) > 0 {
			fmt.Fprintf(&b, " standby=%s", formatIDs(p.PrevStandby))
		}
		if len(p.OffsetSums) > 0 {
			var kv []string
			for _, id := range sortedKeys(p.OffsetSums) {
				kv = append(kv, fmt.Sprintf("%s:%d", id, p.OffsetSums[id]))
			}
			fmt.Fprintf(&b, " offsets=%s", strings.Join(kv, ","))
		}
		b.WriteByte('\n')
	}
	for _, m := range in.Members {
		fmt.Fprintf(&b, "member %s process=%s", m.ID, m.ProcessID)
		if len(m.PrevActive) > 0 {
			fmt.Fprintf(&b, " active=%s", formatIDs(m.PrevActive))
		}
		if len(m.PrevStandby) > 0 {
			fmt.Fprintf(&b, " standby=%s", formatIDs(m.PrevStandby))
		}
		b.WriteByte('\n')
	}
	for _, t := range in.Tasks {
		fmt.Fprintf(&b, "task %s", t.ID)
		if t.Stateful {
			fmt.Fprintf(&b, " stateful end=%d", t.EndOffsetSum)
		}
		if t.Rack != "" {
			fmt.Fprintf(&b, " rack=%s", t.Rack)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func parseInput(text string) (Input, error) {
	var in Input
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if err := parseLine(&in, f); err != nil {
			return in, fmt.Errorf("line %d %q: %w", n+1, line, err)
		}
	}
	return in, nil
}

func parseLine(in *Input, f []string) error {
	kv := map[string]string{}
	var flags []string
	for _, w := range f[1:] {
		if k, v, ok := strings.Cut(w, "="); ok {
			kv[k] = v
		} else {
			flags = append(flags, w)
		}
	}
	num := func(k string) (int64, error) {
		v, ok := kv[k]
		if !ok {
			return 0, nil
		}
		return strconv.ParseInt(v, 10, 64)
	}
	ids := func(k string) ([]task.ID, error) { return parseIDs(kv[k]) }
	var errs []error
	must := func(v int64, err error) int64 { errs = append(errs, err); return v }
	mustIDs := func(v []task.ID, err error) []task.ID { errs = append(errs, err); return v }
	switch f[0] {
	case "config":
		in.Config.NumStandbyReplicas = int(must(num("standbys")))
		in.Config.AcceptableRecoveryLag = must(num("lag"))
		in.Config.MaxWarmupReplicas = int(must(num("warmups")))
		if v := kv["tags"]; v != "" {
			in.Config.RackAwareTags = strings.Split(v, ",")
		}
	case "process":
		if len(flags) != 1 {
			return fmt.Errorf("want one process id")
		}
		p := Process{ID: flags[0], Capacity: int(must(num("cap"))), Rack: kv["rack"], Endpoint: kv["endpoint"]}
		if v := kv["tags"]; v != "" {
			p.Tags = map[string]string{}
			for _, t := range strings.Split(v, ",") {
				k, v, _ := strings.Cut(t, ":")
				p.Tags[k] = v
			}
		}
		p.PrevActive = mustIDs(ids("active"))
		p.PrevStandby = mustIDs(ids("standby"))
		if v := kv["offsets"]; v != "" {
			p.OffsetSums = map[task.ID]int64{}
			for _, t := range strings.Split(v, ",") {
				k, v, _ := strings.Cut(t, ":")
				id, err := task.ParseID(k)
				errs = append(errs, err)
				n, err := strconv.ParseInt(v, 10, 64)
				errs = append(errs, err)
				p.OffsetSums[id] = n
			}
		}
		in.Processes = append(in.Processes, p)
	case "member":
		if len(flags) != 1 {
			return fmt.Errorf("want one member id")
		}
		in.Members = append(in.Members, Member{ID: flags[0], ProcessID: kv["process"], PrevActive: mustIDs(ids("active")), PrevStandby: mustIDs(ids("standby"))})
	case "task":
		if len(flags) < 1 {
			return fmt.Errorf("want a task id")
		}
		id, err := task.ParseID(flags[0])
		errs = append(errs, err)
		t := Task{ID: id, Stateful: slices.Contains(flags[1:], "stateful"), EndOffsetSum: must(num("end")), Rack: kv["rack"]}
		in.Tasks = append(in.Tasks, t)
	default:
		return fmt.Errorf("unknown item %q", f[0])
	}
	return errors.Join(errs...)
}

func formatAssignment(a Assignment) string {
	var b strings.Builder
	for _, p := range a.Processes {
		fmt.Fprintf(&b, "process %s active=%s standby=%s warmup=%s\n", p.ProcessID, formatIDs(p.Active), formatIDs(p.Standby), formatIDs(p.Warmup))
	}
	for _, m := range a.Members {
		fmt.Fprintf(&b, "member %s active=%s standby=%s warmup=%s\n", m.MemberID, formatIDs(m.Active), formatIDs(m.Standby), formatIDs(m.Warmup))
	}
	fmt.Fprintf(&b, "probing %t\n", a.ProbingRebalanceNeeded)
	return b.String()
}
