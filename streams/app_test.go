package streams_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// echoTopology copies in to out, tagging each value with the task that
// processed it.
func echoTopology(t testing.TB, in, out string) *processor.Topology {
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{in}, KeySerde: serde.String(), ValueSerde: serde.String()}))
	must(t, processor.AddProcessor(top, "tag", processor.Func(func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		return ctx.Forward(processor.WithValue(r, r.Value+"|"+ctx.TaskID().String()))
	}), "src"))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, string]{Topic: out, KeySerde: serde.String(), ValueSerde: serde.String()}, "tag"))
	return top
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testConfig(env *kafkatest.Env, appID string) streams.Config {
	return streams.Config{
		ApplicationID:    appID,
		Brokers:          env.Brokers(),
		CommitInterval:   200 * time.Millisecond,
		SessionTimeout:   6 * time.Second,
		RebalanceTimeout: 10 * time.Second,
	}
}

func startApp(t *testing.T, top *processor.Topology, cfg streams.Config) *streams.App {
	t.Helper()
	app, err := streams.New(top, cfg)
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(t, app.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = app.Close(ctx)
	})
	return app
}

func produceN(t *testing.T, env *kafkatest.Env, topic string, from, to int) {
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i%97)), Value: []byte("v" + strconv.Itoa(i))})
	}
	env.Produce(t, recs...)
}

// outputCounts reads out and counts each input value seen in it.
func outputCounts(t *testing.T, env *kafkatest.Env, out string) map[string]int {
	counts := map[string]int{}
	for _, r := range env.ReadAll(t, out, false) {
		v, _, _ := strings.Cut(string(r.Value), "|")
		counts[v]++
	}
	return counts
}

func waitAllOutput(t *testing.T, env *kafkatest.Env, out string, n int) map[string]int {
	var counts map[string]int
	env.WaitFor(t, 2*time.Minute, func() error {
		counts = outputCounts(t, env, out)
		for i := 0; i < n; i++ {
			if counts["v"+strconv.Itoa(i)] == 0 {
				return fmt.Errorf("output has %d of %d distinct inputs (v%d missing)", len(counts), n, i)
			}
		}
		return nil
	})
	return counts
}

func waitTasks(t *testing.T, env *kafkatest.Env, want []int, apps ...*streams.App) {
	env.WaitFor(t, 2*time.Minute, func() error {
		seen := map[string]bool{}
		var got []int
		for _, a := range apps {
			if a.State() != streams.Running {
				return fmt.Errorf("an app is %s", a.State())
			}
			ts := a.ActiveTasks()
			got = append(got, len(ts))
			for _, id := range ts {
				if seen[id.String()] {
					return fmt.Errorf("task %s runs twice", id)
				}
				seen[id.String()] = true
			}
		}
		sort.Ints(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("tasks per app %v, want %v", got, want)
		}
		return nil
	})
}

// TestAppsShareTasks: two instances split a 6-partition topic 3/3 and
// together produce the complete output; a third joining takes tasks from
// both.
func TestAppsShareTasks(t *testing.T) {
	t.Parallel() // mostly waiting on rebalances; two at a time (GOMAXPROCS)
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 6, nil), env.Topic(t, 6, nil)
	appID := env.AppID(t)
	top := echoTopology(t, in, out)
	a1 := startApp(t, top, testConfig(env, appID))
	a2 := startApp(t, top, testConfig(env, appID))
	waitTasks(t, env, []int{3, 3}, a1, a2)
	before1, before2 := a1.ActiveTasks(), a2.ActiveTasks()
	produceN(t, env, in, 0, 600)
	counts := waitAllOutput(t, env, out, 600)
	if len(counts) != 600 {
		t.Fatalf("output has %d distinct values, want 600", len(counts))
	}

	a3 := startApp(t, top, testConfig(env, appID))
	waitTasks(t, env, []int{2, 2, 2}, a1, a2, a3)
	after1, after2 := a1.ActiveTasks(), a2.ActiveTasks()
	if len(after1) >= len(before1) || len(after2) >= len(before2) {
		t.Errorf("the third app did not take tasks from both: before %v %v, after %v %v", before1, before2, after1, after2)
	}
	produceN(t, env, in, 600, 900)
	waitAllOutput(t, env, out, 900)
}

// TestKillAndRestartAtLeastOnce: an App stopped without a clean close and
// restarted loses nothing; the test reports duplicates.
func TestKillAndRestartAtLeastOnce(t *testing.T) {
	t.Parallel() // mostly waiting on rebalances; two at a time (GOMAXPROCS)
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 3, nil), env.Topic(t, 3, nil)
	appID := env.AppID(t)
	top := echoTopology(t, in, out)
	cfg := testConfig(env, appID)
	cfg.CommitInterval = 300 * time.Millisecond
	const total = 6000
	// Input keeps flowing while the App is killed and restarted.
	produced := make(chan struct{})
	cl := env.Client(t)
	go func() {
		defer close(produced)
		for i := 0; i < total; i += 100 {
			var recs []*kgo.Record
			for j := i; j < i+100; j++ {
				recs = append(recs, &kgo.Record{Topic: in, Key: []byte("k" + strconv.Itoa(j%97)), Value: []byte("v" + strconv.Itoa(j))})
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := cl.ProduceSync(ctx, recs...).FirstErr()
			cancel()
			if err != nil {
				t.Errorf("producing: %v", err)
				return
			}
			time.Sleep(30 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { <-produced })
	a1 := startApp(t, top, cfg)
	// Kill once something has been committed, so the restart resumes from
	// a commit rather than from the start.
	adm := env.Admin(t)
	env.WaitFor(t, 2*time.Minute, func() error {
		offs, err := adm.FetchOffsets(context.Background(), appID)
		if err != nil {
			return err
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		if sum < total/8 {
			return fmt.Errorf("committed %d offsets so far", sum)
		}
		return nil
	})
	killed, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a1.Close(killed); err != nil {
		t.Fatalf("kill: %v", err)
	}
	select {
	case <-produced:
		t.Log("note: all input was produced before the kill")
	default:
	}
	a2 := startApp(t, top, cfg)
	counts := waitAllOutput(t, env, out, total)
	dups := 0
	for _, c := range counts {
		dups += c - 1
	}
	t.Logf("at-least-once after a kill: %d inputs, %d outputs, %d duplicates", total, total+dups, dups)
	if dups > total/2 {
		t.Errorf("%d duplicates: the restart did not resume from the commit made before the kill", dups)
	}
	<-produced
	_ = a2
}

func TestCopartitionAndMissingTopicErrors(t *testing.T) {
	env := kafkatest.Cluster(t)
	a, b := env.Topic(t, 2, nil), env.Topic(t, 3, nil)
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{a, b}, KeySerde: serde.String(), ValueSerde: serde.String()}))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, string]{Topic: a, KeySerde: serde.String(), ValueSerde: serde.String()}, "src"))
	app, err := streams.New(top, testConfig(env, env.AppID(t)))
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = app.Start(ctx)
	if !errors.Is(err, streams.ErrCopartition) || !strings.Contains(err.Error(), a+" (2 partitions)") || !strings.Contains(err.Error(), b+" (3 partitions)") {
		t.Errorf("Start error = %v, want a co-partitioning error naming both topics and counts", err)
	}
	_ = app.Close(ctx)

	missing := "no-such-topic-" + env.AppID(t)
	app2, err := streams.New(echoTopology(t, missing, a), testConfig(env, env.AppID(t)))
	must(t, err)
	err = app2.Start(ctx)
	if !errors.Is(err, streams.ErrMissingTopic) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Start error = %v, want a missing-topic error naming %s", err, missing)
	}
	_ = app2.Close(ctx)
}

// TestDeadLetterAndStates: undeserializable records go to the dead-letter
// topic with headers naming where they came from; the state listener sees
// CREATED -> REBALANCING -> RUNNING -> PENDING_SHUTDOWN -> NOT_RUNNING.
func TestDeadLetterAndStates(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out, dlq := env.Topic(t, 1, nil), env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "nums", processor.SourceSpec[string, int64]{Topics: []string{in}, KeySerde: serde.String(), ValueSerde: serde.Int64()}))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, int64]{Topic: out, KeySerde: serde.String(), ValueSerde: serde.Int64()}, "nums"))
	cfg := testConfig(env, env.AppID(t))
	cfg.DeserializationHandler = streams.DeadLetter
	cfg.DeadLetterTopic = dlq
	app, err := streams.New(top, cfg)
	must(t, err)
	var mu sync.Mutex
	var states []string
	app.OnStateChange(func(n, _ streams.State) {
		mu.Lock()
		states = append(states, n.String())
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(t, app.Start(ctx))
	good, _ := serde.Int64().Serialize(in, 7)
	env.Produce(t,
		&kgo.Record{Topic: in, Key: []byte("a"), Value: good},
		&kgo.Record{Topic: in, Key: []byte("b"), Value: []byte("bad")},
		&kgo.Record{Topic: in, Key: []byte("c"), Value: good},
	)
	env.WaitFor(t, time.Minute, func() error {
		if n := len(env.ReadAll(t, out, false)); n != 2 {
			return fmt.Errorf("%d outputs, want 2", n)
		}
		return nil
	})
	var dead []*kgo.Record
	env.WaitFor(t, time.Minute, func() error {
		dead = env.ReadAll(t, dlq, false)
		if len(dead) != 1 {
			return fmt.Errorf("%d dead letters, want 1", len(dead))
		}
		return nil
	})
	h := map[string]string{}
	for _, hd := range dead[0].Headers {
		h[hd.Key] = string(hd.Value)
	}
	if string(dead[0].Value) != "bad" || h[streams.HeaderDLQTopic] != in || h[streams.HeaderDLQOffset] != "1" || h[streams.HeaderDLQKind] != "deserialization" || h[streams.HeaderDLQNode] != "nums" || !strings.Contains(h[streams.HeaderDLQError], "invalid length") {
		t.Errorf("dead letter %q with headers %v", dead[0].Value, h)
	}
	must(t, app.Close(ctx))
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(states, " "); got != "REBALANCING RUNNING PENDING_SHUTDOWN NOT_RUNNING" {
		t.Errorf("states %q", got)
	}
}

// TestFailingProcessorStopsApp: with the default fail handler, a processing
// error stops the App in ERROR with an error naming task, topic, partition,
// offset and node.
func TestFailingProcessorStopsApp(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 1, nil), env.Topic(t, 1, nil)
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{in}, KeySerde: serde.String(), ValueSerde: serde.String()}))
	must(t, processor.AddProcessor(top, "picky", processor.Func(func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		if r.Value == "poison" {
			return errors.New("cannot digest")
		}
		return ctx.Forward(r)
	}), "src"))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, string]{Topic: out, KeySerde: serde.String(), ValueSerde: serde.String()}, "picky"))
	app := startApp(t, top, testConfig(env, env.AppID(t)))
	env.Produce(t, &kgo.Record{Topic: in, Value: []byte("fine")}, &kgo.Record{Topic: in, Value: []byte("poison")})
	select {
	case <-app.Done():
	case <-time.After(2 * time.Minute):
		t.Fatal("the app did not stop on a processing error")
	}
	err := app.Err()
	want := fmt.Sprintf("task 0_0 at %s[0]@1: processor: node \"picky\" process: cannot digest", in)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Err() = %v, want it to contain %q", err, want)
	}
	if app.State() != streams.Error {
		t.Errorf("state %s, want ERROR", app.State())
	}
}

// TestShutdownApplication: one instance's uncaught-error handler answering
// ShutdownApplication stops every instance of the application.
func TestShutdownApplication(t *testing.T) {
	t.Parallel() // mostly waiting on rebalances; two at a time (GOMAXPROCS)
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 2, nil), env.Topic(t, 2, nil)
	appID := env.AppID(t)
	top := processor.NewTopology()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{in}, KeySerde: serde.String(), ValueSerde: serde.String()}))
	must(t, processor.AddProcessor(top, "picky", processor.Func(func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
		if r.Value == "poison" {
			return errors.New("cannot digest")
		}
		return ctx.Forward(r)
	}), "src"))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, string]{Topic: out, KeySerde: serde.String(), ValueSerde: serde.String()}, "picky"))
	var apps []*streams.App
	for i := 0; i < 2; i++ {
		app, err := streams.New(top, testConfig(env, appID))
		must(t, err)
		app.SetUncaughtHandler(func(error) streams.UncaughtResponse { return streams.ShutdownApplication })
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		must(t, app.Start(ctx))
		cancel()
		t.Cleanup(func() { _ = app.Close(context.Background()) })
		apps = append(apps, app)
	}
	waitTasks(t, env, []int{1, 1}, apps...)
	// One poisoned record: only the instance owning its partition fails; the
	// other must stop because the group tells it to.
	env.Produce(t, &kgo.Record{Topic: in, Key: []byte("x"), Value: []byte("poison")})
	for i, app := range apps {
		select {
		case <-app.Done():
		case <-time.After(2 * time.Minute):
			t.Fatalf("app %d did not stop", i)
		}
		if app.State() != streams.Error || app.Err() == nil {
			t.Errorf("app %d: state %s, err %v; want ERROR with an error", i, app.State(), app.Err())
		}
	}
	byGroup := 0
	for _, app := range apps {
		if errors.Is(app.Err(), streams.ErrShutdownApplication) {
			byGroup++
		}
	}
	if byGroup != 1 {
		t.Errorf("%d apps stopped on the group's request, want 1 (errors: %v; %v)", byGroup, apps[0].Err(), apps[1].Err())
	}
}

// TestWorkersShareTasks: one instance with three workers runs every task,
// each worker a member of the group, and with a second instance the tasks
// split by capacity (3 workers vs 1).
func TestWorkersShareTasks(t *testing.T) {
	t.Parallel() // mostly waiting on rebalances; two at a time (GOMAXPROCS)
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 8, nil), env.Topic(t, 8, nil)
	appID := env.AppID(t)
	top := echoTopology(t, in, out)
	cfg := testConfig(env, appID)
	cfg.NumStreamThreads = 3
	a := startApp(t, top, cfg)
	waitTasks(t, env, []int{8}, a)
	b := startApp(t, top, testConfig(env, appID))
	waitTasks(t, env, []int{2, 6}, a, b)
	produceN(t, env, in, 0, 800)
	waitAllOutput(t, env, out, 800)
}

// TestRepartitionRecordsPurged: records of a repartition topic are deleted
// once the sub-topology reading it has committed them.
func TestRepartitionRecordsPurged(t *testing.T) {
	env := kafkatest.Cluster(t)
	in, out := env.Topic(t, 2, nil), env.Topic(t, 2, nil)
	top := processor.NewTopology()
	str := serde.String()
	must(t, processor.AddSource(top, "src", processor.SourceSpec[string, string]{Topics: []string{in}, KeySerde: str, ValueSerde: str}))
	must(t, processor.AddSink(top, "to-rep", processor.SinkSpec[string, string]{Topic: "hop-repartition", Internal: true, KeySerde: str, ValueSerde: str}, "src"))
	must(t, processor.AddSource(top, "rep", processor.SourceSpec[string, string]{Topics: []string{"hop-repartition"}, Internal: true, KeySerde: str, ValueSerde: str}))
	must(t, processor.AddSink(top, "sink", processor.SinkSpec[string, string]{Topic: out, KeySerde: str, ValueSerde: str}, "rep"))
	cfg := testConfig(env, env.AppID(t))
	cfg.RepartitionPurgeInterval = 50 * time.Millisecond
	startApp(t, top, cfg)
	rep := cfg.ApplicationID + "-hop-repartition"
	adm := env.Admin(t)
	for round := 0; round < 3; round++ {
		produceN(t, env, in, round*100, (round+1)*100)
		waitAllOutput(t, env, out, (round+1)*100)
	}
	env.WaitFor(t, time.Minute, func() error {
		starts, err := adm.ListStartOffsets(context.Background(), rep)
		if err != nil {
			return err
		}
		var deleted int64
		starts.Each(func(o kadm.ListedOffset) { deleted += o.Offset })
		if deleted < 200 {
			return fmt.Errorf("%d repartition records deleted so far", deleted)
		}
		return nil
	})
}
