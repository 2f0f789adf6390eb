package vips

/*
#cgo pkg-config: lcms2
#include "reducecolour.h"
#include "reduceresult.h"
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"time"

	"github.com/imgedge/imgedge/transform"
)

// ReduceOptions configure Reduce: the box and resize mode of
// ThumbnailOptions, the shrink on load of a JPEG, and what stops it.
type ReduceOptions struct {
	Width, Height int // box; transform.Unbounded for a free side
	Resize        transform.Resize
	JPEGShrink    int // 1, 2, 4 or 8
	// Timeout bounds the decode and reduce; 0 means none.
	Timeout time.Duration
}

// KeptProfileTransforms is how many source profiles' conversions to sRGB
// Reduce keeps made (at most 32, of profiles up to 64 KiB each).
func KeptProfileTransforms() int { return int(C.imgedge_kept_transforms()) }

// ErrDeclined is Reduce's answer for a source or a size it does not make:
// Thumbnail makes it.
var ErrDeclined = errors.New("not a plain downscale Reduce makes")

// Reduce makes what Thumbnail makes of a plain source scaled down, without
// a libvips pipeline: the decoder (libjpeg-turbo, libpng) runs on the
// calling thread, row by row, straight into a reduce that samples as
// vips_reduceh and vips_reducev do. The size is Thumbnail's to the pixel
// and the pixels within rounding of its.
//
//   - A JPEG (8-bit YCbCr, RGB or grey) is shrunk on load by o.JPEGShrink
//     and reduced in fixed point (jpegreduce.c, reduce.c).
//   - A PNG (8-bit RGB or RGBA, not interlaced) is reduced in float, RGBA
//     premultiplied by its alpha as vips_thumbnail does, with libvips' box
//     shrink for factors of 4 and more (pngreduce.c, reducef.c).
//   - A still WebP is decoded by libwebp scaled as webpload would scale
//     it for vips_thumbnail, in chunks, and what remains reduced in fixed
//     point (webpreduce.c).
//
// Why: a miss spends most of its time in that decode and reduce, and
// libvips adds its own cost around it, in worker threads, regions and
// buffers; bench scenario 8 measures the difference. A source stored
// turned (EXIF orientation) is reduced as stored and turned upright after,
// as vips_thumbnail does. A source with an ICC profile is reduced as
// stored and its reduced pixels converted to sRGB by the same libvips
// transform vips_thumbnail ends with (reducecolour.c). Everything else is
// declined (ErrDeclined): other formats and layouts, animations,
// enlargements, and a
// source the decoder fails on before its first row, which libvips then
// decodes under its own rules. Past the first row, the decoder follows
// those rules itself (fail_on=truncated: warnings are counted, the end of
// the data before the end of the image is refused), and a source it
// refuses is an *Error: decoding it again would cost as much to fail the
// same way.
//
// The image returned holds its pixels in memory: later steps and Save
// work on it as on any other. ctx and o.Timeout stop it between rows, and
// between the rows of every scan of a progressive JPEG, which is refused
// past IMGEDGE_MAX_SCANS scans.
func Reduce(ctx context.Context, buf []byte, h Header, o ReduceOptions) (*Image, error) {
	if len(buf) == 0 || h.Depth != 8 || h.Orientation > 8 || h.Pages > 1 || h.Width > maxReduceWidth {
		return nil, ErrDeclined
	}
	if h.Orientation >= 5 {
		// Turned a quarter: the box of the source as stored.
		o.Width, o.Height = o.Height, o.Width
	}
	var img *Image
	var err error
	switch h.Format {
	case transform.JPEG:
		img, err = reduceJPEG(ctx, buf, h, o)
	case transform.PNG:
		img, err = reducePNG(ctx, buf, h, o)
	case transform.WEBP:
		img, err = reduceWebP(ctx, buf, h, o)
	default:
		return nil, ErrDeclined
	}
	if err != nil {
		return nil, err
	}
	var out *C.VipsImage
	if h.HasICC {
		if img, err = img.step("convert to sRGB", C.imgedge_reduced_to_srgb(img.im, &out), out); err != nil {
			return nil, err
		}
	}
	if h.Orientation <= 1 {
		return img, nil
	}
	return img.step("turn upright", C.imgedge_upright(img.im, C.int(h.Orientation), &out), out)
}

// Reduce holds a few rows of the source, each up to 16 bytes a pixel,
// and the whole output: wider sources and larger outputs are libvips'
// (which streams them), so a 50 MP source one pixel tall, or a huge
// output, cannot make it allocate gigabytes.
const (
	maxReduceWidth  = 16384
	maxReducePixels = 16 << 20
)

// run runs one decode and reduce, call, under the options' context and
// timeout, with the image whose kill flag it polls.
func (o ReduceOptions) run(ctx context.Context, what string, call func(stop *C.VipsImage, out **C.VipsImage) C.imgedge_reduce_result) (*Image, error) {
	stop := &Image{im: C.vips_image_new()} // carries the kill flag
	defer stop.Close()
	var out *C.VipsImage
	var res C.imgedge_reduce_result
	err := stop.evaluate(ctx, o.Timeout, what, func() C.int {
		if res = call(stop.im, &out); res == C.IMGEDGE_STOPPED {
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
	case res == C.IMGEDGE_REFUSED:
		return nil, lastError(what)
	case res != C.IMGEDGE_REDUCED:
		return nil, ErrDeclined
	}
	return &Image{im: out}, nil
}

// reduceSize is what vips_thumbnail_image (no crop, no turn) and
// vips_resize make of an inW x inH image for o's box: the reduce factors
// vips_reduceh and vips_reducev are given and the output size. ok is false
// for an enlargement, which Reduce does not make, and an output over
// maxReducePixels.
func reduceSize(inW, inH int, o ReduceOptions) (hs, vs float64, outW, outH int, ok bool) {
	hshrink, vshrink := thumbnailShrink(inW, inH, o)
	hs, outW, hok := reduceAxis(inW, 1/hshrink)
	vs, outH, vok := reduceAxis(inH, 1/vshrink)
	return hs, vs, outW, outH, hok && vok && outW*outH <= maxReducePixels
}

// thumbnailShrink is vips_thumbnail_calculate_shrink: the shrink of each
// axis of an inW x inH image to o's box (for a fit, the larger of the two
// on both; for ResizeDown, never below 1).
func thumbnailShrink(inW, inH int, o ReduceOptions) (hshrink, vshrink float64) {
	hshrink = float64(inW) / float64(o.Width)
	vshrink = float64(inH) / float64(o.Height)
	if o.Resize != transform.ResizeForce {
		// Fit: the larger shrink wins.
		if hshrink < vshrink {
			hshrink = vshrink
		} else {
			vshrink = hshrink
		}
	}
	if o.Resize == transform.ResizeDown {
		hshrink, vshrink = max(1, hshrink), max(1, vshrink)
	}
	return hshrink, vshrink
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
	return shrink, out, out >= 1
}
