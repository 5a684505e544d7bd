package processor

import (
	"fmt"
	"time"
)

// schedule is one punctuator registered through Context.Schedule.
type schedule struct {
	node      string
	interval  int64 // ms
	fn        func(int64) error
	next      int64
	cancelled bool
}

func (s *schedule) Cancel() { s.cancelled = true }

// noSchedule is returned for a rejected Schedule call.
type noSchedule struct{}

func (noSchedule) Cancel() {}

func (g *TaskGraph) schedule(node string, interval time.Duration, typ PunctuationType, fn func(int64) error) Cancellable {
	ms := interval.Milliseconds()
	if ms < 1 || fn == nil {
		g.scheduleErr(fmt.Errorf("processor: node %q: punctuation interval must be at least 1ms and the function non-nil (got %v)", node, interval))
		return noSchedule{}
	}
	s := &schedule{node: node, interval: ms, fn: fn}
	switch typ {
	case StreamTime:
		// Aligned to 0: the first punctuation comes with the first record,
		// later ones at multiples of the interval.
		s.next = 0
		g.streamSchedules = append(g.streamSchedules, s)
	case WallClockTime:
		s.next = g.wallClock() + ms
		g.wallSchedules = append(g.wallSchedules, s)
	default:
		g.scheduleErr(fmt.Errorf("processor: node %q: unknown punctuation type %v", node, typ))
		return noSchedule{}
	}
	return s
}

func (g *TaskGraph) scheduleErr(err error) {
	if g.pendingErr == nil {
		g.pendingErr = err
	}
}

// PunctuateStreamTime fires the stream-time punctuators that are due at the
// task's current stream time and reports whether any fired. The task calls it
// after each record.
func (g *TaskGraph) PunctuateStreamTime() (bool, error) {
	st := g.streamTime()
	if st < 0 {
		return false, g.takeErr()
	}
	return g.punctuate(&g.streamSchedules, st)
}

// PunctuateWallClock fires the wall-clock punctuators that are due now.
func (g *TaskGraph) PunctuateWallClock() (bool, error) {
	return g.punctuate(&g.wallSchedules, g.wallClock())
}

// NextWallClock returns when the earliest wall-clock punctuator is due, in
// milliseconds, and false if none is scheduled.
func (g *TaskGraph) NextWallClock() (int64, bool) {
	var next int64
	found := false
	for _, s := range g.wallSchedules {
		if !s.cancelled && (!found || s.next < next) {
			next, found = s.next, true
		}
	}
	return next, found
}

func (g *TaskGraph) takeErr() error {
	err := g.pendingErr
	g.pendingErr = nil
	return err
}

// punctuate fires due schedules in order of their due time, each at most
// once, then moves each to its next due time after now, skipping the
// intervals it missed.
func (g *TaskGraph) punctuate(list *[]*schedule, now int64) (bool, error) {
	if err := g.takeErr(); err != nil {
		return false, err
	}
	fired := false
	for {
		var due *schedule
		for _, s := range *list {
			if !s.cancelled && s.next <= now && (due == nil || s.next < due.next) {
				due = s
			}
		}
		if due == nil {
			break
		}
		missed := (now - due.next) / due.interval
		due.next += (missed + 1) * due.interval
		fired = true
		if err := due.fn(now); err != nil {
			return true, &NodeError{Node: due.node, Op: "punctuate", Err: err}
		}
		if err := g.takeErr(); err != nil {
			return true, err
		}
	}
	// Drop cancelled schedules so the lists do not grow.
	kept := (*list)[:0]
	for _, s := range *list {
		if !s.cancelled {
			kept = append(kept, s)
		}
	}
	clear((*list)[len(kept):])
	*list = kept
	return fired, nil
}
