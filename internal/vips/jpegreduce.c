#include "jpegreduce.h"
#include "reduce.h"
#include "reducecolour.h"

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

// How a decode ends early, as the value longjmp carries to setjmp.
enum { ABANDON_DECLINE = 1, ABANDON_REFUSE, ABANDON_STOP };

// A decode follows libvips' jpegload rules with fail_on=truncated in
// place, without starting again: an error before the first row declines
// (libvips decides), one after it refuses; a warning is counted and the
// decode goes on, but the end of the data before the end of the image
// (truncated) and a hundredth warning refuse. A progress monitor, called
// by libjpeg between the rows of every scan it reads (all the scans of a
// progressive JPEG are read before its first row), stops the decode on
// the kill flag, and refuses a JPEG of more than IMGEDGE_MAX_SCANS scans.
typedef struct {
	struct jpeg_error_mgr pub;
	struct jpeg_progress_mgr progress;
	jmp_buf abandon;
	int started; // jpeg_start_decompress was called
	VipsImage *stop;
} errors;

// refuse puts why, or libjpeg's message, in libvips' error buffer and
// refuses the decode.
static void
refuse(j_common_ptr cinfo, const char *why)
{
	char msg[JMSG_LENGTH_MAX];

	if (!why) {
		(*cinfo->err->format_message)(cinfo, msg);
		why = msg;
	}
	vips_error("jpegreduce", "%s", why);
	longjmp(((errors *) cinfo->err)->abandon, ABANDON_REFUSE);
}

static void
on_error(j_common_ptr cinfo)
{
	errors *err = (errors *) cinfo->err;

	if (err->started)
		refuse(cinfo, NULL);
	longjmp(err->abandon, ABANDON_DECLINE);
}

static void
on_message(j_common_ptr cinfo, int level)
{
	if (level >= 0)
		return; // a trace
	if (cinfo->err->msg_code == JWRN_JPEG_EOF)
		refuse(cinfo, "the JPEG is truncated");
	if (++cinfo->err->num_warnings >= 100)
		refuse(cinfo, "the JPEG is corrupt: 100 warnings");
}

static void
on_progress(j_common_ptr cinfo)
{
	errors *err = (errors *) cinfo->err;

	if (g_atomic_int_get(&err->stop->kill))
		longjmp(err->abandon, ABANDON_STOP);
	if (((j_decompress_ptr) cinfo)->input_scan_number > IMGEDGE_MAX_SCANS)
		refuse(cinfo, "the JPEG has too many scans");
}

static void
no_output(j_common_ptr cinfo)
{
}

// The pieces a reduce holds, freed together whatever happened.
typedef struct {
	imgedge_axis h, v;
	uint8_t *ring;    // v.taps decoded rows, row r in slot r % v.taps
	uint8_t **rows;   // the rows of one output row's taps
	int16_t *mid;     // one vertically reduced row, RGBx
	uint8_t *pixels;  // the output
	JOCTET *icc;      // the source's ICC profile, when asked for
	unsigned int icc_len;
} work;

static void
work_free(work *w)
{
	imgedge_axis_free(&w->h);
	imgedge_axis_free(&w->v);
	free(w->ring);
	free(w->rows);
	free(w->mid);
	g_free(w->pixels);
	free(w->icc);
	free(w);
}

// fits says libjpeg's size at the shrink, rounded up, is libvips' one,
// rounded down (jpegload drops the part pixel), or that plus one.
static int
fits(JDIMENSION decoded, int in)
{
	return (int) decoded == in || (int) decoded == in + 1;
}

// reduce reads the shrunk rows from d as the output rows need them, each
// read once, and writes the output into w->pixels.
static imgedge_reduce_result
reduce(struct jpeg_decompress_struct *d, work *w, VipsImage *stop)
{
	const int in_w = w->h.in, taps = w->v.taps, out_w = w->h.out;
	const size_t stride = (size_t) d->output_width * 4;
	int have = 0;
	JSAMPROW want[16];

	for (int y = 0; y < w->v.out; y++) {
		if (g_atomic_int_get(&stop->kill))
			return IMGEDGE_STOPPED;
		// The last tap may be a zero-weight pad past the last row.
		int need = MIN(w->v.first[y] + taps, w->v.in);
		while (have < need) {
			int n = 0;
			for (; n < (int) G_N_ELEMENTS(want) && have + n < need; n++)
				want[n] = w->ring + (size_t) ((have + n) % taps) * stride;
			have += (int) jpeg_read_scanlines(d, want, n);
		}
		for (int k = 0; k < taps; k++)
			w->rows[k] = w->ring + (size_t) (MIN(w->v.first[y] + k, w->v.in - 1) % taps) * stride;
		imgedge_reduce_rows(w->rows, &w->v, y, in_w, w->mid);
		imgedge_reduce_row(w->mid, &w->h, w->pixels + (size_t) y * out_w * 3);
	}
	return IMGEDGE_REDUCED;
}

// grey_bands keeps the first of each RGB pixel of the w x h output: a grey
// source, read as RGBx by libjpeg (the three equal), reduced as one, one
// band again, as libvips keeps it. Returns NULL when out of memory.
static uint8_t *
grey_bands(uint8_t *rgb, int w, int h)
{
	const size_t n = (size_t) w * h;

	for (size_t i = 0; i < n; i++)
		rgb[i] = rgb[i * 3];
	return g_try_realloc(rgb, n);
}

imgedge_reduce_result
imgedge_jpeg_reduce(const void *buf, size_t len, int shrink,
	int in_w, int in_h, double hshrink, double vshrink, int out_w, int out_h,
	double xres, double yres, int with_profile, VipsImage *stop, VipsImage **out)
{
	struct jpeg_decompress_struct d;
	errors err;
	work *w = calloc(1, sizeof(work)); // on the heap: its fields change after setjmp
	imgedge_reduce_result res;

	if (!w)
		return IMGEDGE_DECLINED;
	d.err = jpeg_std_error(&err.pub);
	err.pub.error_exit = on_error;
	err.pub.emit_message = on_message;
	err.pub.output_message = no_output;
	err.progress.progress_monitor = on_progress;
	err.started = 0;
	err.stop = stop;
	switch (setjmp(err.abandon)) {
	case 0:
		break;
	case ABANDON_STOP:
		res = IMGEDGE_STOPPED;
		goto abandoned;
	case ABANDON_REFUSE:
		res = IMGEDGE_REFUSED;
		goto abandoned;
	default:
		res = IMGEDGE_DECLINED;
	abandoned:
		jpeg_destroy_decompress(&d);
		work_free(w);
		return res;
	}
	jpeg_create_decompress(&d);
	d.progress = &err.progress;
	jpeg_mem_src(&d, (const unsigned char *) buf, len);
	if (with_profile)
		jpeg_save_markers(&d, JPEG_APP0 + 2, 0xFFFF); // ICC_PROFILE chunks
	jpeg_read_header(&d, TRUE);
	// Grey is read as RGBx (libjpeg-turbo repeats the one channel) and
	// reduced as colour: the same kernels, one band kept at the end.
	const int grey = d.num_components == 1 && d.jpeg_color_space == JCS_GRAYSCALE;
	d.scale_num = 1;
	d.scale_denom = shrink;
	d.out_color_space = JCS_EXT_RGBX; // the reduce's layout, straight from the colour conversion
	jpeg_calc_output_dimensions(&d);
	if (with_profile && !jpeg_read_icc_profile(&d, &w->icc, &w->icc_len)) {
		// The header said it has one; libjpeg finds its chunks broken.
		jpeg_destroy_decompress(&d);
		work_free(w);
		return IMGEDGE_DECLINED;
	}
	if (d.data_precision != 8 ||
		!(grey || (d.num_components == 3 &&
			(d.jpeg_color_space == JCS_YCbCr || d.jpeg_color_space == JCS_RGB))) ||
		!fits(d.output_width, in_w) || !fits(d.output_height, in_h) ||
		d.output_components != 4 ||
		imgedge_axis_init(&w->h, in_w, out_w, hshrink) ||
		imgedge_axis_init(&w->v, in_h, out_h, vshrink) ||
		!(w->ring = malloc((size_t) w->v.taps * d.output_width * 4)) ||
		!(w->rows = malloc(sizeof(uint8_t *) * w->v.taps)) ||
		!(w->mid = calloc((size_t) (in_w + 1) * 4, sizeof(int16_t))) ||
		!(w->pixels = g_try_malloc((size_t) out_w * out_h * 3))) {
		jpeg_destroy_decompress(&d);
		work_free(w);
		return IMGEDGE_DECLINED;
	}
	err.started = 1;
	jpeg_start_decompress(&d);
	res = reduce(&d, w, stop);
	jpeg_destroy_decompress(&d);
	if (res == IMGEDGE_REDUCED && grey) {
		uint8_t *one = grey_bands(w->pixels, out_w, out_h);
		if (one)
			w->pixels = one;
		else
			res = IMGEDGE_DECLINED;
	}
	if (res == IMGEDGE_REDUCED) {
		res = imgedge_reduced_image(w->pixels, out_w, out_h, grey ? 1 : 3, xres, yres, out);
		w->pixels = NULL; // the image's now, or freed
		if (res == IMGEDGE_REDUCED)
			imgedge_reduced_profile(*out, w->icc, w->icc_len);
	}
	work_free(w);
	return res;
}
