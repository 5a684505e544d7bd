package assignor

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected assignments in testdata/*.txt")

// TestGolden runs the cases in testdata/*.txt. A case is an input block (see
// format_test.go), a line "----", and the expected assignment; cases end at a
// blank line. Lines starting with # before a case are comments and kept.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			for i, c := range splitCases(string(data)) {
				in, err := parseInput(c.input)
				if err != nil {
					t.Fatalf("case %d: %v", i+1, err)
				}
				a, err := Assign(in)
				if err != nil {
					t.Fatalf("case %d: %v", i+1, err)
				}
				if err := checkInvariants(in, a); err != nil {
					t.Errorf("case %d: invariant broken: %v", i+1, err)
				}
				got := formatAssignment(a)
				if !*update && got != c.expected {
					t.Errorf("case %d:\n%s----\ngot:\n%swant:\n%s", i+1, c.input, got, c.expected)
				}
				if i > 0 {
					out.WriteString("\n")
				}
				out.WriteString(c.input + "----\n" + got)
			}
			if *update {
				if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

type goldenCase struct{ input, expected string }

func splitCases(s string) []goldenCase {
	var cases []goldenCase
	var cur goldenCase
	inExpected := false
	flush := func() {
		if cur.input != "" {
			cases = append(cases, cur)
		}
		cur, inExpected = goldenCase{}, false
	}
	for _, line := range strings.Split(s, "\n") {
		switch {
		case line == "----":
			inExpected = true
		case strings.TrimSpace(line) == "":
			if inExpected {
				flush()
			}
		case inExpected:
			cur.expected += line + "\n"
		default:
			cur.input += line + "\n"
		}
	}
	flush()
	return cases
}
