package statestore

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestEncodingsGolden pins the byte layouts that outlive a process: pebble
// keys, window and session keys, changelog keys, timestamped values and
// checkpoints. A change here is a format change: existing state dirs and
// changelog topics would no longer be read correctly.
func TestEncodingsGolden(t *testing.T) {
	var b strings.Builder
	line := func(name string, v []byte) { fmt.Fprintf(&b, "%-32s %s\n", name, hex.EncodeToString(v)) }
	line("task prefix 0_3", appendTaskPrefix(nil, "0_3"))
	line("data prefix 0_3/counts", appendStorePrefix(nil, "0_3", kindData, "counts"))
	line("checkpoint key 0_3/counts", appendStorePrefix(nil, "0_3", kindCheckpoint, "counts"))
	line("escaped a\\x00b", appendEscaped(nil, []byte("a\x00b")))
	line("window seg 2 key k start 1000", appendWindowKey(nil, 2, []byte("k"), 1000))
	line("window seg -1 key '' start -5", appendWindowKey(nil, -1, nil, -5))
	line("session seg 0 k end 20 start 10", appendSessionKey(nil, 0, []byte("k"), 20, 10))
	line("window log key k 1000", appendWindowLogKey(nil, []byte("k"), 1000))
	line("session log key k 20 10", appendSessionLogKey(nil, []byte("k"), 20, 10))
	line("timestamped 7 'v'", appendTimestamped(nil, 7, []byte("v")))
	line("checkpoint", encodeCheckpoint(Checkpoint{{"app-counts-changelog", 3}: 1001, {"a", 0}: -1}))
	got := b.String()
	path := filepath.Join("testdata", "encodings.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("encodings changed (run with -update if intended):\n--- got\n%s--- want\n%s", got, want)
	}
}
