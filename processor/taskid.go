package processor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// TaskID names one task: one partition number of one sub-topology. Task 0_3 reads
// partition 3 of every source topic of sub-topology 0. IDs are comparable and
// usable as map keys.
type TaskID struct {
	Subtopology int32
	Partition   int32
}

// String formats the ID as Kafka Streams does: "<subtopology>_<partition>".
func (id TaskID) String() string {
	return strconv.Itoa(int(id.Subtopology)) + "_" + strconv.Itoa(int(id.Partition))
}

// Less orders IDs by sub-topology, then partition.
func (id TaskID) Less(o TaskID) bool {
	if id.Subtopology != o.Subtopology {
		return id.Subtopology < o.Subtopology
	}
	return id.Partition < o.Partition
}

// ParseTaskID parses the form produced by String.
func ParseTaskID(s string) (TaskID, error) {
	a, b, ok := strings.Cut(s, "_")
	if !ok {
		return TaskID{}, fmt.Errorf("processor: bad task id %q: want <subtopology>_<partition>", s)
	}
	st, err1 := strconv.ParseInt(a, 10, 32)
	p, err2 := strconv.ParseInt(b, 10, 32)
	if err := errors.Join(err1, err2); err != nil || st < 0 || p < 0 {
		return TaskID{}, fmt.Errorf("processor: bad task id %q: want <subtopology>_<partition>", s)
	}
	return TaskID{Subtopology: int32(st), Partition: int32(p)}, nil
}
