package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// result is one case under one guarantee and input shape.
type result struct {
	Case      string  `json:"case"`
	Guarantee string  `json:"guarantee"`
	Shape     string  `json:"shape"`
	Verdict   string  `json:"verdict"` // PASS, KNOWN-DIFF or FAIL
	Checks    []check `json:"checks"`
	Records   string  `json:"records"`
}

func (r *result) add(name string, diffs []string) {
	r.Checks = append(r.Checks, check{Name: name, OK: len(diffs) == 0, Diffs: diffs})
}

// knownDiff is one line of the known-diffs file:
//
//	CASE CHECK [GUARANTEE [SHAPE]]  # why (the issue item)
//
// Fields are path.Match patterns (case "*", check "out*-records"); an
// absent guarantee or shape matches any.
type knownDiff struct {
	fields []string
	note   string
	line   int
	used   bool // matched a failing check
	hits   int  // failing checks it matched
	ran    bool // matched a result (its case ran under its guarantee and shape)
}

func loadKnown(file string) ([]*knownDiff, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*knownDiff
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		note := ""
		if i := strings.Index(line, "#"); i >= 0 {
			line, note = line[:i], strings.TrimSpace(line[i+1:])
		}
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) < 2 || len(fs) > 4 {
			return nil, fmt.Errorf("%s:%d: want CASE CHECK [GUARANTEE [SHAPE]]", file, n)
		}
		out = append(out, &knownDiff{fields: fs, note: note, line: n})
	}
	return out, sc.Err()
}

func (k *knownDiff) matches(r *result, c check) bool {
	vals := []string{r.Case, c.Name, r.Guarantee, r.Shape}
	for i, pat := range k.fields {
		if ok, _ := path.Match(pat, vals[i]); !ok {
			return false
		}
	}
	return true
}

// covers reports whether k is about r's case, guarantee and shape (any
// check).
func (k *knownDiff) covers(r *result) bool {
	vals := []string{r.Case, "", r.Guarantee, r.Shape}
	for i, pat := range k.fields {
		if i == 1 {
			continue
		}
		if ok, _ := path.Match(pat, vals[i]); !ok {
			return false
		}
	}
	return true
}

func (k *knownDiff) String() string {
	return fmt.Sprintf("line %d: %s  # %s", k.line, strings.Join(k.fields, " "), k.note)
}

// applyKnown sets each result's verdict and returns the known-diffs
// entries whose cases ran but that matched no failing check (fixed).
func applyKnown(results []*result, known []*knownDiff) []*knownDiff {
	for _, r := range results {
		for _, k := range known {
			if k.covers(r) {
				k.ran = true
			}
		}
		r.Verdict = "PASS"
		for i := range r.Checks {
			c := &r.Checks[i]
			if c.OK {
				continue
			}
			for _, k := range known {
				if k.matches(r, *c) {
					c.Known = k.note
					k.used = true
					k.hits++
					break
				}
			}
			switch {
			case c.Known == "":
				r.Verdict = "FAIL"
			case r.Verdict == "PASS":
				r.Verdict = "KNOWN-DIFF"
			}
		}
	}
	var stale []*knownDiff
	for _, k := range known {
		if k.ran && !k.used {
			stale = append(stale, k)
		}
	}
	return stale
}

// report prints the differences, writes the markdown and JSON results and
// returns whether no result failed.
func report(o options, results []*result, known, stale []*knownDiff, took time.Duration) bool {
	sort.SliceStable(results, func(i, j int) bool {
		a, b := results[i], results[j]
		if a.Case != b.Case {
			return a.Case < b.Case
		}
		if a.Shape != b.Shape {
			return a.Shape < b.Shape
		}
		return a.Guarantee < b.Guarantee
	})
	counts := map[string]int{}
	var md strings.Builder
	fmt.Fprintf(&md, "# Conformance results\n\nSluice against Java Kafka Streams 4.4.0, written by `go run ./conformance/cmd/conform` "+
		"(see [README.md](README.md)) on %s in %v: %d records per input, seed %d, paced at %d records/s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second), o.records, o.seed, o.rate)
	md.WriteString("| case | input | guarantee | verdict | failing checks | first differences |\n|---|---|---|---|---|---|\n")
	for _, r := range results {
		counts[r.Verdict]++
		var failing, first []string
		for _, c := range r.Checks {
			if c.OK {
				continue
			}
			name := c.Name
			if c.Known != "" {
				name += " (known: " + c.Known + ")"
			}
			failing = append(failing, name)
			if len(c.Diffs) > 0 {
				first = append(first, c.Name+": "+c.Diffs[0])
			}
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %s | %s | %s |\n", r.Case, r.Shape, r.Guarantee, r.Verdict,
			mdCell(strings.Join(failing, "; ")), mdCell(strings.Join(first, " / ")))
		if r.Verdict == "PASS" {
			fmt.Printf("PASS        %s %s %s\n", r.Case, r.Shape, r.Guarantee)
			continue
		}
		fmt.Printf("%-11s %s %s %s (%s)\n", r.Verdict, r.Case, r.Shape, r.Guarantee, r.Records)
		for _, c := range r.Checks {
			if c.OK {
				continue
			}
			tag := "FAIL"
			if c.Known != "" {
				tag = "KNOWN-DIFF [" + c.Known + "]"
			}
			fmt.Printf("    %s %s:\n", tag, c.Name)
			for _, d := range c.Diffs {
				fmt.Printf("        %s\n", d)
			}
		}
	}
	fmt.Fprintf(&md, "\n%d PASS, %d KNOWN-DIFF, %d FAIL.\n", counts["PASS"], counts["KNOWN-DIFF"], counts["FAIL"])
	seen := seenKnown(known)
	if len(seen) > 0 {
		md.WriteString("\nKnown differences seen in this run (known-diffs.txt; README.md says what each is):\n\n| known difference | failing checks |\n|---|---|\n")
		for _, k := range seen {
			fmt.Fprintf(&md, "| %s | %d |\n", mdCell(strings.Join(k.fields, " ")+" # "+k.note), k.hits)
		}
	}
	if len(stale) > 0 {
		md.WriteString("\nKnown differences not seen in this run (fixed: remove them from known-diffs.txt):\n\n")
		for _, k := range stale {
			fmt.Fprintf(&md, "- %s\n", mdCell(k.String()))
		}
	}
	md.WriteString("\n## Differences\n\nEvery failing check with its first differences (describe: the changed lines of the diff, `-` Java, `+` Sluice).\n")
	for _, r := range results {
		if r.Verdict == "PASS" {
			continue
		}
		fmt.Fprintf(&md, "\n### %s, %s, %s: %s\n\n%s\n\n```\n", r.Case, r.Shape, r.Guarantee, r.Verdict, r.Records)
		for _, c := range r.Checks {
			if c.OK {
				continue
			}
			tag := "FAIL"
			if c.Known != "" {
				tag = "KNOWN-DIFF [" + c.Known + "]"
			}
			fmt.Fprintf(&md, "%s %s:\n", tag, c.Name)
			for _, d := range c.Diffs {
				fmt.Fprintf(&md, "    %s\n", d)
			}
		}
		md.WriteString("```\n")
	}
	if err := os.WriteFile(o.results, []byte(md.String()), 0o644); err != nil {
		fmt.Println("conform:", err)
	}
	if js, err := json.MarshalIndent(results, "", "  "); err == nil {
		if err := os.WriteFile(o.jsonPath, append(js, '\n'), 0o644); err != nil {
			fmt.Println("conform:", err)
		}
	}
	if len(seen) > 0 {
		fmt.Printf("\n*** %d KNOWN DIFFERENCES FROM JAVA KAFKA STREAMS (listed in %s, so not failures; each still to fix):\n", len(seen), o.known)
		for _, k := range seen {
			fmt.Printf("***   KNOWN-DIFF %-40s %d failing checks: %s\n", strings.Join(k.fields, " "), k.hits, k.note)
		}
		fmt.Println()
	}
	for _, k := range stale {
		fmt.Printf("KNOWN-DIFF NOT SEEN (fixed? remove it from %s): %s\n", o.known, k)
	}
	fmt.Printf("conform: %d PASS, %d KNOWN-DIFF, %d FAIL in %v; results in %s and %s\n",
		counts["PASS"], counts["KNOWN-DIFF"], counts["FAIL"], took.Round(time.Second), o.results, o.jsonPath)
	return counts["FAIL"] == 0
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}

// seenKnown returns the known-diffs entries that matched a failing check,
// in file order.
func seenKnown(known []*knownDiff) []*knownDiff {
	var out []*knownDiff
	for _, k := range known {
		if k.hits > 0 {
			out = append(out, k)
		}
	}
	return out
}
