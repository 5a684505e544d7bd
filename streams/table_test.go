package streams_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/dsl"
	"github.com/sluicestreams/sluice/internal/kafkatest"
	"github.com/sluicestreams/sluice/serde"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTableRestoresFromItsSourceTopic: a table read from a topic keeps no
// changelog of its own; after its state directory is lost it is restored
// from the topic, so region moves still retract users from their old region.
func TestTableRestoresFromItsSourceTopic(t *testing.T) {
	env := kafkatest.Cluster(t)
	users, out := env.Topic(t, 2, nil), env.Topic(t, 2, nil)
	appID := env.AppID(t)
	dir := t.TempDir()
	b := dsl.NewBuilder()
	table := dsl.NewTable(b, users, serde.String(), serde.String(), dsl.StoreName("users"))
	dsl.ToStream(dsl.GroupTableBy(table, func(user, region string) (string, string) { return region, user }, serde.String(), serde.String()).
		Count(dsl.StoreName("per-region"))).To(out)
	top, err := b.Build()
	must(t, err)
	move := func(from, to int, region string) {
		var recs []*kgo.Record
		for u := from; u < to; u++ {
			recs = append(recs, &kgo.Record{Topic: users, Key: []byte("user" + strconv.Itoa(u)), Value: []byte(region)})
		}
		env.Produce(t, recs...)
	}
	rc := &restoreCounter{}
	cfg := statefulConfig(env, appID, dir, rc)
	move(0, 40, "north")
	a1 := startApp(t, top, cfg)
	waitProcessed(t, env, appID, users)
	kill(t, a1)
	must(t, os.RemoveAll(dir))

	move(0, 15, "south") // 25 north, 15 south once retracted right
	a2 := startApp(t, top, statefulConfig(env, appID, dir, rc))
	waitProcessed(t, env, appID, users)
	env.WaitFor(t, time.Minute, func() error {
		counts := latestCounts(t, env, out)
		if counts["north"] != 25 || counts["south"] != 15 {
			return fmt.Errorf("counts %v, want north 25 south 15", counts)
		}
		return nil
	})
	restored, _ := rc.get()
	t.Logf("restored %d records (table from its source topic, counts from their changelog)", restored)
	tds, err := env.Admin(t).ListTopics(context.Background(), appID+"-users-changelog")
	must(t, err)
	if td, ok := tds[appID+"-users-changelog"]; ok && td.Err == nil {
		t.Errorf("the table's store has a changelog topic of its own")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(t, a2.Close(ctx))
}
