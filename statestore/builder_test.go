package statestore

import (
	"fmt"
	"testing"
	"time"
)

func TestSpecs(t *testing.T) {
	cases := []struct {
		b    Builder
		want string
	}{
		{KeyValue("kv", stringSerde{}, stringSerde{}),
			"kv key-value mem=false log=true cache=false map[cleanup.policy:compact]"},
		{KeyValue("kv", stringSerde{}, stringSerde{}, InMemory(), Logging(false), Caching(true)),
			"kv key-value mem=true log=false cache=true map[cleanup.policy:compact]"},
		{TimestampedKeyValue("t", stringSerde{}, stringSerde{}, ChangelogConfig(map[string]string{"min.insync.replicas": "2"})),
			"t timestamped-key-value mem=false log=true cache=false map[cleanup.policy:compact min.insync.replicas:2]"},
		{Window("w", time.Hour, time.Minute, stringSerde{}, stringSerde{}),
			"w window mem=false log=true cache=false map[cleanup.policy:compact,delete retention.ms:90000000] seg=30m0s"},
		{Session("s", 10*time.Second, stringSerde{}, stringSerde{}, ChangelogConfig(map[string]string{"retention.ms": "5"})),
			"s session mem=false log=true cache=false map[cleanup.policy:compact,delete retention.ms:5] seg=1m0s"},
	}
	for _, c := range cases {
		s := c.b.Spec()
		got := fmt.Sprintf("%s %s mem=%v log=%v cache=%v %v", s.Name, s.Kind, s.InMemory, s.Logging, s.Caching, s.ChangelogTopicConfig())
		if s.SegmentInterval != 0 {
			got += fmt.Sprintf(" seg=%v", s.SegmentInterval)
		}
		if got != c.want {
			t.Errorf("spec = %s\nwant   %s", got, c.want)
		}
	}
}
