// Package capture is the ResponseWriter an origin's answer is written
// into: a 2xx image is captured in memory, within a size limit and a lease
// on the process's budget for originals in flight; anything else stops
// the handler writing, and the caller answers the request as if imgedge
// were not there. It is plain net/http: the Caddy adapter runs the rest of
// its route into a Writer.
package capture

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/imgedge/imgedge/internal/budget"
)

// Errors a Writer's Write returns to stop the handler writing into it.
var (
	ErrTooLarge = errors.New("the original is larger than the limit, or than the budget's room")
	ErrNotImage = errors.New("the answer is not an image")
)

// Mode is what the Writer decided to do with the answer.
type Mode int

const (
	Undecided  Mode = iota // nothing written yet
	Buffering              // an image to transform: kept in memory, up to the limit
	NotImage               // anything else: dropped, for the caller to ask the route again
	TooLarge               // an image over the limit: dropped
	OverBudget             // the process's budget for originals had no room: dropped
)

// Writer is the ResponseWriter a handler writes the original into. On the
// status line it decides: a 2xx image is buffered (at most limit bytes);
// anything else is NotImage, and its body stops the handler.
//
// The bytes buffered are leased from the process's budget: the lease grows
// to the Content-Length (waiting up to wait for room, since it holds
// little yet), or step by step while a body of unknown length arrives
// (without waiting); without room the original is dropped (OverBudget).
type Writer struct {
	header http.Header
	limit  int64
	mode   Mode
	body   bytes.Buffer
	ctx    context.Context
	lease  *budget.Lease
	wait   time.Duration
}

// New returns a Writer that keeps at most limit bytes, leased from lease,
// waiting up to wait for room once the size is known. ctx bounds that
// wait.
func New(ctx context.Context, limit int64, lease *budget.Lease, wait time.Duration) *Writer {
	return &Writer{ctx: ctx, header: http.Header{}, limit: limit, lease: lease, wait: wait}
}

// Mode is what the Writer has done with the answer so far.
func (f *Writer) Mode() Mode { return f.mode }

// Body is the captured original, when Mode is Buffering.
func (f *Writer) Body() []byte { return f.body.Bytes() }

// Header is the answer's header.
func (f *Writer) Header() http.Header { return f.header }

// WriteHeader decides what the answer is.
func (f *Writer) WriteHeader(status int) {
	if f.mode != Undecided || (status >= 100 && status < 200) {
		return // informational answers (103 Early Hints) are not the original
	}
	if !(status == http.StatusOK || status == http.StatusNonAuthoritativeInfo) || !IsImageType(f.header.Get("Content-Type")) {
		f.mode = NotImage
		f.lease.Release() // nothing is kept
		return
	}
	f.mode = Buffering
	if n, err := strconv.ParseInt(f.header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		if n > f.limit {
			f.mode = TooLarge
			return
		}
		ctx, cancel := context.WithTimeout(f.ctx, f.wait)
		defer cancel()
		if f.lease.GrowTo(ctx, n) != nil {
			f.mode = OverBudget
			return
		}
		f.body.Grow(int(n))
	}
}

// Write keeps an image's bytes, within the limit and the budget.
func (f *Writer) Write(p []byte) (int, error) {
	if f.mode == Undecided {
		if f.header.Get("Content-Type") == "" {
			f.header.Set("Content-Type", http.DetectContentType(p))
		}
		f.WriteHeader(http.StatusOK)
	}
	switch f.mode {
	case NotImage:
		return 0, ErrNotImage // stop the route: the caller asks it again
	case Buffering:
		need := int64(f.body.Len() + len(p))
		if need > f.limit {
			f.mode = TooLarge
			f.body = bytes.Buffer{}
			return 0, ErrTooLarge
		}
		// bytes.Buffer doubles as it grows: lease what it may allocate.
		if size := f.lease.Size(); need > size && !f.lease.TryGrowTo(min(max(2*need, 2*size), f.limit)) {
			f.mode = OverBudget
			f.body = bytes.Buffer{}
			return 0, ErrTooLarge
		}
		return f.body.Write(p)
	}
	return 0, ErrTooLarge
}

// IsImageType reports whether a Content-Type may hold an image to
// transform. application/octet-stream counts, since many object stores
// serve images as that; libvips then sniffs the bytes.
func IsImageType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "image/") || mt == "application/octet-stream"
}
