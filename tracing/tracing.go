// Package tracing makes imgedge's OpenTelemetry spans: one for each step of
// an image request's work (admission, cache lookups, hops to peers, the
// origin fetch, the slot wait, decode and resize, encode, the usage record),
// as children of the span Caddy's `tracing` handler put in the request's
// context.
//
// Spans come from that span's own tracer provider: Caddy sets no global one,
// and a node without `tracing` has none at all. Then every function here is
// a no-op that allocates nothing: Start hands back the context it was given,
// so a request that is not traced pays one context lookup a step.
//
// The trace context travels with every request a node makes (to a peer, a
// shield, another zone, and through the route to the origin): Inject writes
// it into the request's header, with the propagators OTEL_PROPAGATORS names,
// as Caddy's handler does (W3C traceparent by default).
package tracing

import (
	"context"
	"net/http"
	"sync"

	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Instrumentation names imgedge's spans' tracer (the OpenTelemetry scope).
const Instrumentation = "github.com/imgedge/imgedge"

// Start begins a span named name as a child of ctx's span, from the same
// tracer provider, and returns a context that carries it. When ctx's span
// is not recorded (no tracing, or not sampled), it returns ctx and ctx's
// own span: nothing is made, and ending that span does nothing.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(Instrumentation).Start(ctx, name, opts...)
}

// StartClient is Start for a request this node sends (to a peer, the
// shield, another zone, the origin): a span of kind client.
func StartClient(ctx context.Context, name string) (context.Context, trace.Span) {
	return Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
}

// Recording says whether ctx's span is recorded: attributes worth
// computing are computed only then.
func Recording(ctx context.Context) bool {
	return trace.SpanFromContext(ctx).IsRecording()
}

// End ends span, marking it failed with err's message when err is not nil.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Link adds to ctx's span a link to the span of other: the request that
// did the work this one waited for (a collapsed request), in its own
// trace.
func Link(ctx, other context.Context) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if sc := trace.SpanContextFromContext(other); sc.IsValid() && !sc.Equal(span.SpanContext()) {
		span.AddLink(trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attribute.String("imgedge.link", "did the work")}})
	}
}

// Inject writes ctx's trace context into h, replacing what h had (the
// client's, or the request span's that Caddy's handler wrote), so that the
// receiver's spans are children of the step that sent it.
func Inject(ctx context.Context, h http.Header) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	propagator().Inject(ctx, propagation.HeaderCarrier(h))
}

// TraceID is ctx's trace id in hex, "" when there is none.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// propagator is the one OTEL_PROPAGATORS names (tracecontext and baggage
// when unset), as Caddy's tracing handler uses: made once.
var propagator = sync.OnceValue(func() propagation.TextMapPropagator {
	return autoprop.NewTextMapPropagator()
})
