package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/bench/internal/workload"
)

// result is everything measured for one contender.
type result struct {
	contender   contender
	Status      string // "ok", "not yet available", "failed"
	Note        string
	Runs        []throughputRun
	Latency     *latencyRun
	LatencyNote string
	// LatencyRetried is the error of a first latency run that failed.
	LatencyRetried string
	// Retries are the errors of throughput runs that failed and were run
	// again.
	Retries []string
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *result) each(f func(throughputRun) float64) []float64 {
	out := make([]float64, len(r.Runs))
	for i, x := range r.Runs {
		out[i] = f(x)
	}
	return out
}

func (r *result) recordsPerS() float64 {
	return median(r.each(func(t throughputRun) float64 { return t.RecordsPerS }))
}

// figures are the reported numbers of a contender by figure name.
func (h *harness) figures(r *result) map[string]float64 {
	f := map[string]float64{}
	if r.Status != "ok" || len(r.Runs) == 0 {
		return f
	}
	f["records_per_s"] = r.recordsPerS()
	f["cpu_s_per_million_records"] = median(r.each(func(t throughputRun) float64 { return t.CPUSeconds / float64(h.exp.Lines) * 1e6 }))
	f["peak_rss_mib"] = median(r.each(func(t throughputRun) float64 { return float64(t.PeakRSSBytes) / (1 << 20) }))
	if r.Latency != nil {
		f["latency_p50_ms"] = r.Latency.P50Ms
		f["latency_p99_ms"] = r.Latency.P99Ms
	}
	return f
}

var figureOrder = []struct{ name, unit, better string }{
	{"records_per_s", "records/s", "higher"},
	{"cpu_s_per_million_records", "CPU seconds per million input records", "lower"},
	{"peak_rss_mib", "MiB", "lower"},
	{"latency_p50_ms", "ms", "lower"},
	{"latency_p99_ms", "ms", "lower"},
}

// figureJSON is one (contender, figure) object of latest.json.
type figureJSON struct {
	Contender      string   `json:"contender"`
	Figure         string   `json:"figure"`
	Unit           string   `json:"unit"`
	Better         string   `json:"better"`
	Status         string   `json:"status"`
	Value          *float64 `json:"value"`
	RatioToCeiling *float64 `json:"ratio_to_ceiling"`
	RatioToJava    *float64 `json:"ratio_to_java"`
	JavaPeer       string   `json:"java_peer,omitempty"`
	Note           string   `json:"note,omitempty"`
}

type contenderJSON struct {
	Name        string          `json:"name"`
	Label       string          `json:"label"`
	Impl        string          `json:"implementation"`
	Topology    string          `json:"topology"`
	Guarantee   string          `json:"guarantee"`
	Status      string          `json:"status"`
	Note        string          `json:"note,omitempty"`
	Runs        []throughputRun `json:"throughput_runs"`
	Latency     *latencyRun     `json:"latency,omitempty"`
	LatencyNote string          `json:"latency_note,omitempty"`
	Retried     string          `json:"latency_first_attempt_error,omitempty"`
	Retries     []string        `json:"retried_runs,omitempty"`
}

type metaJSON struct {
	Mode             string            `json:"mode"`
	Date             string            `json:"date"`
	RunID            string            `json:"run_id"`
	InputLines       int64             `json:"input_lines"`
	KeptLines        int64             `json:"kept_lines"`
	Words            int64             `json:"words"`
	DistinctWords    int               `json:"distinct_words"`
	Partitions       int32             `json:"partitions"`
	Seed             uint64            `json:"seed"`
	RunsPerContender int               `json:"runs_per_contender"`
	Threads          int               `json:"num_stream_threads"`
	ALOSCommitMs     int               `json:"commit_interval_ms_at_least_once"`
	EOSCommitMs      int               `json:"commit_interval_ms_exactly_once_v2"`
	CacheBytes       int64             `json:"statestore_cache_max_bytes"`
	OfferedRate      float64           `json:"latency_offered_rate_per_s"`
	LatencySeconds   float64           `json:"latency_seconds"`
	LatencyWarmSecs  float64           `json:"latency_warmup_seconds"`
	LoadAverage      string            `json:"load_average_start_end"`
	Machine          map[string]string `json:"machine"`
	Versions         map[string]string `json:"versions"`
	Command          string            `json:"command"`
}

type reportJSON struct {
	Meta       metaJSON        `json:"meta"`
	Figures    []figureJSON    `json:"figures"`
	Contenders []contenderJSON `json:"contenders"`
}

func ptr(v float64) *float64 { return &v }

func (h *harness) report(results []*result, rate float64) error {
	byName := map[string]*result{}
	figs := map[string]map[string]float64{}
	for _, r := range results {
		byName[r.contender.Name] = r
		figs[r.contender.Name] = h.figures(r)
	}
	ratio := func(name, peer, fig string) *float64 {
		a, ok1 := figs[name][fig]
		b, ok2 := figs[peer][fig]
		if !ok1 || !ok2 || b == 0 || name == peer {
			return nil
		}
		return ptr(a / b)
	}
	mode := "full"
	if h.quick {
		mode = "quick"
	}
	rep := reportJSON{Meta: metaJSON{
		Mode: mode, Date: time.Now().UTC().Format(time.RFC3339), RunID: h.runID,
		InputLines: h.exp.Lines, KeptLines: h.exp.Kept, Words: h.exp.Words, DistinctWords: len(h.exp.Counts),
		Partitions: h.partitions, Seed: h.seed, RunsPerContender: h.runs, Threads: h.threads,
		ALOSCommitMs: h.alosCommitMs, EOSCommitMs: h.eosCommitMs, CacheBytes: h.cacheBytes,
		OfferedRate: rate, LatencySeconds: h.latencyDur.Seconds(), LatencyWarmSecs: h.latencyWarm.Seconds(),
		LoadAverage: h.loadStart + " / " + loadavg(),
		Machine:     machine(), Versions: versions(), Command: h.command,
	}}
	if h.fixedMeta != nil {
		// Re-rendering: the machine, versions and times are the run's.
		rep.Meta.Date, rep.Meta.LoadAverage, rep.Meta.Machine, rep.Meta.Versions = h.fixedMeta.Date, h.fixedMeta.LoadAverage, h.fixedMeta.Machine, h.fixedMeta.Versions
	}
	for _, r := range results {
		c := r.contender
		rep.Contenders = append(rep.Contenders, contenderJSON{Name: c.Name, Label: c.Label, Impl: c.Impl,
			Topology: c.Topology, Guarantee: c.Guarantee, Status: r.Status, Note: r.Note, Runs: r.Runs,
			Latency: r.Latency, LatencyNote: r.LatencyNote, Retried: r.LatencyRetried, Retries: r.Retries})
		for _, fo := range figureOrder {
			fj := figureJSON{Contender: c.Name, Figure: fo.name, Unit: fo.unit, Better: fo.better, Status: r.Status, Note: r.Note}
			if v, ok := figs[c.Name][fo.name]; ok {
				fj.Value = ptr(v)
				fj.RatioToCeiling = ratio(c.Name, "ceiling", fo.name)
				if c.Impl != "java" {
					fj.JavaPeer = c.javaPeer()
					fj.RatioToJava = ratio(c.Name, c.javaPeer(), fo.name)
				}
			} else if r.Status == "ok" {
				fj.Note = r.LatencyNote
			}
			rep.Figures = append(rep.Figures, fj)
		}
	}
	if err := os.MkdirAll(h.outDir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	// latest.json is the last run of either mode; quick.json / full.json
	// keep the last of each.
	for _, name := range []string{"latest.json", mode + ".json"} {
		if err := os.WriteFile(filepath.Join(h.outDir, name), append(js, '\n'), 0o644); err != nil {
			return err
		}
	}
	chart := filepath.Join(h.outDir, "latest.png")
	if err := drawChart(chart, results, figs, rep.Meta); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	md := h.markdown(rep, results, figs, ratio, chart)
	return os.WriteFile(h.mdPath, []byte(md), 0o644)
}

func machine() map[string]string {
	m := map[string]string{"nproc": fmt.Sprint(runtime.NumCPU()), "os": runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if mm := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); mm != nil {
			m["cpu"] = string(mm[1])
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if mm := regexp.MustCompile(`(?m)^MemTotal:\s*(\d+) kB`).FindSubmatch(b); mm != nil {
			var kb int64
			fmt.Sscan(string(mm[1]), &kb)
			m["memory"] = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(out))
	}
	return m
}

func versions() map[string]string {
	v := map[string]string{"go": runtime.Version(), "kafka_streams_java": "4.4.0"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/twmb/franz-go" {
				v["franz_go"] = d.Version
			}
		}
	}
	if b, err := os.ReadFile("scripts/kafka/pom.xml"); err == nil {
		if mm := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindSubmatch(b); mm != nil {
			v["kafka_broker"] = string(mm[1])
		}
	}
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		v["java"] = strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		v["sluice_commit"] = strings.TrimSpace(string(out))
	}
	return v
}

func fmtNum(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fmtRatio(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f×", *p)
}

func (h *harness) markdown(rep reportJSON, results []*result, figs map[string]map[string]float64, ratio func(a, b, fig string) *float64, chart string) string {
	m := rep.Meta
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("<!-- Generated by `go run ./bench/harness` (make bench / make bench-quick); edit bench/harness/report.go, not this file. -->\n\n")
	p("Sluice side by side with a plain franz-go pipe (the ceiling: no framework) and Java Kafka Streams %s, ", m.Versions["kafka_streams_java"])
	p("each a separate process running the same topology on the same input on the same real broker, one after another.\n\n")
	if m.Mode == "quick" {
		p("**These are the figures of the QUICK run** (`make bench-quick`): %d input lines, %d run(s) per contender, latency measured over %.0f s. ", m.InputLines, m.RunsPerContender, m.LatencySeconds)
		p("Short runs favour processes that start fast and understate steady-state differences; run `make bench` for the full figures.\n\n")
	} else {
		p("Full-mode run (`make bench`; the exact harness command is under Commands): %d input lines, median of %d runs per contender, latency measured over %.0f s.\n\n", m.InputLines, m.RunsPerContender, m.LatencySeconds)
	}
	p("Run %s on %s.\n\n", m.RunID, m.Date)
	link := chart
	if rel, err := filepath.Rel(filepath.Dir(h.mdPath), chart); err == nil {
		link = rel
	}
	p("![throughput and CPU per contender](%s)\n\n", filepath.ToSlash(link))

	p("## Results\n\n")
	p("| contender | status | records/s | × ceiling | × Java | CPU s / M records | × Java | peak RSS MiB | × Java | latency p50 ms | p99 ms |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		c := r.contender
		f := figs[c.Name]
		cell := func(fig string) string {
			if v, ok := f[fig]; ok {
				return fmtNum(v)
			}
			return "–"
		}
		javaR := func(fig string) string {
			if c.Impl == "java" {
				return "–"
			}
			return fmtRatio(ratio(c.Name, c.javaPeer(), fig))
		}
		status := r.Status
		if r.Status != "ok" {
			status = "**" + r.Status + "**"
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Label, status,
			cell("records_per_s"), fmtRatio(ratio(c.Name, "ceiling", "records_per_s")), javaR("records_per_s"),
			cell("cpu_s_per_million_records"), javaR("cpu_s_per_million_records"),
			cell("peak_rss_mib"), javaR("peak_rss_mib"),
			cell("latency_p50_ms"), cell("latency_p99_ms"))
	}
	p("\n× Java compares each Go contender with the Java contender running the same topology under the same guarantee ")
	p("(the ceiling and Sluice stateless with Java stateless). Records/s counts input lines (%d per run).\n\n", m.InputLines)
	var notes []string
	for _, r := range results {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("- **%s** (%s): %s", r.contender.Label, r.Status, r.Note))
		}
		for _, e := range r.Retries {
			notes = append(notes, fmt.Sprintf("- **%s** failed and was run again: %s", r.contender.Label, e))
		}
		if r.LatencyRetried != "" {
			notes = append(notes, fmt.Sprintf("- **%s** latency run was retried; the first attempt failed: %s", r.contender.Label, r.LatencyRetried))
		}
		if r.LatencyNote != "" {
			notes = append(notes, fmt.Sprintf("- **%s** latency not measured: %s", r.contender.Label, r.LatencyNote))
		}
		for i, t := range r.Runs {
			notes = append(notes, fmt.Sprintf("- %s run %d: %.2f s (%.2f s to the last commit), %.0f records/s, %.2f CPU s, peak RSS %.0f MiB; output %s",
				r.contender.Label, i+1, t.Seconds, t.SecondsToCommit, t.RecordsPerS, t.CPUSeconds, float64(t.PeakRSSBytes)/(1<<20), t.Verified))
		}
	}
	p("### Per run and notes\n\n%s\n\n", strings.Join(notes, "\n"))

	p("## Targets (issue 8)\n\n")
	p("| target | measured | verdict |\n|---|---|---|\n")
	target := func(name string, v *float64, ok func(float64) bool) {
		if v == nil {
			p("| %s | not measured | – |\n", name)
			return
		}
		verdict := "missed"
		if ok(*v) {
			verdict = "met"
		}
		p("| %s | %.2f | %s |\n", name, *v, verdict)
	}
	target("Sluice stateless ≥ 0.85 × ceiling (records/s)", ratio("sluice-stateless", "ceiling", "records_per_s"), func(x float64) bool { return x >= 0.85 })
	for _, g := range []struct{ s, j, label string }{{"sluice-wordcount-alos", "java-wordcount-alos", "ALOS"}, {"sluice-wordcount-eos", "java-wordcount-eos", "EOS"}} {
		target("Sluice word count "+g.label+" ≥ 1.5 × Java (records/s)", ratio(g.s, g.j, "records_per_s"), func(x float64) bool { return x >= 1.5 })
		target("Sluice word count "+g.label+" CPU/record ≤ 0.6 × Java", ratio(g.s, g.j, "cpu_s_per_million_records"), func(x float64) bool { return x <= 0.6 })
		target("Sluice word count "+g.label+" peak RSS ≤ 0.3 × Java", ratio(g.s, g.j, "peak_rss_mib"), func(x float64) bool { return x <= 0.3 })
	}
	var eosCost *float64
	if a, b := figs["sluice-wordcount-eos"]["records_per_s"], figs["sluice-wordcount-alos"]["records_per_s"]; a > 0 && b > 0 {
		eosCost = ptr(1 - a/b)
	}
	target("EOS costs Sluice ≤ 20% throughput vs ALOS (fraction lost)", eosCost, func(x float64) bool { return x <= 0.20 })
	p("\n")

	if notes, err := os.ReadFile(h.notesPath); err == nil && len(bytes.TrimSpace(notes)) > 0 {
		p("## Analysis\n\n_Hand-written in %s; it refers to the run it names, which may not be the run above._\n\n%s\n\n", h.notesPath, bytes.TrimSpace(notes))
	}
	p("## Method\n\n")
	p("- **Input**: %d lines from `bench/internal/workload` (seed %d): 4–12 words per line from a %d-word vocabulary with Zipf (s = 1.1) skew, about one line in ten a `# ` comment line; produced once per run with null keys to a %d-partition topic. Kept lines: %d; words in them: %d (%d distinct).\n",
		m.InputLines, m.Seed, workload.VocabularySize, m.Partitions, m.KeptLines, m.Words, m.DistinctWords)
	p("- **Stateless topology**: filter (drop comment lines) → mapValues (upper-case) → to(output). **Word count**: filter → flatMapValues (split on spaces) → groupBy(word) (repartition topic `words`) → count (store `counts`, cached) → toStream → to(output).\n")
	p("- **Ceiling**: one franz-go client consuming as a group member, doing the stateless work and producing with the input's timestamp; every commit interval it flushes the producer and commits what it polled.\n")
	p("- **Sluice** contenders are written with the DSL (`dsl`, run by `streams`; `bench/contender`), **Java** contenders with Kafka Streams' DSL (`bench/java`), operator for operator the same; the Java ones are run with `java -cp` (default JVM options%s).\n", ifNonEmpty(h.javaOpts, ": "+h.javaOpts))
	p("- **Settings** (same for Sluice and Java): num.stream.threads = %d, commit.interval.ms = %d (at_least_once; also the ceiling's) and %d (exactly_once_v2), statestore.cache.max.bytes = %d, auto offset reset earliest.\n", m.Threads, m.ALOSCommitMs, m.EOSCommitMs, m.CacheBytes)
	p("- **Throughput**: from the contender's first consumed record (it prints the time) to the end, seen by the harness polling every 25 ms: for the stateless topology, the moment the output topic holds every expected output record; for word count (whose output size depends on caching), the moment the contender's group has committed offsets reaching the input's end offsets and the repartition topic's end offsets (one offset of slack under EOS for the transaction marker), so word-count runs include up to one commit interval of waiting for the last commit. records/s = input lines / that time; the median of the runs is reported. Each run's time to its last commit is in latest.json.\n")
	p("- **Verification**: after each run the output is checked: the stateless output holds exactly the kept lines; the word-count output's last value per word equals the true count of every word. A run with wrong output is reported as failed.\n")
	p("- **CPU**: user+system time of the contender process (all threads) from /proc/<pid>/stat between the first record and the end, per million input lines. **Peak RSS**: the process's maxrss (whole life) from rusage.\n")
	p("- **Latency**: each contender again, on a fresh input topic that the harness fills at a fixed %.0f lines/s (half the slowest contender's throughput) from the moment its group is stable; the first %.0f s after its first consumed record are warm-up, then %.0f s are measured; latency = the time the harness's read_committed consumer receives an output record minus that record's timestamp, which is the create time of the input line it came from (for counts, of the latest line that changed it). Harness and contender share the machine and the clock.\n", m.OfferedRate, m.LatencyWarmSecs, m.LatencySeconds)
	p("\n## Machine and versions\n\n")
	for _, k := range sortedKeys(m.Machine) {
		p("- %s: %s\n", k, m.Machine[k])
	}
	for _, k := range sortedKeys(m.Versions) {
		p("- %s: %s\n", k, m.Versions[k])
	}
	p("- load average (1, 5, 15 min) at start / end of the run: %s (the machine is shared with other builds and tests; figures move with it)\n", m.LoadAverage)
	p("- broker: one KRaft node from `scripts/kafka.sh up` on 127.0.0.1:19092 (same machine)\n")
	p("\n## Commands\n\n```\nmake bench        # full run: starts the broker if needed, builds, runs, writes this file\nmake bench-quick  # the short run\n```\n\n")
	p("This report was made by:\n\n```\n%s\n```\n\n", m.Command)
	p("Raw figures: [bench/results/latest.json](bench/results/latest.json); logs of every contender run are written under bench/results/logs/ (not committed). `-profile` writes a CPU profile of every Sluice run next to its log.\n")
	return b.String()
}

func ifNonEmpty(s, v string) string {
	if s == "" {
		return ""
	}
	return v
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// rerender rebuilds the report from a results JSON the harness wrote.
func (h *harness) rerender(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep reportJSON
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	m := rep.Meta
	h.quick = m.Mode == "quick"
	h.runID, h.runs, h.partitions, h.threads, h.seed = m.RunID, m.RunsPerContender, m.Partitions, m.Threads, m.Seed
	h.alosCommitMs, h.eosCommitMs, h.cacheBytes = m.ALOSCommitMs, m.EOSCommitMs, m.CacheBytes
	h.latencyDur = time.Duration(m.LatencySeconds * float64(time.Second))
	h.latencyWarm = time.Duration(m.LatencyWarmSecs * float64(time.Second))
	h.exp = workload.Expected{Lines: m.InputLines, Kept: m.KeptLines, Words: m.Words, Counts: make(map[string]int64, m.DistinctWords)}
	for i := range m.DistinctWords {
		h.exp.Counts[fmt.Sprint(i)] = 0 // only the number of distinct words is reported
	}
	h.command, h.fixedMeta = m.Command, &m
	var results []*result
	for _, cj := range rep.Contenders {
		r := &result{Status: cj.Status, Note: cj.Note, Runs: cj.Runs, Latency: cj.Latency, LatencyNote: cj.LatencyNote, LatencyRetried: cj.Retried, Retries: cj.Retries}
		for _, c := range append(slices.Clone(allContenders), baselineContender) {
			if c.Name == cj.Name {
				r.contender = c
			}
		}
		if r.contender.Name == "" {
			return fmt.Errorf("%s: unknown contender %q", path, cj.Name)
		}
		results = append(results, r)
	}
	return h.report(results, m.OfferedRate)
}
