package assignor

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicestreams/sluice/task"
)

func sampleSubscription() SubscriptionInfo {
	return SubscriptionInfo{
		ProcessID:   "6f1e-process",
		Capacity:    3,
		Endpoint:    "10.0.0.7:8080",
		Rack:        "eu-1a",
		Tags:        map[string]string{"zone": "eu-1a", "cluster": "k1"},
		PrevActive:  []task.ID{tid(0, 1), tid(1, 4)},
		PrevStandby: []task.ID{tid(0, 2)},
		OffsetSums:  map[task.ID]int64{tid(0, 1): 1234, tid(0, 2): 99, tid(2, 0): -1},
	}
}

func sampleAssignment() AssignmentInfo {
	return AssignmentInfo{
		Active:  []task.ID{tid(0, 1), tid(1, 4)},
		Standby: []task.ID{tid(0, 2)},
		Warmup:  []task.ID{tid(3, 3)},
		ActiveByHost: map[string]map[string][]int32{
			"a:1": {"words": {1, 4}, "counts-repartition": {1}},
			"b:1": {"words": {0, 2, 3}},
		},
		StandbyByHost:        map[string]map[string][]int32{"a:1": {"counts-changelog": {2}}},
		NextProbingRebalance: time.UnixMilli(1_800_000_000_000),
		Error:                ErrorNone,
	}
}

func TestSubscriptionRoundTrip(t *testing.T) {
	for _, s := range []SubscriptionInfo{sampleSubscription(), {ProcessID: "p"}, {ProcessID: "p", ShutdownRequested: true}} {
		b := EncodeSubscription(s)
		got, err := DecodeSubscription(b)
		if err != nil {
			t.Fatal(err)
		}
		s.Version, s.LatestSupportedVersion = CurrentVersion, CurrentVersion
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
		}
	}
}

func TestAssignmentRoundTrip(t *testing.T) {
	for _, a := range []AssignmentInfo{sampleAssignment(), {}, {Error: ErrorIncompatibleTopology}} {
		got, err := DecodeAssignment(EncodeAssignment(a))
		if err != nil {
			t.Fatal(err)
		}
		a.Version, a.LatestSupportedVersion = CurrentVersion, CurrentVersion
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, a)
		}
	}
}

// TestEncodingIsCompact pins the size of a typical subscription, so that an
// accidental change to the encoding shows.
func TestEncodingIsCompact(t *testing.T) {
	if n := len(EncodeSubscription(sampleSubscription())); n != 88 {
		t.Fatalf("subscription is %d bytes, was 88", n)
	}
	if n := len(EncodeAssignment(sampleAssignment())); n != 101 {
		t.Fatalf("assignment is %d bytes, was 101", n)
	}
}

// newerSubscription is a subscription written by a future version 3 that
// reads up to 4: it appends a field to the process section and adds an
// unknown section 9 in the middle.
func newerSubscription() []byte {
	var e encoder
	e.uvarint(3)
	e.uvarint(4)
	e.section(subProcess, func(e *encoder) {
		e.str("p-new")
		e.varint(2)
		e.str("h:9")
		e.uvarint(0)
		e.str("a field of version 3")
	})
	e.section(9, func(e *encoder) { e.str("a section of version 3") })
	e.section(subOffsets, func(e *encoder) {
		e.uvarint(1)
		e.id(task.ID{Subtopology: 0, Partition: 5})
		e.varint(77)
	})
	return e.b
}

func TestDecodeNewerVersion(t *testing.T) {
	s, err := DecodeSubscription(newerSubscription())
	if err != nil {
		t.Fatal(err)
	}
	want := SubscriptionInfo{Version: 3, LatestSupportedVersion: 4, ProcessID: "p-new", Capacity: 2, Endpoint: "h:9",
		OffsetSums: map[task.ID]int64{{Partition: 5}: 77}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}

	// The same trailing bytes from a peer of our own version are corruption.
	b := newerSubscription()
	b[0], b[1] = CurrentVersion, CurrentVersion
	if _, err := DecodeSubscription(b); err == nil || !strings.Contains(err.Error(), "bytes left over") {
		t.Fatalf("got %v, want a left-over error", err)
	}

	// An assignment at a version below ours leaves out nothing we know of
	// yet, but says which version it is.
	a, err := DecodeAssignment(EncodeAssignment(AssignmentInfo{Version: 1, Active: []task.ID{tid(1, 1)}}))
	if err != nil || a.Version != 1 || len(a.Active) != 1 {
		t.Fatalf("got %+v, %v", a, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	valid := EncodeSubscription(sampleSubscription())
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "subscription userdata: version: truncated varint"},
		{"version zero", []byte{0, 0}, "version: 0 is not a version"},
		{"latest below version", []byte{2, 1}, "latest supported version: 1 is below the version 2"},
		{"no sections", []byte{1, 1}, "process section: missing"},
		{"truncated section", valid[:10], "section 1: length"},
		{"overlong varint", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "overflows 64 bits"},
		{"huge count", rawSub(func(e *encoder) {
			e.section(subOffsets, func(e *encoder) { e.uvarint(1 << 40) })
		}), "section 4 (offsets): offset sums: count 1099511627776 exceeds the 0 bytes left"},
		{"repeated section", rawSub(func(e *encoder) { e.section(subProcess, processSection(0)) }), "section 1 (process): repeated"},
		{"bad shutdown flag", rawSub(nil, processSection(7)), "section 1 (process): shutdown flag: not 0 or 1"},
		{"partition out of range", rawSub(func(e *encoder) {
			e.section(subTasks, func(e *encoder) { e.uvarint(1); e.uvarint(0); e.uvarint(1 << 32) })
		}), "section 3 (tasks): previous active[0] partition: 4294967296 out of range"},
		{"duplicate offset", rawSub(func(e *encoder) {
			e.section(subOffsets, func(e *encoder) { e.uvarint(2); e.id(tid(1, 1)); e.varint(5); e.id(tid(1, 1)); e.varint(6) })
		}), "offset sum 1: task 1_1 repeated"},
		{"empty process id", func() []byte {
			var e encoder
			e.uvarint(1)
			e.uvarint(1)
			e.section(subProcess, func(e *encoder) { e.str(""); e.varint(1); e.str(""); e.uvarint(0) })
			return e.b
		}(), "process id: empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeSubscription(c.b)
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an ErrMalformed containing %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "assignor: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
	if _, err := DecodeAssignment([]byte{1, 1, 4, 1, 0x80}); err == nil || !strings.Contains(err.Error(), "section 4 (error): error code: truncated varint") {
		t.Fatalf("got %v", err)
	}
}

func FuzzDecodeSubscription(f *testing.F) {
	f.Add(EncodeSubscription(sampleSubscription()))
	f.Add(EncodeSubscription(SubscriptionInfo{ProcessID: "p"}))
	f.Add(newerSubscription())
	f.Add([]byte{1, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSubscription(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// What decodes re-encodes to something that decodes the same.
		again, err := DecodeSubscription(EncodeSubscription(s))
		if err != nil {
			t.Fatalf("re-encoded subscription does not decode: %v", err)
		}
		again.Version, again.LatestSupportedVersion = s.Version, s.LatestSupportedVersion
		if !reflect.DeepEqual(normSub(s), normSub(again)) {
			t.Fatalf("round trip changed it:\n%+v\n%+v", s, again)
		}
	})
}

func normSub(s SubscriptionInfo) SubscriptionInfo {
	s.PrevActive = sortedIDs(s.PrevActive)
	s.PrevStandby = sortedIDs(s.PrevStandby)
	return s
}

func sortedIDs(ids []task.ID) []task.ID {
	if len(ids) == 0 {
		return nil
	}
	c := append([]task.ID(nil), ids...)
	sortIDs(c)
	return c
}

func FuzzDecodeAssignment(f *testing.F) {
	f.Add(EncodeAssignment(sampleAssignment()))
	f.Add(EncodeAssignment(AssignmentInfo{Error: ErrorShutdownApplication}))
	f.Add([]byte{5, 6, 9, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAssignment(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		a2 := a
		a2.Version = 0
		again, err := DecodeAssignment(EncodeAssignment(a2))
		if err != nil {
			t.Fatalf("re-encoded assignment does not decode: %v", err)
		}
		again.Version, again.LatestSupportedVersion = a.Version, a.LatestSupportedVersion
		if !reflect.DeepEqual(normAsg(a), normAsg(again)) {
			t.Fatalf("round trip changed it:\n%+v\n%+v", a, again)
		}
	})
}

func normAsg(a AssignmentInfo) AssignmentInfo {
	a.Active, a.Standby, a.Warmup = sortedIDs(a.Active), sortedIDs(a.Standby), sortedIDs(a.Warmup)
	for _, m := range []map[string]map[string][]int32{a.ActiveByHost, a.StandbyByHost} {
		for _, topics := range m {
			for t, ps := range topics {
				c := append([]int32(nil), ps...)
				sortInt32(c)
				topics[t] = c
			}
		}
	}
	return a
}

func sortIDs(ids []task.ID) { slices.SortFunc(ids, compareID) }
func sortInt32(ps []int32)  { slices.Sort(ps) }

func tid(st, p int32) task.ID { return task.ID{Subtopology: st, Partition: p} }

func processSection(flag uint64) func(*encoder) {
	return func(e *encoder) {
		e.str("p")
		e.varint(1)
		e.str("h:1")
		e.uvarint(flag)
	}
}

// rawSub writes a version 1 subscription: a process section written by
// process (a valid one if nil), then whatever more writes.
func rawSub(more func(*encoder), process ...func(*encoder)) []byte {
	var e encoder
	e.uvarint(1)
	e.uvarint(1)
	if len(process) > 0 {
		e.section(subProcess, process[0])
	} else {
		e.section(subProcess, processSection(0))
	}
	if more != nil {
		more(&e)
	}
	return e.b
}
