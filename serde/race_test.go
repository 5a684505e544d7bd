//go:build race

package serde_test

// raceEnabled reports whether the race detector is on; it adds allocations
// of its own, so allocation counts are checked only without it.
const raceEnabled = true
