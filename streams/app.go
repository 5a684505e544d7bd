package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicestreams/sluice/changelog"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/standby"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/sluicestreams/sluice/task"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// App runs a topology: NumStreamThreads workers, each a member of the
// application's consumer group with its own Kafka client, processing the
// tasks assigned to it. Start more instances of the same program with the
// same ApplicationID to scale out.
//
// An App's methods are safe for concurrent use. A state listener is called on
// the goroutine that caused the transition, one call at a time; it must not
// call Close.
type App struct {
	cfg  Config
	top  *processor.Topology
	log  *slog.Logger
	plan *topicPlan
	// resets is each source topic's offset reset policy (set in Start).
	resets       map[string]resetPolicy
	defaultReset resetPolicy

	storeNamesOnce sync.Once
	storeNames     map[string]bool // the topology's stores, for queries

	admCl *kgo.Client
	adm   *kadm.Client

	mu        sync.Mutex
	state     State
	listeners []func(newState, oldState State)
	workers   []*worker
	nextIndex int
	fatal     error
	done      chan struct{}
	closing   bool
	wg        sync.WaitGroup

	// UncaughtHandler, if set before Start, decides what a worker's fatal
	// error does; the default shuts down this instance (SHUTDOWN_CLIENT).
	uncaught func(err error) UncaughtResponse

	partMu     sync.Mutex
	partitions map[string]int32

	metrics metrics

	engine       *statestore.PebbleEngine
	restorer     *changelog.Restorer
	standbys     *standby.Set
	restoreCl    *kgo.Client
	stopRestorer context.CancelFunc
	restorerDone chan struct{}

	processIDSet bool

	purgeMu      sync.Mutex
	purgePending map[string]map[int32]int64
	lastPurge    time.Time
	purging      bool
	purgeWG      sync.WaitGroup

	// shutdownRequested is sent in the subscription after an uncaught-error
	// handler answered ShutdownApplication.
	shutdownRequested atomic.Bool
}

// UncaughtResponse is what the uncaught-error handler asks for, as in Kafka
// Streams' StreamsUncaughtExceptionHandler.
type UncaughtResponse int8

const (
	// ShutdownClient stops every worker of this instance; the App ends in
	// ERROR.
	ShutdownClient UncaughtResponse = iota
	// ReplaceThread starts a new worker in place of the failed one; its
	// tasks are reassigned and resume from their last commit.
	ReplaceThread
	// ShutdownApplication stops every instance of the application: the
	// request travels through the group's next rebalance, and every
	// instance ends in ERROR.
	ShutdownApplication
)

// New checks the topology and the config and returns an App in state
// CREATED. Nothing touches Kafka before Start.
func New(top *processor.Topology, cfg Config) (*App, error) {
	if top == nil {
		return nil, fmt.Errorf("%w: nil topology", ErrConfig)
	}
	if err := top.Validate(); err != nil {
		return nil, err
	}
	processIDSet := cfg.ProcessID != ""
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &App{
		cfg: cfg, top: top, log: cfg.Logger.With("app", cfg.ApplicationID, "process", cfg.ProcessID),
		done: make(chan struct{}), partitions: map[string]int32{},
		processIDSet: processIDSet,
	}
	if err := a.registerMetrics(); err != nil {
		return nil, fmt.Errorf("streams: registering metrics: %w", err)
	}
	return a, nil
}

// OnStateChange adds a listener called with every state transition. Add
// listeners before Start.
func (a *App) OnStateChange(fn func(newState, oldState State)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.listeners = append(a.listeners, fn)
}

// SetUncaughtHandler sets the handler for a worker's fatal error. Set it
// before Start.
func (a *App) SetUncaughtHandler(fn func(err error) UncaughtResponse) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.uncaught = fn
}

// State returns the current state.
func (a *App) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// setState moves to s if the transition is allowed; a.mu is held.
func (a *App) setStateLocked(s State) bool {
	old := a.state
	if old == s || !validTransition(old, s) {
		return false
	}
	a.state = s
	a.log.Info("state change", "from", old.String(), "to", s.String())
	for _, fn := range a.listeners {
		fn(s, old)
	}
	return true
}

// Start checks the source topics (they must exist, and topics read together
// must have equal partition counts), creates the internal topics, and starts
// the workers. It returns once they are started; ctx bounds only these
// start-up steps. The App then runs until Close or a fatal error (see Done).
func (a *App) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.state != Created || a.closing {
		a.mu.Unlock()
		return fmt.Errorf("streams: Start called in state %s", a.state)
	}
	a.mu.Unlock()

	opts := append([]kgo.Opt{kgo.SeedBrokers(a.cfg.Brokers...)}, a.cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("streams: admin client: %w", err)
	}
	a.admCl, a.adm = cl, kadm.NewClient(cl)
	if !a.processIDSet && a.hasPersistentState() {
		if err := a.loadProcessID(); err != nil {
			cl.Close()
			return err
		}
		a.log = a.cfg.Logger.With("app", a.cfg.ApplicationID, "process", a.cfg.ProcessID)
	}
	plan, err := a.prepareTopics(ctx)
	if err != nil {
		cl.Close()
		return err
	}
	a.plan = plan
	if a.resets, a.defaultReset, err = a.resetPolicies(); err != nil {
		cl.Close()
		return err
	}
	if err := a.openState(ctx); err != nil {
		a.closeState()
		cl.Close()
		return err
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		cl.Close()
		return errors.New("streams: closed during Start")
	}
	a.setStateLocked(Rebalancing)
	for i := 0; i < a.cfg.NumStreamThreads; i++ {
		if err := a.startWorkerLocked(); err != nil {
			a.closing = true
			for _, w := range a.workers {
				w.stop(true)
			}
			a.maybeFinishLocked()
			return err
		}
	}
	return nil
}

func (a *App) startWorkerLocked() error {
	w, err := newWorker(a, a.nextIndex)
	if err != nil {
		return err
	}
	a.nextIndex++
	a.workers = append(a.workers, w)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		err := w.run()
		a.workerDone(w, err)
	}()
	return nil
}

// workerDone handles a worker's exit: nothing on a requested stop, the
// uncaught-error handler on a failure.
func (a *App) workerDone(w *worker, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, x := range a.workers {
		if x == w {
			a.workers = append(a.workers[:i], a.workers[i+1:]...)
			break
		}
	}
	if errors.Is(err, errFenced) && !a.closing {
		// Another member owns this worker's tasks now; a fresh worker
		// (new producer, new membership) rejoins in its place.
		a.log.Warn("worker fenced; replacing it", "worker", w.index, "err", err)
		if serr := a.startWorkerLocked(); serr == nil {
			return
		} else {
			err = errors.Join(err, serr)
		}
	}
	if errors.Is(err, errFenced) && a.closing {
		// Fenced during its final commit: the transaction aborted and the
		// tasks' next owner redoes that work from the last commit, as
		// after any crash. Nothing is lost; closing goes on.
		a.log.Warn("final commit fenced; the tasks' next owner redoes the work since the last commit", "worker", w.index, "err", err)
		err = nil
	}
	if err == nil || a.closing {
		if err != nil && a.fatal == nil && !errors.Is(err, errKilled) {
			a.fatal = err
		}
		a.maybeFinishLocked()
		return
	}
	a.log.Error("worker failed", "worker", w.index, "err", err)
	resp := ShutdownClient
	if a.uncaught != nil {
		resp = a.uncaught(err)
	}
	switch resp {
	case ReplaceThread, ShutdownApplication:
		if resp == ShutdownApplication {
			a.shutdownRequested.Store(true)
			if a.fatal == nil {
				a.fatal = err
			}
			// A remaining worker carries the request in its next join;
			// without one, a new worker does.
			if len(a.workers) > 0 {
				a.workers[0].cl.ForceRebalance()
				return
			}
		}
		serr := a.startWorkerLocked()
		if serr == nil {
			a.log.Info("started a worker in place of the failed one", "worker", w.index, "response", resp)
			return
		}
		err = errors.Join(err, serr)
	}
	if a.fatal == nil {
		a.fatal = err
	}
	a.closing = true
	a.setStateLocked(PendingError)
	for _, x := range a.workers {
		x.stop(false)
	}
	a.maybeFinishLocked()
}

// shutdownByGroup stops this instance because the group asked every
// instance to shut down. It runs on a kgo goroutine, so it hands the work to
// a goroutine of its own.
func (a *App) shutdownByGroup() {
	go func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.closing {
			return
		}
		if a.fatal == nil {
			a.fatal = ErrShutdownApplication
		}
		a.closing = true
		a.setStateLocked(PendingError)
		for _, x := range a.workers {
			x.stop(false)
		}
		a.maybeFinishLocked()
	}()
}

// ErrShutdownApplication is the App's error when an instance's uncaught-error
// handler shut the whole application down.
var ErrShutdownApplication = errors.New("streams: the application was shut down by an instance's uncaught-error handler")

func (a *App) maybeFinishLocked() {
	if len(a.workers) > 0 || !a.closing {
		return
	}
	select {
	case <-a.done:
		return
	default:
	}
	a.closeState()
	if a.state == PendingError {
		a.setStateLocked(Error)
	} else {
		a.setStateLocked(PendingShutdown)
		a.setStateLocked(NotRunning)
	}
	if a.admCl != nil {
		a.admCl.Close()
	}
	close(a.done)
}

// Done is closed when the App has stopped: after Close, or after a fatal
// error (see Err).
func (a *App) Done() <-chan struct{} { return a.done }

// Err returns the fatal error that stopped the App, if any.
func (a *App) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatal
}

// Close stops the App. It is graceful while ctx lasts: each worker finishes
// the record in hand, commits (flushing produced records and state first) and
// leaves the group. If ctx ends first, the workers stop at once without
// committing, as a crash would; their work since the last commit is redone by
// whoever takes their tasks. Close waits for the workers either way and
// returns the App's fatal error, if any. Closing twice is safe.
func (a *App) Close(ctx context.Context) error {
	a.mu.Lock()
	a.closing = true
	workers := append([]*worker(nil), a.workers...)
	if a.state == Created {
		a.setStateLocked(PendingShutdown)
		a.setStateLocked(NotRunning)
		if a.admCl != nil {
			a.admCl.Close()
		}
		select {
		case <-a.done:
		default:
			close(a.done)
		}
		a.mu.Unlock()
		return nil
	}
	if a.state != PendingError && a.state != Error {
		a.setStateLocked(PendingShutdown)
	}
	a.mu.Unlock()

	hard := ctx.Err() != nil
	for _, w := range workers {
		w.stop(hard)
	}
	if !hard {
		select {
		case <-a.done:
		case <-ctx.Done():
			for _, w := range workers {
				w.stop(true)
			}
		}
	}
	<-a.done
	a.wg.Wait()
	return a.Err()
}

// Run starts the App and blocks until ctx is cancelled (then closes it
// gracefully, allowing shutdownTimeout) or a fatal error stops it.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		cctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		return a.Close(cctx)
	case <-a.done:
		return a.Err()
	}
}

// shutdownTimeout bounds the graceful close that Run does when its context
// ends.
const shutdownTimeout = 30 * time.Second

// updateRebalancing recomputes RUNNING vs REBALANCING from the workers.
func (a *App) updateRebalancing() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing || (a.state != Running && a.state != Rebalancing) {
		return
	}
	for _, w := range a.workers {
		if w.rebalancing.Load() {
			a.setStateLocked(Rebalancing)
			return
		}
	}
	a.setStateLocked(Running)
}

// StandbyTasks returns the standby and warmup tasks this instance keeps,
// sorted.
func (a *App) StandbyTasks() []task.ID {
	if a.standbys == nil {
		return nil
	}
	return a.standbys.Tasks()
}

// ActiveTasks returns the tasks this instance is running now, sorted.
func (a *App) ActiveTasks() []task.ID {
	a.mu.Lock()
	workers := append([]*worker(nil), a.workers...)
	a.mu.Unlock()
	var out []task.ID
	for _, w := range workers {
		w.mu.Lock()
		for id := range w.tasks {
			out = append(out, id)
		}
		w.mu.Unlock()
	}
	slices.SortFunc(out, func(x, y task.ID) int {
		if x.Less(y) {
			return -1
		}
		if y.Less(x) {
			return 1
		}
		return 0
	})
	return out
}
