// Package changelog connects state stores to their changelog topics: the
// topic settings each store needs, and the Restorer that brings a task's
// stores up to the end of their changelogs on a client of its own, separate
// from the group members, so other tasks keep processing meanwhile.
//
// Changes reach the changelogs through the task's statestore.ChangeLogger,
// which package streams implements over the worker's producer; checkpoints
// (the changelog offset the local data corresponds to) live in the state
// engine, written in the same batch as the data (statestore.Manager.Commit).
package changelog
