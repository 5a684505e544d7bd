package statestore

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestPebbleCrashClone writes on the NoSync path, commits checkpoints with
// sync now and then, keeps writing, and "crashes" by cloning the file system
// with only synced data plus a random part of unsynced data. Reopened, the
// checkpoint must be at least the last committed one, and the data must hold
// every write the checkpoint covers.
func TestPebbleCrashClone(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			mem := vfs.NewCrashableMem()
			opts := PebbleOptions{Dir: "/state", ApplicationID: "app", CacheBytes: 1 << 20, MemTableBytes: 256 << 10, fs: mem}
			e, err := OpenPebble(opts)
			if err != nil {
				t.Fatal(err)
			}
			rs, _ := e.RawStore("0_2", "counts")
			tp := TopicPartition{"app-counts-changelog", 2}
			val := make([]byte, 100)
			committed := int64(0)
			n := 3000 + rng.IntN(2000)
			for i := 0; i < n; i++ {
				for j := range val {
					val[j] = byte(rng.Uint32())
				}
				if err := rs.Set([]byte(fmt.Sprintf("k%06d", i)), val); err != nil {
					t.Fatal(err)
				}
				if rng.IntN(500) == 0 {
					// The checkpoint says "writes 0..i are in".
					if err := rs.Write(nil, Checkpoint{tp: int64(i + 1)}, true); err != nil {
						t.Fatal(err)
					}
					committed = int64(i + 1)
				}
			}
			// A checkpoint written without sync may or may not survive.
			rs.Write(nil, Checkpoint{tp: int64(n)}, false)
			unsynced := rng.IntN(100)
			crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rng})
			e.Close()

			opts.fs = crashed
			e, err = OpenPebble(opts)
			if err != nil {
				t.Fatalf("reopen after crash: %v", err)
			}
			defer e.Close()
			rs, _ = e.RawStore("0_2", "counts")
			cp, err := rs.Checkpoint()
			if err != nil {
				t.Fatal(err)
			}
			got := cp[tp]
			if cnt, _ := rs.ApproximateCount(); got < committed {
				t.Logf("keys after crash: %d; files: %s", cnt, crashed.String())
			}
			if got < committed {
				t.Fatalf("checkpoint %d went back before the committed %d", got, committed)
			}
			for i := int64(0); i < got; i++ {
				if _, ok, err := rs.Get([]byte(fmt.Sprintf("k%06d", i))); err != nil || !ok {
					t.Fatalf("checkpoint %d but write %d lost (%v)", got, i, err)
				}
			}
			t.Logf("%d writes, committed %d, %d%% of unsynced data kept, recovered checkpoint %d", n, committed, unsynced, got)
		})
	}
}
