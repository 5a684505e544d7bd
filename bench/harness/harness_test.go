package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/bench/internal/workload"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       time.Duration
		wantErr    bool
	}{
		{"plain", "1234 (java) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 40 0 100 1000 200", 3250 * time.Millisecond, false},
		{"command with spaces and parens", "99 (my (odd) cmd) R 1 99 99 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 6 7", 100 * time.Millisecond, false},
		{"no command", "99 R 1", 0, true},
		{"short", "99 (x) R 1 2 3", 0, true},
		{"bad number", "99 (x) R 1 1 1 0 -1 0 0 0 0 0 x 3 0 0 20 0 1 0 5 6 7", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.line)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseStatCPUOfThisProcess(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc")
	}
	if _, err := parseStatCPU(string(b)); err != nil {
		t.Fatal(err)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestReport feeds made-up measurements through the report and checks the
// figures, the ratios to the ceiling and to the Java peer, the statuses,
// the targets table and the chart.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	h := &harness{outDir: dir, mdPath: filepath.Join(dir, "BENCHMARKS.md"), notesPath: filepath.Join(dir, "none.md"),
		quick: true, runs: 3, partitions: 6, threads: 1, alosCommitMs: 1000, eosCommitMs: 100, latencyDur: 5 * time.Second,
		runID: "bench-test", exp: workload.Expected{Lines: 1_000_000, Kept: 900_000}}
	mk := func(name string, status string, rps []float64, cpu float64, rss int64, lat *latencyRun) *result {
		var c contender
		for _, x := range allContenders {
			if x.Name == name {
				c = x
			}
		}
		r := &result{contender: c, Status: status, Latency: lat}
		for _, v := range rps {
			r.Runs = append(r.Runs, throughputRun{RecordsPerS: v, CPUSeconds: cpu, PeakRSSBytes: rss << 20, Verified: "ok"})
		}
		return r
	}
	results := []*result{
		mk("ceiling", "ok", []float64{100, 300, 200}, 1, 50, &latencyRun{P50Ms: 10, P99Ms: 20}),
		mk("sluice-stateless", "ok", []float64{180, 150, 170}, 2, 100, nil),
		mk("java-stateless", "ok", []float64{100}, 8, 400, nil),
		mk("sluice-wordcount-alos", "ok", []float64{90}, 3, 120, nil),
		mk("java-wordcount-alos", "ok", []float64{60}, 10, 600, nil),
		{contender: allContenders[5], Status: "not yet available", Note: "no transactions"},
	}
	if err := h.report(results, 25); err != nil {
		t.Fatal(err)
	}
	var rep reportJSON
	b, err := os.ReadFile(filepath.Join(dir, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	get := func(c, fig string) figureJSON {
		for _, f := range rep.Figures {
			if f.Contender == c && f.Figure == fig {
				return f
			}
		}
		t.Fatalf("no figure %s/%s", c, fig)
		return figureJSON{}
	}
	near := func(p *float64, want float64) bool { return p != nil && math.Abs(*p-want) < 1e-9 }
	if f := get("sluice-stateless", "records_per_s"); !near(f.Value, 170) || !near(f.RatioToCeiling, 0.85) || !near(f.RatioToJava, 1.7) || f.JavaPeer != "java-stateless" {
		t.Errorf("sluice-stateless records/s: %+v", f)
	}
	if f := get("sluice-wordcount-alos", "cpu_s_per_million_records"); !near(f.Value, 3) || !near(f.RatioToJava, 0.3) {
		t.Errorf("sluice-wordcount-alos cpu: %+v", f)
	}
	if f := get("java-stateless", "peak_rss_mib"); !near(f.Value, 400) || f.RatioToJava != nil || !near(f.RatioToCeiling, 8) {
		t.Errorf("java-stateless rss: %+v", f)
	}
	if f := get("sluice-wordcount-eos", "records_per_s"); f.Value != nil || f.Status != "not yet available" || f.Note != "no transactions" {
		t.Errorf("eos: %+v", f)
	}
	if f := get("ceiling", "latency_p99_ms"); !near(f.Value, 20) {
		t.Errorf("ceiling p99: %+v", f)
	}
	md, err := os.ReadFile(h.mdPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"QUICK run",
		"| Sluice stateless | ok | 170 | 0.85× | 1.70× | 2.00 | 0.25× | 100 | 0.25× | – | – |",
		"| Sluice word count EOS | **not yet available** |",
		"| Sluice stateless ≥ 0.85 × ceiling (records/s) | 0.85 | met |",
		"| Sluice word count ALOS ≥ 1.5 × Java (records/s) | 1.50 | met |",
		"| Sluice word count EOS ≥ 1.5 × Java (records/s) | not measured | – |",
		"![throughput and CPU per contender](latest.png)",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "latest.png")); err != nil || st.Size() < 1000 {
		t.Errorf("chart: %v", err)
	}

	// Re-rendering the JSON gives the same report.
	h2 := &harness{outDir: dir, mdPath: filepath.Join(dir, "again.md"), notesPath: h.notesPath}
	if err := h2.rerender(filepath.Join(dir, "quick.json")); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(h2.mdPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(md) {
		t.Errorf("re-rendered report differs:\n%s\nwant:\n%s", again, md)
	}
}
