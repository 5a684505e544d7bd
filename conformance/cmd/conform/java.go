package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// javaSide is one JVM running conformance/java's Main, which starts and
// stops Kafka Streams applications on command (one line each on its stdin;
// it answers on stdout). One JVM serves a whole run, so Java starts once.
// Its methods are safe for concurrent use.
type javaSide struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	waiters map[string]chan string // "started id" / "stopped id" -> waiter
	errs    map[string][]string    // app id -> error lines
	exited  chan struct{}
}

func startJava(dir, brokers, logPath string) (*javaSide, error) {
	cp := filepath.Join(dir, "target", "classes") + string(os.PathListSeparator) + filepath.Join(dir, "target", "lib", "*")
	cmd := exec.Command("java", "-Xmx768m", "-XX:+UseSerialGC", "-cp", cp, "dev.sluicestreams.conformance.Main", brokers)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("java: %w", err)
	}
	j := &javaSide{cmd: cmd, stdin: stdin, waiters: map[string]chan string{}, errs: map[string][]string{}, exited: make(chan struct{})}
	go func() {
		defer close(j.exited)
		defer logf.Close()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, "stdout:", line)
			f := strings.SplitN(line, " ", 3)
			if len(f) < 2 {
				continue
			}
			j.mu.Lock()
			switch f[0] {
			case "started", "stopped":
				if ch, ok := j.waiters[f[0]+" "+f[1]]; ok {
					ch <- line
					delete(j.waiters, f[0]+" "+f[1])
				}
			case "error":
				msg := ""
				if len(f) > 2 {
					msg = f[2]
				}
				j.errs[f[1]] = append(j.errs[f[1]], msg)
				if ch, ok := j.waiters["started "+f[1]]; ok {
					ch <- line
					delete(j.waiters, "started "+f[1])
				}
			}
			j.mu.Unlock()
		}
		_ = cmd.Wait()
	}()
	return j, nil
}

func (j *javaSide) send(ctx context.Context, key, line string) (string, error) {
	ch := make(chan string, 1)
	j.mu.Lock()
	j.waiters[key] = ch
	_, err := io.WriteString(j.stdin, line+"\n")
	j.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("java: %w", err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-j.exited:
		return "", fmt.Errorf("java: the JVM exited")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// start starts app (case caseName) and waits for Java to answer.
func (j *javaSide) start(ctx context.Context, a *app) error {
	line := fmt.Sprintf("start %s %s %s %d %s %s %s %s", a.caseName, a.id, a.guarantee, a.maxTaskIdle.Milliseconds(),
		strings.Join(a.inputs, ","), strings.Join(a.outputs, ","), a.stateDir, a.describePath)
	r, err := j.send(ctx, "started "+a.id, line)
	if err != nil {
		return err
	}
	if strings.HasPrefix(r, "error") {
		return fmt.Errorf("java: %s", r)
	}
	return nil
}

func (j *javaSide) stop(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	_, err := j.send(ctx, "stopped "+id, "stop "+id)
	return err
}

// errors returns the errors Java reported for app id (uncaught exceptions).
func (j *javaSide) errors(id string) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.errs[id]...)
}

func (j *javaSide) close() {
	_ = j.stdin.Close()
	select {
	case <-j.exited:
	case <-time.After(90 * time.Second):
		_ = j.cmd.Process.Kill()
		<-j.exited
	}
}
