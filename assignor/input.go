package assignor

import (
	"errors"

	"github.com/sluicestreams/sluice/task"
)

// Defaults applied by Config when a field is zero.
const (
	// DefaultAcceptableRecoveryLag is Kafka Streams' acceptable.recovery.lag.
	DefaultAcceptableRecoveryLag = 10000
	// DefaultMaxWarmupReplicas is Kafka Streams' max.warmup.replicas.
	DefaultMaxWarmupReplicas = 2
	// ZeroRecoveryLag, set as Config.AcceptableRecoveryLag, means only a
	// process whose local state is fully caught up (or the previous active
	// owner) counts as caught up. Zero cannot say that: it means the default.
	ZeroRecoveryLag = -1
)

// ErrBadInput is wrapped by every error Assign returns: the input names a
// process or task twice, a member names an unknown process, or a process's
// capacity disagrees with its members.
var ErrBadInput = errors.New("assignor: bad input")

// Config holds the assignment settings of the application. Zero values mean
// the defaults given on each field.
type Config struct {
	// NumStandbyReplicas is num.standby.replicas: how many standby copies
	// of every stateful task to keep on other processes. Default 0.
	NumStandbyReplicas int
	// AcceptableRecoveryLag is acceptable.recovery.lag: a process whose
	// local state of a task lags the changelog end by at most this many
	// offsets is caught up and may take the task active at once. Zero
	// means DefaultAcceptableRecoveryLag; ZeroRecoveryLag means 0.
	AcceptableRecoveryLag int64
	// MaxWarmupReplicas is max.warmup.replicas: how many warmup replicas
	// (extra standbys on the balanced owner of a task that stays on a
	// caught-up process meanwhile) may exist in the whole group at once.
	// Zero means DefaultMaxWarmupReplicas.
	MaxWarmupReplicas int
	// RackAwareTags is rack.aware.assignment.tags: the client tag keys
	// along which standbys are spread. Empty means the processes' Rack is
	// the one dimension.
	RackAwareTags []string
}

func (c Config) recoveryLag() int64 {
	switch {
	case c.AcceptableRecoveryLag == 0:
		return DefaultAcceptableRecoveryLag
	case c.AcceptableRecoveryLag < 0:
		return 0
	}
	return c.AcceptableRecoveryLag
}

func (c Config) maxWarmups() int {
	if c.MaxWarmupReplicas <= 0 {
		return DefaultMaxWarmupReplicas
	}
	return c.MaxWarmupReplicas
}

// Process is one application instance (Kafka Streams: a client): a process
// id shared by all of its workers.
type Process struct {
	// ID is the process id; unique in the group.
	ID string
	// Capacity is the number of workers (group members) of the process,
	// the weight by which tasks are balanced. Zero means the number of
	// Members naming this process, or 1 if none do.
	Capacity int
	// Rack is the rack of the process (client.rack). Actives prefer
	// processes in their task's rack; without RackAwareTags standbys
	// are spread across racks.
	Rack string
	// Tags are the client tags (client.tag.*) used by RackAwareTags.
	Tags map[string]string
	// Endpoint is application.server, "host:port"; informational here.
	Endpoint string
	// PrevActive and PrevStandby are the tasks the process ran active or
	// standby (warmups included) in the previous generation.
	PrevActive  []task.ID
	PrevStandby []task.ID
	// OffsetSums holds, for every task with state on the process's disk,
	// the sum of the changelog offsets of that state. A task absent here
	// has unknown lag, which is never caught up (unless the process was
	// its previous active owner). Negative sums count as unknown.
	OffsetSums map[task.ID]int64
}

// Member is one worker of a process: one member of the consumer group.
type Member struct {
	// ID is the group member id; unique in the group.
	ID string
	// ProcessID names the process the worker belongs to.
	ProcessID string
	// PrevActive and PrevStandby are the tasks this worker held before, so
	// that the split over workers is sticky as well.
	PrevActive  []task.ID
	PrevStandby []task.ID
}

// Task is one task to assign.
type Task struct {
	ID task.ID
	// Stateful tasks have changelogged state; they get standbys and are
	// only moved to a process that is caught up, or via a warmup.
	Stateful bool
	// EndOffsetSum is the sum of the end offsets of the task's changelog
	// partitions; used with Process.OffsetSums to compute lag.
	EndOffsetSum int64
	// Rack is the preferred rack for the active (the rack of the leader of
	// the task's source partitions); "" for none.
	Rack string
}

// Input is everything Assign looks at.
type Input struct {
	Processes []Process
	// Members are optional; when given, the tasks of each process are split
	// over its members in Assignment.Members.
	Members []Member
	Tasks   []Task
	Config  Config
}

// Assignment is the result of Assign. All slices are sorted: processes and
// members by id, tasks by task.ID.Less.
type Assignment struct {
	Processes []ProcessAssignment
	Members   []MemberAssignment
	// ProbingRebalanceNeeded says that some task stays on a caught-up
	// process while its balanced owner warms up (or waits for a warmup
	// slot): the group should rebalance again after
	// probing.rebalance.interval.ms to finish the move.
	ProbingRebalanceNeeded bool
}

// ProcessAssignment holds the tasks of one process.
type ProcessAssignment struct {
	ProcessID string
	Active    []task.ID
	Standby   []task.ID
	// Warmup tasks are restored like standbys on the process that is
	// the task's balanced owner, until it is caught up and can take over.
	Warmup []task.ID
}

// MemberAssignment holds the tasks of one worker.
type MemberAssignment struct {
	MemberID  string
	ProcessID string
	Active    []task.ID
	Standby   []task.ID
	Warmup    []task.ID
}

// Process returns the assignment of the process with the given id, or nil.
func (a *Assignment) Process(id string) *ProcessAssignment {
	for i := range a.Processes {
		if a.Processes[i].ProcessID == id {
			return &a.Processes[i]
		}
	}
	return nil
}

// Member returns the assignment of the member with the given id, or nil.
func (a *Assignment) Member(id string) *MemberAssignment {
	for i := range a.Members {
		if a.Members[i].MemberID == id {
			return &a.Members[i]
		}
	}
	return nil
}
