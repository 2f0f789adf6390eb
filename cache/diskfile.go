package cache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/cespare/xxhash/v2"
)

// A disk entry is one file: a 16-byte head (magic, payload length, xxhash
// of the payload) and the payload: times, size, key, tags, header, body,
// the small fields first so the index can be rebuilt from the first few
// kilobytes. A file cut short or altered fails its length or checksum and
// is never served.
const (
	diskMagic = "IED1"
	diskHead  = 16
)

var errCorrupt = errors.New("cache: corrupt disk entry")

// diskMeta is what the index keeps of an entry.
type diskMeta struct {
	key              string
	tags             []string
	written, expires time.Time
}

// encodeDiskEntry lays an entry out as its file.
func encodeDiskEntry(key string, e *Entry, written, expires time.Time) ([]byte, error) {
	tags, err := json.Marshal(e.Tags)
	if err != nil {
		return nil, err
	}
	header, err := json.Marshal(e.Header)
	if err != nil {
		return nil, err
	}
	n := 8 + 8 + 4 + 4 + 4 + len(key) + 4 + len(tags) + 4 + len(header) + 8 + len(e.Body)
	b := make([]byte, diskHead, diskHead+n)
	b = binary.LittleEndian.AppendUint64(b, uint64(written.UnixNano()))
	b = binary.LittleEndian.AppendUint64(b, uint64(expires.UnixNano()))
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Width))
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Height))
	for _, part := range [][]byte{[]byte(key), tags, header} {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(part)))
		b = append(b, part...)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(e.Body)))
	b = append(b, e.Body...)
	copy(b, diskMagic)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-diskHead))
	binary.LittleEndian.PutUint64(b[8:], xxhash.Sum64(b[diskHead:]))
	return b, nil
}

// decodeDiskEntry reads a whole file back, checking its length and
// checksum.
func decodeDiskEntry(b []byte) (*Entry, diskMeta, error) {
	if len(b) < diskHead || string(b[:4]) != diskMagic || int(binary.LittleEndian.Uint32(b[4:])) != len(b)-diskHead ||
		binary.LittleEndian.Uint64(b[8:]) != xxhash.Sum64(b[diskHead:]) {
		return nil, diskMeta{}, errCorrupt
	}
	r := diskReader{b: b[diskHead:]}
	m, e := r.meta()
	var header http.Header
	if raw := r.part(); r.err == nil {
		r.err = json.Unmarshal(raw, &header)
	}
	n := r.u64()
	if r.err != nil || uint64(len(r.b)) != n {
		return nil, diskMeta{}, errCorrupt
	}
	e.Header, e.Body, e.Tags, e.Expires = header, r.b, m.tags, m.expires
	return e, m, nil
}

// decodeDiskMeta reads what the index needs from the start of a file,
// without checking the checksum (a read checks it before serving).
func decodeDiskMeta(b []byte) (diskMeta, bool) {
	if len(b) < diskHead || string(b[:4]) != diskMagic {
		return diskMeta{}, false
	}
	r := diskReader{b: b[diskHead:]}
	m, _ := r.meta()
	return m, r.err == nil
}

// diskReader takes an entry's payload apart; the first error sticks.
type diskReader struct {
	b   []byte
	err error
}

func (r *diskReader) meta() (diskMeta, *Entry) {
	var m diskMeta
	e := &Entry{}
	m.written = time.Unix(0, int64(r.u64()))
	m.expires = time.Unix(0, int64(r.u64()))
	e.Width, e.Height = int(r.u32()), int(r.u32())
	m.key = string(r.part())
	if raw := r.part(); r.err == nil {
		r.err = json.Unmarshal(raw, &m.tags)
	}
	return m, e
}

func (r *diskReader) take(n uint64) []byte {
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = errCorrupt
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *diskReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *diskReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *diskReader) part() []byte { return r.take(uint64(r.u32())) }
