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

// imgedge_reduced_image makes an sRGB image of w x h 8-bit pixels of bands
// bands, g_malloc'd, with resolution xres, yres; the image owns the
// pixels and frees them when it goes. NULL (the pixels freed) on failure.
VipsImage *imgedge_reduced_image(void *pixels, int w, int h, int bands, double xres, double yres);

#endif
