package streams

import "strconv"

// State is the lifecycle state of an App, as in Kafka Streams:
//
//	CREATED -> REBALANCING | PENDING_SHUTDOWN
//	REBALANCING -> RUNNING | PENDING_SHUTDOWN | PENDING_ERROR
//	RUNNING -> REBALANCING | PENDING_SHUTDOWN | PENDING_ERROR
//	PENDING_SHUTDOWN -> NOT_RUNNING
//	PENDING_ERROR -> ERROR
type State int8

const (
	Created State = iota
	Rebalancing
	Running
	PendingShutdown
	NotRunning
	PendingError
	Error
)

var stateNames = [...]string{"CREATED", "REBALANCING", "RUNNING", "PENDING_SHUTDOWN", "NOT_RUNNING", "PENDING_ERROR", "ERROR"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// validTransition reports whether Kafka Streams allows old -> new.
func validTransition(old, new State) bool {
	switch old {
	case Created:
		return new == Rebalancing || new == PendingShutdown
	case Rebalancing:
		return new == Running || new == PendingShutdown || new == PendingError
	case Running:
		return new == Rebalancing || new == PendingShutdown || new == PendingError
	case PendingShutdown:
		return new == NotRunning
	case PendingError:
		return new == Error
	}
	return false
}

// IsRunningOrRebalancing reports whether the App is processing or about to.
func (s State) IsRunningOrRebalancing() bool { return s == Running || s == Rebalancing }
