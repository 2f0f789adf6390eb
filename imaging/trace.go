package imaging

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/imgedge/imgedge/tracing"
	"github.com/imgedge/imgedge/transform"
)

// The pipeline's spans (see package tracing). On the direct path the
// source is decoded and reduced in one pass, row by row, before the
// encoder runs: "imgedge.decode+resize", then "imgedge.encode". A libvips
// pipeline is lazy: its thumbnail step only lays the pipeline out, and the
// pixels are decoded and resized as the encoder pulls them, so its spans
// are "imgedge.resize.plan", then "imgedge.decode+resize+encode".

// traceThumbnail ends the thumbnail step's span.
func traceThumbnail(span trace.Span, direct bool, err error) {
	if span.IsRecording() {
		path := "direct"
		if !direct {
			path = "libvips"
			span.SetName("imgedge.resize.plan")
		}
		span.SetAttributes(attribute.String("imgedge.resize.path", path))
	}
	tracing.End(span, err)
}

// traceEncode ends the encoder's span.
func traceEncode(span trace.Span, direct bool, out transform.Format, bytes int, err error) {
	if span.IsRecording() {
		if !direct {
			span.SetName("imgedge.decode+resize+encode")
		}
		span.SetAttributes(attribute.String("imgedge.output.format", out.String()), attribute.Int("imgedge.output.bytes", bytes))
	}
	tracing.End(span, err)
}

// traceDescribe ends the span of a description (fm=json, blurhash,
// palette).
func traceDescribe(span trace.Span, out transform.Format, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("imgedge.describe.format", out.String()))
	}
	tracing.End(span, err)
}
