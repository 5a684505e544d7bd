package assignor

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sluicestreams/sluice/task"
)

// CurrentVersion is the userdata version this package writes and reads.
// Versions only add sections or append fields to sections; see wire.go.
const CurrentVersion = 1

// ErrorCode is the error the leader reports to every member in the assignment
// userdata.
type ErrorCode int32

// Error codes. A member treats an unknown code like ErrorAssignmentFailed.
const (
	// ErrorNone: the assignment is valid.
	ErrorNone ErrorCode = 0
	// ErrorShutdownApplication: some member asked for the whole
	// application to shut down (its uncaught-error handler said so).
	ErrorShutdownApplication ErrorCode = 1
	// ErrorIncompatibleTopology: the leader could not map the topics to
	// tasks, e.g. co-partitioned topics with different partition counts.
	ErrorIncompatibleTopology ErrorCode = 2
	// ErrorAssignmentFailed: the leader could not assign, e.g. every
	// member's userdata was unreadable. Members get no tasks and should
	// rejoin after a backoff.
	ErrorAssignmentFailed ErrorCode = 3
)

func (c ErrorCode) String() string {
	switch c {
	case ErrorNone:
		return "none"
	case ErrorShutdownApplication:
		return "shutdown application"
	case ErrorIncompatibleTopology:
		return "incompatible topology"
	case ErrorAssignmentFailed:
		return "assignment failed"
	}
	return fmt.Sprintf("error code %d", int32(c))
}

// SubscriptionInfo is what a member tells the leader in its JoinGroup
// metadata.
type SubscriptionInfo struct {
	// Version and LatestSupportedVersion are set by DecodeSubscription to
	// what the peer wrote; EncodeSubscription always writes CurrentVersion.
	Version                int32
	LatestSupportedVersion int32

	ProcessID string
	// Capacity is the number of workers the process runs.
	Capacity int32
	// Endpoint is application.server, "host:port", or "".
	Endpoint string
	Rack     string
	Tags     map[string]string
	// PrevActive and PrevStandby are the tasks this member ran (warmups
	// count as standby).
	PrevActive  []task.ID
	PrevStandby []task.ID
	// OffsetSums holds, for every task with state on the process's disk,
	// the sum of its changelog offsets.
	OffsetSums map[task.ID]int64
	// ShutdownRequested asks the leader to shut the application down:
	// every member then gets ErrorShutdownApplication.
	ShutdownRequested bool
}

// Subscription sections.
const (
	subProcess = 1 // process id, capacity, endpoint, shutdown flag
	subPlace   = 2 // rack, tags
	subTasks   = 3 // previous active, previous standby
	subOffsets = 4 // offset sums
)

var subNames = map[uint64]string{subProcess: "process", subPlace: "placement", subTasks: "tasks", subOffsets: "offsets"}

// EncodeSubscription encodes s at CurrentVersion. The output is
// deterministic: maps are written in key order.
func EncodeSubscription(s SubscriptionInfo) []byte {
	var e encoder
	e.uvarint(CurrentVersion)
	e.uvarint(CurrentVersion)
	e.section(subProcess, func(e *encoder) {
		e.str(s.ProcessID)
		e.varint(int64(s.Capacity))
		e.str(s.Endpoint)
		if s.ShutdownRequested {
			e.uvarint(1)
		} else {
			e.uvarint(0)
		}
	})
	e.section(subPlace, func(e *encoder) {
		e.str(s.Rack)
		keys := slices.Sorted(maps.Keys(s.Tags))
		e.uvarint(uint64(len(keys)))
		for _, k := range keys {
			e.str(k)
			e.str(s.Tags[k])
		}
	})
	e.section(subTasks, func(e *encoder) {
		e.ids(s.PrevActive)
		e.ids(s.PrevStandby)
	})
	e.section(subOffsets, func(e *encoder) {
		keys := sortedKeys(s.OffsetSums)
		e.uvarint(uint64(len(keys)))
		for _, id := range keys {
			e.id(id)
			e.varint(s.OffsetSums[id])
		}
	})
	return e.b
}

// DecodeSubscription decodes subscription userdata of any version: fields of
// newer versions are skipped. It never panics; errors wrap ErrMalformed.
func DecodeSubscription(b []byte) (SubscriptionInfo, error) {
	var s SubscriptionInfo
	d := &decoder{b: b, what: "subscription userdata"}
	s.Version, s.LatestSupportedVersion = d.header()
	var haveProcess bool
	d.sections("subscription userdata", s.Version, subNames, func(tag uint64, d *decoder) {
		switch tag {
		case subProcess:
			haveProcess = true
			s.ProcessID = d.str("process id")
			c := d.varint("capacity")
			if d.err == nil && (c < 0 || c > 1<<20) {
				d.fail("capacity", fmt.Sprintf("%d out of range", c))
			}
			s.Capacity = int32(c)
			s.Endpoint = d.str("endpoint")
			switch d.uvarint("shutdown flag") {
			case 0:
			case 1:
				s.ShutdownRequested = true
			default:
				d.fail("shutdown flag", "not 0 or 1")
			}
		case subPlace:
			s.Rack = d.str("rack")
			n := d.count("tags", 2)
			for i := 0; i < n && d.err == nil; i++ {
				if s.Tags == nil {
					s.Tags = make(map[string]string, n)
				}
				k := d.str(fmt.Sprintf("tag %d key", i))
				s.Tags[k] = d.str(fmt.Sprintf("tag %q value", k))
			}
		case subTasks:
			s.PrevActive = d.ids("previous active")
			s.PrevStandby = d.ids("previous standby")
		case subOffsets:
			n := d.count("offset sums", 3)
			for i := 0; i < n && d.err == nil; i++ {
				if s.OffsetSums == nil {
					s.OffsetSums = make(map[task.ID]int64, n)
				}
				id := d.id(fmt.Sprintf("offset sum %d task", i))
				if _, dup := s.OffsetSums[id]; dup && d.err == nil {
					d.fail(fmt.Sprintf("offset sum %d", i), fmt.Sprintf("task %s repeated", id))
				}
				s.OffsetSums[id] = d.varint(fmt.Sprintf("offset sum of %s", id))
			}
		}
	})
	if d.err == nil && !haveProcess {
		d.fail("process section", "missing")
	}
	if d.err == nil && s.ProcessID == "" {
		d.fail("process id", "empty")
	}
	if d.err != nil {
		return SubscriptionInfo{}, d.err
	}
	return s, nil
}

// AssignmentInfo is what the leader tells each member in its SyncGroup
// assignment, beside the partitions.
type AssignmentInfo struct {
	// Version and LatestSupportedVersion: the version the leader wrote
	// (the lowest any member reads) and the latest the leader reads.
	Version                int32
	LatestSupportedVersion int32

	Active  []task.ID
	Standby []task.ID
	Warmup  []task.ID
	// ActiveByHost and StandbyByHost map every endpoint
	// (application.server) in the group to the topic partitions it
	// serves, for routing interactive queries: endpoint -> topic ->
	// partitions.
	ActiveByHost  map[string]map[string][]int32
	StandbyByHost map[string]map[string][]int32
	// NextProbingRebalance is when the member should trigger a probing
	// rebalance (kgo's Client.ForceRebalance); zero for none.
	NextProbingRebalance time.Time
	// Error is ErrorNone unless the assignment failed.
	Error ErrorCode
}

// Assignment sections.
const (
	asgTasks   = 1 // active, standby, warmup
	asgHosts   = 2 // active partitions by host, standby partitions by host
	asgProbing = 3 // next probing rebalance
	asgError   = 4 // error code
)

var asgNames = map[uint64]string{asgTasks: "tasks", asgHosts: "hosts", asgProbing: "probing", asgError: "error"}

// EncodeAssignment encodes a at version a.Version (CurrentVersion when zero
// or newer than this package; sections newer than the version are left out).
// The output is deterministic.
func EncodeAssignment(a AssignmentInfo) []byte {
	v := a.Version
	if v <= 0 || v > CurrentVersion {
		v = CurrentVersion
	}
	var e encoder
	e.uvarint(uint64(v))
	e.uvarint(CurrentVersion)
	e.section(asgTasks, func(e *encoder) {
		e.ids(a.Active)
		e.ids(a.Standby)
		e.ids(a.Warmup)
	})
	e.section(asgHosts, func(e *encoder) {
		hostMap(e, a.ActiveByHost)
		hostMap(e, a.StandbyByHost)
	})
	e.section(asgProbing, func(e *encoder) {
		var ms int64
		if !a.NextProbingRebalance.IsZero() {
			ms = a.NextProbingRebalance.UnixMilli()
		}
		e.varint(ms)
	})
	e.section(asgError, func(e *encoder) { e.varint(int64(a.Error)) })
	return e.b
}

func hostMap(e *encoder, m map[string]map[string][]int32) {
	hosts := slices.Sorted(maps.Keys(m))
	e.uvarint(uint64(len(hosts)))
	for _, h := range hosts {
		e.str(h)
		topics := slices.Sorted(maps.Keys(m[h]))
		e.uvarint(uint64(len(topics)))
		for _, t := range topics {
			e.str(t)
			ps := slices.Clone(m[h][t])
			slices.Sort(ps)
			e.uvarint(uint64(len(ps)))
			for _, p := range ps {
				e.uvarint(uint64(uint32(p)))
			}
		}
	}
}

func readHostMap(d *decoder, field string) map[string]map[string][]int32 {
	n := d.count(field, 2)
	if n == 0 {
		return nil
	}
	m := make(map[string]map[string][]int32, n)
	for i := 0; i < n && d.err == nil; i++ {
		h := d.str(fmt.Sprintf("%s host %d", field, i))
		if _, dup := m[h]; dup && d.err == nil {
			d.fail(field, fmt.Sprintf("host %q repeated", h))
		}
		nt := d.count(fmt.Sprintf("%s host %q topics", field, h), 2)
		topics := make(map[string][]int32, nt)
		for j := 0; j < nt && d.err == nil; j++ {
			t := d.str(fmt.Sprintf("%s host %q topic %d", field, h, j))
			np := d.count(fmt.Sprintf("%s host %q topic %q partitions", field, h, t), 1)
			ps := make([]int32, 0, np)
			for k := 0; k < np && d.err == nil; k++ {
				ps = append(ps, d.int32(fmt.Sprintf("%s host %q topic %q partition %d", field, h, t, k)))
			}
			topics[t] = ps
		}
		m[h] = topics
	}
	return m
}

// DecodeAssignment decodes assignment userdata of any version: fields of
// newer versions are skipped. It never panics; errors wrap ErrMalformed.
func DecodeAssignment(b []byte) (AssignmentInfo, error) {
	var a AssignmentInfo
	d := &decoder{b: b, what: "assignment userdata"}
	a.Version, a.LatestSupportedVersion = d.header()
	d.sections("assignment userdata", a.Version, asgNames, func(tag uint64, d *decoder) {
		switch tag {
		case asgTasks:
			a.Active = d.ids("active")
			a.Standby = d.ids("standby")
			a.Warmup = d.ids("warmup")
		case asgHosts:
			a.ActiveByHost = readHostMap(d, "active by host")
			a.StandbyByHost = readHostMap(d, "standby by host")
		case asgProbing:
			if ms := d.varint("next probing rebalance"); ms != 0 {
				a.NextProbingRebalance = time.UnixMilli(ms)
			}
		case asgError:
			c := d.varint("error code")
			if d.err == nil && (c < 0 || c > 1<<31-1) {
				d.fail("error code", fmt.Sprintf("%d out of range", c))
			}
			a.Error = ErrorCode(c)
		}
	})
	if d.err != nil {
		return AssignmentInfo{}, d.err
	}
	return a, nil
}
