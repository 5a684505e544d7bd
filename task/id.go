package task

import "github.com/sluicestreams/sluice/processor"

// ID names one task: one partition number of one sub-topology. Task 0_3 reads
// partition 3 of every source topic of sub-topology 0. IDs are comparable and
// usable as map keys.
//
// ID is defined in package processor (a processor's Context reports its task,
// and processor sits below task) and named here, where the runtime and the
// assignor refer to it.
type ID = processor.TaskID

// ParseID parses the "<subtopology>_<partition>" form produced by ID.String.
func ParseID(s string) (ID, error) { return processor.ParseTaskID(s) }
