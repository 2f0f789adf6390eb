#include "text.h"

#include <math.h>

// colourise is mask (one uchar band) as r, g, b with the mask times
// a/255 for alpha.
static int
colourise(VipsObject *scope, VipsImage *mask, VipsImage **out, double r, double g, double b, double a)
{
	VipsImage **t = (VipsImage **) vips_object_local_array(scope, 4);
	double ink[3] = { r, g, b }, zero[3] = { 0, 0, 0 };

	if (vips_black(&t[0], mask->Xsize, mask->Ysize, "bands", 3, NULL) ||
		vips_linear(t[0], &t[1], zero, ink, 3, "uchar", TRUE, NULL) ||
		vips_linear1(mask, &t[2], a / 255.0, 0, "uchar", TRUE, NULL) ||
		vips_bandjoin2(t[1], t[2], &t[3], NULL))
		return -1;
	return vips_copy(t[3], out, "interpretation", VIPS_INTERPRETATION_sRGB, NULL);
}

int
imgedge_text(VipsImage **out, const char *markup, const char *font,
	double r, double g, double b, double a, double shadow, int *pad)
{
	VipsObject *scope = VIPS_OBJECT(vips_image_new());
	VipsImage **t = (VipsImage **) vips_object_local_array(scope, 8);
	*pad = 0;
	if (vips_text(&t[0], markup, "font", font, "dpi", 72, NULL) ||
		colourise(scope, t[0], &t[1], r, g, b, a)) {
		g_object_unref(scope);
		return -1;
	}
	if (shadow <= 0) {
		*out = t[1];
		g_object_ref(*out);
		g_object_unref(scope);
		return 0;
	}
	// The shadow: the mask blurred, offset by a third of the blur (at
	// least 1 px), in black at 3/4 of the text's alpha, under the text.
	int off = VIPS_MAX(1, (int) ceil(shadow / 3));
	int m = (int) ceil(3 * shadow) + off;
	if (vips_embed(t[0], &t[2], m + off, m + off, t[0]->Xsize + 2 * m, t[0]->Ysize + 2 * m, NULL) ||
		vips_gaussblur(t[2], &t[3], shadow, "precision", VIPS_PRECISION_INTEGER, NULL) ||
		colourise(scope, t[3], &t[4], 0, 0, 0, a * 0.75) ||
		vips_composite2(t[4], t[1], &t[5], VIPS_BLEND_MODE_OVER, "x", m, "y", m, NULL) ||
		vips_cast(t[5], &t[6], VIPS_FORMAT_UCHAR, NULL) ||
		vips_copy(t[6], out, "interpretation", VIPS_INTERPRETATION_sRGB, NULL)) {
		g_object_unref(scope);
		return -1;
	}
	*pad = m;
	g_object_unref(scope);
	return 0;
}
