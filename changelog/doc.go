// Package changelog brings state stores up to date from their changelog
// topics: the Restorer takes a task's stores to the end of their changelogs on a client of its own, separate
// from the group members, so other tasks keep processing meanwhile.
//
// Changes reach the changelogs through the task's statestore.ChangeLogger,
// which package streams implements over the worker's producer; checkpoints
// (the changelog offset the local data corresponds to) live in the state
// engine, written in the same batch as the data (statestore.Manager.Commit).
package changelog
