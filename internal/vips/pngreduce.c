#include "pngreduce.h"
#include "reducecolour.h"
#include "reducef.h"

#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The bytes libpng reads from.
typedef struct {
	const unsigned char *buf;
	size_t len, at;
} reader;

static void
read_bytes(png_structp png, png_bytep to, png_size_t n)
{
	reader *r = png_get_io_ptr(png);
	if (n > r->len - r->at)
		png_error(png, "truncated");
	memcpy(to, r->buf + r->at, n);
	r->at += n;
}

// A decode follows libvips' pngload rules in place, without starting
// again: a warning is only a warning; an error before the first row
// declines (libvips decides), one after it (a truncated or corrupt
// stream) refuses, its message in libvips' error buffer.
static void
on_error(png_structp png, png_const_charp msg)
{
	int *started = png_get_error_ptr(png);

	if (*started) {
		vips_error("pngreduce", "%s", msg);
		png_longjmp(png, 2);
	}
	png_longjmp(png, 1);
}

static void
on_warning(png_structp png, png_const_charp msg)
{
}

// The pieces a reduce holds, freed together whatever happened; on the
// heap, as its fields change after setjmp.
typedef struct {
	imgedge_faxis h, v;
	int alpha;        // RGBA, premultiplied while reduced
	uint8_t *decoded; // one decoded row
	float *row;       // it as four floats a pixel, for a box
	float *ring;      // v.taps boxed rows, boxed row b in slot b % v.taps
	float *mid;       // one vertically reduced row
	float *hbox;      // its horizontal boxes
	float *outrow;    // one output row, four floats a pixel
	uint8_t *pixels;  // the output
	void *icc;        // a copy of the source's ICC profile, when asked for
	png_uint_32 icc_len;
} work;

static void
work_free(work *w)
{
	imgedge_faxis_free(&w->h);
	imgedge_faxis_free(&w->v);
	free(w->decoded);
	free(w->row);
	free(w->ring);
	free(w->mid);
	free(w->hbox);
	free(w->outrow);
	g_free(w->pixels);
	g_free(w->icc);
	free(w);
}

// widen turns the decoded row into floats at q, premultiplied by alpha
// as vips_premultiply does (v * a / 255), or RGB and a spare 0.
static void
widen(const work *w, float *q, int n)
{
	const uint8_t *p = w->decoded;

	for (int x = 0; x < n; x++, q += 4) {
		if (w->alpha) {
			float a = p[3], f = a / 255;
			q[0] = p[0] * f;
			q[1] = p[1] * f;
			q[2] = p[2] * f;
			q[3] = a;
			p += 4;
		} else {
			q[0] = p[0];
			q[1] = p[1];
			q[2] = p[2];
			q[3] = 0;
			p += 3;
		}
	}
}

static inline uint8_t
clip(double v)
{
	return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t) v;
}

// narrow writes one output row: RGBA unpremultiplied and cut to 8 bits as
// vips_unpremultiply and vips_cast do (floor), RGB rounded as libvips'
// 8-bit reduce does (an 8-bit image is also rounded after each of
// libvips' steps: the box, the vertical reduce).
static void
narrow(const work *w, uint8_t *q)
{
	const float *p = w->outrow;

	for (int x = 0; x < w->h.out; x++, p += 4) {
		if (w->alpha) {
			double a = p[3];
			double f = fabs(a) < 0.01 ? 0 : 255 / a;
			q[0] = clip(floor(p[0] * f));
			q[1] = clip(floor(p[1] * f));
			q[2] = clip(floor(p[2] * f));
			q[3] = clip(floor(a));
			q += 4;
		} else {
			q[0] = clip(p[0] + 0.5);
			q[1] = clip(p[1] + 0.5);
			q[2] = clip(p[2] + 0.5);
			q += 3;
		}
	}
}

// reduce reads the rows from png as the output rows need them, each read
// once, boxes them, and writes the output into w->pixels.
static imgedge_reduce_result
reduce(png_structp png, work *w, VipsImage *stop)
{
	const int in_w = w->h.in, taps = w->v.taps, k = w->v.k;
	const size_t wide = (size_t) in_w * 4;
	const int bands = w->alpha ? 4 : 3;
	int read = 0, boxed = 0;

	for (int y = 0; y < w->v.out; y++) {
		if (g_atomic_int_get(&stop->kill))
			return IMGEDGE_STOPPED;
		for (int need = w->v.first[y] + taps; boxed < need; boxed++) {
			float *slot = w->ring + (size_t) (boxed % taps) * wide;
			if (k == 1) { // no box: the row itself
				png_read_row(png, w->decoded, NULL);
				widen(w, slot, in_w);
				read++;
				continue;
			}
			// Box k rows; past the last row, it repeats.
			memset(slot, 0, sizeof(float) * wide);
			for (int i = 0; i < k; i++) {
				if (read < w->v.in) {
					png_read_row(png, w->decoded, NULL);
					widen(w, w->row, in_w);
					read++;
				}
				imgedge_faxis_sum(slot, w->row, 1.0f / k, in_w);
			}
			if (!w->alpha && k > 1)
				imgedge_faxis_eight(slot, in_w);
		}
		memset(w->mid, 0, sizeof(float) * wide);
		for (int t = 0; t < taps; t++) {
			const float *row = w->ring + (size_t) ((w->v.first[y] + t) % taps) * wide;
			imgedge_faxis_sum(w->mid, row, w->v.w[(size_t) y * taps + t], in_w);
		}
		if (!w->alpha) // 8-bit between libvips' steps
			imgedge_faxis_eight(w->mid, in_w);
		imgedge_faxis_row(w->mid, &w->h, w->hbox, w->outrow, !w->alpha);
		narrow(w, w->pixels + (size_t) y * w->h.out * bands);
	}
	return IMGEDGE_REDUCED;
}

imgedge_reduce_result
imgedge_png_reduce(const void *buf, size_t len,
	int in_w, int in_h, double hshrink, double vshrink, int out_w, int out_h,
	double xres, double yres, int with_profile, VipsImage *stop, VipsImage **out)
{
	reader r = { buf, len, 0 };
	png_structp png;
	png_infop info;
	work *w = calloc(1, sizeof(work));
	imgedge_reduce_result res;

	if (!w)
		return IMGEDGE_DECLINED;
	static const png_byte text[] = "tEXt\0zTXt\0iTXt";
	int started = 0;

	if (!(png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &started, on_error, on_warning))) {
		free(w);
		return IMGEDGE_DECLINED;
	}
	if (!(info = png_create_info_struct(png))) {
		png_destroy_read_struct(&png, NULL, NULL);
		work_free(w);
		return IMGEDGE_DECLINED;
	}
	switch (setjmp(png_jmpbuf(png))) {
	case 0:
		break;
	case 2:
		png_destroy_read_struct(&png, &info, NULL);
		work_free(w);
		return IMGEDGE_REFUSED;
	default:
		png_destroy_read_struct(&png, &info, NULL);
		work_free(w);
		return IMGEDGE_DECLINED;
	}
	// As libvips' pngload: no sRGB profile checks, no Adler-32 (it only
	// warns), metadata chunks up to 50 MB.
	png_set_option(png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
	png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
	png_set_chunk_malloc_max(png, 50 * 1024 * 1024);
	png_set_chunk_cache_max(png, 100);
	// Text is metadata, and the reduce keeps none: it is not inflated.
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, text, 3);
	png_set_read_fn(png, &r, read_bytes);
	png_read_info(png, info);

	png_uint_32 width, height;
	int depth, colour, interlace;
	png_get_IHDR(png, info, &width, &height, &depth, &colour, &interlace, NULL, NULL);
	w->alpha = colour == PNG_COLOR_TYPE_RGB_ALPHA;
	const int bands = w->alpha ? 4 : 3;
	png_charp icc_name;
	png_bytep icc = NULL;
	int icc_compression;
	if (with_profile &&
		png_get_iCCP(png, info, &icc_name, &icc_compression, &icc, &w->icc_len) == PNG_INFO_iCCP)
		w->icc = g_memdup2(icc, w->icc_len);
	if ((with_profile && !w->icc) ||
		(int) width != in_w || (int) height != in_h || depth != 8 ||
		interlace != PNG_INTERLACE_NONE ||
		(colour != PNG_COLOR_TYPE_RGB && colour != PNG_COLOR_TYPE_RGB_ALPHA) ||
		png_get_valid(png, info, PNG_INFO_tRNS) ||
		// vips_thumbnail premultiplies only when both axes shrink.
		(w->alpha && (hshrink == 1 || vshrink == 1)) ||
		imgedge_faxis_init(&w->h, in_w, out_w, hshrink) ||
		imgedge_faxis_init(&w->v, in_h, out_h, vshrink) ||
		!(w->decoded = malloc((size_t) in_w * bands)) ||
		!(w->row = malloc(sizeof(float) * 4 * (size_t) in_w)) ||
		!(w->ring = malloc(sizeof(float) * 4 * (size_t) in_w * w->v.taps)) ||
		!(w->mid = malloc(sizeof(float) * 4 * (size_t) in_w)) ||
		!(w->hbox = malloc(sizeof(float) * 4 * (size_t) w->h.boxed)) ||
		!(w->outrow = malloc(sizeof(float) * 4 * (size_t) out_w)) ||
		!(w->pixels = g_try_malloc((size_t) out_w * out_h * bands))) {
		png_destroy_read_struct(&png, &info, NULL);
		work_free(w);
		return IMGEDGE_DECLINED;
	}
	started = 1;
	res = reduce(png, w, stop);
	png_destroy_read_struct(&png, &info, NULL);
	if (res == IMGEDGE_REDUCED) {
		res = imgedge_reduced_image(w->pixels, out_w, out_h, bands, xres, yres, out);
		w->pixels = NULL; // the image's now, or freed
		if (res == IMGEDGE_REDUCED)
			imgedge_reduced_profile(*out, w->icc, w->icc_len);
	}
	work_free(w);
	return res;
}
