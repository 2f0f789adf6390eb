package imgedge

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
	"github.com/imgedge/imgedge/variant"
)

// errSourceTooLarge stops the next handler from writing past the limit.
var errSourceTooLarge = errors.New("original is larger than max_source")

// fetchMode is what the fetchWriter decided to do with the answer.
type fetchMode int

const (
	undecided   fetchMode = iota
	buffering             // an image to transform: kept in memory, up to the limit
	passthrough           // anything else: streamed to the client as it is
	tooLarge              // an image over the limit: dropped
	overBudget            // the process's budget for originals had no room: dropped
)

// fetchWriter is the ResponseWriter the next handler writes the original
// into. On the status line it decides: a 2xx image is buffered (at most
// limit bytes), anything else goes straight to the client, byte for byte,
// with its status and headers. Without a client (a fetch shared by several
// requests) anything else stops the route instead.
//
// The bytes buffered are leased from the process's budget: the lease grows
// to the Content-Length (waiting up to wait for room, since it holds
// little yet), or step by step while a body of unknown length arrives
// (without waiting); without room the original is dropped (overBudget).
type fetchWriter struct {
	client http.ResponseWriter
	header http.Header
	status int
	limit  int64
	mode   fetchMode
	body   bytes.Buffer
	ctx    context.Context
	lease  *budget.Lease
	wait   time.Duration
}

func newFetchWriter(ctx context.Context, client http.ResponseWriter, limit int64, lease *budget.Lease, wait time.Duration) *fetchWriter {
	return &fetchWriter{ctx: ctx, client: client, header: http.Header{}, limit: limit, lease: lease, wait: wait}
}

func (f *fetchWriter) Header() http.Header { return f.header }

func (f *fetchWriter) WriteHeader(status int) {
	if f.mode != undecided || (status >= 100 && status < 200) {
		return // informational answers (103 Early Hints) are not the original
	}
	f.status = status
	if !(status == http.StatusOK || status == http.StatusNonAuthoritativeInfo) || !isImageType(f.header.Get("Content-Type")) {
		f.mode = passthrough
		f.lease.Release() // nothing is buffered: a slow client holds no budget
		if f.client == nil {
			return // a shared fetch: the caller streams it itself
		}
		dst := f.client.Header()
		for k, v := range f.header {
			dst[k] = v
		}
		f.client.WriteHeader(status)
		return
	}
	f.mode = buffering
	if n, err := strconv.ParseInt(f.header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		if n > f.limit {
			f.mode = tooLarge
			return
		}
		ctx, cancel := context.WithTimeout(f.ctx, f.wait)
		defer cancel()
		if f.lease.GrowTo(ctx, n) != nil {
			f.mode = overBudget
			return
		}
		f.body.Grow(int(n))
	}
}

func (f *fetchWriter) Write(p []byte) (int, error) {
	if f.mode == undecided {
		if f.header.Get("Content-Type") == "" {
			f.header.Set("Content-Type", http.DetectContentType(p))
		}
		f.WriteHeader(http.StatusOK)
	}
	switch f.mode {
	case passthrough:
		if f.client == nil {
			return 0, variant.ErrNotImage // stop the route: the caller fetches again
		}
		return f.client.Write(p)
	case buffering:
		need := int64(f.body.Len() + len(p))
		if need > f.limit {
			f.mode = tooLarge
			f.body = bytes.Buffer{}
			return 0, errSourceTooLarge
		}
		// bytes.Buffer doubles as it grows: lease what it may allocate.
		if size := f.lease.Size(); need > size && !f.lease.TryGrowTo(min(max(2*need, 2*size), f.limit)) {
			f.mode = overBudget
			f.body = bytes.Buffer{}
			return 0, errSourceTooLarge
		}
		return f.body.Write(p)
	}
	return 0, errSourceTooLarge
}

// Flush lets a streaming passthrough (reverse_proxy flushes) reach the
// client promptly; while buffering it does nothing.
func (f *fetchWriter) Flush() {
	if f.mode == passthrough && f.client != nil {
		_ = http.NewResponseController(f.client).Flush()
	}
}

// Unwrap is the client's writer (nil for a shared fetch), so that
// http.ResponseController reaches it.
func (f *fetchWriter) Unwrap() http.ResponseWriter { return f.client }

// isImageType reports whether a Content-Type may hold an image to
// transform. application/octet-stream counts, since many object stores
// serve images as that; libvips then sniffs the bytes.
func isImageType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "image/") || mt == "application/octet-stream"
}
