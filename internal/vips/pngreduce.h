// A PNG decoded by libpng straight into the float reduce of reducef.c, on
// the calling thread (see pngreduce.go).
#ifndef IMGEDGE_PNGREDUCE_H
#define IMGEDGE_PNGREDUCE_H

#include "reduceresult.h"

// imgedge_png_reduce decodes buf, an 8-bit RGB or RGBA PNG of in_w x in_h,
// not interlaced, and reduces it by hshrink and vshrink (as vips_reduceh
// and vips_reducev would be given them) to out_w x out_h: RGBA
// premultiplied by its alpha while it is reduced, as vips_thumbnail does.
// The image made has the source's bands and resolution xres, yres. With
// with_profile, the source's iCCP profile is attached to it, not applied;
// a source without one is declined.
// stop's kill flag is polled between rows.
imgedge_reduce_result imgedge_png_reduce(const void *buf, size_t len,
	int in_w, int in_h, double hshrink, double vshrink, int out_w, int out_h,
	double xres, double yres, int with_profile, VipsImage *stop, VipsImage **out);

#endif
