package harness

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/internal/kafkatest"
)

// requireEOSTest skips the system tests unless asked for: they take minutes
// and the three-broker cluster (make test-eos sets EOS_TEST=1 and starts
// the cluster).
func requireEOSTest(t *testing.T) *kafkatest.Env {
	t.Helper()
	if testing.Short() {
		t.Skip("harness: the EOS system test does not run under -short")
	}
	if os.Getenv("EOS_TEST") == "" {
		t.Skip("harness: set EOS_TEST=1 to run the EOS system test (make test-eos)")
	}
	return kafkatest.FaultCluster(t)
}

// TestEOS is the system test of exactly-once processing (issue 6): kill -9s
// of instances, a clean scale-out and scale-in, a broker bounce, then the
// verifier must find every output exactly right. EOS_GUARANTEE=at_least_once
// runs the same schedule without transactions (and is expected to fail).
func TestEOS(t *testing.T) {
	env := requireEOSTest(t)
	guarantee := os.Getenv("EOS_GUARANTEE")
	if guarantee == "" {
		guarantee = "exactly_once_v2"
	}
	run := New(t, env, ConfigFromEnv(t, guarantee))
	out := run.Execute()
	t.Logf("EOS run %s: %d kills, %d clean stops, %d added, broker bounced %d; driver acked %d; verifier exit %d; restores: %s",
		guarantee, out.Kills, out.CleanStops, out.Adds, out.BrokerBounced, out.DriverAcked, out.VerifierExit, out.Restores)
	for _, u := range out.Unexpected {
		t.Errorf("harness: %s", u)
	}
	if out.VerifierExit != 0 || !strings.Contains(out.VerifierOutput, "ALL-RECORDS-DELIVERED") {
		t.Errorf("verifier failed (exit %d) for %s; logs in %s (harness.log, app-*/app.log, verifier.log):\n%s",
			out.VerifierExit, guarantee, out.Dir, out.VerifierOutput)
	}
	// After a kill -9 an instance keeps its state and checkpoint, so it
	// restores only the changelog tail written since (no wipe).
	rs := out.Restores
	switch {
	case out.Kills == 0:
	case rs.FromCheckpoint == 0:
		t.Errorf("after %d kills no store restoration started from a checkpoint (all read their whole changelog): %s", out.Kills, rs)
	case rs.CheckpointRestore >= rs.CheckpointLen:
		t.Errorf("restorations from a checkpoint restored %d records of changelogs %d long; a checkpoint should leave only the tail", rs.CheckpointRestore, rs.CheckpointLen)
	}
	// Under exactly_once_v2 local state is transactional: a crash never
	// calls for wiping it (issue 6, "No wipe").
	if guarantee == "exactly_once_v2" && rs.Wipes > 0 {
		t.Errorf("the runtime wiped local state %d times (\"restoring the task from scratch\" in the instance logs under %s)", rs.Wipes, out.Dir)
	}
}

var duplicates = regexp.MustCompile(`duplicate=(\d+)`)

// TestEOSVerifierCatchesAtLeastOnce proves the verifier can fail: the app
// under at_least_once, with kill -9s landing between commits, reprocesses
// records after each restart and writes their outputs again; the verifier
// must report duplicates and exit 1.
func TestEOSVerifierCatchesAtLeastOnce(t *testing.T) {
	env := requireEOSTest(t)
	cfg := ConfigFromEnv(t, "at_least_once")
	cfg.Duration = envDuration(t, "EOS_ALOS_DURATION", 75*time.Second)
	cfg.ScaleOut, cfg.RemoveOne, cfg.BounceBroker = false, false, false
	out := New(t, env, cfg).Execute()
	for _, u := range out.Unexpected {
		t.Errorf("harness: %s", u)
	}
	if out.Kills == 0 {
		t.Fatalf("no instance was killed in %s; nothing tested", cfg.Duration)
	}
	switch out.VerifierExit {
	case 0:
		t.Fatalf("the verifier passed an at_least_once run with %d kills; it should have found the reprocessed records:\n%s", out.Kills, out.VerifierOutput)
	case 1:
	default:
		t.Fatalf("the verifier could not verify (exit %d):\n%s", out.VerifierExit, out.VerifierOutput)
	}
	m := duplicates.FindStringSubmatch(out.VerifierOutput)
	if m == nil {
		t.Fatalf("the verifier output has no duplicate count:\n%s", out.VerifierOutput)
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Errorf("the verifier failed the at_least_once run but reported no duplicates:\n%s", out.VerifierOutput)
	}
	t.Logf("as expected, the verifier caught at_least_once after %d kills: %s", out.Kills, m[0])
}

func TestParseRestores(t *testing.T) {
	log := strings.Join([]string{
		`time=2026-01-01T00:00:00Z level=INFO msg="eos-app starting" app_id=x`,
		// A first start: empty changelogs are not restorations.
		`time=... level=INFO msg="eos restore" task=0_1 store=sum topic=x-sum-changelog partition=1 from=-1 end=0 restored=0 took=1ms`,
		// A task new to the instance: the whole changelog.
		`time=... level=INFO msg="eos restore" task=0_2 store=min topic=x-min-changelog partition=2 from=-1 end=500 restored=500 took=20ms`,
		// After a kill: only the tail since the checkpoint.
		`time=... level=INFO msg="eos restore" task=1_3 store=count topic=x-count-changelog partition=3 from=900 end=1000 restored=100 took=5ms`,
		`time=... level=INFO msg="task restored" worker=0 task=1_3 records=100`,
		`time=... level=INFO msg="task restored" worker=0 task=0_2 records=500`,
		`time=... level=WARN msg="checkpoint is beyond the changelog end (was the changelog recreated?); restoring the task from scratch" task=0_0 store=min checkpoint=3139 end=2976`,
		`time=... level=INFO msg="eos restore start" task=0_2 store=min topic=x-min-changelog partition=2 from=-1 end=500 hwm=501`,
		`time=... level=INFO msg="eos restore start" task=0_3 store=min topic=x-min-changelog partition=3 from=-1 end=500 hwm=640`,
		`garbage line`,
	}, "\n")
	var s RestoreStats
	parseRestores(&s, []byte(log))
	want := RestoreStats{Restorations: 2, FromCheckpoint: 1, Restored: 600, ChangelogLen: 1500,
		CheckpointRestore: 100, CheckpointLen: 1000, TaskRestoredLines: 2, TaskRestoredRecs: 600, Wipes: 1, BelowHWM: 1}
	if s != want {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

func TestDriverCounts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "driver.log")
	if err := os.WriteFile(p, []byte("driver: producing\nDRIVER-DONE acked=1234 failed=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if a, f := driverCounts(p); a != 1234 || f != 0 {
		t.Errorf("driverCounts = %d, %d", a, f)
	}
	if a, _ := driverCounts(filepath.Join(t.TempDir(), "none")); a != -1 {
		t.Errorf("a missing log gave acked %d, want -1", a)
	}
}

func TestLastError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "app.log")
	log := "level=INFO msg=a\nlevel=ERROR msg=\"first\"\nlevel=INFO msg=b\nlevel=ERROR msg=\"worker failed\" err=boom\nlevel=INFO msg=c\n"
	if err := os.WriteFile(p, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := lastError(p), `: level=ERROR msg="worker failed" err=boom`; got != want {
		t.Errorf("lastError = %q, want %q", got, want)
	}
	if got := lastError(filepath.Join(t.TempDir(), "none")); got != "" {
		t.Errorf("lastError of a missing log = %q", got)
	}
}
