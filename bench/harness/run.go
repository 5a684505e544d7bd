package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// contender is one program the benchmark measures.
type contender struct {
	Name      string // stable id used in results
	Label     string // for tables and the chart
	Impl      string // "ceiling", "sluice" or "java"
	Topology  string // "stateless" or "wordcount"
	Guarantee string // "at_least_once" or "exactly_once_v2"
}

func (c contender) eos() bool { return c.Guarantee == "exactly_once_v2" }

// javaPeer is the Java contender the figures of c are compared with.
func (c contender) javaPeer() string {
	switch {
	case c.Topology == "stateless":
		return "java-stateless"
	case c.eos():
		return "java-wordcount-eos"
	default:
		return "java-wordcount-alos"
	}
}

var allContenders = []contender{
	{"ceiling", "franz-go pipe (ceiling)", "ceiling", "stateless", "at_least_once"},
	{"sluice-stateless", "Sluice stateless", "sluice", "stateless", "at_least_once"},
	{"java-stateless", "Kafka Streams stateless", "java", "stateless", "at_least_once"},
	{"sluice-wordcount-alos", "Sluice word count ALOS", "sluice", "wordcount", "at_least_once"},
	{"java-wordcount-alos", "Kafka Streams word count ALOS", "java", "wordcount", "at_least_once"},
	{"sluice-wordcount-eos", "Sluice word count EOS", "sluice", "wordcount", "exactly_once_v2"},
	{"java-wordcount-eos", "Kafka Streams word count EOS", "java", "wordcount", "exactly_once_v2"},
}

// baselineContender is the word count of another Sluice build (the
// harness's -baseline-bin), run in the same benchmark so that a change is
// measured as a ratio within one run rather than against a figure from
// another day.
var baselineContender = contender{"sluice-wordcount-alos-baseline", "Sluice word count ALOS (baseline build)", "sluice", "wordcount", "at_least_once"}

// runSpec is one start of a contender.
type runSpec struct {
	c              contender
	appID          string // consumer group / application.id
	input, output  string
	commitMs       int
	logPath        string
	stateDir       string
	cpuprofilePath string
	tracePath      string
}

// proc is a started contender process.
type proc struct {
	cmd     *exec.Cmd
	first   chan time.Time // receives the time of the first record, once
	exited  chan struct{}  // closed when the process exited
	waitErr error
	log     *os.File
}

func (h *harness) commandFor(s runSpec) (*exec.Cmd, error) {
	threads := strconv.Itoa(h.threads)
	commit := strconv.Itoa(s.commitMs)
	cache := strconv.FormatInt(h.cacheBytes, 10)
	switch s.c.Impl {
	case "ceiling":
		return exec.Command(h.contenderBin, "ceiling", "-brokers", h.brokers, "-input", s.input, "-output", s.output,
			"-group", s.appID, "-commit-ms", commit), nil
	case "sluice":
		bin := h.contenderBin
		if s.c.Name == baselineContender.Name {
			bin = h.baselineBin
		}
		args := []string{"sluice", "-brokers", h.brokers, "-input", s.input, "-output", s.output,
			"-app-id", s.appID, "-topology", s.c.Topology, "-guarantee", s.c.Guarantee,
			"-threads", threads, "-commit-ms", commit, "-cache-bytes", cache, "-state-dir", s.stateDir}
		if s.cpuprofilePath != "" {
			args = append(args, "-cpuprofile", s.cpuprofilePath)
		}
		if s.tracePath != "" {
			args = append(args, "-trace", s.tracePath)
		}
		args = append(args, strings.Fields(h.sluiceArgs)...)
		return exec.Command(bin, args...), nil
	case "java":
		args := append(strings.Fields(h.javaOpts), "-cp", h.javaCP, "dev.sluicestreams.bench.Main",
			s.c.Topology, h.brokers, s.input, s.output, s.appID, s.c.Guarantee, threads, commit, cache, s.stateDir)
		return exec.Command("java", args...), nil
	}
	return nil, fmt.Errorf("unknown implementation %q", s.c.Impl)
}

func (h *harness) start(s runSpec) (*proc, error) {
	cmd, err := h.commandFor(s)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "$ %s\n", strings.Join(cmd.Args, " "))
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, first: make(chan time.Time, 1), exited: make(chan struct{}), log: logf}
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent && strings.HasPrefix(line, "BENCH first ") {
				if ns, err := strconv.ParseInt(strings.TrimPrefix(line, "BENCH first "), 10, 64); err == nil {
					p.first <- time.Unix(0, ns)
					sent = true
					continue
				}
			}
			fmt.Fprintln(logf, line)
		}
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM, waits up to 60s for a clean exit, then kills.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.log.Close()
}

// cpu returns the user+system CPU time the process has used so far, from
// /proc/<pid>/stat (all threads).
func (p *proc) cpu() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "stat"))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime + stime from a /proc/<pid>/stat line. The command
// name (field 2, in parentheses) may hold spaces and parentheses, so fields
// are counted from the last ')'.
func parseStatCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("harness: bad /proc stat: no command")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("harness: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("harness: bad /proc stat times")
	}
	return time.Duration(ut+st) * time.Second / time.Duration(clockTicks), nil
}

// clockTicks is USER_HZ, the unit of /proc times; 100 on every Linux
// architecture Go runs on.
const clockTicks = 100

// maxRSS is the process's peak resident set size in bytes, from rusage after
// it exited.
func (p *proc) maxRSS() int64 {
	if p.cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

// lastLines returns the last n lines of the process log, for error reports.
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// throughputRun is what one throughput run measured.
type throughputRun struct {
	Seconds         float64 `json:"seconds"`
	SecondsToCommit float64 `json:"seconds_to_last_commit"`
	RecordsPerS     float64 `json:"records_per_s"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	PeakRSSBytes    int64   `json:"peak_rss_bytes"`
	Verified        string  `json:"verified"`
}

// errUnavailable marks a contender the project cannot run yet.
type errUnavailable struct{ reason string }

func (e *errUnavailable) Error() string { return "not yet available: " + e.reason }

// throughput runs contender c once over the shared input and measures it
// from its first consumed record until its group has committed everything.
func (h *harness) throughput(ctx context.Context, c contender, run int) (throughputRun, error) {
	var r throughputRun
	appID := fmt.Sprintf("%s-%s-%d", h.runID, c.Name, run)
	s := runSpec{c: c, appID: appID, input: h.inputTopic, output: appID + "-out",
		commitMs: h.commitMs(c), logPath: filepath.Join(h.logDir, appID+".log"),
		stateDir: filepath.Join(h.stateRoot, appID)}
	if h.profile && c.Impl == "sluice" {
		s.cpuprofilePath = filepath.Join(h.logDir, appID+".cpu.pprof")
	}
	if h.trace && c.Impl == "sluice" {
		s.tracePath = filepath.Join(h.logDir, appID+".trace")
	}
	defer h.cleanup(appID, s.stateDir)
	if err := h.b.createTopic(ctx, s.output, h.partitions); err != nil {
		return r, err
	}
	p, err := h.start(s)
	if err != nil {
		return r, err
	}
	defer p.stop()
	var first time.Time
	var cpu0 time.Duration
	deadline := time.After(h.runTimeout)
	select {
	case first = <-p.first:
		cpu0, _ = p.cpu()
	case <-p.exited:
		return r, fmt.Errorf("exited before consuming (%v): %s", p.waitErr, lastLines(s.logPath, 3))
	case <-deadline:
		return r, fmt.Errorf("no record consumed within %v: %s", h.runTimeout, lastLines(s.logPath, 3))
	case <-ctx.Done():
		return r, ctx.Err()
	}
	internal := ""
	if c.Topology == "wordcount" {
		internal = appID + "-words-repartition"
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var outDone, committed time.Time
	var cpuOut, cpuCommitted time.Duration
wait:
	for {
		select {
		case <-tick.C:
			if c.Topology == "stateless" && outDone.IsZero() {
				// Every expected output record is in the output topic.
				if ends, err := h.b.endOffsets(ctx, s.output); err == nil && sum(ends) >= h.exp.Kept {
					outDone = time.Now()
					cpuOut, _ = p.cpu()
				}
			}
			ok, err := h.b.caughtUp(ctx, appID, h.inputTopic, h.inputEnds, internal, c.eos())
			if err != nil {
				// Coordinator moves and the like pass; the run timeout
				// bounds how long they may last.
				log.Printf("%s: waiting for commits: %v", appID, err)
				continue
			}
			if ok {
				committed = time.Now()
				cpuCommitted, _ = p.cpu()
				break wait
			}
		case <-p.exited:
			return r, fmt.Errorf("exited before finishing (%v): %s", p.waitErr, lastLines(s.logPath, 3))
		case <-deadline:
			return r, fmt.Errorf("not caught up within %v: %s", h.runTimeout, lastLines(s.logPath, 3))
		case <-ctx.Done():
			return r, ctx.Err()
		}
	}
	p.stop()
	// Stateless runs end when the last output record is in the output topic
	// (the expected count is known); word counts, whose output size depends
	// on caching, end when the group committed everything.
	end, cpu1 := committed, cpuCommitted
	if !outDone.IsZero() {
		end, cpu1 = outDone, cpuOut
	}
	r.Seconds = end.Sub(first).Seconds()
	r.SecondsToCommit = committed.Sub(first).Seconds()
	r.RecordsPerS = float64(h.exp.Lines) / r.Seconds
	r.CPUSeconds = (cpu1 - cpu0).Seconds()
	r.PeakRSSBytes = p.maxRSS()
	r.Verified = h.verify(ctx, c, s.output)
	if c.Impl == "sluice" && c.eos() {
		if ok, err := h.usedTransactions(ctx, appID); err == nil && !ok {
			return r, &errUnavailable{"the run used no Kafka transactions: streams does not implement exactly_once_v2 yet"}
		}
	}
	return r, nil
}

// usedTransactions reports whether some transactional id of the app exists
// on the broker, which every exactly_once_v2 producer registers.
func (h *harness) usedTransactions(ctx context.Context, appID string) (bool, error) {
	ts, err := h.b.adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		return false, err
	}
	for _, t := range ts.Sorted() {
		if strings.HasPrefix(t.TxnID, appID) {
			return true, nil
		}
	}
	return false, nil
}

// verify checks the output of a finished run against the expected output.
func (h *harness) verify(ctx context.Context, c contender, output string) string {
	vctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if c.Topology == "stateless" {
		ends, err := h.b.endOffsets(vctx, output)
		if err != nil {
			return "error: " + err.Error()
		}
		n := sum(ends)
		if n != h.exp.Kept {
			return fmt.Sprintf("WRONG: %d output records, want %d", n, h.exp.Kept)
		}
		return fmt.Sprintf("ok: %d output records", n)
	}
	latest, n, err := h.b.readLatest(vctx, output)
	if err != nil {
		return "error: " + err.Error()
	}
	bad := 0
	for w, want := range h.exp.Counts {
		if latest[w] != want {
			bad++
		}
	}
	if bad > 0 || len(latest) != len(h.exp.Counts) {
		return fmt.Sprintf("WRONG: %d of %d words have a wrong final count (%d words in output)", bad, len(h.exp.Counts), len(latest))
	}
	return fmt.Sprintf("ok: %d words, final counts right (%d output records)", len(latest), n)
}

func (h *harness) cleanup(appID, stateDir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.b.deleteTopics(ctx, nil, appID+"-")
	_, _ = h.b.adm.DeleteGroups(ctx, appID)
	_ = os.RemoveAll(stateDir)
}

func (h *harness) commitMs(c contender) int {
	if c.eos() {
		return h.eosCommitMs
	}
	return h.alosCommitMs
}
