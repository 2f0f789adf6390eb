package vips

/*
#cgo pkg-config: libpng
#include "pngreduce.h"
*/
import "C"

import (
	"context"
	"unsafe"
)

// reducePNG is Reduce for a PNG: libpng decodes it row by row into the
// float reduce of reducef.c.
func reducePNG(ctx context.Context, buf []byte, h Header, o ReduceOptions) (*Image, error) {
	if h.Bands != 3 && h.Bands != 4 {
		return nil, ErrDeclined
	}
	hs, vs, outW, outH, ok := reduceSize(h.Width, h.Height, o)
	if !ok {
		return nil, ErrDeclined
	}
	return o.run(ctx, "reduce png", func(stop *C.VipsImage, out **C.VipsImage) C.imgedge_reduce_result {
		return C.imgedge_png_reduce(unsafe.Pointer(&buf[0]), C.size_t(len(buf)),
			C.int(h.Width), C.int(h.Height), C.double(hs), C.double(vs), C.int(outW), C.int(outH),
			C.double(h.XRes), C.double(h.YRes), cbool(h.HasICC), stop, out)
	})
}
