package vips

/*
#include "webpreduce.h"
*/
import "C"

import (
	"context"
	"unsafe"
)

// reduceWebP is Reduce for a still WebP, as vips_thumbnail makes it:
// libwebp decodes it at the scale the thumbnail asks of webpload (the
// whole shrink, in libwebp's own rescaler: the output size, or a pixel
// off it), then what remains is reduced as vips_resize would (none, for
// a box fitted on one side). A WebP with alpha is made only when nothing
// remains to reduce (libvips would premultiply first); one with a
// profile or an EXIF orientation is declined.
//
// The decode is incremental: ctx and o.Timeout are read between chunks
// of 32 KB of the source, and the pixels it holds are the scaled frame's,
// not the source's.
func reduceWebP(ctx context.Context, buf []byte, h Header, o ReduceOptions) (*Image, error) {
	if h.HasICC || h.Orientation > 1 {
		return nil, ErrDeclined
	}
	fw, fh, ok := webpScaled(h.Width, h.Height, o)
	if !ok {
		return nil, ErrDeclined
	}
	hs, vs, outW, outH, ok := reduceSize(fw, fh, o)
	if !ok || fw*fh > maxReducePixels || (h.HasAlpha && (hs != 1 || vs != 1)) {
		return nil, ErrDeclined
	}
	return o.run(ctx, "reduce webp", func(stop *C.VipsImage, out **C.VipsImage) C.imgedge_reduce_result {
		return C.imgedge_webp_reduce(unsafe.Pointer(&buf[0]), C.size_t(len(buf)),
			C.int(fw), C.int(fh), cbool(h.HasAlpha), C.double(hs), C.double(vs), C.int(outW), C.int(outH),
			C.double(h.XRes), C.double(h.YRes), stop, out)
	})
}

// webpScaled is the size libvips 8.14's webpload decodes a w x h WebP at
// for vips_thumbnail: the thumbnail's common shrink (never below 1) as
// its scale, each side rounded (VIPS_RINT).
func webpScaled(w, h int, o ReduceOptions) (fw, fh int, ok bool) {
	hshrink, vshrink := thumbnailShrink(w, h, o)
	factor := max(1, min(hshrink, vshrink))
	scale := 1 / factor
	fw, fh = int(float64(w)*scale+0.5), int(float64(h)*scale+0.5)
	return fw, fh, fw >= 1 && fh >= 1
}
