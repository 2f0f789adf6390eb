#include "reducecolour.h"

void
imgedge_reduced_profile(VipsImage *im, const void *icc, size_t len)
{
	if (icc && len > 0)
		vips_image_set_blob_copy(im, VIPS_META_ICC_NAME, icc, len);
}

int
imgedge_reduced_to_srgb(VipsImage *in, VipsImage **out)
{
	// vips_thumbnail_build, libvips 8.14: its "transforming with supplied
	// profiles" step, with the intent it defaults to.
	return vips_icc_transform(in, out, "srgb",
		"intent", VIPS_INTENT_RELATIVE,
		"embedded", TRUE,
		NULL);
}
