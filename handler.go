package imgedge

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/cespare/xxhash/v2"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/transform"
)

// pipelineVersion is part of every ETag: bump it when the same parameters
// start producing different bytes, so caches do not keep the old ones.
const pipelineVersion = "1"

// ServeHTTP answers image requests; everything else goes to next untouched.
func (ir *ImageResize) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return next.ServeHTTP(w, r)
	}
	query := r.URL.Query()
	if !transform.HasImageParams(query) {
		return next.ServeHTTP(w, r)
	}
	rq := &imageRequest{ir: ir, w: w, r: r, start: time.Now()}
	outcome := rq.serve(query, next)
	ir.metrics.requests.WithLabelValues(outcome).Inc()
	return rq.err
}

// imageRequest is the state of one image request as it moves through
// parsing, fetching, inspecting and processing.
type imageRequest struct {
	ir    *ImageResize
	w     http.ResponseWriter
	r     *http.Request
	start time.Time
	err   error // returned to Caddy (a passed-through handler error)

	opts              transform.Options
	fetch, queue, cpu time.Duration
}

// serve runs the request flow and returns its outcome label.
func (rq *imageRequest) serve(query map[string][]string, next caddyhttp.Handler) string {
	ir := rq.ir
	opts, err := transform.Parse(query, ir.pipeline.Limits)
	if err != nil {
		var pe *transform.Error
		if errors.As(err, &pe) {
			return rq.refuse(http.StatusBadRequest, outcomeBadRequest, pe.Msg, pe.Param)
		}
		return rq.refuse(http.StatusBadRequest, outcomeBadRequest, err.Error(), "")
	}
	rq.opts = opts

	fw, outcome, done := rq.fetchOriginal(query, next)
	if done {
		return outcome
	}

	src, err := imaging.Inspect(fw.body.Bytes(), ir.pipeline)
	if err != nil {
		return rq.refuseImage(err)
	}
	ir.metrics.sourceBytes.Add(float64(fw.body.Len()))

	format, negotiated := transform.OutputFormat(opts, rq.r.Header.Get("Accept"), src.Info())
	etag := variantETag(fw.body.Bytes(), opts.Canonical(), format)
	hdr := rq.w.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", firstNonEmpty(fw.header.Get("Cache-Control"), ir.CacheControl))
	if negotiated {
		hdr.Add("Vary", "Accept")
	}
	copyOriginHeaders(hdr, fw.header)
	hdr.Set("Imgedge-Node", ir.node)
	if etagMatches(rq.r.Header.Get("If-None-Match"), etag) {
		rq.setServerTiming()
		rq.w.WriteHeader(http.StatusNotModified)
		return outcomeNotModified
	}

	queued := time.Now()
	release, err := ir.slots.acquire(rq.r.Context())
	rq.queue = time.Since(queued)
	if err != nil {
		rq.clearVariantHeaders()
		if errors.Is(err, errBusy) {
			rq.w.Header().Set("Retry-After", "1")
			return rq.refuse(http.StatusServiceUnavailable, outcomeBusy, "the image edge is busy; retry shortly", "")
		}
		return outcomeCanceled // the client went away while waiting
	}
	ir.metrics.jobs.Inc()
	began := time.Now()
	res, err := imaging.Process(src, opts, format, ir.pipeline)
	rq.cpu = time.Since(began)
	ir.metrics.jobs.Dec()
	release()
	ir.metrics.resizes.Inc()
	ir.metrics.resizeDuration.Observe(rq.cpu.Seconds())
	if err != nil {
		rq.clearVariantHeaders()
		return rq.refuseImage(err)
	}

	hdr.Set("Content-Type", res.Format.MIME())
	hdr.Set("Content-Length", strconv.Itoa(len(res.Body)))
	hdr.Set("X-Content-Type-Options", "nosniff")
	rq.setServerTiming()
	rq.w.WriteHeader(http.StatusOK)
	if rq.r.Method != http.MethodHead {
		if _, err := rq.w.Write(res.Body); err != nil {
			ir.logger.Debug("writing image", zap.Error(err))
		}
	}
	ir.metrics.outputBytes.Add(float64(len(res.Body)))
	return outcomeResized
}

// fetchOriginal gets the original through the rest of the route, with the
// image parameters and conditional/range headers removed. done means the
// request has been answered (passed through or refused).
func (rq *imageRequest) fetchOriginal(query map[string][]string, next caddyhttp.Handler) (fw *fetchWriter, outcome string, done bool) {
	ir := rq.ir
	ctx, cancel := context.WithTimeout(rq.r.Context(), time.Duration(ir.FetchTimeout))
	defer cancel()
	req := rq.r.Clone(ctx)
	req.Method = http.MethodGet
	req.URL.RawQuery = transform.SourceQuery(query).Encode()
	req.RequestURI = req.URL.RequestURI()
	for _, h := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range", "Accept-Encoding"} {
		req.Header.Del(h)
	}

	fw = newFetchWriter(rq.w, ir.MaxSourceBytes)
	began := time.Now()
	err := serveNext(next, fw, req)
	rq.fetch = time.Since(began)
	ir.metrics.fetchDuration.Observe(rq.fetch.Seconds())

	switch {
	case fw.mode == passthrough:
		rq.err = err
		return nil, outcomePassthrough, true
	case fw.mode == tooLarge:
		return nil, rq.refuse(http.StatusRequestEntityTooLarge, outcomeTooLarge,
			"the original is larger than the limit of "+ir.maxSourceString(), ""), true
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && rq.r.Context().Err() == nil:
		return nil, rq.refuse(http.StatusGatewayTimeout, outcomeOriginTimeout,
			fmt.Sprintf("the origin did not answer within %s", time.Duration(ir.FetchTimeout)), ""), true
	case rq.r.Context().Err() != nil:
		return nil, outcomeCanceled, true
	case err != nil:
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 {
			// The route's own answer (file_server's 404, say): pass it on
			// for the site's error handling, as if we were not here.
			rq.err = err
			return nil, outcomePassthrough, true
		}
		ir.logger.Warn("fetching original", zap.String("uri", req.URL.RequestURI()), zap.Error(err))
		return nil, rq.refuse(http.StatusBadGateway, outcomeOriginError, "the origin failed to deliver the original", ""), true
	case fw.mode == undecided:
		return nil, rq.refuse(http.StatusBadGateway, outcomeOriginError, "the origin sent no response", ""), true
	}
	return fw, "", false
}

// serveNext runs the rest of the route into fw. reverse_proxy aborts a
// response it cannot finish writing with panic(http.ErrAbortHandler); while
// we are buffering that is our refusal (over max_source), not the client's
// connection to drop, so it becomes an error. Streaming passthroughs and
// other panics go on up.
func serveNext(next caddyhttp.Handler, fw *fetchWriter, req *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler || fw.mode == passthrough {
				panic(v)
			}
			err = fmt.Errorf("origin response aborted while buffering: %w", errSourceTooLarge)
			if fw.mode != tooLarge {
				err = errors.New("origin response aborted")
			}
		}
	}()
	return next.ServeHTTP(fw, req)
}

// refuseImage answers an error from inspecting or processing the source.
func (rq *imageRequest) refuseImage(err error) string {
	var ie *imaging.Error
	if !errors.As(err, &ie) {
		rq.ir.logger.Error("processing image", zap.Error(err))
		return rq.refuse(http.StatusUnprocessableEntity, outcomeUnprocessable, "the original cannot be processed", "")
	}
	if ie.Err != nil {
		rq.ir.logger.Debug("refusing original", zap.String("uri", rq.r.URL.RequestURI()), zap.Error(ie.Err))
	}
	switch ie.Kind {
	case imaging.Unsupported:
		return rq.refuse(http.StatusUnsupportedMediaType, outcomeUnsupported, ie.Msg, "")
	case imaging.TooLarge:
		return rq.refuse(http.StatusUnprocessableEntity, outcomeTooLarge, ie.Msg, "")
	}
	return rq.refuse(http.StatusUnprocessableEntity, outcomeUnprocessable, ie.Msg, "")
}

// refuse answers with a JSON problem body and returns the outcome. Errors
// are written here rather than returned to Caddy so that every refusal
// carries its reason, whatever the site's error handling.
func (rq *imageRequest) refuse(status int, outcome, msg, param string) string {
	rq.setServerTiming()
	writeProblem(rq.w, status, msg, param)
	return outcome
}

// clearVariantHeaders removes headers set for a variant we will not send.
func (rq *imageRequest) clearVariantHeaders() {
	for _, h := range []string{"ETag", "Cache-Control", "Vary"} {
		rq.w.Header().Del(h)
	}
}

func (rq *imageRequest) setServerTiming() {
	var parts []string
	add := func(name string, d time.Duration) {
		if d > 0 {
			parts = append(parts, fmt.Sprintf("%s;dur=%.1f", name, float64(d.Microseconds())/1000))
		}
	}
	add("fetch", rq.fetch)
	add("queue", rq.queue)
	add("resize", rq.cpu)
	add("total", time.Since(rq.start))
	rq.w.Header().Set("Server-Timing", strings.Join(parts, ", "))
}

// variantETag names a variant by the original's bytes, the canonical
// parameters and the output format: the same inputs give the same ETag on
// every node.
func variantETag(src []byte, canonical string, f transform.Format) string {
	h := xxhash.New()
	var sum [8]byte
	srcSum := xxhash.Sum64(src)
	for i := range sum {
		sum[i] = byte(srcSum >> (8 * i))
	}
	h.Write(sum[:])
	h.WriteString("\x00" + canonical + "\x00" + f.String() + "\x00" + pipelineVersion)
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 13.1.2).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}

// copyOriginHeaders carries over the origin's headers that still hold for
// a transformed image.
func copyOriginHeaders(dst, origin http.Header) {
	for _, h := range []string{"Access-Control-Allow-Origin", "Timing-Allow-Origin", "Content-Security-Policy"} {
		if v := origin.Get(h); v != "" && dst.Get(h) == "" {
			dst.Set(h, v)
		}
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
