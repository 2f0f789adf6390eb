package tracing

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// traced is a context with a recorded request span, as Caddy's tracing
// handler makes, from a provider of its own (not the global one).
func traced(t *testing.T) (context.Context, *tracetest.SpanRecorder, trace.Span) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("caddy").Start(context.Background(), "GET /photo.jpg")
	return ctx, rec, span
}

func TestSpansAreChildrenOfTheRequestSpanFromItsOwnProvider(t *testing.T) {
	ctx, rec, request := traced(t)
	cctx, child := Start(ctx, "imgedge.cache.lookup")
	_, grandchild := StartClient(cctx, "imgedge.hop.owner")
	End(grandchild, errors.New("peer gone"))
	End(child, nil)
	request.End()

	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans ended, want 3", len(spans))
	}
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = s
	}
	lookup, hop := byName["imgedge.cache.lookup"], byName["imgedge.hop.owner"]
	if lookup == nil || hop == nil {
		t.Fatalf("spans %v", byName)
	}
	if lookup.Parent().SpanID() != request.SpanContext().SpanID() || hop.Parent().SpanID() != lookup.SpanContext().SpanID() {
		t.Error("the spans are not children of the span in the context they were started from")
	}
	if lookup.InstrumentationScope().Name != Instrumentation {
		t.Errorf("scope %q, want %q", lookup.InstrumentationScope().Name, Instrumentation)
	}
	if hop.SpanKind() != trace.SpanKindClient {
		t.Errorf("a hop's span is of kind %v, want client", hop.SpanKind())
	}
	if hop.Status().Code != codes.Error || hop.Status().Description != "peer gone" {
		t.Errorf("a failed step's status is %+v", hop.Status())
	}
}

func TestWithoutARecordedSpanNothingIsMadeOrAllocated(t *testing.T) {
	ctx := context.Background()
	got, span := Start(ctx, "imgedge.cache.lookup")
	if got != ctx || span.IsRecording() {
		t.Fatal("an untraced request got a span of its own")
	}
	h := http.Header{}
	Inject(got, h)
	if len(h) != 0 {
		t.Errorf("an untraced request's header got %v", h)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		c, s := Start(ctx, "imgedge.render")
		Link(c, ctx)
		Inject(c, h)
		End(s, nil)
	})
	if allocs != 0 {
		t.Errorf("an untraced step allocates %.0f times, want none", allocs)
	}
}

func TestInjectReplacesTheTraceContextTheRequestCarried(t *testing.T) {
	ctx, _, _ := traced(t)
	ctx, hop := Start(ctx, "imgedge.origin.fetch")
	h := http.Header{"Traceparent": {"00-11111111111111111111111111111111-2222222222222222-01"}}
	Inject(ctx, h)
	sc := hop.SpanContext()
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if got := h.Values("Traceparent"); len(got) != 1 || got[0] != want {
		t.Errorf("traceparent %q, want %q: the receiver's spans belong under the step that asked", got, want)
	}
	if TraceID(ctx) != sc.TraceID().String() || TraceID(context.Background()) != "" {
		t.Error("TraceID does not name the context's trace")
	}
}

func TestACollapsedRequestLinksToTheRequestThatDidTheWork(t *testing.T) {
	leader, rec, _ := traced(t)
	leader, work := Start(leader, "imgedge.render")
	// Another request of the same node: a trace of its own.
	waiter, root := trace.SpanFromContext(leader).TracerProvider().Tracer("caddy").Start(context.Background(), "GET /photo.jpg",
		trace.WithNewRoot())
	waiter, wait := Start(waiter, "imgedge.collapsed")
	Link(waiter, leader)
	Link(waiter, waiter) // never to itself
	wait.End()
	work.End()
	root.End()
	for _, s := range rec.Ended() {
		if s.Name() != "imgedge.collapsed" {
			continue
		}
		if s.SpanContext().TraceID() == work.SpanContext().TraceID() {
			t.Fatal("the waiting request is in the worker's trace")
		}
		links := s.Links()
		if len(links) != 1 || links[0].SpanContext.SpanID() != work.SpanContext().SpanID() ||
			links[0].SpanContext.TraceID() != work.SpanContext().TraceID() {
			t.Fatalf("links %+v, want one to the span that did the work", links)
		}
		return
	}
	t.Fatal("no collapsed span ended")
}
