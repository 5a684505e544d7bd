package changelog

import (
	"strconv"
	"time"

	"github.com/sluicestreams/sluice/statestore"
)

// windowedExtraRetention is what Kafka Streams adds to a windowed store's
// retention for its changelog (windowstore.changelog.additional.retention.ms).
const windowedExtraRetention = 24 * time.Hour

// TopicConfig returns the topic configuration of a store's changelog:
// compacted, and for window and session stores also deleted after the
// store's retention plus a day, as Kafka Streams does. The spec's own
// ChangelogConfig entries override these.
func TopicConfig(spec statestore.Spec) map[string]*string {
	cfg := map[string]*string{"cleanup.policy": ptr("compact")}
	if spec.Kind == statestore.KindWindow || spec.Kind == statestore.KindSession {
		cfg["cleanup.policy"] = ptr("compact,delete")
		cfg["retention.ms"] = ptr(strconv.FormatInt((spec.Retention + windowedExtraRetention).Milliseconds(), 10))
	}
	for k, v := range spec.ChangelogConfig {
		cfg[k] = ptr(v)
	}
	return cfg
}

func ptr(s string) *string { return &s }
