package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var legalTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func TestTopicName(t *testing.T) {
	tests := []struct {
		name, test, want string
	}{
		{"plain", "TestFoo", "TestFoo-abc"},
		{"subtest", "TestFoo/bar_baz", "TestFoo_bar_baz-abc"},
		{"spaces and symbols", "TestX/a b#c:d", "TestX_a_b_c_d-abc"},
		{"dots become underscores", "TestX/v1.2", "TestX_v1_2-abc"},
		{"unicode", "TestX/ü", "TestX__-abc"},
		{"empty", "", "t-abc"},
		{"long", strings.Repeat("x", 300), strings.Repeat("x", 200) + "-abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := topicName(tt.test, "abc")
			if got != tt.want {
				t.Fatalf("topicName(%q) = %q, want %q", tt.test, got, tt.want)
			}
			if !legalTopic.MatchString(got) {
				t.Fatalf("topicName(%q) = %q is not a legal topic name", tt.test, got)
			}
		})
	}
}

func TestAppIDUnique(t *testing.T) {
	env := Cluster(t)
	seen := map[string]bool{}
	for range 100 {
		id := env.AppID(t)
		if seen[id] {
			t.Fatalf("AppID repeated %q", id)
		}
		if !strings.HasPrefix(id, "app-TestAppIDUnique-") {
			t.Fatalf("AppID = %q, want the test name in it", id)
		}
		seen[id] = true
	}
}

func TestClusterMatchesEnvironment(t *testing.T) {
	env := Cluster(t)
	if want := os.Getenv(BrokersEnv) != ""; env.Real() != want {
		t.Fatalf("Real() = %v with %s=%q", env.Real(), BrokersEnv, os.Getenv(BrokersEnv))
	}
	if len(env.Brokers()) == 0 {
		t.Fatal("no brokers")
	}
	if Cluster(t) != env {
		t.Fatal("Cluster returned a different Env on the second call")
	}
	b := env.Brokers()
	b[0] = "mutated"
	if env.Brokers()[0] == "mutated" {
		t.Fatal("Brokers returned the Env's own slice")
	}
}

func TestSplitBrokers(t *testing.T) {
	got := splitBrokers(" a:1, b:2,,c:3 ")
	want := []string{"a:1", "b:2", "c:3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("splitBrokers = %q, want %q", got, want)
	}
}

// TestTopicLifecycle checks that Topic creates what was asked for and that
// the cleanup of the test that created it deletes it.
func TestTopicLifecycle(t *testing.T) {
	env := Cluster(t)
	adm := env.Admin(t)
	var name string
	t.Run("create", func(t *testing.T) {
		name = env.Topic(t, 3, map[string]*string{"retention.ms": ptr("123456789")})
		if !legalTopic.MatchString(name) || !strings.HasPrefix(name, "TestTopicLifecycle_create-") {
			t.Fatalf("topic name %q", name)
		}
		ctx := context.Background()
		md, err := adm.Metadata(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(md.Topics[name].Partitions); n != 3 {
			t.Fatalf("%d partitions, want 3", n)
		}
		cfgs, err := adm.DescribeTopicConfigs(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := cfgs.On(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" {
				found = true
				if c.Value == nil || *c.Value != "123456789" {
					t.Fatalf("retention.ms = %v, want 123456789", c.Value)
				}
			}
		}
		if !found {
			t.Fatal("retention.ms not described")
		}
	})
	if name == "" {
		t.Fatal("subtest did not create a topic")
	}
	WaitFor(t, time.Minute, func() error {
		topics, err := adm.ListTopics(context.Background())
		if err != nil {
			return err
		}
		if topics.Has(name) {
			return fmt.Errorf("topic %s still exists after its test's cleanup", name)
		}
		return nil
	})
}

func TestReadAllEmptyTopic(t *testing.T) {
	env := Cluster(t)
	topic := env.Topic(t, 2, nil)
	if recs := env.ReadAll(t, topic, false); len(recs) != 0 {
		t.Fatalf("read %d records from an empty topic", len(recs))
	}
	if recs := env.ReadAll(t, topic, true); len(recs) != 0 {
		t.Fatalf("read %d records from an empty topic (read_committed)", len(recs))
	}
}

// TestReadAllStopsAtEndOffsetOfCall checks that ReadAll returns exactly what
// was in the topic when it was called, ordered by partition then offset.
func TestReadAllOrderAndContent(t *testing.T) {
	env := Cluster(t)
	topic := env.Topic(t, 3, nil)
	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: fmt.Appendf(nil, "%d", i)})
	}
	cl := env.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := env.ReadAll(t, topic, false)
	if len(got) != 30 {
		t.Fatalf("read %d records, want 30", len(got))
	}
	for i, r := range got {
		wantPart := int32(i / 10)
		wantVal := fmt.Sprintf("%d", int(wantPart)+3*(i%10))
		if r.Partition != wantPart || string(r.Value) != wantVal || r.Offset != int64(i%10) {
			t.Fatalf("record %d: partition %d offset %d value %q, want partition %d offset %d value %q",
				i, r.Partition, r.Offset, r.Value, wantPart, i%10, wantVal)
		}
	}
}

// recorder is a testing.TB whose Fatalf records the failure and ends the
// goroutine, so tests can check that a helper fails its test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func runFailing(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func TestWaitFor(t *testing.T) {
	calls := 0
	WaitFor(t, time.Minute, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3", calls)
	}

	msg := runFailing(t, func(tb testing.TB) {
		WaitFor(tb, 50*time.Millisecond, func() error { return errors.New("never ready") })
	})
	if !strings.Contains(msg, "never ready") {
		t.Fatalf("WaitFor failure = %q, want the condition's last error", msg)
	}
}

func TestProduceRejectsRecordWithoutTopic(t *testing.T) {
	env := Cluster(t)
	msg := runFailing(t, func(tb testing.TB) {
		env.Produce(tb, &kgo.Record{Value: []byte("x")})
	})
	if !strings.Contains(msg, "no topic") {
		t.Fatalf("Produce failure = %q", msg)
	}
}

func TestKillNodeNeedsFaultCluster(t *testing.T) {
	env := Cluster(t)
	msg := runFailing(t, func(tb testing.TB) { env.KillNode(tb, 1) })
	if !strings.Contains(msg, "FaultCluster") {
		t.Fatalf("KillNode on Cluster: failure = %q", msg)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("RepoRoot %s has no go.mod: %v", root, err)
	}
}

// TestKafkaScriptStatus runs scripts/kafka.sh against an empty state
// directory: it must list every node as stopped in the format nodeStopped
// reads, and reject bad arguments.
func TestKafkaScriptStatus(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "kafka.sh")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(script, args...)
		cmd.Env = append(os.Environ(), "SLUICE_KAFKA_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, n := range []int{1, 3} {
		out, err := run("status", "--brokers", strconv.Itoa(n))
		if err != nil {
			t.Fatalf("status --brokers %d: %v\n%s", n, err, out)
		}
		for id := int32(1); id <= int32(n); id++ {
			stopped, found := nodeStopped(out, n, id)
			if !found || !stopped {
				t.Fatalf("status --brokers %d: node %d found=%v stopped=%v in\n%s", n, id, found, stopped, out)
			}
		}
		if _, found := nodeStopped(out, n, int32(n)+1); found {
			t.Fatalf("status --brokers %d lists node %d:\n%s", n, n+1, out)
		}
	}
	for _, args := range [][]string{
		{"status", "--brokers", "2"},
		{"frobnicate"},
		{"kill-node", "--brokers", "3"},
		{"kill-node", "4", "--brokers", "3"},
	} {
		if out, err := run(args...); err == nil {
			t.Fatalf("kafka.sh %v succeeded:\n%s", args, out)
		}
	}
}

func TestNodeStopped(t *testing.T) {
	status := "c3 node 1  127.0.0.1:29092 (controller 29093)  running pid 42  log x\n" +
		"c3 node 2  127.0.0.1:29192 (controller 29193)  stopped  log y\n"
	tests := []struct {
		id             int32
		stopped, found bool
	}{{1, false, true}, {2, true, true}, {3, false, false}}
	for _, tt := range tests {
		stopped, found := nodeStopped(status, 3, tt.id)
		if stopped != tt.stopped || found != tt.found {
			t.Errorf("node %d: stopped=%v found=%v, want %v %v", tt.id, stopped, found, tt.stopped, tt.found)
		}
	}
}

// TestLockFileExcludes checks that a second holder of the fault-test lock
// waits for the first.
func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	acquired := make(chan func())
	go func() {
		u, err := lockFile(path)
		if err != nil {
			t.Error(err)
			u = func() {}
		}
		acquired <- u
	}()
	select {
	case u := <-acquired:
		u()
		unlock()
		if runtime.GOOS != "windows" {
			t.Fatal("second lockFile returned while the first lock was held")
		}
		return
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	(<-acquired)()
}
