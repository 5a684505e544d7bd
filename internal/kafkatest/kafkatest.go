package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Environment variables naming real clusters.
const (
	// BrokersEnv names the cluster [Cluster] uses (comma-separated host:port).
	BrokersEnv = "SLUICE_BROKERS"
	// FaultBrokersEnv names the three-broker cluster [FaultCluster] uses.
	FaultBrokersEnv = "SLUICE_FAULT_BROKERS"
)

// Timeouts of the helpers. They are generous: the test machine is small and
// shared, and a helper that gives up early makes a flaky test.
const (
	opTimeout   = 60 * time.Second // one admin call, one Produce, one ReadAll
	nodeTimeout = 4 * time.Minute  // scripts/kafka.sh kill-node / start-node
	pollEvery   = 100 * time.Millisecond
)

// Env is a cluster a test runs against. It is safe for concurrent use.
type Env struct {
	brokers []string
	real    bool
	fault   bool // the scripts/kafka.sh three-broker cluster
	rf      int16
}

var (
	realOnce sync.Once
	realEnv  *Env

	fakeOnce sync.Once
	fakeEnv  *Env
	fakeErr  error

	faultOnce sync.Once
	faultEnv  *Env
)

// Cluster returns the cluster for t: the real one named by SLUICE_BROKERS
// when that is set, otherwise an in-process kfake cluster of three brokers
// that is started on first use and shared by every test of the binary.
func Cluster(t testing.TB) *Env {
	t.Helper()
	if s := strings.TrimSpace(os.Getenv(BrokersEnv)); s != "" {
		realOnce.Do(func() {
			b := splitBrokers(s)
			realEnv = &Env{brokers: b, real: true, rf: int16(min(len(b), 3))}
		})
		return realEnv
	}
	fakeOnce.Do(func() {
		c, err := kfake.NewCluster(
			kfake.NumBrokers(3),
			kfake.GroupMinSessionTimeout(time.Second),
			kfake.BrokerConfigs(map[string]string{
				// Compact often so compaction tests finish quickly.
				"log.cleaner.backoff.ms": "200",
			}),
		)
		if err != nil {
			fakeErr = err
			return
		}
		// The cluster lives as long as the test binary.
		fakeEnv = &Env{brokers: c.ListenAddrs(), rf: 1}
	})
	if fakeErr != nil {
		t.Fatalf("kafkatest: start kfake cluster: %v", fakeErr)
	}
	return fakeEnv
}

// FaultCluster returns the three-broker cluster named by SLUICE_FAULT_BROKERS
// (started by `scripts/kafka.sh up --brokers 3`, which `make test` and
// `make test-fault` do) and skips t when that variable is unset. Topics it
// creates have replication factor 3. Tests using it run one at a time, also
// across the test binaries of different packages: FaultCluster takes a lock
// file that t's cleanup releases, so call it once per test, and not from
// two tests that wait for each other.
func FaultCluster(t testing.TB) *Env {
	t.Helper()
	s := strings.TrimSpace(os.Getenv(FaultBrokersEnv))
	if s == "" {
		t.Skipf("kafkatest: %s is not set; fault tests need the three-broker cluster (make test or make test-fault)", FaultBrokersEnv)
	}
	faultOnce.Do(func() {
		b := splitBrokers(s)
		faultEnv = &Env{brokers: b, real: true, fault: true, rf: int16(len(b))}
	})
	// go test runs packages in parallel; two fault tests killing different
	// brokers at once would take the cluster below its quorum. A lock file
	// per cluster serializes every test that uses it, across packages.
	path := filepath.Join(os.TempDir(), "sluice-fault-"+topicName(s, "lock"))
	start := time.Now()
	unlock, err := lockFile(path)
	if err != nil {
		t.Fatalf("kafkatest: lock %s: %v", path, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Logf("kafkatest: waited %s for other fault tests (lock %s)", d.Round(time.Millisecond), path)
	}
	t.Cleanup(unlock)
	return faultEnv
}

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Brokers returns the bootstrap addresses. The caller may modify the slice.
func (e *Env) Brokers() []string { return append([]string(nil), e.brokers...) }

// Real reports whether this is a real Apache Kafka cluster (not kfake).
func (e *Env) Real() bool { return e.real }

// ReplicationFactor is the replication factor [Env.Topic] creates topics with.
func (e *Env) ReplicationFactor() int16 { return e.rf }

// Client returns a franz-go client seeded with the cluster's brokers and
// the given options; it is closed when t's cleanup runs.
func (e *Env) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := append([]kgo.Opt{kgo.SeedBrokers(e.brokers...)}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatalf("kafkatest: new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client for the cluster, closed at t's cleanup.
func (e *Env) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(e.Client(t))
}

// Topic creates a topic with a unique name derived from t.Name(), the given
// number of partitions and topic configs (nil for none), waits until every
// partition has a leader, and deletes the topic at t's cleanup. It returns
// the name.
func (e *Env) Topic(t testing.TB, partitions int, configs map[string]*string) string {
	t.Helper()
	if partitions < 1 {
		t.Fatalf("kafkatest: Topic: %d partitions", partitions)
	}
	name := topicName(t.Name(), randomSuffix(t))
	adm := e.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, int32(partitions), e.rf, configs, name); err != nil {
		t.Fatalf("kafkatest: create topic %s (%d partitions, rf %d): %v", name, partitions, e.rf, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if _, err := adm.DeleteTopic(ctx, name); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Errorf("kafkatest: delete topic %s: %v", name, err)
		}
	})
	e.WaitFor(t, opTimeout, func() error {
		return partitionsReady(ctx, adm, name, partitions)
	})
	return name
}

// partitionsReady fails unless the topic has n partitions, each with a
// leader that answers ListOffsets.
func partitionsReady(ctx context.Context, adm *kadm.Client, topic string, n int) error {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return fmt.Errorf("topic %s not in metadata yet (%v)", topic, td.Err)
	}
	if len(td.Partitions) != n {
		return fmt.Errorf("topic %s has %d of %d partitions", topic, len(td.Partitions), n)
	}
	for p, pd := range td.Partitions {
		if pd.Err != nil || pd.Leader < 0 {
			return fmt.Errorf("%s[%d] has no leader (%v)", topic, p, pd.Err)
		}
	}
	offs, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	return offs.Error()
}

// CompactionConfigs returns topic configs under which this cluster compacts
// a topic within seconds: cleanup.policy=compact, and on a real broker a
// short segment.ms, a tiny min.cleanable.dirty.ratio and no compaction lag.
// The active segment is never compacted, so a test produces one more record
// after the ones it wants compacted (a new record also rolls the segment
// once segment.ms has passed).
func (e *Env) CompactionConfigs() map[string]*string {
	c := map[string]*string{"cleanup.policy": ptr("compact")}
	if e.real {
		c["segment.ms"] = ptr("100")
		c["min.cleanable.dirty.ratio"] = ptr("0.01")
		c["min.compaction.lag.ms"] = ptr("0")
		c["delete.retention.ms"] = ptr("100")
	}
	return c
}

func ptr(s string) *string { return &s }

// AppID returns an application (or group, or transactional) id unique to t.
func (e *Env) AppID(t testing.TB) string {
	t.Helper()
	return "app-" + topicName(t.Name(), randomSuffix(t))
}

// Produce writes the records synchronously (acks=all, idempotent) and fails
// t if any of them fails. Every record must name its topic.
func (e *Env) Produce(t testing.TB, recs ...*kgo.Record) {
	t.Helper()
	for i, r := range recs {
		if r.Topic == "" {
			t.Fatalf("kafkatest: Produce: record %d has no topic", i)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatalf("kafkatest: new client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("kafkatest: produce %d records: %v", len(recs), err)
	}
}

// ReadAll reads every partition of topic from its start offset to its end
// offset as of the call — the high watermark, or under readCommitted the last
// stable offset — and returns the records ordered by partition, then
// offset. Transaction markers are not returned; under readCommitted records
// of aborted transactions are not either.
//
// Under readCommitted, ReadAll first waits (up to 30s) until the last
// stable offset has caught up with the high watermark, so that the markers of
// a transaction committed just before the call are written and its records
// are read.
//
// Records produced after the call are not read. Reading is done when the
// consumer position reaches the end offset, which it does through visible
// records and transaction markers; the one log ReadAll cannot finish is one
// whose last record below the end offset belongs to an aborted transaction
// whose marker lies above the end offset (an open transaction interleaved
// with it). It then fails t after its deadline, naming the partition.
func (e *Env) ReadAll(t testing.TB, topic string, readCommitted bool) []*kgo.Record {
	t.Helper()
	adm := e.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()

	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		t.Fatalf("kafkatest: ReadAll %s: list start offsets: %v", topic, err)
	}
	ends := e.endOffsets(t, ctx, adm, topic, readCommitted)

	from := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	next := map[int32]int64{} // the consumer position we have seen per partition
	ends.Each(func(lo kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, lo.Partition)
		if lo.Offset > s.Offset {
			from[lo.Partition] = kgo.NewOffset().At(s.Offset)
			end[lo.Partition] = lo.Offset
			next[lo.Partition] = s.Offset
		}
	})
	if len(from) == 0 {
		return nil
	}

	iso := kgo.ReadUncommitted()
	if readCommitted {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(e.brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(iso),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("kafkatest: new client: %v", err)
	}
	defer cl.Close()

	byPart := map[int32][]*kgo.Record{}
	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			var left []string
			for p, o := range end {
				left = append(left, fmt.Sprintf("partition %d at %d of %d", p, next[p], o))
			}
			sort.Strings(left)
			t.Fatalf("kafkatest: ReadAll %s: not at the end after %s: %s", topic, opTimeout, strings.Join(left, ", "))
		}
		fs.EachError(func(_ string, p int32, err error) {
			if !kerr.IsRetriable(err) {
				t.Fatalf("kafkatest: ReadAll %s[%d]: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			stop, ok := end[r.Partition]
			if !ok || r.Offset >= stop {
				return
			}
			next[r.Partition] = r.Offset + 1
			if r.Offset+1 >= stop {
				delete(end, r.Partition)
			}
			if !r.Attrs.IsControl() {
				byPart[r.Partition] = append(byPart[r.Partition], r)
			}
		})
	}

	parts := make([]int32, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	var out []*kgo.Record
	for _, p := range parts {
		out = append(out, byPart[p]...)
	}
	return out
}

// stableWait bounds how long ReadAll under read_committed waits for the
// transactions on a topic to be decided.
const stableWait = 30 * time.Second

// endOffsets lists where ReadAll stops: the high watermarks, or under
// readCommitted the last stable offsets once they have caught up with the
// high watermarks. A transaction's commit returns to its producer before the
// broker has written the markers, so right after a commit the last stable
// offset can still lag; waiting for it makes a read right after a commit see
// that commit. If a transaction stays open for stableWait, ReadAll reads up
// to the last stable offset as it then is and logs that it did.
func (e *Env) endOffsets(t testing.TB, ctx context.Context, adm *kadm.Client, topic string, readCommitted bool) kadm.ListedOffsets {
	t.Helper()
	list := func(committed bool) kadm.ListedOffsets {
		t.Helper()
		var (
			offs kadm.ListedOffsets
			err  error
		)
		if committed {
			offs, err = adm.ListCommittedOffsets(ctx, topic)
		} else {
			offs, err = adm.ListEndOffsets(ctx, topic)
		}
		if err == nil {
			err = offs.Error()
		}
		if err != nil {
			t.Fatalf("kafkatest: ReadAll %s: list end offsets: %v", topic, err)
		}
		return offs
	}
	if !readCommitted {
		return list(false)
	}
	deadline := time.Now().Add(stableWait)
	for {
		hwm := list(false)
		lso := list(true)
		pending := ""
		lso.Each(func(lo kadm.ListedOffset) {
			if h, ok := hwm.Lookup(topic, lo.Partition); ok && h.Offset > lo.Offset && pending == "" {
				pending = fmt.Sprintf("partition %d: last stable offset %d, high watermark %d", lo.Partition, lo.Offset, h.Offset)
			}
		})
		if pending == "" {
			return lso
		}
		if time.Now().After(deadline) {
			t.Logf("kafkatest: ReadAll %s: a transaction is still open after %s (%s); reading to the last stable offset", topic, stableWait, pending)
			return lso
		}
		time.Sleep(pollEvery)
	}
}

// WaitFor calls cond every 100ms until it returns nil, failing t with
// cond's last error when timeout passes first.
func (e *Env) WaitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	WaitFor(t, timeout, cond)
}

// WaitFor calls cond every 100ms until it returns nil, failing t with
// cond's last error when timeout passes first.
func WaitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kafkatest: gave up after %s: %v", timeout, err)
		}
		time.Sleep(pollEvery)
	}
}

// LeaderNode returns the node id of the current leader of the partition,
// waiting (up to a minute) until it has one.
func (e *Env) LeaderNode(t testing.TB, topic string, partition int32) int32 {
	t.Helper()
	return e.WaitForLeader(t, topic, partition, -1)
}

// WaitForLeader waits until the partition has a leader other than node
// exclude (-1 for any) and returns it.
func (e *Env) WaitForLeader(t testing.TB, topic string, partition, exclude int32) int32 {
	t.Helper()
	adm := e.Admin(t)
	var leader int32 = -1
	e.WaitFor(t, opTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return err
		}
		pd, ok := md.Topics[topic].Partitions[partition]
		switch {
		case !ok:
			return fmt.Errorf("%s[%d] not in metadata", topic, partition)
		case pd.Leader < 0 || pd.Leader == exclude:
			return fmt.Errorf("%s[%d] leader is %d", topic, partition, pd.Leader)
		}
		leader = pd.Leader
		return nil
	})
	return leader
}

// KillNode kills broker node id (1..3) of the fault cluster with SIGKILL
// through scripts/kafka.sh and registers a cleanup that restarts it if the
// test has not. Only for [FaultCluster] environments.
func (e *Env) KillNode(t testing.TB, id int32) {
	t.Helper()
	e.mustFault(t, "KillNode")
	e.kafkaScript(t, "kill-node", strconv.Itoa(int(id)), "--brokers", "3")
	t.Cleanup(func() {
		if e.nodeDown(id) {
			e.kafkaScript(t, "start-node", strconv.Itoa(int(id)), "--brokers", "3")
		}
	})
}

// StartNode restarts broker node id of the fault cluster on its data dir and
// waits until every partition's replicas are back in sync.
func (e *Env) StartNode(t testing.TB, id int32) {
	t.Helper()
	e.mustFault(t, "StartNode")
	e.kafkaScript(t, "start-node", strconv.Itoa(int(id)), "--brokers", "3")
}

func (e *Env) mustFault(t testing.TB, what string) {
	t.Helper()
	if !e.fault {
		t.Fatalf("kafkatest: %s needs the FaultCluster environment", what)
	}
}

// nodeDown reports whether scripts/kafka.sh status lists node id as stopped.
func (e *Env) nodeDown(id int32) bool {
	root, err := RepoRoot()
	if err != nil {
		return false
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "kafka.sh"), "status", "--brokers", "3").Output()
	if err != nil {
		return false
	}
	stopped, found := nodeStopped(string(out), 3, id)
	return found && stopped
}

// nodeStopped reads `scripts/kafka.sh status` output ("c3 node 2  addr ...
// running pid 123 ..." or "... stopped ...") for node id of the cluster of
// n brokers.
func nodeStopped(status string, n int, id int32) (stopped, found bool) {
	prefix := fmt.Sprintf("c%d node %d ", n, id)
	for _, line := range strings.Split(status, "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.Contains(line, " stopped "), true
		}
	}
	return false, false
}

func (e *Env) kafkaScript(t testing.TB, args ...string) {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "kafka.sh"), args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kafkatest: scripts/kafka.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("scripts/kafka.sh %s:\n%s", strings.Join(args, " "), strings.TrimSpace(string(out)))
}

// RepoRoot returns the root of the Sluice checkout: the nearest directory
// above the working directory (or, failing that, above this source file)
// that holds scripts/kafka.sh.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "scripts", "kafka.sh")); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("kafkatest: cannot find the repository root (no scripts/kafka.sh above the working directory)")
}

// topicName makes a legal Kafka topic name (at most 249 of [a-zA-Z0-9._-])
// from a test name and a suffix.
func topicName(testName, suffix string) string {
	var b strings.Builder
	for _, r := range testName {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	const maxBase = 200
	if len(name) > maxBase {
		name = name[:maxBase]
	}
	if name == "" {
		name = "t"
	}
	return name + "-" + suffix
}

func randomSuffix(t testing.TB) string {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("kafkatest: random: %v", err)
	}
	return hex.EncodeToString(b[:])
}
