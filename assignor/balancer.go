package assignor

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicestreams/sluice/task"
)

// Group protocol names of the Balancer. All members of a group must use the
// same one.
const (
	ProtocolName            = "sluice"
	CooperativeProtocolName = "sluice-cooperative"
)

// DefaultProbingRebalanceInterval is Kafka Streams'
// probing.rebalance.interval.ms.
const DefaultProbingRebalanceInterval = 10 * time.Minute

// Partition is one topic partition.
type Partition struct {
	Topic     string
	Partition int32
}

// TaskLayout is how the topology maps topic partitions to tasks, for the
// partition counts the group sees.
type TaskLayout struct {
	// Tasks lists, for every task, the source topic partitions it reads.
	// Co-partitioned topics of one sub-topology are in the same task, so
	// they always move together. A partition in no task is not assigned;
	// a partition in two tasks is an error. List only partitions of the
	// topics Topology was given: members consume what they are assigned.
	Tasks map[task.ID][]Partition
	// Stateful holds the tasks with state and the sum of the end offsets
	// of their changelog partitions (the lag reference). Nil when the
	// topology is stateless.
	Stateful map[task.ID]int64
}

// validate checks that no partition belongs to two tasks.
func (l TaskLayout) validate() error {
	seen := map[Partition]task.ID{}
	for _, id := range slices.SortedFunc(maps.Keys(l.Tasks), compareID) {
		for _, p := range l.Tasks[id] {
			if other, dup := seen[p]; dup && other != id {
				return fmt.Errorf("assignor: partition %d of %s is in tasks %s and %s", p.Partition, p.Topic, other, id)
			}
			seen[p] = id
		}
	}
	return nil
}

// BalancerConfig configures a Balancer. Topology and a process id (ProcessID
// or from Subscription) are required: a member without a process id gets
// ErrorAssignmentFailed.
type BalancerConfig struct {
	// ProcessID identifies the process (application instance); every
	// worker of a process uses the same one. Overrides the field of the
	// same name from Subscription when set.
	ProcessID string
	// Endpoint is application.server ("host:port"), used in the
	// partitions-by-host map for interactive queries. Optional.
	Endpoint string
	// Rack and Tags place the process for rack-aware assignment (Rack is
	// client.rack; Tags are client.tag.*). Optional.
	Rack string
	Tags map[string]string
	// Subscription is called whenever kgo builds JoinGroup metadata, on
	// kgo's group-management goroutine; it must be cheap and must not
	// block. It returns the member's current view: Capacity (the number
	// of workers of the process), OffsetSums of the local state, and
	// optionally PrevActive / PrevStandby (when nil, the tasks of the
	// last assignment this Balancer parsed are used) and
	// ShutdownRequested. Nil means an empty subscription.
	Subscription func() SubscriptionInfo
	// Topology maps the partition counts of the subscribed topics to
	// tasks. It is called on the group leader only, on kgo's
	// group-management goroutine, once per rebalance. An error gives
	// every member ErrorIncompatibleTopology.
	Topology func(partitionsPerTopic map[string]int32) (TaskLayout, error)
	// Assignor configures the assignment algorithm.
	Assignor Config
	// ProbingRebalanceInterval is probing.rebalance.interval.ms: when an
	// assignment leaves warmups, members are told to rebalance again this
	// much later (AssignmentInfo.NextProbingRebalance). Zero means
	// DefaultProbingRebalanceInterval.
	ProbingRebalanceInterval time.Duration
	// OnAssignment is called with this member's assignment userdata each
	// time kgo parses a SyncGroup response: on kgo's group-management
	// goroutine, before OnPartitionsAssigned for the same generation,
	// never concurrently with itself. It must not block for long and
	// must not call Client methods that wait for the group (Close,
	// LeaveGroup, CommitOffsetsSync, ...). Optional.
	OnAssignment func(AssignmentInfo)
	// Logger receives problems with peers' userdata and failed
	// assignments. Nil discards.
	Logger *slog.Logger
	// Cooperative selects incremental cooperative rebalancing (KIP-429):
	// members keep the partitions that stay theirs through a rebalance,
	// and a task that changes owner is first revoked from the old owner
	// and given to the new one in the follow-up rebalance kgo triggers.
	// The default is eager: every member gives up all partitions at every
	// rebalance. All members must agree (the protocol names differ).
	Cooperative bool
	// Now is the clock, for tests. Nil means time.Now.
	Now func() time.Time
}

// Balancer is a kgo.GroupBalancer that assigns tasks, not partitions: pass it
// to kgo.Balancers on every worker's client. It runs on the classic group
// protocol only (kgo's KIP-848 support covers its built-in balancers).
//
// A Balancer belongs to one client: it remembers that member's last
// assignment to report it in the next subscription. Its methods are safe for
// concurrent use.
type Balancer struct {
	cfg BalancerConfig
	log *slog.Logger

	mu   sync.Mutex
	last AssignmentInfo
}

var _ kgo.GroupBalancer = (*Balancer)(nil)

// NewBalancer returns a Balancer for one worker's client.
func NewBalancer(cfg BalancerConfig) *Balancer {
	if cfg.ProbingRebalanceInterval <= 0 {
		cfg.ProbingRebalanceInterval = DefaultProbingRebalanceInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Balancer{cfg: cfg, log: log}
}

// ProtocolName implements kgo.GroupBalancer.
func (b *Balancer) ProtocolName() string {
	if b.cfg.Cooperative {
		return CooperativeProtocolName
	}
	return ProtocolName
}

// IsCooperative implements kgo.GroupBalancer; see BalancerConfig.Cooperative.
func (b *Balancer) IsCooperative() bool { return b.cfg.Cooperative }

// LastAssignment returns the assignment userdata most recently parsed for this
// member.
func (b *Balancer) LastAssignment() AssignmentInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// subscription builds this member's subscription userdata.
func (b *Balancer) subscription() SubscriptionInfo {
	var s SubscriptionInfo
	if b.cfg.Subscription != nil {
		s = b.cfg.Subscription()
	}
	if b.cfg.ProcessID != "" {
		s.ProcessID = b.cfg.ProcessID
	}
	if b.cfg.Endpoint != "" {
		s.Endpoint = b.cfg.Endpoint
	}
	if b.cfg.Rack != "" {
		s.Rack = b.cfg.Rack
	}
	if b.cfg.Tags != nil {
		s.Tags = b.cfg.Tags
	}
	if s.PrevActive == nil && s.PrevStandby == nil {
		last := b.LastAssignment()
		s.PrevActive = last.Active
		s.PrevStandby = append(slices.Clone(last.Standby), last.Warmup...)
	}
	return s
}

// JoinGroupMetadata implements kgo.GroupBalancer: standard consumer protocol
// metadata (so that tools can read the group) with the subscription as
// userdata.
func (b *Balancer) JoinGroupMetadata(topics []string, current map[string][]int32, generation int32) []byte {
	s := b.subscription()
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = topics
	meta.UserData = EncodeSubscription(s)
	meta.Generation = generation
	if s.Rack != "" {
		meta.Rack = kmsg.StringPtr(s.Rack)
	}
	for _, t := range slices.Sorted(maps.Keys(current)) {
		owned := kmsg.NewConsumerMemberMetadataOwnedPartition()
		owned.Topic = t
		owned.Partitions = current[t]
		meta.OwnedPartitions = append(meta.OwnedPartitions, owned)
	}
	return meta.AppendTo(nil)
}

// ParseSyncAssignment implements kgo.GroupBalancer. It decodes the
// assignment userdata, remembers it, and passes it to OnAssignment. Bad
// userdata does not fail the sync: OnAssignment then gets
// ErrorAssignmentFailed and no tasks, and the partitions are returned as
// assigned.
func (b *Balancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var ka kmsg.ConsumerMemberAssignment
	if err := ka.ReadFrom(assignment); err != nil {
		return nil, fmt.Errorf("assignor: unreadable sync assignment: %w", err)
	}
	out := make(map[string][]int32, len(ka.Topics))
	for _, t := range ka.Topics {
		out[t.Topic] = append(out[t.Topic], t.Partitions...)
	}
	info, err := DecodeAssignment(ka.UserData)
	if err != nil {
		b.log.Error("assignor: bad assignment userdata from the leader", "err", err)
		info = AssignmentInfo{Error: ErrorAssignmentFailed}
	}
	b.mu.Lock()
	b.last = info
	b.mu.Unlock()
	if b.cfg.OnAssignment != nil {
		b.cfg.OnAssignment(info)
	}
	return out, nil
}

// MemberBalancer implements kgo.GroupBalancer. It never fails: members whose
// metadata cannot be read get an assignment with ErrorAssignmentFailed.
func (b *Balancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	mb := &memberBalancer{b: b, topics: map[string]struct{}{}}
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m.MemberID] {
			continue // a broken broker listed it twice
		}
		seen[m.MemberID] = true
		gm := groupMember{id: m.MemberID}
		var meta kmsg.ConsumerMemberMetadata
		meta.Default()
		if err := meta.ReadFrom(m.ProtocolMetadata); err != nil {
			gm.err = fmt.Errorf("assignor: member %s: unreadable consumer metadata: %w", m.MemberID, err)
		} else {
			for _, t := range meta.Topics {
				mb.topics[t] = struct{}{}
			}
			if meta.Rack != nil {
				gm.kgoRack = *meta.Rack
			}
			for _, o := range meta.OwnedPartitions {
				for _, p := range o.Partitions {
					gm.owned = append(gm.owned, Partition{o.Topic, p})
				}
			}
			gm.sub, gm.err = DecodeSubscription(meta.UserData)
			if gm.err != nil {
				gm.err = fmt.Errorf("assignor: member %s: %w", m.MemberID, gm.err)
			}
		}
		if gm.err != nil {
			b.log.Warn("assignor: member gets no tasks", "member", m.MemberID, "err", gm.err)
		}
		mb.members = append(mb.members, gm)
	}
	return mb, mb.topics, nil
}

type groupMember struct {
	id      string
	sub     SubscriptionInfo
	kgoRack string
	owned   []Partition
	err     error
}

// memberBalancer is one rebalance on the leader.
type memberBalancer struct {
	b       *Balancer
	members []groupMember
	topics  map[string]struct{}
	info    kgo.BalanceInfo
}

// Balance is never called: kgo calls BalanceOrError.
func (m *memberBalancer) Balance(topics map[string]int32) kgo.IntoSyncAssignment {
	plan, _ := m.BalanceOrError(topics)
	return plan
}

// SetBalanceInfo implements kgo.GroupMemberBalancerInfo.
func (m *memberBalancer) SetBalanceInfo(info kgo.BalanceInfo) { m.info = info }

// syncPlan is the leader's answer, built by hand: kgo's BalancePlan has no
// place for userdata.
type syncPlan []kmsg.SyncGroupRequestGroupAssignment

func (p syncPlan) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment { return p }

// BalanceOrError implements kgo.GroupMemberBalancerOrError. It returns an
// error only if it cannot even build the answer; everything else is reported
// to the members in their assignment userdata.
func (m *memberBalancer) BalanceOrError(topics map[string]int32) (kgo.IntoSyncAssignment, error) {
	b := m.b
	version := int32(CurrentVersion)
	for _, gm := range m.members {
		if gm.err == nil {
			version = min(version, gm.sub.LatestSupportedVersion)
		}
	}
	fail := func(code ErrorCode) kgo.IntoSyncAssignment {
		plan := make(syncPlan, 0, len(m.members))
		for _, gm := range m.members {
			plan = append(plan, memberAssignment(gm.id, nil, AssignmentInfo{Version: version, Error: code}))
		}
		return plan
	}
	if b.cfg.Topology == nil {
		b.log.Error("assignor: no Topology configured")
		return fail(ErrorIncompatibleTopology), nil
	}
	for _, gm := range m.members {
		if gm.err == nil && gm.sub.ShutdownRequested {
			b.log.Warn("assignor: member asks to shut the application down", "member", gm.id, "process", gm.sub.ProcessID)
			return fail(ErrorShutdownApplication), nil
		}
	}
	layout, err := b.cfg.Topology(topics)
	if err == nil {
		err = layout.validate()
	}
	if err != nil {
		b.log.Error("assignor: topology does not fit the topics", "err", err)
		return fail(ErrorIncompatibleTopology), nil
	}

	in := m.input(layout)
	if len(in.Processes) == 0 {
		b.log.Error("assignor: no member has readable userdata")
		return fail(ErrorAssignmentFailed), nil
	}
	out, err := Assign(in)
	if err != nil {
		b.log.Error("assignor: assignment failed", "err", err)
		return fail(ErrorAssignmentFailed), nil
	}

	// Partitions by host, for interactive queries.
	activeByHost := map[string]map[string][]int32{}
	standbyByHost := map[string]map[string][]int32{}
	endpoint := map[string]string{}
	for _, p := range in.Processes {
		endpoint[p.ID] = p.Endpoint
	}
	for _, pa := range out.Processes {
		if ep := endpoint[pa.ProcessID]; ep != "" {
			addHost(activeByHost, ep, layout, pa.Active)
			addHost(standbyByHost, ep, layout, pa.Standby)
		}
	}
	var probe time.Time
	if out.ProbingRebalanceNeeded {
		probe = b.cfg.Now().Add(b.cfg.ProbingRebalanceInterval)
	}
	hostBytes := encodeHosts(activeByHost, standbyByHost)
	// Cooperative: a partition still owned by another member is revoked
	// there first; its task goes to the new owner in the next rebalance.
	owner := map[Partition]string{}
	if b.cfg.Cooperative {
		for _, gm := range m.members {
			for _, p := range gm.owned {
				if _, ok := owner[p]; !ok {
					owner[p] = gm.id
				}
			}
		}
	}
	withheld := 0
	plan := make(syncPlan, 0, len(m.members))
	for _, gm := range m.members {
		ma := out.Member(gm.id)
		if gm.err != nil || ma == nil {
			plan = append(plan, memberAssignment(gm.id, nil, AssignmentInfo{Version: version, Error: ErrorAssignmentFailed}))
			continue
		}
		var parts []Partition
		var active []task.ID
	tasks:
		for _, id := range ma.Active {
			for _, p := range layout.Tasks[id] {
				if o, ok := owner[p]; ok && o != gm.id {
					withheld++
					continue tasks
				}
			}
			active = append(active, id)
			parts = append(parts, layout.Tasks[id]...)
		}
		info := AssignmentInfo{
			Version:              version,
			Active:               active,
			Standby:              ma.Standby,
			Warmup:               ma.Warmup,
			NextProbingRebalance: probe,
		}
		plan = append(plan, memberAssignmentHosts(gm.id, parts, info, hostBytes))
	}
	b.log.Info("assignor: assigned", "members", len(m.members), "processes", len(in.Processes), "tasks", len(in.Tasks),
		"probing", out.ProbingRebalanceNeeded, "version", version, "withheld", withheld)
	return plan, nil
}

// input builds the assignor input: members grouped by process.
func (m *memberBalancer) input(layout TaskLayout) Input {
	in := Input{Config: m.b.cfg.Assignor}
	byProc := map[string]int{}
	for _, gm := range m.members {
		if gm.err != nil {
			continue
		}
		s := gm.sub
		i, ok := byProc[s.ProcessID]
		if !ok {
			rack := s.Rack
			if rack == "" {
				rack = gm.kgoRack
			}
			i = len(in.Processes)
			byProc[s.ProcessID] = i
			in.Processes = append(in.Processes, Process{
				ID:         s.ProcessID,
				Rack:       rack,
				Tags:       s.Tags,
				Endpoint:   s.Endpoint,
				OffsetSums: map[task.ID]int64{},
			})
		}
		p := &in.Processes[i]
		p.Capacity++ // balance by the workers that joined
		p.PrevActive = append(p.PrevActive, s.PrevActive...)
		p.PrevStandby = append(p.PrevStandby, s.PrevStandby...)
		for id, sum := range s.OffsetSums {
			if old, ok := p.OffsetSums[id]; !ok || sum > old {
				p.OffsetSums[id] = sum
			}
		}
		in.Members = append(in.Members, Member{ID: gm.id, ProcessID: s.ProcessID, PrevActive: s.PrevActive, PrevStandby: s.PrevStandby})
	}
	for i := range in.Processes {
		p := &in.Processes[i]
		p.PrevActive = dedupIDs(p.PrevActive)
		p.PrevStandby = dedupIDs(p.PrevStandby)
	}
	racks := m.partitionRacks()
	for _, id := range slices.SortedFunc(maps.Keys(layout.Tasks), compareID) {
		end, stateful := layout.Stateful[id]
		in.Tasks = append(in.Tasks, Task{ID: id, Stateful: stateful, EndOffsetSum: end, Rack: taskRack(racks, layout.Tasks[id])})
	}
	return in
}

func dedupIDs(ids []task.ID) []task.ID {
	slices.SortFunc(ids, compareID)
	return slices.Compact(ids)
}

// partitionRacks maps topic partitions to the rack of their leader, from
// what kgo knows at balance time; nil when nothing is known.
func (m *memberBalancer) partitionRacks() map[Partition]string {
	if m.info.Topics == nil || m.info.Brokers == nil {
		return nil
	}
	brokers := m.info.Brokers()
	var out map[Partition]string
	for t, md := range m.info.Topics() {
		for _, p := range md.Partitions {
			if br, ok := brokers[p.Leader]; ok && br.Rack != nil && *br.Rack != "" {
				if out == nil {
					out = map[Partition]string{}
				}
				out[Partition{t, p.Partition}] = *br.Rack
			}
		}
	}
	return out
}

// taskRack is the rack most of the task's partitions lead in.
func taskRack(racks map[Partition]string, parts []Partition) string {
	if racks == nil {
		return ""
	}
	count := map[string]int{}
	for _, p := range parts {
		if r := racks[p]; r != "" {
			count[r]++
		}
	}
	best := ""
	for _, r := range slices.Sorted(maps.Keys(count)) {
		if best == "" || count[r] > count[best] {
			best = r
		}
	}
	return best
}

func addHost(m map[string]map[string][]int32, host string, layout TaskLayout, ids []task.ID) {
	for _, id := range ids {
		for _, p := range layout.Tasks[id] {
			if m[host] == nil {
				m[host] = map[string][]int32{}
			}
			m[host][p.Topic] = append(m[host][p.Topic], p.Partition)
		}
	}
}

func memberAssignment(member string, parts []Partition, info AssignmentInfo) kmsg.SyncGroupRequestGroupAssignment {
	return memberAssignmentHosts(member, parts, info, nil)
}

// memberAssignmentHosts builds one member's sync assignment with the hosts
// section payload given (encoded once for all members).
func memberAssignmentHosts(member string, parts []Partition, info AssignmentInfo, hosts []byte) kmsg.SyncGroupRequestGroupAssignment {
	slices.SortFunc(parts, func(a, b Partition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	ka := kmsg.NewConsumerMemberAssignment()
	ka.Version = 0
	for _, p := range parts {
		if n := len(ka.Topics); n == 0 || ka.Topics[n-1].Topic != p.Topic {
			t := kmsg.NewConsumerMemberAssignmentTopic()
			t.Topic = p.Topic
			ka.Topics = append(ka.Topics, t)
		}
		last := &ka.Topics[len(ka.Topics)-1]
		last.Partitions = append(last.Partitions, p.Partition)
	}
	ka.UserData = encodeAssignment(info, hosts)
	sa := kmsg.NewSyncGroupRequestGroupAssignment()
	sa.MemberID = member
	sa.MemberAssignment = ka.AppendTo(nil)
	return sa
}
