// A still WebP decoded by libwebp at the scale vips_thumbnail asks of it,
// on the calling thread, in chunks between which the kill flag is read,
// and reduced by what remains (see webpreduce.go).
#ifndef IMGEDGE_WEBPREDUCE_H
#define IMGEDGE_WEBPREDUCE_H

#include "reduceresult.h"

// imgedge_webp_reduce decodes buf, a still WebP, at frame_w x frame_h
// (libwebp's own scaling when that is not its size: what libvips' webpload
// makes at the scale vips_thumbnail gives it), with alpha or without as
// the source has, and reduces that by hshrink and vshrink to out_w x
// out_h, as vips_reduceh and vips_reducev would; 1 and 1: no reduce. A
// reduce is made of sources without alpha only. The image made has the
// source's bands and resolution xres, yres. stop's kill flag is read
// between chunks of the source and between output rows.
imgedge_reduce_result imgedge_webp_reduce(const void *buf, size_t len,
	int frame_w, int frame_h, int alpha, double hshrink, double vshrink, int out_w, int out_h,
	double xres, double yres, VipsImage *stop, VipsImage **out);

#endif
