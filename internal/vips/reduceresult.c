#include "reduceresult.h"

static void
free_pixels(VipsImage *image, void *pixels)
{
	g_free(pixels);
}

imgedge_reduce_result
imgedge_reduced_image(void *pixels, int w, int h, int bands, double xres, double yres, VipsImage **out)
{
	VipsImage *im = vips_image_new_from_memory(pixels, (size_t) w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);

	if (!im) {
		g_free(pixels);
		return IMGEDGE_DECLINED;
	}
	g_signal_connect(im, "postclose", G_CALLBACK(free_pixels), pixels);
	im->Type = bands < 3 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
	im->Xres = xres;
	im->Yres = yres;
	*out = im;
	return IMGEDGE_REDUCED;
}
