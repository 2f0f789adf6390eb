package metering

import (
	"encoding/binary"
	"errors"
	"time"
)

// The journal stores records in a compact binary form, not JSON: Record
// encodes one in a few dozen nanoseconds without allocating.
//
// A record payload (after the frame's kind byte) is
//
//	flags   byte      bit 0: forwarded
//	status  uvarint
//	tenant, cache status, zone, node: each a uvarint length and the bytes
//	time    8 bytes   little-endian Unix nanoseconds
//	source bytes, output bytes, output pixels, CPU ns, wall ns: zigzag varints
//
// and for kindSums frames, which carry usage summed in memory while the
// spool was full, also
//
//	requests, hits: uvarints
//
// Everything from flags to node is the record's group (see groupKey), so the
// aggregator can find a record's group by those bytes and the minute.

// recordFlagForwarded marks a forwarded request.
const recordFlagForwarded = 1

var errBadRecord = errors.New("metering: malformed record")

// recordSums is what a kindSums frame adds to a record: how many requests
// and cache hits it stands for. A request record is one request.
type recordSums struct {
	requests, hits int64
}

// appendRecordFrame appends the journal frame of r to dst. With sums nil it
// is a request record (kindRecord), else a kindSums record.
func appendRecordFrame(dst []byte, r *Record, sums *recordSums) []byte {
	kind := kindRecord
	if sums != nil {
		kind = kindSums
	}
	dst, start := startFrame(dst, kind)
	var flags byte
	if r.Forwarded {
		flags |= recordFlagForwarded
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(max(r.Status, 0)))
	dst = appendString(dst, r.Tenant)
	dst = appendString(dst, r.CacheStatus)
	dst = appendString(dst, r.Zone)
	dst = appendString(dst, r.Node)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.Time.UnixNano()))
	dst = binary.AppendVarint(dst, r.SourceBytes)
	dst = binary.AppendVarint(dst, r.OutputBytes)
	dst = binary.AppendVarint(dst, r.OutputPixels)
	dst = binary.AppendVarint(dst, int64(r.CPU))
	dst = binary.AppendVarint(dst, int64(r.Wall))
	if sums != nil {
		dst = binary.AppendUvarint(dst, uint64(sums.requests))
		dst = binary.AppendUvarint(dst, uint64(sums.hits))
	}
	return endFrame(dst, start)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodedRecord is a record read back from the journal. Its group fields
// are raw bytes aliasing the frame, so decoding does not allocate.
type decodedRecord struct {
	group                       []byte // the encoded flags .. node: the group without the minute
	forwarded                   bool
	status                      int
	tenant, cache, zone, node   []byte
	time                        int64 // Unix nanoseconds
	sourceBytes, outputBytes    int64
	outputPixels, cpuNs, wallNs int64
	recordSums
}

// decodeRecord decodes the body (after the kind byte) of a kindRecord or
// kindSums frame into d.
func decodeRecord(kind byte, body []byte, d *decodedRecord) error {
	rd := reader{b: body}
	flags := rd.byte()
	d.forwarded = flags&recordFlagForwarded != 0
	d.status = int(rd.uvarint())
	d.tenant = rd.bytes()
	d.cache = rd.bytes()
	d.zone = rd.bytes()
	d.node = rd.bytes()
	if rd.err != nil {
		return rd.err
	}
	d.group = body[:rd.off]
	d.time = int64(rd.uint64())
	d.sourceBytes = rd.varint()
	d.outputBytes = rd.varint()
	d.outputPixels = rd.varint()
	d.cpuNs = rd.varint()
	d.wallNs = rd.varint()
	d.recordSums = recordSums{requests: 1}
	if string(d.cache) == cacheHit {
		d.hits = 1
	}
	if kind == kindSums {
		d.requests = int64(rd.uvarint())
		d.hits = int64(rd.uvarint())
	}
	if rd.err == nil && rd.off != len(body) {
		rd.err = errBadRecord
	}
	return rd.err
}

// reader decodes the fields of a record, remembering the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errBadRecord
	}
	r.off = len(r.b)
}

func (r *reader) byte() byte {
	if r.off >= len(r.b) {
		r.fail()
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail()
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail()
		return 0
	}
	r.off += n
	return v
}

func (r *reader) uint64() uint64 {
	if len(r.b)-r.off < 8 {
		r.fail()
		return 0
	}
	r.off += 8
	return binary.LittleEndian.Uint64(r.b[r.off-8:])
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)-r.off) {
		r.fail()
		return nil
	}
	r.off += int(n)
	return r.b[r.off-int(n) : r.off]
}

// minuteOf is the start of the minute of t, in Unix nanoseconds.
func minuteOf(unixNano int64) int64 {
	const minute = int64(time.Minute)
	m := unixNano / minute
	if unixNano < 0 && unixNano%minute != 0 {
		m--
	}
	return m * minute
}
