// Command table-reaggregation counts users per region with a table
// re-aggregation: the input topic is a table of user -> region (a null value
// deletes the user), regrouped by region and counted. When a user moves to
// another region, the old region's count goes down and the new one's up;
// when a user is deleted, their region's count goes down.
//
//	users (table) -> groupBy(region) -> count -> toStream -> to(output)
//
// Run it with a file of events, one "user region" per line ("user" alone
// deletes the user; lines starting with # are ignored):
//
//	go run ./examples/table-reaggregation -input examples/table-reaggregation/testdata/events.txt
//
// It prints the final "region count" lines sorted by region (a region whose
// users all left shows 0) and exits 0.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/examples/internal/exampleutil"
	"github.com/sluicestreams/sluice/processor"
	"github.com/sluicestreams/sluice/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	exampleutil.Main("table-reaggregation", exampleutil.Options{
		AppID: "users-per-region", InTopic: "user-regions", OutTopic: "users-per-region", Partitions: 3,
	}, "a file of events (\"user region\", or \"user\" to delete); the program prints the final counts and exits", run)
}

// CountStore is the store of the counts per region; it also names the
// repartition topic.
const CountStore = "users-per-region"

// Topology builds the re-aggregation from the users table topic in to the
// counts topic out.
//
// The users table is not cached, so every change of a user reaches the
// counts. With caching (the default) changes between two commits merge: a
// user who joins and leaves a region within one commit interval never
// reaches its count, and a region that only such users visited would not
// appear at all instead of showing 0. The counts store is cached: it still
// ends with the right count, and sends fewer updates.
func Topology(in, out string) (*processor.Topology, error) {
	b := dsl.NewBuilder()
	users := dsl.NewTable(b, in, serde.String(), serde.String(), dsl.StoreName("users"), dsl.Caching(false))
	perRegion := dsl.GroupTableBy(users,
		func(user, region string) (string, string) { return region, user },
		serde.String(), serde.String()).
		Count(dsl.StoreName(CountStore))
	dsl.ToStream(perRegion).To(out)
	return b.Build()
}

// Event is one line of the input: a user's new region, or a deletion.
type Event struct {
	User, Region string
	Delete       bool
}

// ReadEvents parses an events file.
func ReadEvents(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		switch fields := strings.Fields(line); len(fields) {
		case 1:
			out = append(out, Event{User: fields[0], Delete: true})
		case 2:
			out = append(out, Event{User: fields[0], Region: fields[1]})
		default:
			return nil, fmt.Errorf("%s:%d: want \"user region\" or \"user\", got %q", path, n, line)
		}
	}
	return out, sc.Err()
}

func run(ctx context.Context, o exampleutil.Options, stdout io.Writer) error {
	r := exampleutil.CountingRun{
		Options:  o,
		Topology: Topology,
		Internal: []string{CountStore + "-repartition"},
	}
	if o.Input != "" {
		events, err := ReadEvents(o.Input)
		if err != nil {
			return err
		}
		r.Feed = func(ctx context.Context, brokers []string) error {
			return produce(ctx, brokers, o.InTopic, events)
		}
	}
	return r.Run(ctx, stdout)
}

// produce writes the events keyed by user, so each user's events stay in
// order on one partition; a deletion is a null value.
func produce(ctx context.Context, brokers []string, topic string, events []Event) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(events))
	for i, e := range events {
		recs[i] = &kgo.Record{Key: []byte(e.User)}
		if !e.Delete {
			recs[i].Value = []byte(e.Region)
		}
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}
