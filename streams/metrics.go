package streams

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the App's own counters; a Prometheus collector reads them at
// scrape time, so the record path only touches atomics.
type metrics struct {
	processed         atomic.Int64
	skippedDeser      atomic.Int64
	skippedProcessing atomic.Int64
	commits           atomic.Int64
	enforced          atomic.Int64
	droppedByReason   sync.Map // reason -> *atomic.Int64
}

// dropped counts a record a processor dropped on purpose.
func (m *metrics) dropped(reason string) {
	c, ok := m.droppedByReason.Load(reason)
	if !ok {
		c, _ = m.droppedByReason.LoadOrStore(reason, new(atomic.Int64))
	}
	c.(*atomic.Int64).Add(1)
}

func (m *metrics) skipped(kind string) {
	if kind == "deserialization" {
		m.skippedDeser.Add(1)
	} else {
		m.skippedProcessing.Add(1)
	}
}

var (
	descProcessed = prometheus.NewDesc("sluice_records_processed_total", "Records taken from input queues and processed (or skipped by a handler).", []string{"application_id"}, nil)
	descSkipped   = prometheus.NewDesc("sluice_records_skipped_total", "Records skipped or dead-lettered by an error handler.", []string{"application_id", "kind"}, nil)
	descDropped   = prometheus.NewDesc("sluice_records_dropped_total", "Records processors dropped on purpose (too late for their window, ...), by reason.", []string{"application_id", "reason"}, nil)
	descEnforced  = prometheus.NewDesc("sluice_enforced_processing_total", "Times a task processed while an input partition was empty after max.task.idle.ms (Kafka Streams' enforced-processing-total).", []string{"application_id"}, nil)
	descCommits   = prometheus.NewDesc("sluice_commits_total", "Successful commits of offsets (and state).", []string{"application_id"}, nil)
	descState     = prometheus.NewDesc("sluice_app_state", "The App's state: 1 for the current one.", []string{"application_id", "state"}, nil)
)

type appCollector struct{ a *App }

func (c appCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descProcessed
	ch <- descSkipped
	ch <- descDropped
	ch <- descCommits
	ch <- descEnforced
	ch <- descState
}

func (c appCollector) Collect(ch chan<- prometheus.Metric) {
	id := c.a.cfg.ApplicationID
	m := &c.a.metrics
	ch <- prometheus.MustNewConstMetric(descProcessed, prometheus.CounterValue, float64(m.processed.Load()), id)
	ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(m.skippedDeser.Load()), id, "deserialization")
	ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(m.skippedProcessing.Load()), id, "processing")
	m.droppedByReason.Range(func(k, v any) bool {
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(v.(*atomic.Int64).Load()), id, k.(string))
		return true
	})
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(m.commits.Load()), id)
	ch <- prometheus.MustNewConstMetric(descEnforced, prometheus.CounterValue, float64(m.enforced.Load()), id)
	st := c.a.State()
	for s := Created; s <= Error; s++ {
		v := 0.0
		if s == st {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, id, s.String())
	}
}

// registerMetrics registers the App's collector with cfg.Registerer, if any.
func (a *App) registerMetrics() error {
	if a.cfg.Registerer == nil {
		return nil
	}
	if err := a.cfg.Registerer.Register(appCollector{a}); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return nil
		}
		return err
	}
	return nil
}
