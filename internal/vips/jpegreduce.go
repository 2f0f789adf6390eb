package vips

/*
#cgo pkg-config: libjpeg
#include "jpegreduce.h"
*/
import "C"

import (
	"context"
	"unsafe"
)

// reduceJPEG is Reduce for a JPEG, colour or grey: libjpeg-turbo decodes
// it shrunk on load by o.JPEGShrink, row by row, into the fixed-point
// Lanczos-3 reduce of reduce.c.
func reduceJPEG(ctx context.Context, buf []byte, h Header, o ReduceOptions) (*Image, error) {
	if h.Bands != 3 && h.Bands != 1 {
		return nil, ErrDeclined
	}
	s := max(1, o.JPEGShrink)
	inW, inH := h.Width/s, h.Height/s // jpegload drops a part pixel
	if inW < 1 || inH < 1 {
		return nil, ErrDeclined
	}
	hs, vs, outW, outH, ok := reduceSize(inW, inH, o)
	// libvips would start a factor of 4 or more with a box shrink (its
	// gap of 2), which this reduce does not make.
	if !ok || hs >= 4 || vs >= 4 {
		return nil, ErrDeclined
	}
	return o.run(ctx, "reduce jpeg", func(stop *C.VipsImage, out **C.VipsImage) C.imgedge_reduce_result {
		return C.imgedge_jpeg_reduce(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), C.int(s),
			C.int(inW), C.int(inH), C.double(hs), C.double(vs), C.int(outW), C.int(outH),
			C.double(h.XRes), C.double(h.YRes), cbool(h.HasICC), stop, out)
	})
}
