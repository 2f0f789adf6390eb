// A JPEG decoded by libjpeg-turbo straight into the reduce of reduce.c, on
// the calling thread: the miss path's common case without a libvips
// pipeline (see jpegreduce.go).
#ifndef IMGEDGE_JPEGREDUCE_H
#define IMGEDGE_JPEGREDUCE_H

#include "reduceresult.h"

// imgedge_jpeg_reduce decodes buf shrunk on load by shrink (1, 2, 4, 8),
// in_w x in_h as libvips' jpegload makes it (rounded down), and reduces that by hshrink and vshrink
// (1 or more, as vips_reduceh and vips_reducev would be given them) to
// out_w x out_h, an sRGB image with resolution xres, yres (pixels per
// millimetre). stop's kill flag is polled between rows.
imgedge_reduce_result imgedge_jpeg_reduce(const void *buf, size_t len, int shrink,
	int in_w, int in_h, double hshrink, double vshrink, int out_w, int out_h,
	double xres, double yres, VipsImage *stop, VipsImage **out);

#endif
