package changelog_test

import (
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/changelog"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/sluicestreams/sluice/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkRestore restores a changelog of restoreRecords 100-byte records
// (one partition, distinct keys) from the cluster into a pebble store, the
// way a task restores on assignment. Run it against the real broker:
//
//	SLUICE_BROKERS=127.0.0.1:19092 go test -run '^$' -bench Restore -benchtime 1x ./changelog
func BenchmarkRestore(b *testing.B) {
	n := restoreRecords()
	env := kafkatest.Cluster(b)
	appID := env.AppID(b)
	topic := statestore.ChangelogTopic(appID, "big")
	adm := env.Admin(b)
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, 1, env.ReplicationFactor(), map[string]*string{"cleanup.policy": ptrTo("compact")}, topic); err != nil {
		b.Fatal(err)
	}
	prod := env.Client(b, kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(200000))
	value := []byte(strings.Repeat("v", 100))
	var failed error
	for i := 0; i < n; i++ {
		key := make([]byte, 8)
		binary.BigEndian.PutUint64(key, uint64(i))
		prod.Produce(ctx, &kgo.Record{Topic: topic, Key: key, Value: value}, func(_ *kgo.Record, err error) {
			if err != nil && failed == nil {
				failed = err
			}
		})
	}
	if err := prod.Flush(ctx); err != nil || failed != nil {
		b.Fatal(err, failed)
	}
	prod.Close()
	// Count only the restore's memory: reset the peak resident set (Linux:
	// writing 5 to clear_refs resets VmHWM) once the producer is gone.
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	b.ReportAllocs()
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		eng, err := statestore.OpenPebble(statestore.PebbleOptions{Dir: b.TempDir(), ApplicationID: appID})
		if err != nil {
			b.Fatal(err)
		}
		m, err := statestore.OpenManager(statestore.ManagerConfig{
			ApplicationID: appID, Task: "0_0", Engine: eng,
			Stores: []statestore.Builder{statestore.KeyValue("big", serde.Bytes(), serde.Bytes())},
		})
		if err != nil {
			b.Fatal(err)
		}
		cl := env.Client(b, changelog.RestoreClientOpts(false)...)
		r := changelog.NewRestorer(cl, false, nil, nil)
		rctx, cancel := context.WithCancel(ctx)
		go r.Run(rctx)
		job, err := r.Prepare(ctx, "0_0", 0, appID, m)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		r.Add(job)
		<-job.Done()
		total += time.Since(start)
		b.StopTimer()
		cancel()
		if err := job.Err(); err != nil {
			b.Fatal(err)
		}
		if job.Restored() != int64(n) {
			b.Fatalf("restored %d of %d records", job.Restored(), n)
		}
		_ = m.Close()
		_ = eng.Close()
		cl.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "records/s")
	b.ReportMetric(peakRSSMiB(), "peakRSS-MiB")
}

func restoreRecords() int {
	if s := os.Getenv("SLUICE_RESTORE_RECORDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 1_000_000
}

// peakRSSMiB reads the process's peak resident set (VmHWM) from /proc.
func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return -1
}
