#include "shim.h"
#include "webpsave.h"
#include <malloc.h>
#include <stdlib.h>
#include <string.h>


static void
drop_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	// libvips warns on stderr about oddities in perfectly usable files
	// ("unknown EXIF resolution unit"); errors still reach callers through
	// vips_error_buffer, so warnings are dropped rather than spammed.
}

int
imgedge_setup(void)
{
	// libvips runs its work on many threads; glibc gives each thread its
	// own malloc arena (up to 8 per core), and freed image buffers stay
	// scattered across them, so RSS creeps up. Two arenas keep it flat.
	// MALLOC_ARENA_MAX in the environment still wins.
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 2);
	// glibc raises its mmap threshold each time a large block is freed, so
	// after a few images every decode buffer comes from the heap, where it
	// fragments and is never returned. A fixed threshold keeps image-sized
	// buffers in mmap, given back to the kernel on free.
	if (!getenv("MALLOC_MMAP_THRESHOLD_"))
		mallopt(M_MMAP_THRESHOLD, 256 * 1024);

	// One libvips thread per job, as imgproxy runs it: a server runs
	// many jobs at once (two per core by default), and a job's worker
	// threads would only contend with the other jobs' for the same cores.
	// VIPS_CONCURRENCY in the environment still wins.
	if (!getenv("VIPS_CONCURRENCY"))
		vips_concurrency_set(1);

	g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, drop_log, NULL);

	// Keep libvips' operation cache out of the way: every request brings new
	// bytes, so cached operations only hold memory.
	vips_cache_set_max(0);
	vips_cache_set_max_mem(0);
	vips_cache_set_max_files(0);

	// Refuse every loader libvips marks untrusted, then every loader but the
	// formats imgedge supports, so crafted input never reaches a large,
	// rarely fuzzed decoder (ImageMagick, matio, FITS, OpenEXR, JPEG XL...).
	vips_block_untrusted_set(TRUE);
	vips_operation_block_set("VipsForeignLoad", TRUE);
	vips_operation_block_set("VipsForeignLoadJpeg", FALSE);
	vips_operation_block_set("VipsForeignLoadPng", FALSE);
	vips_operation_block_set("VipsForeignLoadWebp", FALSE);
	vips_operation_block_set("VipsForeignLoadGif", FALSE);
	vips_operation_block_set("VipsForeignLoadNsgif", FALSE);
	vips_operation_block_set("VipsForeignLoadHeif", FALSE);
	vips_operation_block_set("VipsForeignLoadTiff", FALSE);
	vips_operation_block_set("VipsForeignLoadSvg", FALSE);
	return 0;
}

int
imgedge_header_read(const void *buf, size_t len, imgedge_header *h)
{
	// The loader is named even when opening fails: a format whose loader
	// imgedge blocks (ImageMagick, PDF...) is still recognised, then
	// refused, which is not a broken image.
	memset(h, 0, sizeof(*h));
	if (!(h->loader = vips_foreign_find_load_buffer(buf, len)))
		return -1;

	// Opening from a buffer reads the header only; pixels are decoded later,
	// on demand, so this is cheap even for huge images.
	VipsImage *im = vips_image_new_from_buffer(buf, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
	if (!im)
		return -1;

	h->width = vips_image_get_width(im);
	h->height = vips_image_get_height(im);
	h->pages = vips_image_get_n_pages(im);
	h->page_height = vips_image_get_page_height(im);
	h->orientation = vips_image_get_orientation(im);
	h->has_alpha = vips_image_hasalpha(im);
	h->has_icc = vips_image_get_typeof(im, VIPS_META_ICC_NAME) != 0;
	h->bands = vips_image_get_bands(im);
	h->interpretation = vips_image_get_interpretation(im);
	h->depth = vips_format_sizeof(vips_image_get_format(im)) * 8;
	h->xres = vips_image_get_xres(im);
	h->yres = vips_image_get_yres(im);
	g_object_unref(im);
	return 0;
}

// source_copy is a source over a copy of the bytes. libvips reads a source
// lazily, on its worker threads, for as long as any image of the pipeline
// lives: the bytes are copied into a blob libvips owns and frees with its
// last reference, so no caller memory has to outlive the call.
static VipsSource *
source_copy(const void *buf, size_t len)
{
	VipsBlob *blob = vips_blob_copy(buf, len);
	VipsSource *source = vips_source_new_from_blob(blob);

	vips_area_unref(VIPS_AREA(blob));
	return source;
}

// load decodes the first page of the bytes, a JPEG shrunk on load by
// jpeg_shrink when it is over 1. fail_on=truncated: a truncated or corrupt
// source is an error, not a grey-filled picture.
static int
load(const void *buf, size_t len, int jpeg_shrink, VipsAccess access, VipsImage **in)
{
	VipsSource *source = source_copy(buf, len);
	int res = -1;

	if (!source)
		return -1;
	if (jpeg_shrink > 1)
		res = vips_jpegload_source(source, in,
			"shrink", jpeg_shrink,
			"access", access,
			"fail_on", VIPS_FAIL_ON_TRUNCATED,
			NULL);
	else if ((*in = vips_image_new_from_source(source, "",
			"access", access,
			"fail_on", VIPS_FAIL_ON_TRUNCATED,
			NULL)))
		res = 0;
	g_object_unref(source);
	return res;
}

// thumbnail_of is vips_thumbnail_image of a loaded image, colour-managed
// into export_profile when one is given (a NULL name ends the options).
static int
thumbnail_of(VipsImage *in, VipsImage **out, int width, int height, int size, int crop,
	const char *export_profile)
{
	return vips_thumbnail_image(in, out, width,
		"height", height,
		"size", size,
		"crop", crop,
		export_profile ? "export_profile" : NULL, export_profile,
		NULL);
}

int
imgedge_thumbnail(const void *buf, size_t len, VipsImage **out,
	int width, int height, int size, int crop, int all_pages,
	const char *export_profile)
{
	VipsSource *source = source_copy(buf, len);
	int res;

	if (!source)
		return -1;
	res = vips_thumbnail_source(source, out, width,
		"height", height,
		"size", size,
		"crop", crop,
		"option_string", all_pages ? "n=-1,fail_on=truncated" : "fail_on=truncated",
		export_profile ? "export_profile" : NULL, export_profile,
		NULL);
	g_object_unref(source);
	return res;
}

int
imgedge_thumbnail_loaded(const void *buf, size_t len, VipsImage **out,
	int width, int height, int size, int crop, const char *export_profile,
	int jpeg_shrink, int rx, int ry, int rw, int rh, int upright_already)
{
	// The first page, loaded here and thumbnailed by vips_thumbnail_image
	// (orientation, colour, crop), where vips_thumbnail would not do:
	//   - a JPEG shrunk on load by jpeg_shrink, the largest power of two
	//     the resize allows, where vips_thumbnail keeps a 2x margin (a
	//     2560 px photo to 400 px is decoded at 640 px, not 1280 px);
	//   - a region of the source (imgix rect, Cloudflare trim, rw > 0),
	//     given in the coordinates of its upright first page: the source
	//     is turned upright and cut first. A source stored upright is read
	//     top to bottom, as a thumbnail would be; turning one needs random
	//     access, which decodes it whole.
	VipsImage *in, *upright, *cut;
	int res, s = VIPS_MAX(jpeg_shrink, 1);
	VipsAccess access = rw > 0 && !upright_already ? VIPS_ACCESS_RANDOM : VIPS_ACCESS_SEQUENTIAL;

	if (load(buf, len, jpeg_shrink, access, &in))
		return -1;
	if (rw <= 0) {
		res = thumbnail_of(in, out, width, height, size, crop, export_profile);
		g_object_unref(in);
		return res;
	}
	res = vips_autorot(in, &upright, NULL);
	g_object_unref(in);
	if (res)
		return -1;
	int x0 = rx / s, y0 = ry / s;
	int x1 = VIPS_MIN((rx + rw + s - 1) / s, upright->Xsize);
	int y1 = VIPS_MIN((ry + rh + s - 1) / s, upright->Ysize);
	if (x0 >= x1 || y0 >= y1) {
		g_object_unref(upright);
		vips_error("imgedge", "the region is outside the image");
		return -1;
	}
	res = vips_extract_area(upright, &cut, x0, y0, x1 - x0, y1 - y0, NULL);
	g_object_unref(upright);
	if (res)
		return -1;
	res = thumbnail_of(cut, out, width, height, size, crop, export_profile);
	g_object_unref(cut);
	return res;
}

int
imgedge_rot(VipsImage *in, VipsImage **out, int degrees)
{
	VipsAngle angle = degrees == 90 ? VIPS_ANGLE_D90 : degrees == 180 ? VIPS_ANGLE_D180 : VIPS_ANGLE_D270;
	return vips_rot(in, out, angle, NULL);
}

// imgedge_upright turns in, an image of its own stored as EXIF
// orientation says, upright, as vips_thumbnail's auto-rotation does.
int
imgedge_upright(VipsImage *in, int orientation, VipsImage **out)
{
	vips_image_set_int(in, VIPS_META_ORIENTATION, orientation);
	return vips_autorot(in, out, NULL);
}

int
imgedge_flip(VipsImage *in, VipsImage **out, int horizontal)
{
	return vips_flip(in, out, horizontal ? VIPS_DIRECTION_HORIZONTAL : VIPS_DIRECTION_VERTICAL, NULL);
}

int
imgedge_extract(VipsImage *in, VipsImage **out, int left, int top, int width, int height)
{
	return vips_extract_area(in, out, left, top, width, height, NULL);
}

int
imgedge_embed(VipsImage *in, VipsImage **out, int left, int top, int width, int height,
	double r, double g, double b, double a)
{
	VipsArrayDouble *bg;
	int res;

	if (vips_image_hasalpha(in)) {
		double v[4] = { r, g, b, a };
		bg = vips_array_double_new(v, 4);
	} else if (vips_image_get_bands(in) < 3) {
		double v[1] = { (r + g + b) / 3 };
		bg = vips_array_double_new(v, 1);
	} else {
		double v[3] = { r, g, b };
		bg = vips_array_double_new(v, 3);
	}
	res = vips_embed(in, out, left, top, width, height,
		"extend", VIPS_EXTEND_BACKGROUND,
		"background", bg,
		NULL);
	vips_area_unref(VIPS_AREA(bg));
	return res;
}

int
imgedge_flatten(VipsImage *in, VipsImage **out, double r, double g, double b)
{
	double v[3] = { r, g, b };
	VipsArrayDouble *bg = vips_array_double_new(v, 3);
	int res = vips_flatten(in, out, "background", bg, NULL);
	vips_area_unref(VIPS_AREA(bg));
	return res;
}

int
imgedge_gaussblur(VipsImage *in, VipsImage **out, double sigma, double shrink)
{
	// A Gaussian's cost grows with the square of sigma; a wide one is run
	// on the image shrunk by shrink (transform.EffectiveBlur chooses both),
	// and scaled back to the exact size, which the blur itself makes
	// indistinguishable.
	int w = in->Xsize, h = in->Ysize;
	int ph = vips_image_get_page_height(in);

	if (shrink <= 1)
		return vips_gaussblur(in, out, sigma, NULL);
	VipsImage *t[4] = { NULL, NULL, NULL, NULL };
	int res = vips_resize(in, &t[0], 1.0 / shrink, NULL) ||
		vips_gaussblur(t[0], &t[1], sigma, NULL) ||
		vips_resize(t[1], &t[2], (double) w / t[1]->Xsize, "vscale", (double) h / t[1]->Ysize, NULL) ||
		vips_embed(t[2], &t[3], 0, 0, w, h, "extend", VIPS_EXTEND_COPY, NULL) ||
		vips_copy(t[3], out, NULL);
	for (int i = 0; i < 4; i++)
		if (t[i])
			g_object_unref(t[i]);
	if (res == 0 && ph > 0 && ph < h)
		vips_image_set_int(*out, VIPS_META_PAGE_HEIGHT, ph);
	return res;
}

int
imgedge_sharpen(VipsImage *in, VipsImage **out, double sigma)
{
	return vips_sharpen(in, out, "sigma", sigma, NULL);
}

// imgedge_adjust makes a colour adjustment on the colour bands (alpha is
// kept as it is): v*mul + add (add in fractions of full scale), then
// v^(1/gamma), then the saturation (CSS's saturate() matrix). Neutral values
// (1, 0, 1, 1) skip their step. The output keeps the input's format.
int
imgedge_adjust(VipsImage *in, VipsImage **out, double mul, double add, double gamma, double saturation)
{
	VipsImage *base = vips_image_new();
	VipsImage **t = (VipsImage **) vips_object_local_array(VIPS_OBJECT(base), 8);
	VipsBandFormat format = in->BandFmt;
	int alpha = vips_image_hasalpha(in);
	int colour = alpha ? in->Bands - 1 : in->Bands;
	double full = format == VIPS_FORMAT_USHORT ? 65535 : vips_band_format_isfloat(format) ? 1.0 : 255;
	VipsImage *x = in;
	int res = -1;

	if (alpha) {
		if (vips_extract_band(in, &t[0], 0, "n", colour, NULL) ||
			vips_extract_band(in, &t[1], colour, NULL))
			goto done;
		x = t[0];
	}
	if (mul != 1 || add != 0) {
		double a[1] = {mul}, b[1] = {add * full};
		if (vips_linear(x, &t[2], a, b, 1, NULL) ||
			vips_cast(t[2], &t[3], format, NULL))
			goto done;
		x = t[3];
	}
	if (gamma != 1) {
		if (vips_gamma(x, &t[4], "exponent", gamma, NULL))
			goto done;
		x = t[4];
	}
	if (saturation != 1 && colour >= 3) {
		// CSS's saturate(): towards or away from the pixel's luminance
		// (Rec. 709), one 3x3 matrix per pixel; far cheaper than a round
		// trip through LCh, and grey at 0.
		double s = saturation, r = 0.2126, g = 0.7152, b = 0.0722;
		t[5] = vips_image_new_matrixv(3, 3,
			r + (1 - r) * s, g - g * s, b - b * s,
			r - r * s, g + (1 - g) * s, b - b * s,
			r - r * s, g - g * s, b + (1 - b) * s);
		if (vips_recomb(x, &t[6], t[5], NULL))
			goto done;
		x = t[6];
	}
	if (x->BandFmt != format) {
		if (vips_cast(x, &t[7], format, NULL))
			goto done;
		x = t[7];
	}
	res = alpha ? vips_bandjoin2(x, t[1], out, NULL) : vips_copy(x, out, NULL);
done:
	g_object_unref(base);
	return res;
}

// imgedge_composite lays mark over in at (x, y), its alpha times opacity
// (0..1); a mark without alpha is opaque. The output has an alpha band
// only if in had one.
int
imgedge_composite(VipsImage *in, VipsImage *mark, VipsImage **out, int x, int y, double opacity)
{
	VipsImage *base = vips_image_new();
	VipsImage **t = (VipsImage **) vips_object_local_array(VIPS_OBJECT(base), 6);
	VipsImage *m = mark;
	int alpha = vips_image_hasalpha(in);

	if (!vips_image_hasalpha(m)) {
		if (vips_addalpha(m, &t[0], NULL)) {
			g_object_unref(base);
			return -1;
		}
		m = t[0];
	}
	if (opacity < 1) {
		// Scale the alpha band only.
		int n = m->Bands;
		double *a = g_new(double, n), *b = g_new0(double, n);
		for (int i = 0; i < n; i++)
			a[i] = i == n - 1 ? opacity : 1;
		int rc = vips_linear(m, &t[1], a, b, n, "uchar", m->BandFmt == VIPS_FORMAT_UCHAR, NULL);
		g_free(a);
		g_free(b);
		if (rc) {
			g_object_unref(base);
			return -1;
		}
		m = t[1];
	}
	if (vips_composite2(in, m, &t[2], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL) ||
		vips_cast(t[2], &t[3], in->BandFmt, NULL)) {
		g_object_unref(base);
		return -1;
	}
	VipsImage *c = t[3];
	if (!alpha) {
		if (vips_extract_band(c, out, 0, "n", c->Bands - 1, NULL)) {
			g_object_unref(base);
			return -1;
		}
	} else {
		*out = c;
		g_object_ref(c);
	}
	g_object_unref(base);
	return 0;
}

// imgedge_sample shrinks in to at most size pixels a side and writes it
// to memory as 8-bit sRGB with alpha, 4 bytes a pixel, row by row: what a
// placeholder (a BlurHash, a palette) is worked out from. The caller
// frees *buf with g_free.
int
imgedge_sample(VipsImage *in, int size, void **buf, size_t *len, int *width, int *height)
{
	VipsImage *base = vips_image_new();
	VipsImage **t = (VipsImage **) vips_object_local_array(VIPS_OBJECT(base), 4);
	if (vips_thumbnail_image(in, &t[0], size, "height", size, NULL) ||
		vips_colourspace(t[0], &t[1], VIPS_INTERPRETATION_sRGB, NULL)) {
		g_object_unref(base);
		return -1;
	}
	VipsImage *x = t[1];
	if (!vips_image_hasalpha(x)) {
		if (vips_addalpha(x, &t[2], NULL)) {
			g_object_unref(base);
			return -1;
		}
		x = t[2];
	}
	if (vips_cast(x, &t[3], VIPS_FORMAT_UCHAR, NULL)) {
		g_object_unref(base);
		return -1;
	}
	*width = t[3]->Xsize;
	*height = t[3]->Ysize;
	*buf = vips_image_write_to_memory(t[3], len);
	g_object_unref(base);
	return *buf ? 0 : -1;
}

// drop_field decides, field by field, what survives metadata=copyright:
// the copyright and artist EXIF tags and nothing else (no GPS, no camera, no
// thumbnail, no XMP/IPTC). libvips rebuilds EXIF on save from the exif-*
// fields, dropping tags whose field is gone.
static void *
drop_field(VipsImage *image, const char *field, GValue *value, void *a)
{
	if (strcmp(field, "exif-data") == 0 ||
		strcmp(field, "exif-ifd0-Copyright") == 0 ||
		strcmp(field, "exif-ifd0-Artist") == 0)
		return NULL;
	if (strncmp(field, "exif-", 5) == 0 ||
		strcmp(field, "xmp-data") == 0 ||
		strcmp(field, "iptc-data") == 0 ||
		strcmp(field, "ipct-data") == 0 ||
		strcmp(field, VIPS_META_PHOTOSHOP_NAME) == 0 ||
		strcmp(field, VIPS_META_ICC_NAME) == 0)
		vips_image_remove(image, field);
	return NULL;
}

void
imgedge_kill(VipsImage *in)
{
	// vips_image_set_kill as an atomic store: worker threads read the
	// flag while they evaluate.
	g_atomic_int_set(&in->kill, TRUE);
}

int
imgedge_take_kill(VipsImage *in)
{
	return g_atomic_int_exchange(&in->kill, FALSE);
}

static int save(VipsImage *in, int format, int quality, int effort, int strip, int interlace, void **buf, size_t *len);

int
imgedge_save(VipsImage *in, int format, int quality, int effort, int metadata,
	int interlace, void **buf, size_t *len)
{
	// The encoder evaluates a copy of in, never in itself: a sink clears
	// the kill flag of the image it starts on (vips_sink_base_init), so a
	// kill that landed on in just before the encoder started would be
	// lost. Upstream of the sink the flag stays set until a worker
	// preparing a region of in picks it up and fails its tile. The copy
	// is also where the metadata policy is applied: in may be shared.
	VipsImage *top;
	int res;

	if (vips_copy(in, &top, NULL))
		return -1;
	if (metadata == IMGEDGE_META_COPYRIGHT)
		vips_image_map(top, drop_field, NULL);
	res = save(top, format, quality, effort, metadata == IMGEDGE_META_NONE, interlace, buf, len);
	g_object_unref(top);
	return res;
}

static int
save(VipsImage *in, int format, int quality, int effort, int strip, int interlace, void **buf, size_t *len)
{
	switch (format) {
	case IMGEDGE_JPEG:
		return vips_jpegsave_buffer(in, buf, len,
			"Q", quality,
			"strip", strip,
			"optimize_coding", TRUE,
			"interlace", interlace,
			NULL);
	case IMGEDGE_PNG:
		return vips_pngsave_buffer(in, buf, len,
			"strip", strip,
			"compression", 6,
			"effort", effort,
			NULL);
	case IMGEDGE_WEBP:
		if (strip && imgedge_webp_plain(in))
			return imgedge_webp_save(in, quality, effort, buf, len);
		return vips_webpsave_buffer(in, buf, len,
			"Q", quality,
			"strip", strip,
			"effort", effort,
			NULL);
	case IMGEDGE_AVIF:
		return vips_heifsave_buffer(in, buf, len,
			"Q", quality,
			"strip", strip,
			"compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
			"effort", effort,
			NULL);
	case IMGEDGE_GIF:
		return vips_gifsave_buffer(in, buf, len,
			"strip", strip,
			"effort", effort,
			NULL);
	}
	vips_error("imgedge", "unknown output format %d", format);
	return -1;
}

int
imgedge_page_height(VipsImage *in)
{
	return vips_image_get_page_height(in);
}

int
imgedge_has_alpha(VipsImage *in)
{
	return vips_image_hasalpha(in);
}

int
imgedge_extract_pages(VipsImage *in, VipsImage **out, int left, int top, int width, int height)
{
	// An animation is a strip of frames page-height tall: cut the same
	// window from every frame and stack the results again.
	int ph = vips_image_get_page_height(in);
	int n = ph > 0 ? in->Ysize / ph : 1;
	VipsImage **frames = g_new0(VipsImage *, n);
	VipsImage *joined = NULL;
	int res = 0;

	for (int i = 0; i < n && res == 0; i++)
		res = vips_extract_area(in, &frames[i], left, i * ph + top, width, height, NULL);
	if (res == 0)
		res = vips_arrayjoin(frames, &joined, n, "across", 1, NULL);
	for (int i = 0; i < n; i++)
		if (frames[i])
			g_object_unref(frames[i]);
	g_free(frames);
	if (res)
		return res;
	res = vips_copy(joined, out, NULL);
	g_object_unref(joined);
	if (res == 0)
		vips_image_set_int(*out, VIPS_META_PAGE_HEIGHT, height);
	return res;
}
