// What a decode straight into a reduce did (jpegreduce.c, pngreduce.c).
#ifndef IMGEDGE_REDUCERESULT_H
#define IMGEDGE_REDUCERESULT_H

#include <stddef.h>
#include <vips/vips.h>

typedef enum {
	IMGEDGE_REDUCED = 0,  // *out is the resized image
	IMGEDGE_DECLINED = 1, // not a source it reads, or it failed before its first row: use libvips
	IMGEDGE_REFUSED = 2,  // the source is broken or hostile, as libvips would find it: why is in libvips' error buffer
	IMGEDGE_STOPPED = -1, // stop's kill flag was set
} imgedge_reduce_result;

// IMGEDGE_MAX_SCANS is the most scans a JPEG may have (imaging.MaxJPEGScans
// checks it first, from the bytes).
#define IMGEDGE_MAX_SCANS 100

// imgedge_reduced_image makes *out, an sRGB image (B_W below three bands)
// of w x h 8-bit pixels of bands bands, g_malloc'd, with resolution xres, yres. The image owns the
// pixels and frees them when it goes; they are freed at once on failure
// (IMGEDGE_DECLINED).
imgedge_reduce_result imgedge_reduced_image(void *pixels, int w, int h, int bands,
	double xres, double yres, VipsImage **out);

#endif
