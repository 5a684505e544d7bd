package changelog

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUnknownFormat is wrapped by the error of a restoration that met a
// changelog record in a format Sluice cannot read (see "Wire compatibility"
// in DESIGN.md). It surfaces from the restore job, so the task fails while
// its state is restored, before it processes a record.
var ErrUnknownFormat = errors.New("changelog: record in an unknown changelog format")

// Kafka Streams marks changelog records with a format version header when
// IQv2 position tracking is on (ChangelogRecordDeserializationHelper): "v"
// holds the version, 0 the only one there is, and "c" the writer's position
// vector, which Sluice does not use. Other headers (those a headers-aware
// store copies from its input records under dsl.store.format=headers) do not
// change the key or value bytes and are ignored.
const (
	versionHeader = "v"
	knownVersion  = 0
)

// checkFormat refuses a record whose version header names a format newer
// than the one Kafka Streams 4.4 writes, as Kafka Streams itself does
// ("Changelog records have been encoded using a larger version").
func checkFormat(rec *kgo.Record) error {
	for _, h := range rec.Headers {
		if h.Key != versionHeader {
			continue
		}
		if len(h.Value) != 1 || h.Value[0] != knownVersion {
			return fmt.Errorf("%w: %s[%d] at offset %d has changelog format version %x; Sluice reads version %d",
				ErrUnknownFormat, rec.Topic, rec.Partition, rec.Offset, h.Value, knownVersion)
		}
	}
	return nil
}
