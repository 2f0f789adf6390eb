#include "webpreduce.h"
#include "reduce.h"

#include <stdint.h>
#include <stdlib.h>

#include <webp/decode.h>

// The bytes given to the decoder between two reads of the kill flag:
// libwebp decodes what they complete, a few rows of the frame, before it
// returns.
#define CHUNK (32 * 1024)

// decode decodes buf into config's output, CHUNK bytes at a time.
static imgedge_reduce_result
decode(const uint8_t *buf, size_t len, WebPDecoderConfig *config, VipsImage *stop)
{
	WebPIDecoder *idec = WebPIDecode(NULL, 0, config);
	VP8StatusCode status = VP8_STATUS_SUSPENDED;

	if (!idec)
		return IMGEDGE_DECLINED;
	for (size_t at = 0; at < len && status == VP8_STATUS_SUSPENDED;) {
		if (g_atomic_int_get(&stop->kill)) {
			WebPIDelete(idec);
			return IMGEDGE_STOPPED;
		}
		at = MIN(len, at + CHUNK);
		// In place: the decoder reads buf[0 .. at), without a copy.
		status = WebPIUpdate(idec, buf, at);
	}
	WebPIDelete(idec);
	switch (status) {
	case VP8_STATUS_OK:
		return IMGEDGE_REDUCED;
	case VP8_STATUS_SUSPENDED:
		vips_error("webpreduce", "the WebP is truncated");
		return IMGEDGE_REFUSED;
	default:
		// What libvips' webpload, which decodes with the same libwebp,
		// fails on as well.
		vips_error("webpreduce", "the WebP cannot be decoded (libwebp status %d)", status);
		return IMGEDGE_REFUSED;
	}
}

// reduce reduces the decoded frame, RGBx rows of a->in pixels, into out,
// RGB rows of h->out pixels.
static imgedge_reduce_result
reduce(const uint8_t *frame, const imgedge_axis *h, const imgedge_axis *v, VipsImage *stop, uint8_t *out)
{
	const size_t stride = (size_t) h->in * 4;
	uint8_t **rows = malloc(sizeof(uint8_t *) * v->taps);
	int16_t *mid = calloc((size_t) (h->in + 1) * 4, sizeof(int16_t));
	imgedge_reduce_result res = IMGEDGE_REDUCED;

	if (!rows || !mid)
		res = IMGEDGE_DECLINED;
	for (int y = 0; res == IMGEDGE_REDUCED && y < v->out; y++) {
		if (g_atomic_int_get(&stop->kill)) {
			res = IMGEDGE_STOPPED;
			break;
		}
		for (int k = 0; k < v->taps; k++)
			rows[k] = (uint8_t *) frame + (size_t) MIN(v->first[y] + k, v->in - 1) * stride;
		imgedge_reduce_rows(rows, v, y, h->in, mid);
		imgedge_reduce_row(mid, h, out + (size_t) y * h->out * 3);
	}
	free(rows);
	free(mid);
	return res;
}

imgedge_reduce_result
imgedge_webp_reduce(const void *buf, size_t len,
	int frame_w, int frame_h, int alpha, double hshrink, double vshrink, int out_w, int out_h,
	double xres, double yres, VipsImage *stop, VipsImage **out)
{
	WebPDecoderConfig config;
	const int resample = hshrink != 1 || vshrink != 1;
	// A frame to reduce is read as RGBx, the reduce's layout.
	const int bands = resample || alpha ? 4 : 3;
	imgedge_axis h = { 0 }, v = { 0 };
	uint8_t *frame = NULL, *pixels = NULL;
	imgedge_reduce_result res;

	if (!WebPInitDecoderConfig(&config) ||
		WebPGetFeatures(buf, len, &config.input) != VP8_STATUS_OK ||
		config.input.has_animation || config.input.has_alpha != alpha || (alpha && resample))
		return IMGEDGE_DECLINED;
	if (frame_w != config.input.width || frame_h != config.input.height) {
		config.options.use_scaling = 1;
		config.options.scaled_width = frame_w;
		config.options.scaled_height = frame_h;
	}
	if (!(frame = g_try_malloc((size_t) frame_w * frame_h * bands)) ||
		(resample && (imgedge_axis_init(&h, frame_w, out_w, hshrink) ||
			imgedge_axis_init(&v, frame_h, out_h, vshrink) ||
			!(pixels = g_try_malloc((size_t) out_w * out_h * 3))))) {
		res = IMGEDGE_DECLINED;
		goto done;
	}
	config.output.colorspace = bands == 4 ? MODE_RGBA : MODE_RGB;
	config.output.is_external_memory = 1;
	config.output.u.RGBA.rgba = frame;
	config.output.u.RGBA.stride = frame_w * bands;
	config.output.u.RGBA.size = (size_t) frame_w * frame_h * bands;
	if ((res = decode(buf, len, &config, stop)) != IMGEDGE_REDUCED)
		goto done;
	if (resample) {
		if ((res = reduce(frame, &h, &v, stop, pixels)) != IMGEDGE_REDUCED)
			goto done;
		res = imgedge_reduced_image(pixels, out_w, out_h, 3, xres, yres, out);
		pixels = NULL; // the image's now, or freed
	}
	else {
		res = imgedge_reduced_image(frame, frame_w, frame_h, bands, xres, yres, out);
		frame = NULL;
	}
done:
	WebPFreeDecBuffer(&config.output);
	imgedge_axis_free(&h);
	imgedge_axis_free(&v);
	g_free(frame);
	g_free(pixels);
	return res;
}
