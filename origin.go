package imgedge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/capture"
	"github.com/imgedge/imgedge/cluster"
	"github.com/imgedge/imgedge/telemetry"
	"github.com/imgedge/imgedge/variant"
)

// fetchLeaseStart is what a fetch holds of the budget before the
// original's size is known.
const fetchLeaseStart = 64 << 10

// fetchOriginal is the engine's fetch function for this request: it runs
// the rest of the route for the original, within fetch_timeout. An answer
// that is not an image is variant.ErrNotImage, and nothing is written:
// the caller then runs the route again for the request untouched (the
// fetch asked for the original, without image parameters, conditionals
// or ranges).
//
// The fetch first takes a lease on the process's budget for originals in
// flight (waiting at most queue_timeout), grown as the original's size
// becomes known: the bytes buffered by every request of the process stay
// within it. The lease comes back with the original.
func (rq *imageRequest) fetchOriginal(ctx context.Context, shared bool) (*variant.Fetched, error) {
	return rq.fetch(ctx, rq.fetchRequest(), true)
}

// fetch runs the rest of the route for req into a capture, through the
// shield zone first when viaShield and one is set.
func (rq *imageRequest) fetch(ctx context.Context, req *http.Request, viaShield bool) (*variant.Fetched, error) {
	ir := rq.ir
	waitCtx, cancelWait := context.WithTimeout(ctx, time.Duration(ir.QueueTimeout))
	lease, err := ir.sources.Acquire(waitCtx, fetchLeaseStart)
	cancelWait()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ir.metrics.BudgetRefusals.Inc()
		return nil, &refusal{http.StatusServiceUnavailable, telemetry.OutcomeBusy, "too many originals are being fetched; retry shortly"}
	}
	// However the fetch ends (a panic included: reverse_proxy aborts a
	// stream the client left with one), the lease goes back unless the
	// original comes back with it.
	kept := false
	defer func() {
		if !kept {
			lease.Release()
		}
	}()
	fw := capture.New(ctx, ir.MaxSourceBytes, lease, time.Duration(ir.QueueTimeout))
	began := time.Now()
	shielded := false
	if viaShield {
		// Each shield attempt has its own deadline; the origin, asked
		// when no shield could answer, gets a whole one of its own.
		shielded, err = ir.cluster.FromShield(ctx, rq.hop(), fw)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(ir.FetchTimeout))
	defer cancel()
	if !shielded {
		err = fromRoute(ctx, rq.next, fw, req)
	}
	ir.metrics.FetchDuration.Observe(time.Since(began).Seconds())
	if fw.Mode() == capture.NotImage {
		return nil, variant.ErrNotImage
	}
	if err := ir.fetchError(ctx, fw, err); err != nil {
		return nil, err
	}
	ir.metrics.SourceBytes.Add(float64(len(fw.Body())))
	kept = true
	return &variant.Fetched{Body: fw.Body(), Header: fw.Header(), Lease: lease}, nil
}

// fetchRequest is the request for the original: image parameters,
// conditionals and ranges removed, as a GET.
func (rq *imageRequest) fetchRequest() *http.Request {
	return rq.requestFor(rq.r.URL.Path, rq.r.URL.RawPath, rq.srcQuery)
}

// requestFor is the request's GET for another path of the site (the
// original's, a watermark's), conditionals and ranges removed.
func (rq *imageRequest) requestFor(path, rawPath, query string) *http.Request {
	req := rq.r.Clone(rq.r.Context())
	req.Method = http.MethodGet
	req.URL.Path, req.URL.RawPath = path, rawPath
	req.URL.RawQuery = query
	req.RequestURI = req.URL.RequestURI()
	for _, h := range cluster.Conditionals {
		req.Header.Del(h)
	}
	req.Header.Del("Accept-Encoding")
	return req
}

// fetchError turns how a fetch ended into a refusal, or nil when an image
// was buffered.
func (ir *ImageResize) fetchError(ctx context.Context, fw *capture.Writer, err error) error {
	switch {
	case fw.Mode() == capture.TooLarge:
		return &refusal{http.StatusRequestEntityTooLarge, telemetry.OutcomeTooLarge, "the original is larger than the limit of " + ir.maxSourceString()}
	case fw.Mode() == capture.OverBudget:
		ir.metrics.BudgetRefusals.Inc()
		return &refusal{http.StatusServiceUnavailable, telemetry.OutcomeBusy, "the node's memory for originals in flight is in use; retry shortly"}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &refusal{http.StatusGatewayTimeout, telemetry.OutcomeOriginTimeout, fmt.Sprintf("the origin did not answer within %s", time.Duration(ir.FetchTimeout))}
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode < 500 {
			return err
		}
		ir.logger.Warn("fetching original", zap.Error(err))
		return &refusal{http.StatusBadGateway, telemetry.OutcomeOriginError, "the origin failed to deliver the original"}
	case fw.Mode() == capture.Undecided:
		return &refusal{http.StatusBadGateway, telemetry.OutcomeOriginError, "the origin sent no response"}
	}
	return nil
}

// serveNext runs the rest of the route into fw. reverse_proxy aborts a
// response it cannot finish writing with panic(http.ErrAbortHandler); fw
// stops it when it is over max_source or not an image, so that is our
// refusal, not a client's connection to drop, and becomes an error. Other
// panics go on up.
func serveNext(next caddyhttp.Handler, fw *capture.Writer, req *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			err = errors.New("origin response aborted")
		}
	}()
	return next.ServeHTTP(fw, req)
}
