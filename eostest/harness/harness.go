// Package harness runs the EOS system test (see package eostest): it builds
// the driver, app and verifier, starts them as OS processes against the
// three-broker fault cluster, injects the faults, drains, and verifies.
// The tests in this package are the entry points (make test-eos).
package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/eostest/eosapp"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config is one run's shape. ConfigFromEnv fills it from EOS_* variables.
type Config struct {
	Guarantee      string        // at_least_once or exactly_once_v2
	Duration       time.Duration // of the fault phase (EOS_DURATION)
	KillEvery      time.Duration // time between fault rounds (EOS_KILL_EVERY)
	Instances      int           // app instances at start (3)
	Rate           int           // driver records/s (EOS_RATE)
	Keys           int           // distinct keys (EOS_KEYS)
	CommitInterval time.Duration // app commit interval (EOS_COMMIT_INTERVAL)
	SessionTimeout time.Duration // app group session timeout (EOS_SESSION_TIMEOUT)
	Standbys       int           // num.standby.replicas of the apps (EOS_STANDBYS, default 0)
	RecoveryLag    int64         // acceptable.recovery.lag of the apps; 0 keeps the runtime's default
	DrainTimeout   time.Duration // bound on waiting for the apps to catch up (EOS_DRAIN_TIMEOUT)
	ScaleOut       bool          // add an instance in round 2
	RemoveOne      bool          // stop one instance cleanly in round 4
	BounceBroker   bool          // kill -9 and restart an input partition's leader once
	Race           bool          // build the binaries with -race (EOS_RACE=1)
	Seed           uint64        // of the harness's choices (EOS_SEED)
}

// ConfigFromEnv returns the full fault schedule for guarantee, with the
// defaults overridden by EOS_* environment variables.
func ConfigFromEnv(t testing.TB, guarantee string) Config {
	t.Helper()
	c := Config{
		Guarantee:      guarantee,
		Duration:       envDuration(t, "EOS_DURATION", 3*time.Minute),
		KillEvery:      envDuration(t, "EOS_KILL_EVERY", 10*time.Second),
		Instances:      3,
		Rate:           envInt(t, "EOS_RATE", 300),
		Keys:           envInt(t, "EOS_KEYS", 20000),
		CommitInterval: envDuration(t, "EOS_COMMIT_INTERVAL", 3*time.Second),
		SessionTimeout: envDuration(t, "EOS_SESSION_TIMEOUT", 10*time.Second),
		Standbys:       envCount(t, "EOS_STANDBYS", 0),
		DrainTimeout:   envDuration(t, "EOS_DRAIN_TIMEOUT", 10*time.Minute),
		ScaleOut:       true,
		RemoveOne:      true,
		BounceBroker:   true,
		Race:           os.Getenv("EOS_RACE") == "1",
		Seed:           uint64(envInt(t, "EOS_SEED", int(time.Now().UnixNano()%1e9))),
	}
	return c
}

func envDuration(t testing.TB, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("harness: %s=%q is not a positive duration", name, s)
	}
	return d
}

func envCount(t testing.TB, name string, def int) int {
	if os.Getenv(name) == "0" {
		return 0
	}
	return envInt(t, name, def)
}

func envInt(t testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("harness: %s=%q is not a positive integer", name, s)
	}
	return n
}

// Outcome is what a run found.
type Outcome struct {
	Dir            string // work dir with the logs
	DriverAcked    int64
	VerifierExit   int
	VerifierOutput string
	Kills          int
	CleanStops     int
	Adds           int
	BrokerBounced  int32 // node id, 0 if none
	Unexpected     []string
	Restores       RestoreStats
}

// Run is one run in progress. Its methods are called from the test's
// goroutine, except the process watchers, which only touch state under mu.
type Run struct {
	t       testing.TB
	cfg     Config
	env     *kafkatest.Env
	brokers []string
	root    string
	dir     string
	bin     string
	appID   string
	topics  eosapp.Topics
	rng     *rand.Rand
	start   time.Time

	mu         sync.Mutex
	slots      []*slot
	unexpected []string
	events     *os.File
	out        Outcome
}

type slot struct {
	n        int
	stateDir string
	logPath  string
	want     bool // the harness means it to be running
	proc     *proc
	starts   int
}

type proc struct {
	cmd      *exec.Cmd
	done     chan struct{}
	err      error // after done
	intended bool  // the harness stopped it (under Run.mu)
}

// New prepares a run: the work dir under eostest/work, the binaries, and
// the topics.
func New(t testing.TB, env *kafkatest.Env, cfg Config) *Run {
	t.Helper()
	root, err := kafkatest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	short := map[string]string{"exactly_once_v2": "eos", "at_least_once": "alos"}[cfg.Guarantee]
	if short == "" {
		short = cfg.Guarantee
	}
	appID := fmt.Sprintf("eos-%s-%s-%04d", stamp, short, cfg.Seed%10000)
	r := &Run{
		t: t, cfg: cfg, env: env, brokers: env.Brokers(), root: root,
		dir:   filepath.Join(root, "eostest", "work", appID),
		appID: appID, topics: eosapp.NewTopics(appID + "-"),
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
	}
	r.out.Dir = r.dir
	if err := os.MkdirAll(filepath.Join(r.dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r.events, err = os.Create(filepath.Join(r.dir, "harness.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.events.Close() })
	r.logf("run %s: guarantee %s, duration %s, a fault every %s, rate %d/s, %d keys, commit interval %s, session timeout %s, %d standbys, seed %d, brokers %s",
		appID, cfg.Guarantee, cfg.Duration, cfg.KillEvery, cfg.Rate, cfg.Keys, cfg.CommitInterval, cfg.SessionTimeout, cfg.Standbys, cfg.Seed, strings.Join(r.brokers, ","))
	r.build()
	r.createTopics()
	return r
}

// logf logs to the test and to harness.log, with the time since start.
func (r *Run) logf(format string, args ...any) {
	r.t.Helper()
	msg := fmt.Sprintf(format, args...)
	line := fmt.Sprintf("%s %s", time.Now().UTC().Format("15:04:05.000"), msg)
	r.t.Log(msg)
	r.mu.Lock()
	fmt.Fprintln(r.events, line)
	r.mu.Unlock()
}

func (r *Run) build() {
	r.t.Helper()
	args := []string{"build", "-o", filepath.Join(r.dir, "bin") + "/"}
	if r.cfg.Race {
		args = append(args, "-race")
	}
	args = append(args, "./eostest/cmd/app", "./eostest/cmd/driver", "./eostest/cmd/verifier")
	cmd := exec.Command("go", args...)
	cmd.Dir = r.root
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("harness: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	r.bin = filepath.Join(r.dir, "bin")
	r.logf("built app, driver, verifier in %s (race %v)", time.Since(start).Round(time.Millisecond), r.cfg.Race)
}

const opTimeout = 2 * time.Minute

func (r *Run) admin() (*kadm.Client, func()) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...))
	if err != nil {
		r.t.Fatalf("harness: client: %v", err)
	}
	return kadm.NewClient(cl), cl.Close
}

// createTopics makes the input (5 partitions, replication 3, min ISR 2) and
// the output topics, and deletes every topic of the run at cleanup when the
// test passed (a failed run's topics are kept for inspection).
func (r *Run) createTopics() {
	r.t.Helper()
	adm, done := r.admin()
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	minISR := "2"
	cfgs := map[string]*string{"min.insync.replicas": &minISR}
	names := []string{r.topics.Input}
	for _, name := range []string{"echo", "sum", "min", "count", "max"} {
		names = append(names, r.topics.Outputs()[name])
	}
	resp, err := adm.CreateTopics(ctx, 5, r.env.ReplicationFactor(), cfgs, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		r.t.Fatalf("harness: create topics %v: %v", names, err)
	}
	kafkatest.WaitFor(r.t, opTimeout, func() error {
		offs, err := adm.ListEndOffsets(ctx, names...)
		if err == nil {
			err = offs.Error()
		}
		return err
	})
	r.logf("created topics %s (5 partitions, replication %d, min.insync.replicas 2)", strings.Join(names, ", "), r.env.ReplicationFactor())
	r.t.Cleanup(func() {
		if r.t.Failed() {
			r.logf("keeping the run's topics (prefix %s-) and %s for inspection", r.appID, r.dir)
			return
		}
		adm, done := r.admin()
		defer done()
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		all, err := adm.ListTopics(ctx)
		if err != nil {
			r.t.Logf("harness: list topics for cleanup: %v", err)
			return
		}
		var mine []string
		for _, name := range all.Names() {
			if strings.HasPrefix(name, r.appID+"-") {
				mine = append(mine, name)
			}
		}
		if _, err := adm.DeleteTopics(ctx, mine...); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			r.t.Logf("harness: delete topics: %v", err)
		}
		for _, s := range r.slots {
			os.RemoveAll(s.stateDir)
		}
	})
}

// startProc starts a binary with its output appended to logPath.
func (r *Run) startProc(name, logPath string, args ...string) *proc {
	r.t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatalf("harness: %v", err)
	}
	fmt.Fprintf(f, "=== harness: starting %s %s at %s\n", name, strings.Join(args, " "), time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(filepath.Join(r.bin, name), args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		r.t.Fatalf("harness: start %s: %v", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	// Whatever happens to the test, no process outlives it.
	r.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stopProc sends sig and waits up to timeout for the process to exit,
// then kills it. It reports whether it exited within the timeout.
func (r *Run) stopProc(p *proc, sig syscall.Signal, timeout time.Duration) bool {
	r.mu.Lock()
	p.intended = true
	r.mu.Unlock()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
	}
	if sig != syscall.SIGKILL {
		// A Go program dumps every goroutine's stack to its log on
		// SIGQUIT: the record of where it hung.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
			return false
		case <-time.After(10 * time.Second):
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return false
}

// lastError quotes the last ERROR line of an instance log, if any.
func lastError(path string) string {
	data, _ := os.ReadFile(path)
	i := bytes.LastIndex(data, []byte("level=ERROR"))
	if i < 0 {
		return ""
	}
	line := data[i:]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	const maxLen = 400
	if len(line) > maxLen {
		line = append(line[:maxLen:maxLen], "..."...)
	}
	return fmt.Sprintf(": %s", line)
}

func exitDesc(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// --- app instances ---

func (r *Run) slot(n int) *slot {
	for len(r.slots) <= n {
		i := len(r.slots)
		d := filepath.Join(r.dir, fmt.Sprintf("app-%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			r.t.Fatal(err)
		}
		r.slots = append(r.slots, &slot{n: i, stateDir: filepath.Join(d, "state"), logPath: filepath.Join(d, "app.log")})
	}
	return r.slots[n]
}

// startApp starts instance n (again) on its own state dir and process id.
func (r *Run) startApp(n int) {
	r.t.Helper()
	s := r.slot(n)
	s.starts++
	s.want = true
	s.proc = r.startProc("app", s.logPath,
		"-brokers", strings.Join(r.brokers, ","),
		"-app-id", r.appID,
		"-topic-prefix", r.appID+"-",
		"-guarantee", r.cfg.Guarantee,
		"-commit-interval", r.cfg.CommitInterval.String(),
		"-session-timeout", r.cfg.SessionTimeout.String(),
		"-state-dir", s.stateDir,
		"-process-id", fmt.Sprintf("p%d", n),
		"-num-standby", strconv.Itoa(r.cfg.Standbys),
		"-acceptable-recovery-lag", strconv.FormatInt(r.cfg.RecoveryLag, 10),
	)
	r.logf("instance %d started (start #%d, pid %d, log %s)", n, s.starts, s.proc.cmd.Process.Pid, s.logPath)
}

// waitStarted waits until the instance's latest start has logged a state
// change (its Start returned: topics checked and created).
func (r *Run) waitStarted(s *slot, timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(s.logPath)
		if i := bytes.LastIndex(data, []byte("=== harness: starting")); i >= 0 && bytes.Contains(data[i:], []byte(`msg="eos-app state"`)) {
			return
		}
		if exited(s.proc) || time.Now().After(deadline) {
			r.t.Fatalf("harness: instance %d did not start (%s); see %s", s.n, map[bool]string{true: "it exited", false: "timed out after " + timeout.String()}[exited(s.proc)], s.logPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// running returns the instances that are meant to run and do.
func (r *Run) running() []*slot {
	var out []*slot
	for _, s := range r.slots {
		if s.want && s.proc != nil && !exited(s.proc) {
			out = append(out, s)
		}
	}
	return out
}

func exited(p *proc) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// checkExits records instances that stopped without being told to and
// restarts them.
func (r *Run) checkExits() {
	r.t.Helper()
	for _, s := range r.slots {
		if !s.want || s.proc == nil || !exited(s.proc) {
			continue
		}
		r.mu.Lock()
		intended := s.proc.intended
		r.mu.Unlock()
		if intended {
			continue
		}
		msg := fmt.Sprintf("instance %d exited by itself (%s)%s; see %s", s.n, exitDesc(s.proc.err), lastError(s.logPath), s.logPath)
		r.addUnexpected(msg)
		r.logf("%s; restarting it", msg)
		r.startApp(s.n)
	}
}

func (r *Run) addUnexpected(msg string) {
	r.mu.Lock()
	r.unexpected = append(r.unexpected, msg)
	r.mu.Unlock()
}

func (r *Run) kill(s *slot) {
	r.t.Helper()
	r.stopProc(s.proc, syscall.SIGKILL, time.Minute)
	r.out.Kills++
	r.logf("instance %d killed with SIGKILL (pid %d)", s.n, s.proc.cmd.Process.Pid)
}

// stopClean sends SIGTERM and waits for a graceful close.
func (r *Run) stopClean(s *slot, why string) {
	r.t.Helper()
	s.want = false
	start := time.Now()
	ok := r.stopProc(s.proc, syscall.SIGTERM, 2*time.Minute)
	switch {
	case !ok:
		msg := fmt.Sprintf("instance %d did not close within 2m of SIGTERM (%s); killed (goroutine dump from SIGQUIT in its log); see %s", s.n, why, s.logPath)
		r.addUnexpected(msg)
		r.logf("%s", msg)
	case s.proc.err != nil:
		msg := fmt.Sprintf("instance %d closed with an error after SIGTERM (%s): %s%s; see %s", s.n, why, exitDesc(s.proc.err), lastError(s.logPath), s.logPath)
		r.addUnexpected(msg)
		r.logf("%s", msg)
	default:
		r.logf("instance %d closed cleanly in %s (%s)", s.n, time.Since(start).Round(time.Millisecond), why)
	}
}

// --- the run ---

// Execute runs the whole test and returns what it found. It fails t only
// for harness trouble (a process that cannot start, a drain that never
// finishes); the caller judges the verifier's verdict.
func (r *Run) Execute() *Outcome {
	r.t.Helper()
	r.start = time.Now()
	driverLog := filepath.Join(r.dir, "driver.log")
	driver := r.startProc("driver", driverLog,
		"-brokers", strings.Join(r.brokers, ","), "-topic", r.topics.Input,
		"-keys", strconv.Itoa(r.cfg.Keys), "-rate", strconv.Itoa(r.cfg.Rate),
		"-seed", strconv.FormatUint(r.cfg.Seed, 10))
	r.logf("driver started (log %s)", driverLog)
	// The first instance creates the internal topics; the others start
	// once it has, so that they do not race it to create them.
	r.startApp(0)
	r.waitStarted(r.slot(0), 3*time.Minute)
	for i := 1; i < r.cfg.Instances; i++ {
		r.startApp(i)
	}

	r.faults()

	if !r.stopProc(driver, syscall.SIGTERM, 3*time.Minute) {
		r.t.Fatalf("harness: the driver did not stop within 3m; see %s", driverLog)
	}
	acked, failed := driverCounts(driverLog)
	r.out.DriverAcked = acked
	r.logf("driver stopped: %d records acknowledged, %d failed (%s)", acked, failed, exitDesc(driver.err))
	if acked <= 0 || failed > 0 || driver.err != nil {
		r.t.Fatalf("harness: the driver did not produce cleanly (acked %d, failed %d, %s); see %s", acked, failed, exitDesc(driver.err), driverLog)
	}

	r.checkExits()
	r.drain()
	var wg sync.WaitGroup
	for _, s := range r.running() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.stopClean(s, "end of run")
		}()
	}
	wg.Wait()

	r.verify()
	r.out.Restores = r.restoreStats()
	r.mu.Lock()
	r.out.Unexpected = append([]string(nil), r.unexpected...)
	r.mu.Unlock()
	r.logf("restores: %s", r.out.Restores)
	return &r.out
}

// faults runs the fault rounds for the configured duration: mostly kill -9
// and restart of a random instance; round 2 adds an instance, round 4
// removes one cleanly, and once, after a third of the run, the broker that
// leads a random input partition is killed with SIGKILL and restarted.
func (r *Run) faults() {
	r.t.Helper()
	end := r.start.Add(r.cfg.Duration)
	bounced := false
	for round := 1; ; round++ {
		wait := time.Until(end)
		if wait <= 0 {
			break
		}
		time.Sleep(min(wait, r.cfg.KillEvery))
		if time.Now().After(end) {
			break
		}
		r.checkExits()
		run := r.running()
		switch {
		case r.cfg.ScaleOut && round == 2:
			r.logf("round %d: add an instance", round)
			r.startApp(len(r.slots))
			r.out.Adds++
		case r.cfg.RemoveOne && round == 4 && len(run) > 1:
			s := run[r.rng.IntN(len(run))]
			r.logf("round %d: remove instance %d cleanly", round, s.n)
			r.stopClean(s, "scale in")
			r.out.CleanStops++
		case r.cfg.BounceBroker && !bounced && time.Since(r.start) >= r.cfg.Duration/3:
			bounced = true
			r.bounceBroker(round)
		case len(run) > 0:
			s := run[r.rng.IntN(len(run))]
			r.logf("round %d: kill instance %d", round, s.n)
			r.kill(s)
			time.Sleep(time.Second + time.Duration(r.rng.Int64N(int64(2*time.Second))))
			r.startApp(s.n)
		}
	}
	r.logf("fault phase over after %s: %d kills, %d clean stops, %d added, broker bounced: %v",
		time.Since(r.start).Round(time.Second), r.out.Kills, r.out.CleanStops, r.out.Adds, r.out.BrokerBounced != 0)
}

func (r *Run) bounceBroker(round int) {
	r.t.Helper()
	p := int32(r.rng.IntN(5))
	leader := r.env.LeaderNode(r.t, r.topics.Input, p)
	r.logf("round %d: kill broker %d (leader of %s[%d]) with SIGKILL", round, leader, r.topics.Input, p)
	r.env.KillNode(r.t, leader)
	r.out.BrokerBounced = leader
	time.Sleep(r.cfg.KillEvery)
	newLeader := r.env.WaitForLeader(r.t, r.topics.Input, p, leader)
	r.logf("round %d: %s[%d] now led by broker %d; restarting broker %d", round, r.topics.Input, p, newLeader, leader)
	start := time.Now()
	r.env.StartNode(r.t, leader)
	r.logf("round %d: broker %d back and in sync after %s", round, leader, time.Since(start).Round(time.Second))
}

var driverDone = regexp.MustCompile(`DRIVER-DONE acked=(\d+) failed=(\d+)`)

func driverCounts(path string) (acked, failed int64) {
	data, _ := os.ReadFile(path)
	m := driverDone.FindAllSubmatch(data, -1)
	if len(m) == 0 {
		return -1, -1
	}
	last := m[len(m)-1]
	acked, _ = strconv.ParseInt(string(last[1]), 10, 64)
	failed, _ = strconv.ParseInt(string(last[2]), 10, 64)
	return acked, failed
}

// drain waits until the app group has processed every visible record of the
// input and repartition topics: between each partition's committed offset
// and its last stable offset there are only transaction markers or aborted
// records.
func (r *Run) drain() {
	r.t.Helper()
	start := time.Now()
	lastReport := start
	topics := []string{r.topics.Input, r.appID + "-" + eosapp.Repartition}
	logs := r.logPaths()
	for {
		r.checkExits()
		left, err := r.unconsumed(topics)
		if err == nil && left == "" {
			r.logf("drained: the group has processed every input and repartition record (%s)", time.Since(start).Round(time.Second))
			return
		}
		if err != nil {
			left = err.Error()
		}
		if time.Since(start) > r.cfg.DrainTimeout {
			r.t.Fatalf("harness: the apps did not drain within %s: %s\ninstance logs: %s", r.cfg.DrainTimeout, left, logs)
		}
		if time.Since(lastReport) > 30*time.Second {
			lastReport = time.Now()
			r.logf("draining for %s: %s", time.Since(start).Round(time.Second), left)
		}
		time.Sleep(time.Second)
	}
}

func (r *Run) logPaths() string {
	var ps []string
	for _, s := range r.slots {
		ps = append(ps, s.logPath)
	}
	return strings.Join(ps, " ")
}

// unconsumed describes the partitions that still hold visible records past
// the group's committed offset ("" when none do).
func (r *Run) unconsumed(topics []string) (string, error) {
	adm, done := r.admin()
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	committed, err := adm.FetchOffsets(ctx, r.appID)
	if err != nil {
		return "", err
	}
	lso, err := adm.ListCommittedOffsets(ctx, topics...)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return "", err
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return "", err
	}
	from := map[string]map[int32]kgo.Offset{}
	ends := map[string]map[int32]int64{}
	var lag int64
	lso.Each(func(l kadm.ListedOffset) {
		at := int64(-1)
		if c, ok := committed.Lookup(l.Topic, l.Partition); ok && c.Err == nil {
			at = c.At
		}
		if at < 0 {
			s, _ := starts.Lookup(l.Topic, l.Partition)
			at = s.Offset
		}
		if at < l.Offset {
			if from[l.Topic] == nil {
				from[l.Topic] = map[int32]kgo.Offset{}
				ends[l.Topic] = map[int32]int64{}
			}
			from[l.Topic][l.Partition] = kgo.NewOffset().At(at)
			ends[l.Topic][l.Partition] = l.Offset
			lag += l.Offset - at
		}
	})
	if len(from) == 0 {
		return "", nil
	}
	// Offsets between the committed one and the end may all be markers or
	// aborted records; only a visible record means work is left.
	first, err := firstVisible(ctx, r.brokers, from, ends)
	if err != nil {
		return "", err
	}
	if first == "" {
		return "", nil
	}
	return fmt.Sprintf("%d offsets behind over %d topics; e.g. %s", lag, len(from), first), nil
}

// firstVisible reads the ranges under read_committed and describes the
// first data record found, or returns "" when there is none.
func firstVisible(ctx context.Context, brokers []string, from map[string]map[int32]kgo.Offset, ends map[string]map[int32]int64) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(from),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	left := 0
	for _, ps := range ends {
		left += len(ps)
	}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return "", fmt.Errorf("reading the unconsumed ranges: %w", ctx.Err())
		}
		found := ""
		fs.EachRecord(func(rec *kgo.Record) {
			end, ok := ends[rec.Topic][rec.Partition]
			if !ok || rec.Offset >= end {
				return
			}
			if !rec.Attrs.IsControl() && found == "" {
				found = fmt.Sprintf("%s[%d] offset %d of %d", rec.Topic, rec.Partition, rec.Offset, end)
			}
			if rec.Offset+1 >= end {
				delete(ends[rec.Topic], rec.Partition)
				left--
			}
		})
		if found != "" {
			return found, nil
		}
	}
	return "", nil
}

// verify runs the verifier binary.
func (r *Run) verify() {
	r.t.Helper()
	logPath := filepath.Join(r.dir, "verifier.log")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(r.bin, "verifier"),
		"-brokers", strings.Join(r.brokers, ","), "-topic-prefix", r.appID+"-", "-app-id", r.appID,
		"-min-input", strconv.FormatInt(r.out.DriverAcked, 10))
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run()
	_ = os.WriteFile(logPath, buf.Bytes(), 0o644)
	r.out.VerifierOutput = buf.String()
	var ee *exec.ExitError
	switch {
	case err == nil:
		r.out.VerifierExit = 0
	case errors.As(err, &ee):
		r.out.VerifierExit = ee.ExitCode()
	default:
		r.t.Fatalf("harness: run verifier: %v", err)
	}
	r.logf("verifier exited %d after %s (log %s):\n%s", r.out.VerifierExit, time.Since(start).Round(time.Millisecond), logPath, strings.TrimSpace(buf.String()))
}

// --- restoration figures ---

// RestoreStats sums the store restorations the instances logged.
type RestoreStats struct {
	Restorations      int   // store restorations with something to restore
	FromCheckpoint    int   // of which started from a checkpoint
	Restored          int64 // records restored, all restorations
	ChangelogLen      int64 // changelog end offsets at restore time, all restorations
	CheckpointRestore int64 // records restored by restorations from a checkpoint
	CheckpointLen     int64 // their changelogs' end offsets
	TaskRestoredLines int   // the runtime's "task restored" log lines
	TaskRestoredRecs  int64 // the records those lines report
	Wipes             int   // tasks whose local state the runtime wiped to restore from scratch
	// BelowHWM counts restorations whose end (the last stable offset) lay
	// more than a marker below the changelog's high watermark when they
	// started: an open transaction held back records that may be committed.
	BelowHWM int
}

func (s RestoreStats) String() string {
	return fmt.Sprintf("%d store restorations restored %d records of changelogs %d long; %d of them from a checkpoint restored %d of %d; runtime logged %d task restorations, %d records; %d wipes; %d restorations ended below the high watermark",
		s.Restorations, s.Restored, s.ChangelogLen, s.FromCheckpoint, s.CheckpointRestore, s.CheckpointLen, s.TaskRestoredLines, s.TaskRestoredRecs, s.Wipes, s.BelowHWM)
}

var (
	eosRestoreLine  = regexp.MustCompile(`msg="eos restore".* from=(-?\d+) end=(\d+) restored=(\d+)`)
	taskRestoreLine = regexp.MustCompile(`msg="task restored".* records=(\d+)`)
	// The runtime's warning when it throws local state away (see
	// changelog.Restorer).
	wipeLine  = regexp.MustCompile(`restoring the task from scratch`)
	startLine = regexp.MustCompile(`msg="eos restore start".* end=(\d+) hwm=(-?\d+)`)
)

// parseRestores adds the restorations logged in one instance log to s.
func parseRestores(s *RestoreStats, data []byte) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if m := eosRestoreLine.FindSubmatch(line); m != nil {
			from, _ := strconv.ParseInt(string(m[1]), 10, 64)
			end, _ := strconv.ParseInt(string(m[2]), 10, 64)
			n, _ := strconv.ParseInt(string(m[3]), 10, 64)
			if end <= 0 {
				continue
			}
			s.Restorations++
			s.Restored += n
			s.ChangelogLen += end
			if from > 0 {
				s.FromCheckpoint++
				s.CheckpointRestore += n
				s.CheckpointLen += end
			}
			continue
		}
		if m := startLine.FindSubmatch(line); m != nil {
			end, _ := strconv.ParseInt(string(m[1]), 10, 64)
			hwm, _ := strconv.ParseInt(string(m[2]), 10, 64)
			if hwm > end+1 {
				s.BelowHWM++
			}
			continue
		}
		if wipeLine.Match(line) {
			s.Wipes++
			continue
		}
		if m := taskRestoreLine.FindSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(string(m[1]), 10, 64)
			s.TaskRestoredLines++
			s.TaskRestoredRecs += n
		}
	}
}

func (r *Run) restoreStats() RestoreStats {
	var s RestoreStats
	paths := make([]string, 0, len(r.slots))
	for _, sl := range r.slots {
		paths = append(paths, sl.logPath)
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			r.t.Errorf("harness: read %s: %v", p, err)
			continue
		}
		parseRestores(&s, data)
	}
	return s
}
