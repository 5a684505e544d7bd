// Command verifier checks a finished EOS system-test run. It waits until no
// transaction is open on the input and output topics, reads them under
// read_committed, and checks that the echo equals the input partition by
// partition and that each aggregate topic holds exactly one correct running
// aggregate per input record (see package verify). With -app-id it also
// reads the stores' changelogs: each key's last committed value must be its
// final aggregate, or a task restored from them would compute wrong values.
//
// It prints the counts, then either ALL-RECORDS-DELIVERED (exit 0) or
// FAILED and the first faults of each topic (exit 1). Exit 2 means it could
// not verify (usage, a topic that could not be read, transactions that never
// finished).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sluicestreams/sluice/eostest/eosapp"
	"github.com/sluicestreams/sluice/eostest/verify"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated Kafka brokers (required)")
	prefix := flag.String("topic-prefix", "", "prefix of the run's topic names")
	appID := flag.String("app-id", "", "the app's application.id; when set, the stores' changelogs are checked too (each key's last value must be its final aggregate)")
	minInput := flag.Int64("min-input", 0, "fail unless the input topic holds at least this many records (the driver's acked count)")
	stable := flag.Duration("stable-timeout", 3*time.Minute, "how long to wait for open transactions to finish")
	timeout := flag.Duration("timeout", 10*time.Minute, "bound on the whole verification")
	flag.Parse()
	if *brokers == "" {
		fmt.Fprintln(os.Stderr, "verifier: -brokers is required")
		os.Exit(2)
	}
	os.Exit(run(strings.Split(*brokers, ","), eosapp.NewTopics(*prefix), *appID, *minInput, *stable, *timeout))
}

func run(brokers []string, topics eosapp.Topics, appID string, minInput int64, stable, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	outputs := topics.Outputs()
	all := []string{topics.Input}
	for _, t := range outputs {
		all = append(all, t)
	}
	changelogs := map[string]string{}
	if appID != "" {
		for _, a := range verify.Aggregates {
			changelogs[a.Name] = appID + "-" + a.Name + "-changelog"
			all = append(all, changelogs[a.Name])
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifier:", err)
		return 2
	}
	sctx, scancel := context.WithTimeout(ctx, stable)
	start := time.Now()
	err = verify.WaitStable(sctx, kadm.NewClient(cl), all...)
	scancel()
	cl.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "verifier: after %s: %v\n", stable, err)
		return 2
	}
	fmt.Printf("verifier: no open transactions (waited %s)\n", time.Since(start).Round(time.Millisecond))

	read := func(topic string) map[int32][]verify.Rec {
		recs, err := verify.Read(ctx, brokers, topic, true)
		if err != nil {
			fmt.Fprintln(os.Stderr, "verifier:", err)
			os.Exit(2)
		}
		return recs
	}
	d := verify.Data{Input: read(topics.Input), Echo: read(outputs["echo"]), Aggs: map[string]map[int32][]verify.Rec{}}
	for _, a := range verify.Aggregates {
		d.Aggs[a.Name] = read(outputs[a.Name])
	}
	if len(changelogs) > 0 {
		d.Changelogs = map[string]map[int32][]verify.Rec{}
		for name, topic := range changelogs {
			recs, err := verify.Read(ctx, brokers, topic, true)
			if err != nil {
				fmt.Printf("verifier: changelog %s not checked: %v\n", topic, err)
				continue
			}
			d.Changelogs[name] = recs
		}
	}
	res := verify.Check(d)
	fmt.Println("verifier:", res.Summary())
	ok := res.OK()
	if int64(res.InputRecords) < minInput {
		fmt.Printf("verifier: the input topic holds %d records but the driver had %d acknowledged\n", res.InputRecords, minInput)
		ok = false
	}
	if res.InputRecords == 0 {
		fmt.Println("verifier: the input topic is empty; nothing was tested")
		ok = false
	}
	for _, p := range res.Problems {
		fmt.Println("verifier:", p)
	}
	if !ok {
		fmt.Println("FAILED")
		return 1
	}
	fmt.Println("ALL-RECORDS-DELIVERED")
	return 0
}
