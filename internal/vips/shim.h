// Thin, non-variadic wrappers over the libvips calls imgedge uses. cgo cannot
// call variadic C functions, so every optional argument is spelled out here.
#ifndef IMGEDGE_SHIM_H
#define IMGEDGE_SHIM_H

#include <malloc.h>
#include <stdlib.h>
#include <vips/vips.h>

typedef struct {
	int width;
	int height;
	int pages;
	int page_height;
	int orientation;
	int has_alpha;
	int has_icc;
	int bands;
	int interpretation;
	int depth; // bits per sample
	double xres, yres; // pixels per millimetre
	const char *loader;
} imgedge_header;

int imgedge_setup(void);
int imgedge_header_read(const void *buf, size_t len, imgedge_header *h);

int imgedge_thumbnail(const void *buf, size_t len, VipsImage **out,
	int width, int height, int size, int crop, int all_pages,
	const char *export_profile);
int imgedge_thumbnail_loaded(const void *buf, size_t len, VipsImage **out,
	int width, int height, int size, int crop, const char *export_profile,
	int jpeg_shrink, int rx, int ry, int rw, int rh, int upright_already);
int imgedge_rot(VipsImage *in, VipsImage **out, int degrees);
int imgedge_upright(VipsImage *in, int orientation, VipsImage **out);
int imgedge_flip(VipsImage *in, VipsImage **out, int horizontal);

int imgedge_extract(VipsImage *in, VipsImage **out, int left, int top, int width, int height);
int imgedge_extract_pages(VipsImage *in, VipsImage **out, int left, int top, int width, int height);
int imgedge_embed(VipsImage *in, VipsImage **out, int left, int top, int width, int height,
	double r, double g, double b, double a);
int imgedge_flatten(VipsImage *in, VipsImage **out, double r, double g, double b);
int imgedge_gaussblur(VipsImage *in, VipsImage **out, double sigma, double shrink);
int imgedge_sharpen(VipsImage *in, VipsImage **out, double sigma);
int imgedge_sample(VipsImage *in, int size, void **buf, size_t *len, int *width, int *height);
int imgedge_composite(VipsImage *in, VipsImage *mark, VipsImage **out, int x, int y, double opacity);
int imgedge_adjust(VipsImage *in, VipsImage **out, double mul, double add, double gamma, double saturation);

void imgedge_kill(VipsImage *in);
int imgedge_take_kill(VipsImage *in);
// Output formats and metadata policies, named on both sides of cgo: Go
// maps its own types onto these names (vips.go), never onto numbers.
typedef enum {
	IMGEDGE_JPEG = 1,
	IMGEDGE_PNG,
	IMGEDGE_WEBP,
	IMGEDGE_AVIF,
	IMGEDGE_GIF
} imgedge_format;

typedef enum {
	IMGEDGE_META_NONE = 0,
	IMGEDGE_META_COPYRIGHT,
	IMGEDGE_META_KEEP
} imgedge_metadata;

int imgedge_save(VipsImage *in, int format, int quality, int effort, int metadata,
	int interlace, void **buf, size_t *len);

int imgedge_page_height(VipsImage *in);
int imgedge_has_alpha(VipsImage *in);

#endif
