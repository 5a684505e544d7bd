package statestore

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWindowDataDriven runs testdata/window.txt: blocks of
//
//	command args...
//	----
//	expected output
//
// separated by blank lines, against a window store (retention 100ms, size
// 10ms, segments of 50ms) and a session store (retention 100ms, segments of
// 50ms), on every engine with and without caching. Commands:
//
//	wput KEY VALUE START            window put ("-" as VALUE deletes)
//	wget KEY START
//	wfetch KEY FROM TO
//	wfetchall FROM TO
//	sput KEY START END VALUE        session put
//	sremove KEY START END
//	sfind KEY EARLIEST_END LATEST_START
//	flush
func TestWindowDataDriven(t *testing.T) {
	blocks := readDataDriven(t, filepath.Join("testdata", "window.txt"))
	forEachStoreConfig(t, func(t *testing.T, e Engine, opts []Option) {
		opts = append(opts, SegmentInterval(50*time.Millisecond))
		m := openManager(t, e, nil, 1<<20,
			Window("w", 100*time.Millisecond, 10*time.Millisecond, stringSerde{}, stringSerde{}, opts...),
			Session("s", 100*time.Millisecond, stringSerde{}, stringSerde{}, opts...))
		w := mustStore[WindowStore[string, string]](t, m, "w")
		s := mustStore[SessionStore[string, string]](t, m, "s")
		for _, blk := range blocks {
			// "\x00" in the file is a zero byte in keys.
			f := strings.Fields(strings.ReplaceAll(blk.cmd, `\x00`, "\x00"))
			num := func(i int) int64 {
				n, err := strconv.ParseInt(f[i], 10, 64)
				if err != nil {
					t.Fatalf("line %d: %v", blk.line, err)
				}
				return n
			}
			var out string
			switch f[0] {
			case "wput":
				if f[2] == "-" {
					out = errString(w.Delete(f[1], num(3)))
				} else {
					out = errString(w.Put(f[1], f[2], num(3)))
				}
			case "wget":
				v, ok, err := w.Get(f[1], num(2))
				out = fmt.Sprint(v, " ", ok, " ", errString(err))
			case "wfetch":
				out = renderWindows(w.Fetch(f[1], num(2), num(3)))
			case "wfetchall":
				out = renderWindows(w.FetchAll(num(1), num(2)))
			case "sput":
				out = errString(s.Put(Windowed[string]{f[1], num(2), num(3)}, f[4]))
			case "sremove":
				out = errString(s.Remove(Windowed[string]{f[1], num(2), num(3)}))
			case "sfind":
				out = renderWindows(s.FindSessions(f[1], num(2), num(3)))
			case "flush":
				out = errString(m.Flush())
			default:
				t.Fatalf("line %d: unknown command %q", blk.line, f[0])
			}
			if out != blk.want {
				t.Errorf("line %d: %s\ngot:\n%s\nwant:\n%s", blk.line, blk.cmd, out, blk.want)
			}
		}
	})
}

func errString(err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return "ok"
}

func renderWindows(it KeyValueIterator[Windowed[string], string], err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	defer it.Close()
	var lines []string
	for it.Next() {
		k := it.Key()
		key := strings.ReplaceAll(k.Key, "\x00", `\x00`)
		lines = append(lines, fmt.Sprintf("%s [%d,%d] %s", key, k.Start, k.End, it.Value()))
	}
	if err := it.Err(); err != nil {
		lines = append(lines, "error: "+err.Error())
	}
	if len(lines) == 0 {
		return "(none)"
	}
	return strings.Join(lines, "\n")
}

type ddBlock struct {
	line      int
	cmd, want string
}

func readDataDriven(t *testing.T, path string) []ddBlock {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []ddBlock
	var cur *ddBlock
	var want []string
	inWant := false
	sc := bufio.NewScanner(f)
	n := 0
	flush := func() {
		if cur != nil {
			cur.want = strings.Join(want, "\n")
			blocks = append(blocks, *cur)
		}
		cur, want, inWant = nil, nil, false
	}
	for sc.Scan() {
		n++
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "#") && cur == nil:
		case strings.TrimSpace(l) == "":
			flush()
		case cur == nil:
			cur = &ddBlock{line: n, cmd: l}
		case l == "----":
			inWant = true
		case inWant:
			want = append(want, l)
		default:
			t.Fatalf("%s:%d: expected ----", path, n)
		}
	}
	flush()
	return blocks
}
