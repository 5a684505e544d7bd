package assignor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/sluicestreams/sluice/task"
)

// The userdata encoding. Both userdata kinds are
//
//	uvarint version          the version the writer used
//	uvarint latest           the latest version the writer can read
//	section*                 until the end
//
// and a section is
//
//	uvarint tag
//	uvarint length
//	length bytes of payload
//
// A reader skips sections whose tag it does not know, and ignores bytes at
// the end of a known section when the writer's version is newer than its own:
// a newer peer may add sections and append fields to sections, never change
// what is there. That is what lets members of two versions share a group
// during a rolling upgrade (Kafka Streams' version probing): the leader
// writes assignments at the lowest version any member reads.
//
// Inside sections: integers are varints (signed ones zig-zag), strings and
// lists are a uvarint length followed by the items, task ids are two
// uvarints (sub-topology, partition).

// ErrMalformed is wrapped by every decoding error: the bytes are not userdata
// this package can read. The message names the userdata kind, the section
// and the field.
var ErrMalformed = errors.New("assignor: malformed userdata")

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) id(id task.ID) {
	e.uvarint(uint64(uint32(id.Subtopology)))
	e.uvarint(uint64(uint32(id.Partition)))
}

func (e *encoder) ids(ids []task.ID) {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, compareID)
	e.uvarint(uint64(len(ids)))
	for _, id := range ids {
		e.id(id)
	}
}

// section writes one section with the payload fn writes.
func (e *encoder) section(tag uint64, fn func(*encoder)) {
	var body encoder
	fn(&body)
	e.uvarint(tag)
	e.uvarint(uint64(len(body.b)))
	e.b = append(e.b, body.b...)
}

// decoder reads a byte slice and remembers the first error; every read after
// an error returns zero values.
type decoder struct {
	b    []byte
	what string // "subscription userdata, section 3 (offsets)": for errors
	err  error
}

func (d *decoder) fail(field, problem string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s: %s", ErrMalformed, d.what, field, problem)
	}
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		if n == 0 {
			d.fail(field, "truncated varint")
		} else {
			d.fail(field, "varint overflows 64 bits")
		}
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		if n == 0 {
			d.fail(field, "truncated varint")
		} else {
			d.fail(field, "varint overflows 64 bits")
		}
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int32(field string) int32 {
	v := d.uvarint(field)
	if v > math.MaxInt32 {
		d.fail(field, fmt.Sprintf("%d out of range", v))
		return 0
	}
	return int32(v)
}

// count reads a list length. Every item takes at least min bytes, so a
// length the remaining bytes cannot hold is an error, not an allocation.
func (d *decoder) count(field string, min int) int {
	n := d.uvarint(field + " count")
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.fail(field, fmt.Sprintf("count %d exceeds the %d bytes left", n, len(d.b)))
		return 0
	}
	return int(n)
}

func (d *decoder) str(field string) string {
	n := d.uvarint(field + " length")
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail(field, fmt.Sprintf("length %d exceeds the %d bytes left", n, len(d.b)))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) id(field string) task.ID {
	st := d.int32(field + " sub-topology")
	p := d.int32(field + " partition")
	return task.ID{Subtopology: st, Partition: p}
}

func (d *decoder) ids(field string) []task.ID {
	n := d.count(field, 2)
	if n == 0 {
		return nil
	}
	out := make([]task.ID, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.id(fmt.Sprintf("%s[%d]", field, i)))
	}
	return out
}

// header reads the version pair.
func (d *decoder) header() (version, latest int32) {
	version = d.int32("version")
	latest = d.int32("latest supported version")
	if d.err == nil && version == 0 {
		d.fail("version", "0 is not a version")
	}
	if d.err == nil && latest < version {
		d.fail("latest supported version", fmt.Sprintf("%d is below the version %d", latest, version))
	}
	return version, latest
}

// sections reads the sections after the header, calling fn with a decoder
// over each known one. fn reports whether the tag is known.
func (d *decoder) sections(kind string, peerVersion int32, names map[uint64]string, fn func(tag uint64, sd *decoder)) {
	seen := map[uint64]bool{}
	for d.err == nil && len(d.b) > 0 {
		tag := d.uvarint("section tag")
		n := d.uvarint("section length")
		if d.err != nil {
			return
		}
		if n > uint64(len(d.b)) {
			d.fail(fmt.Sprintf("section %d", tag), fmt.Sprintf("length %d exceeds the %d bytes left", n, len(d.b)))
			return
		}
		body := d.b[:n]
		d.b = d.b[n:]
		name, known := names[tag]
		if !known {
			continue // from a newer version: skip
		}
		if seen[tag] {
			d.fail(fmt.Sprintf("section %d (%s)", tag, name), "repeated")
			return
		}
		seen[tag] = true
		sd := &decoder{b: body, what: fmt.Sprintf("%s, section %d (%s)", kind, tag, name)}
		fn(tag, sd)
		if sd.err == nil && len(sd.b) > 0 && peerVersion <= CurrentVersion {
			sd.fail("end", fmt.Sprintf("%d bytes left over", len(sd.b)))
		}
		if sd.err != nil {
			d.err = sd.err
		}
	}
}
