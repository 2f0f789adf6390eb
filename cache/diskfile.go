package cache

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// A disk entry is one file: a 40-byte head (magic, payload length, and an
// HMAC-SHA256 of both and the payload under the tier's secret) and the
// payload: times, size, key, tags, header, body, the small fields first so
// the index can be rebuilt from the first few kilobytes. A file cut short,
// altered, or not written by a tier that holds the secret (planted, or of
// the previous format, "IED1", checked by xxhash alone) fails its check
// and is never served.
const (
	diskMagic = "IED2"
	diskHead  = 8 + sha256.Size
)

var (
	errCorrupt     = errors.New("cache: corrupt disk entry")
	errNotServable = errors.New("cache: a disk entry of a type the tier does not serve")
)

// diskMeta is what the index keeps of an entry.
type diskMeta struct {
	key              string
	tags             []string
	written, expires time.Time
}

// encodeDiskEntry lays an entry out as its file, signed with secret.
func encodeDiskEntry(secret []byte, key string, e *Entry, written, expires time.Time) ([]byte, error) {
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
	copy(b[8:diskHead], entryMAC(secret, b))
	return b, nil
}

// entryMAC is what authenticates the file b: its magic, length and
// payload under secret.
func entryMAC(secret, b []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(b[:8])
	m.Write(b[diskHead:])
	return m.Sum(nil)
}

// decodeDiskEntry reads a whole file back, checking its length and MAC.
func decodeDiskEntry(secret, b []byte) (*Entry, diskMeta, error) {
	if len(b) < diskHead || string(b[:4]) != diskMagic || int(binary.LittleEndian.Uint32(b[4:])) != len(b)-diskHead ||
		!hmac.Equal(b[8:diskHead], entryMAC(secret, b)) {
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
// without checking the MAC (a read checks it before serving).
func decodeDiskMeta(b []byte) (diskMeta, bool) {
	if len(b) < diskHead || string(b[:4]) != diskMagic {
		return diskMeta{}, false
	}
	r := diskReader{b: b[diskHead:]}
	m, _ := r.meta()
	return m, r.err == nil
}

// diskHeaders are the headers an entry keeps on disk and brings back:
// what the memory tier stores of an answer (a variant as made here or
// kept from a peer, an original's headers that its variants and a shield
// answer carry on). Anything else (Set-Cookie...) is left behind.
var diskHeaders = []string{"Content-Type", "Etag", "Cache-Control", "Vary", "Last-Modified", "Expires",
	"Access-Control-Allow-Origin", "Timing-Allow-Origin", "Content-Security-Policy"}

// diskInfoHeaders are the fields of an entry without a body (a source's
// info, which variant keeps with its variants), never sent to a client.
var diskInfoHeaders = []string{"Format", "Alpha", "Animated", "Size"}

// diskHeader is the header that e may be written to and served from the
// disk with: diskHeaders only (and diskInfoHeaders without a body), and
// a body only with one Content-Type the tier serves (see servable).
func diskHeader(e *Entry, originals bool) (http.Header, error) {
	names := diskHeaders
	if len(e.Body) == 0 {
		names = slices.Concat(diskInfoHeaders, diskHeaders)
	}
	h := http.Header{}
	for _, name := range names {
		if v := e.Header.Values(name); len(v) > 0 {
			h[name] = v
		}
	}
	switch ct := h.Values("Content-Type"); {
	case len(ct) > 1, len(ct) == 1 && !servable(ct[0], originals), len(ct) == 0 && len(e.Body) > 0:
		return nil, errNotServable
	}
	return h, nil
}

// servable tells whether a body of Content-Type ct may come from disk:
// an image, or for a variant the description of one (transform's fm=json,
// palette and BlurHash types). A variant is never SVG (imgedge does not
// write it, and a browser runs its scripts); an original may be, or an
// object store's application/octet-stream (see capture.IsImageType).
func servable(ct string, originals bool) bool {
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return false
	case originals:
		return strings.HasPrefix(mt, "image/") || mt == "application/octet-stream"
	}
	switch mt {
	case "image/svg+xml":
		return false
	case "application/json", "text/plain", "text/css":
		return true
	}
	return strings.HasPrefix(mt, "image/")
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
