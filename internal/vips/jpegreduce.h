// A JPEG decoded by libjpeg-turbo straight into the reduce of reduce.c, on
// the calling thread: the miss path's common case without a libvips
// pipeline (see jpegreduce.go).
#ifndef IMGEDGE_JPEGREDUCE_H
#define IMGEDGE_JPEGREDUCE_H

#include "reduceresult.h"

// imgedge_jpeg_reduce decodes buf, 8-bit YCbCr, RGB or grey, shrunk on
// load by shrink (1, 2, 4, 8),
// in_w x in_h as libvips' jpegload makes it (rounded down), and reduces that by hshrink and vshrink
// (1 or more, as vips_reduceh and vips_reducev would be given them) to
// out_w x out_h, an sRGB image (one band, B_W, for grey) with resolution
// xres, yres (pixels per millimetre). With with_profile, the source's ICC
// profile is read and attached to the image, not applied; a source
// without a readable one is declined. stop's kill flag is polled between
// rows.
imgedge_reduce_result imgedge_jpeg_reduce(const void *buf, size_t len, int shrink,
	int in_w, int in_h, double hshrink, double vshrink, int out_w, int out_h,
	double xres, double yres, int with_profile, VipsImage *stop, VipsImage **out);

#endif
