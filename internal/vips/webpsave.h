// A still WebP encoded by libwebp itself, with no metadata (see webpsave.c).
#ifndef IMGEDGE_WEBPSAVE_H
#define IMGEDGE_WEBPSAVE_H

#include <vips/vips.h>

// imgedge_webp_plain says whether imgedge_webp_save takes in: one frame
// of 8-bit sRGB, RGB or RGBA.
int imgedge_webp_plain(VipsImage *in);

// imgedge_webp_save evaluates in and encodes it as vips_webpsave_buffer
// would with Q quality, effort and strip, into a buffer to g_free.
int imgedge_webp_save(VipsImage *in, int quality, int effort, void **buf, size_t *len);

#endif
