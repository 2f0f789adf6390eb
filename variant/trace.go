package variant

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/tracing"
)

// The engine's spans (see package tracing): what each step found or made,
// set only on a recorded span.

// traceLookup ends the cache lookup's span: hit or miss, and which tier
// answered.
func traceLookup(span trace.Span, res *Result, hit bool) {
	if span.IsRecording() {
		result, tier := "miss", ""
		if hit {
			result, tier = "hit", "memory"
			switch {
			case res.Hot:
				tier = "hot-copy"
			case res.Entry.FromDisk:
				tier = "disk"
			}
			span.SetAttributes(attribute.String("imgedge.cache.tier", tier),
				attribute.Int("imgedge.output.bytes", len(res.Entry.Body)),
				attribute.String("imgedge.output.format", res.Variant.Format.String()))
		}
		span.SetAttributes(attribute.String("imgedge.cache.result", result))
	}
	span.End()
}

// traceOriginal ends the span of getting the original, from where it
// came: the originals cache, fetched for this request, or another
// request's fetch waited for.
func traceOriginal(span trace.Span, from string, o *original, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("imgedge.original.from", from))
		if o != nil {
			span.SetAttributes(attribute.Int("imgedge.source.bytes", len(o.body)),
				attribute.String("imgedge.source.format", o.src.Header.Format.String()),
				attribute.Int("imgedge.source.width", o.src.Header.Width),
				attribute.Int("imgedge.source.height", o.src.Header.Height))
		}
	}
	tracing.End(span, err)
}

// traceRender ends the span of a request's wait for its variant: the
// resize it ran, or another's it joined ("imgedge.collapsed", linked to
// it).
func traceRender(span trace.Span, j *job, entry *cache.Entry, shared bool, err error) {
	if span.IsRecording() {
		if shared {
			span.SetName("imgedge.collapsed")
		}
		span.SetAttributes(attribute.String("imgedge.variant", j.etag), attribute.String("imgedge.source", j.req.Source),
			attribute.String("imgedge.output.format", j.format.String()), attribute.Bool("imgedge.collapsed", shared))
		if entry != nil {
			span.SetAttributes(attribute.Int("imgedge.output.bytes", len(entry.Body)),
				attribute.Int("imgedge.output.width", entry.Width), attribute.Int("imgedge.output.height", entry.Height))
		}
	}
	tracing.End(span, err)
}

// traceProcess ends the span of the libvips job: which path the resize
// took (direct: decoded and reduced without a libvips pipeline) and what
// it made.
func traceProcess(span trace.Span, res imaging.Result, err error) {
	if span.IsRecording() && err == nil {
		path := "libvips"
		if res.Direct {
			path = "direct"
		}
		span.SetAttributes(attribute.String("imgedge.resize.path", path), attribute.Int("imgedge.output.bytes", len(res.Body)),
			attribute.String("imgedge.output.format", res.Format.String()))
	}
	tracing.End(span, err)
}
