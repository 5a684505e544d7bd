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
	return encodeAssignment(a, encodeHosts(a.ActiveByHost, a.StandbyByHost))
}

// encodeAssignment encodes a with the hosts section payload given: the
// leader encodes the (large, shared) host maps once for all members.
func encodeAssignment(a AssignmentInfo, hosts []byte) []byte {
	v := a.Version
	if v <= 0 || v > CurrentVersion {
		v = CurrentVersion
	}
	var e encoder
	e.b = make([]byte, 0, 32+len(hosts))
	e.uvarint(uint64(v))
	e.uvarint(CurrentVersion)
	e.section(asgTasks, func(e *encoder) {
		e.ids(a.Active)
		e.ids(a.Standby)
		e.ids(a.Warmup)
	})
	if len(hosts) > 0 {
		e.uvarint(asgHosts)
		e.uvarint(uint64(len(hosts)))
		e.b = append(e.b, hosts...)
	}
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

// encodeHosts encodes the payload of the hosts section; nil when both maps
// are empty. The layout is topic-major, which is what keeps it small: the
// host names once, then for every topic and every partition number the
// indexes of the hosts that hold it:
//
//	uvarint n, n x string                    hosts, sorted
//	2 x (active, standby):
//	  uvarint t, t x (string topic,          topics, sorted
//	    uvarint p, p x (uvarint k,           partitions 0..p-1
//	      k x uvarint host index))
func encodeHosts(active, standby map[string]map[string][]int32) []byte {
	if len(active) == 0 && len(standby) == 0 {
		return nil
	}
	hostSet := map[string]struct{}{}
	for h := range active {
		hostSet[h] = struct{}{}
	}
	for h := range standby {
		hostSet[h] = struct{}{}
	}
	hosts := slices.Sorted(maps.Keys(hostSet))
	index := make(map[string]int, len(hosts))
	var e encoder
	e.uvarint(uint64(len(hosts)))
	for i, h := range hosts {
		index[h] = i
		e.str(h)
	}
	for _, m := range []map[string]map[string][]int32{active, standby} {
		// topic -> partition -> host indexes
		byTopic := map[string][][]int{}
		for _, h := range hosts {
			for t, ps := range m[h] {
				for _, p := range ps {
					if p < 0 {
						continue
					}
					parts := byTopic[t]
					if int(p) >= len(parts) {
						parts = append(parts, make([][]int, int(p)+1-len(parts))...)
						byTopic[t] = parts
					}
					parts[p] = append(parts[p], index[h])
				}
			}
		}
		topics := slices.Sorted(maps.Keys(byTopic))
		e.uvarint(uint64(len(topics)))
		for _, t := range topics {
			e.str(t)
			parts := byTopic[t]
			e.uvarint(uint64(len(parts)))
			for _, hs := range parts {
				e.uvarint(uint64(len(hs)))
				for _, h := range hs {
					e.uvarint(uint64(h))
				}
			}
		}
	}
	return e.b
}

func readHosts(d *decoder) (active, standby map[string]map[string][]int32) {
	n := d.count("hosts", 1)
	hosts := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		hosts = append(hosts, d.str(fmt.Sprintf("host %d", i)))
	}
	read := func(field string) map[string]map[string][]int32 {
		nt := d.count(field+" topics", 2)
		var m map[string]map[string][]int32
		seen := map[string]bool{}
		for i := 0; i < nt && d.err == nil; i++ {
			t := d.str(fmt.Sprintf("%s topic %d", field, i))
			if seen[t] && d.err == nil {
				d.fail(field, fmt.Sprintf("topic %q repeated", t))
			}
			seen[t] = true
			np := d.count(fmt.Sprintf("%s topic %q partitions", field, t), 1)
			for p := 0; p < np && d.err == nil; p++ {
				k := d.count(fmt.Sprintf("%s topic %q partition %d hosts", field, t, p), 1)
				for j := 0; j < k && d.err == nil; j++ {
					h := d.uvarint(fmt.Sprintf("%s topic %q partition %d host", field, t, p))
					if d.err != nil {
						break
					}
					if h >= uint64(len(hosts)) {
						d.fail(fmt.Sprintf("%s topic %q partition %d host", field, t, p), fmt.Sprintf("index %d beyond the %d hosts", h, len(hosts)))
						break
					}
					if m == nil {
						m = map[string]map[string][]int32{}
					}
					hm := m[hosts[h]]
					if hm == nil {
						hm = map[string][]int32{}
						m[hosts[h]] = hm
					}
					hm[t] = append(hm[t], int32(p))
				}
			}
		}
		return m
	}
	active = read("active")
	standby = read("standby")
	return active, standby
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
			a.ActiveByHost, a.StandbyByHost = readHosts(d)
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
