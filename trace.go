package imgedge

import (
	"context"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/imgedge/imgedge/capture"
	"github.com/imgedge/imgedge/tracing"
	"github.com/imgedge/imgedge/transform"
)

// The root's spans (see package tracing): the request span Caddy's
// tracing handler made gets who served it; admission, the fetch through
// the route and the usage record are steps of their own.

// traceRequest names, on the request's span, the node and zone that took
// the request, its tenant, and the hop it came as.
func (rq *imageRequest) traceRequest() {
	span := trace.SpanFromContext(rq.r.Context())
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("imgedge.node", rq.ir.node), attribute.String("imgedge.zone", rq.ir.zone),
		attribute.String("imgedge.tenant", rq.tenant))
	if hop := rq.hops.Last(); hop != "" {
		span.SetAttributes(attribute.String("imgedge.hop", hop))
	}
}

// admit is admitTenant as a span: the signature check and the rate limit.
func (rq *imageRequest) admit(req *transform.Request) (refused bool, outcome string) {
	_, span := tracing.Start(rq.r.Context(), "imgedge.admission")
	refused, outcome = rq.admitTenant(req)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("imgedge.tenant", rq.tenant), attribute.Bool("imgedge.admitted", !refused))
		if refused {
			span.SetAttributes(attribute.String("imgedge.outcome", outcome))
		}
	}
	span.End()
	return refused, outcome
}

// fromRoute runs the rest of the route for req (to file_server, to the
// origin through reverse_proxy) as a span whose context req carries on,
// so the origin's spans are children of this fetch.
func fromRoute(ctx context.Context, next caddyhttp.Handler, fw *capture.Writer, req *http.Request) error {
	ctx, span := tracing.StartClient(ctx, "imgedge.origin.fetch")
	tracing.Inject(ctx, req.Header) // req is a clone: the client's request keeps its own
	err := serveNext(next, fw, req.WithContext(ctx))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("url.path", req.URL.Path), attribute.Int("imgedge.source.bytes", len(fw.Body())))
	}
	tracing.End(span, err)
	return err
}

// traceRecord is the span of handing the usage record to the meter.
func (rq *imageRequest) traceRecord() trace.Span {
	_, span := tracing.Start(rq.r.Context(), "imgedge.usage.record")
	if span.IsRecording() {
		span.SetAttributes(attribute.String("imgedge.cache.status", rq.res.CacheStatus))
	}
	return span
}
