package vips

/*
#cgo pkg-config: libjpeg
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include "jpegreduce.h"
*/
import "C"

import (
	"context"
	"errors"
	"math"
	"time"
	"unsafe"

	"github.com/imgedge/imgedge/transform"
)

// ReduceOptions configure ReduceJPEG: the box and resize mode of
// ThumbnailOptions, and the shrink on load.
type ReduceOptions struct {
	Width, Height int // box; transform.Unbounded for a free side
	Resize        transform.Resize
	JPEGShrink    int // 1, 2, 4 or 8
	// Timeout bounds the decode and reduce; 0 means none.
	Timeout time.Duration
}

// ErrDeclined is ReduceJPEG's answer for a source or a size it does not
// make: Thumbnail makes it.
var ErrDeclined = errors.New("not a plain JPEG downscale")

// ReduceJPEG makes what Thumbnail makes of a plain JPEG (8-bit YCbCr or
// RGB, stored upright, with no colour profile) scaled down, without a
// libvips pipeline: libjpeg-turbo decodes it shrunk on load, on the
// calling thread, row by row straight into a fixed-point Lanczos-3 reduce
// (reduce.c) that samples as vips_reduceh and vips_reducev do. The size is
// Thumbnail's to the pixel and the pixels within rounding of its.
//
// Why: a miss spends most of its time in that decode and reduce, and
// libvips adds its own cost around it, in worker threads, regions and
// buffers; measured on the miss path (bench scenario 8), this takes about
// a third off a resize's CPU. Everything else is declined (ErrDeclined):
// other formats, profiles, EXIF turns, upscaling, a reduce libvips would
// start with a box shrink, and any source libjpeg warns about, which
// libvips then decodes under its own rules.
//
// The image returned holds its pixels in memory: later steps and Save
// work on it as on any other. ctx and o.Timeout stop it between rows.
func ReduceJPEG(ctx context.Context, buf []byte, h Header, o ReduceOptions) (*Image, error) {
	if len(buf) == 0 || h.Format != transform.JPEG || h.Bands != 3 || h.Depth != 8 ||
		h.HasICC || h.Orientation > 1 || h.Pages > 1 || h.ColourModel != "RGB" {
		return nil, ErrDeclined
	}
	s := max(1, o.JPEGShrink)
	inW, inH := h.Width/s, h.Height/s // jpegload drops a part pixel
	if inW < 1 || inH < 1 {
		return nil, ErrDeclined
	}
	hs, vs, outW, outH, ok := reduceSize(inW, inH, o)
	if !ok {
		return nil, ErrDeclined
	}
	stop := &Image{im: C.vips_image_new()} // carries the kill flag
	defer stop.Close()
	var out *C.VipsImage
	var res C.imgedge_reduce_result
	err := stop.evaluate(ctx, o.Timeout, "reduce jpeg", func() C.int {
		res = C.imgedge_jpeg_reduce(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), C.int(s),
			C.int(inW), C.int(inH), C.double(hs), C.double(vs), C.int(outW), C.int(outH),
			C.double(h.XRes), C.double(h.YRes), stop.im, &out)
		if res == C.IMGEDGE_STOPPED {
			return -1
		}
		return 0
	})
	switch {
	case err != nil:
		if out != nil {
			C.g_object_unref(C.gpointer(out))
		}
		return nil, err
	case res != C.IMGEDGE_REDUCED:
		return nil, ErrDeclined
	}
	return &Image{im: out}, nil
}

// reduceSize is what vips_thumbnail_image (no crop, no turn) and
// vips_resize make of an inW x inH image for o's box: the reduce factors
// vips_reduceh and vips_reducev are given and the output size. ok is false
// for what ReduceJPEG does not make: an enlargement, or a factor of 4 or
// more, which libvips starts with a box shrink (its gap of 2).
func reduceSize(inW, inH int, o ReduceOptions) (hs, vs float64, outW, outH int, ok bool) {
	hshrink := float64(inW) / float64(o.Width)
	vshrink := float64(inH) / float64(o.Height)
	if o.Resize != transform.ResizeForce {
		// vips_thumbnail_calculate_shrink: fit, the larger shrink wins.
		if hshrink < vshrink {
			hshrink = vshrink
		} else {
			vshrink = hshrink
		}
	}
	if o.Resize == transform.ResizeDown {
		hshrink, vshrink = max(1, hshrink), max(1, vshrink)
	}
	hshrink, vshrink = min(hshrink, float64(inW)), min(vshrink, float64(inH))
	hs, outW, hok := reduceAxis(inW, 1/hshrink)
	vs, outH, vok := reduceAxis(inH, 1/vshrink)
	return hs, vs, outW, outH, hok && vok
}

// reduceAxis is vips_resize and vips_reduceh on one axis of in pixels at
// scale (1/shrink): the factor given to the reduce (1: none) and the size.
func reduceAxis(in int, scale float64) (shrink float64, out int, ok bool) {
	scale = max(scale, 1/float64(in)) // no axis below 1 px
	if scale > 1 {
		return 0, 0, false
	}
	if scale == 1 {
		return 1, in, true
	}
	shrink = 1 / scale
	out = int(float64(in)/shrink + 0.5) // VIPS_ROUND_UINT
	if math.Floor(float64(in)/float64(out)/2) > 1 {
		return 0, 0, false
	}
	return shrink, out, out >= 1
}
