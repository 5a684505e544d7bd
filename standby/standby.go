// Package standby keeps standby and warmup tasks: local copies of other
// instances' task state, kept current by tailing the tasks' changelogs on the
// instance's restore client. A standby that becomes active has only the
// changelog tail it had not applied yet to restore, not the whole store.
//
// The Set is process-wide: every worker's assignment contributes the standby
// tasks of its member, and a task that becomes active anywhere in the process
// is released first, so the active task and its standby never write the same
// state at once.
package standby

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/sluicestreams/sluice/changelog"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/task"
)

// Opener opens the stores of a task for a standby (no change logging, no
// staging).
type Opener func(id task.ID) (*statestore.Manager, error)

// Set is the standby tasks of one instance. It is safe for concurrent use.
type Set struct {
	restorer *changelog.Restorer
	appID    string
	open     Opener
	log      *slog.Logger

	mu    sync.Mutex
	tasks map[task.ID]*entry
}

type entry struct {
	owner int // the worker whose assignment holds it
	mgr   *statestore.Manager
	job   *changelog.Job
}

// New returns an empty Set restoring through r.
func New(r *changelog.Restorer, applicationID string, open Opener, log *slog.Logger) *Set {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Set{restorer: r, appID: applicationID, open: open, log: log, tasks: map[task.ID]*entry{}}
}

// Sync makes worker owner's standby tasks exactly want: tasks it no longer
// has are released, new ones start tailing their changelogs from their local
// checkpoints.
func (s *Set) Sync(ctx context.Context, owner int, want []task.ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range s.tasks {
		if e.owner == owner && !slices.Contains(want, id) {
			s.releaseLocked(id, "no longer assigned")
		}
	}
	for _, id := range want {
		if e, ok := s.tasks[id]; ok {
			e.owner = owner
			continue
		}
		mgr, err := s.open(id)
		if err != nil {
			return fmt.Errorf("standby: opening task %s: %w", id, err)
		}
		if mgr == nil {
			continue // no state to keep
		}
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		job, err := s.restorer.Prepare(pctx, id.String(), id.Partition, s.appID, mgr)
		cancel()
		if err != nil {
			_ = mgr.Close()
			return fmt.Errorf("standby: task %s: %w", id, err)
		}
		if len(job.Stores) == 0 {
			_ = mgr.Close()
			continue
		}
		job.Standby = true
		s.restorer.Add(job)
		s.tasks[id] = &entry{owner: owner, mgr: mgr, job: job}
		s.log.Info("standby task started", "task", id.String())
	}
	return nil
}

// Release stops the standby of id, if this instance keeps one: the task is
// becoming active here. Its state stays on disk with its checkpoint.
func (s *Set) Release(id task.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(id, "promoted to active")
}

func (s *Set) releaseLocked(id task.ID, why string) {
	e, ok := s.tasks[id]
	if !ok {
		return
	}
	s.restorer.Cancel(e.job)
	if err := e.mgr.Close(); err != nil {
		s.log.Warn("closing a standby task", "task", id.String(), "err", err)
	}
	delete(s.tasks, id)
	s.log.Info("standby task stopped", "task", id.String(), "reason", why, "applied", e.job.Restored())
}

// ReleaseOwner stops every standby of worker owner, which is closing.
func (s *Set) ReleaseOwner(owner int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range s.tasks {
		if e.owner == owner {
			s.releaseLocked(id, "worker closing")
		}
	}
}

// Tasks returns the standby tasks, sorted.
func (s *Set) Tasks() []task.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]task.ID, 0, len(s.tasks))
	for id := range s.tasks {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b task.ID) int {
		if a.Less(b) {
			return -1
		}
		if b.Less(a) {
			return 1
		}
		return 0
	})
	return out
}

// Close releases every standby.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.tasks {
		s.releaseLocked(id, "shutting down")
	}
}
