package imgedge

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/problem"
	"github.com/imgedge/imgedge/metering"
	"github.com/imgedge/imgedge/telemetry"
	"github.com/imgedge/imgedge/tracing"
	"github.com/imgedge/imgedge/transform"
	"github.com/imgedge/imgedge/variant"
)

// refusal is an answer decided on the way: status, outcome, message.
type refusal struct {
	status  int
	outcome string
	msg     string
}

func (e *refusal) Error() string { return e.msg }

// answer sends a variant with its Cache-Status.
func (rq *imageRequest) answer(res *variant.Result) string {
	e := res.Entry
	h := rq.w.Header()
	for k, v := range e.Header {
		h[k] = append([]string(nil), v...)
	}
	if len(rq.hints) > 0 {
		// Set per request, not stored: a cached variant may have been
		// made for a URL that named its size outright.
		h.Set("Vary", strings.Join(append(h.Values("Vary"), rq.hints...), ", "))
	}
	rq.setNodeHeaders()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Status", "imgedge; "+res.Status)
	rq.setServerTiming()
	outcome := telemetry.OutcomeResized
	if res.CacheStatus == "hit" {
		outcome = telemetry.OutcomeHit
	}
	if res.NotModified {
		h.Del("Content-Type")
		rq.record(http.StatusNotModified, 0, 0)
		rq.markForOwner(http.StatusNotModified, res)
		rq.w.WriteHeader(http.StatusNotModified)
		return telemetry.OutcomeNotModified
	}
	h.Set("Content-Length", strconv.Itoa(len(e.Body)))
	rq.record(http.StatusOK, len(e.Body), int64(e.Width)*int64(e.Height))
	rq.markForOwner(http.StatusOK, res)
	rq.w.WriteHeader(http.StatusOK)
	if rq.r.Method != http.MethodHead {
		if _, err := rq.w.Write(e.Body); err != nil {
			rq.ir.logger.Debug("writing image", zap.Error(err))
		}
	}
	rq.ir.metrics.OutputBytes.Add(float64(len(e.Body)))
	return outcome
}

// markForOwner marks the answer to a node that asks this one as the
// owner, with the description of the variant for its hot copy.
func (rq *imageRequest) markForOwner(status int, res *variant.Result) {
	if rq.asOwner {
		rq.ir.peering.MarkAnswer(rq.w.Header(), status, rq.nonce, balancer.HopOwner, res.Variant.String(), res.Entry.Body)
	}
}

// setNodeHeaders names the node, and zone, that did the work.
func (rq *imageRequest) setNodeHeaders() {
	h := rq.w.Header()
	h.Set("Imgedge-Node", rq.ir.node)
	if rq.ir.zone != "" {
		h.Set("Imgedge-Zone", rq.ir.zone)
	}
}

// record hands this request's usage to the meter. It runs before the
// answer is written, so every request that got an answer has a record
// (the meter journals it at once, without waiting on disk or network).
func (rq *imageRequest) record(status, outputBytes int, pixels int64) {
	if rq.ir.meter == nil {
		return
	}
	switch {
	case rq.asShield:
		return // an original for another zone's node, which bills its request
	case len(rq.hops) > 0 && status >= 500:
		return // the asking node tries elsewhere or answers (and records) itself
	}
	if rq.r.Method == http.MethodHead {
		outputBytes = 0 // no body was sent
	}
	defer rq.traceRecord().End()
	rq.ir.meter.Record(metering.Record{
		Tenant:       rq.tenant,
		Time:         rq.start,
		Status:       status,
		CacheStatus:  rq.res.CacheStatus,
		SourceBytes:  rq.res.SourceBytes,
		OutputBytes:  int64(outputBytes),
		OutputPixels: pixels,
		CPU:          rq.res.Timings.Resize,
		Wall:         time.Since(rq.start),
		Zone:         rq.ir.zone,
		Node:         rq.ir.node,
		Forwarded:    rq.hops.Forwarded(),
	})
}

// refuseParam answers a refused parameter with 400, naming it.
func (rq *imageRequest) refuseParam(err error) string {
	msg, param := problem.Of(err)
	return rq.refuse(&refusal{http.StatusBadRequest, telemetry.OutcomeBadRequest, msg}, param)
}

// refuseError answers an error from fetching, inspecting or processing.
func (rq *imageRequest) refuseError(err error) string {
	var (
		rf *refusal
		ie *imaging.Error
		he caddyhttp.HandlerError
		pe *transform.Error
		pp *cache.PanicError
	)
	if rq.redirectOnError && sourceCannotBeProcessed(err) {
		return rq.redirectToSource()
	}
	switch {
	case errors.As(err, &rf):
		if rf.status == http.StatusServiceUnavailable {
			rq.w.Header().Set("Retry-After", "1")
		}
		return rq.refuse(rf, "")
	case errors.As(err, &pe):
		return rq.refuseParam(err)
	case errors.Is(err, variant.ErrBusy):
		rq.w.Header().Set("Retry-After", "1")
		return rq.refuse(&refusal{http.StatusServiceUnavailable, telemetry.OutcomeBusy, "the image edge is busy; retry shortly"}, "")
	case errors.As(err, &he):
		// The route's own 4xx answer (file_server's 404, say): pass it on
		// for the site's error handling, as if we were not here.
		rq.err = err
		return telemetry.OutcomePassthrough
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return telemetry.OutcomeCanceled // the client went away
	case errors.As(err, &ie):
		if ie.Err != nil {
			rq.ir.logger.Debug("refusing original", zap.String("uri", rq.r.URL.RequestURI()), zap.Error(ie.Err))
		}
		switch ie.Kind {
		case imaging.Unsupported:
			return rq.refuse(&refusal{http.StatusUnsupportedMediaType, telemetry.OutcomeUnsupported, ie.Msg}, "")
		case imaging.TooLarge:
			return rq.refuse(&refusal{http.StatusUnprocessableEntity, telemetry.OutcomeTooLarge, ie.Msg}, "")
		case imaging.TooSlow:
			return rq.refuse(&refusal{http.StatusUnprocessableEntity, telemetry.OutcomeTooSlow, ie.Msg}, "")
		}
		return rq.refuse(&refusal{http.StatusUnprocessableEntity, telemetry.OutcomeUnprocessable, ie.Msg}, "")
	case errors.As(err, &pp):
		rq.ir.logger.Error("panic while answering an image request", zap.String("uri", rq.r.URL.RequestURI()),
			zap.Any("panic", pp.Value), zap.ByteString("stack", pp.Stack))
		return rq.refuse(&refusal{http.StatusInternalServerError, telemetry.OutcomeError, "internal error"}, "")
	}
	// Nothing the client sent explains it: our fault, said as such.
	rq.ir.logger.Error("image request failed", zap.String("uri", rq.r.URL.RequestURI()), zap.Error(err))
	return rq.refuse(&refusal{http.StatusInternalServerError, telemetry.OutcomeError, "internal error"}, "")
}

// sourceCannotBeProcessed tells the failures onerror=redirect redirects:
// the source unsupported, undecodable, over a limit or too slow; not a
// refused parameter, a busy node or a failing origin.
func sourceCannotBeProcessed(err error) bool {
	var ie *imaging.Error
	var rf *refusal
	switch {
	case errors.As(err, &ie):
		return true
	case errors.As(err, &rf):
		return rf.status == http.StatusRequestEntityTooLarge
	}
	return false
}

// redirectToSource answers 307 with the source's own URL (Cloudflare's
// onerror=redirect): the browser gets the original as the site serves it.
func (rq *imageRequest) redirectToSource() string {
	target := rq.source.URL.EscapedPath()
	if rq.srcQuery != "" {
		target += "?" + rq.srcQuery
	}
	rq.w.Header().Set("Location", target)
	rq.setServerTiming()
	rq.record(http.StatusTemporaryRedirect, 0, 0)
	rq.w.WriteHeader(http.StatusTemporaryRedirect)
	return telemetry.OutcomeRedirected
}

// refuse answers with a JSON problem body and returns the outcome. Errors
// are written here rather than returned to Caddy so that every refusal
// carries its reason, whatever the site's error handling.
func (rq *imageRequest) refuse(rf *refusal, param string) string {
	rq.setServerTiming()
	rq.record(rf.status, 0, 0)
	problem.Write(rq.w, rf.status, rf.msg, param)
	return rf.outcome
}

// setServerTiming says in Server-Timing how long the request's phases
// took.
func (rq *imageRequest) setServerTiming() {
	timing := rq.res.Timings.ServerTiming(time.Since(rq.start))
	if id := tracing.TraceID(rq.r.Context()); id != "" {
		timing += `, trace;desc="` + id + `"` // where a client finds the request's trace
	}
	rq.w.Header().Set("Server-Timing", timing)
}

// serveOriginal answers a shield hop: the original, from the originals
// cache or fetched once from the origin and kept, with the origin's
// headers. It is not billed here: the asking zone bills its request.
func (rq *imageRequest) serveOriginal(req *variant.Request) string {
	res, body, header, err := rq.ir.engine.Original(rq.r.Context(), req)
	defer res.Release()
	rq.res = *res
	switch {
	case errors.Is(err, variant.ErrNotImage):
		return rq.notImage()
	case err != nil:
		return rq.refuseError(err)
	}
	h := rq.w.Header()
	for k, v := range header {
		h[k] = append([]string(nil), v...) // the cached original's own stay untouched
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rq.ir.peering.MarkAnswer(h, http.StatusOK, rq.nonce, balancer.HopShield, "", body)
	rq.w.WriteHeader(http.StatusOK)
	if _, err := rq.w.Write(body); err != nil {
		rq.ir.logger.Debug("writing an original to a zone it shields", zap.String("uri", rq.r.URL.RequestURI()), zap.Error(err))
	}
	return telemetry.OutcomeShield
}
