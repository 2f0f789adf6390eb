// What a decode straight into a reduce did (jpegreduce.c, pngreduce.c).
#ifndef IMGEDGE_REDUCERESULT_H
#define IMGEDGE_REDUCERESULT_H

#include <stddef.h>
#include <vips/vips.h>

typedef enum {
	IMGEDGE_REDUCED = 0,  // *out is the resized image
	IMGEDGE_DECLINED = 1, // not a source it reads, or the decoder warned: use libvips
	IMGEDGE_STOPPED = -1, // stop's kill flag was set
} imgedge_reduce_result;

// imgedge_reduced_image makes *out, an sRGB image of w x h 8-bit pixels of
// bands bands, g_malloc'd, with resolution xres, yres. The image owns the
// pixels and frees them when it goes; they are freed at once on failure
// (IMGEDGE_DECLINED).
imgedge_reduce_result imgedge_reduced_image(void *pixels, int w, int h, int bands,
	double xres, double yres, VipsImage **out);

#endif
