#include "reducecolour.h"
#include "reduceresult.h"

#include <stdint.h>
#include <string.h>

#include <lcms2.h>

void
imgedge_reduced_profile(VipsImage *im, const void *icc, size_t len)
{
	if (icc && len > 0)
		vips_image_set_blob_copy(im, VIPS_META_ICC_NAME, icc, len);
}

// The transforms made, one per source profile: making one (lcms2 inverts
// sRGB's curve into a table) costs more than converting a thumbnail's
// pixels with it, and a site's photos carry a handful of profiles. Never
// evicted, as a transform may be in use; past MAX_TRANSFORMS profiles,
// each conversion makes its own and frees it. cmsFLAGS_NOCACHE makes
// cmsDoTransform safe from several threads at once. Only profiles of up to
// MAX_CACHED_PROFILE bytes are kept (a camera's or phone's is under 4 KB;
// Apple's Display P3 is 584 bytes): a source's profile is the uploader's to
// choose, and 32 of 16 MB each would be pinned for the life of the process.
#define MAX_TRANSFORMS 32
#define MAX_CACHED_PROFILE (64 * 1024)

typedef struct {
	void *icc;
	size_t len;
	int bands;
	cmsHTRANSFORM transform;
} cached;

static GMutex lock;
static cached transforms[MAX_TRANSFORMS];
static int count;
static cmsHPROFILE srgb; // libvips' own sRGB profile, what "srgb" names

// make_transform is the transform vips_icc_transform builds from icc, for
// 8-bit pixels of bands bands, to libvips' sRGB: TYPE_RGB_8 or
// TYPE_GRAY_8 in, TYPE_RGB_8 out, relative colorimetric, no black point
// compensation. NULL when the profile is not one vips_icc_transform would
// take as it is for these pixels (it then decides).
static cmsHTRANSFORM
make_transform(const void *icc, size_t len, int bands)
{
	cmsHPROFILE in;
	cmsHTRANSFORM t = NULL;
	cmsColorSpaceSignature want = bands == 3 ? cmsSigRgbData : cmsSigGrayData;

	if (!srgb) {
		VipsBlob *blob;
		if (vips_profile_load("srgb", &blob, NULL))
			return NULL;
		size_t n;
		const void *data = vips_blob_get(blob, &n);
		srgb = cmsOpenProfileFromMem(data, n);
		vips_area_unref(VIPS_AREA(blob));
		if (!srgb)
			return NULL;
	}
	if (!(in = cmsOpenProfileFromMem(icc, len)))
		return NULL;
	if (cmsGetColorSpace(in) == want && cmsGetDeviceClass(in) != cmsSigAbstractClass &&
		cmsGetDeviceClass(in) != cmsSigLinkClass && cmsIsIntentSupported(in, INTENT_RELATIVE_COLORIMETRIC, LCMS_USED_AS_INPUT))
		t = cmsCreateTransform(in, bands == 3 ? TYPE_RGB_8 : TYPE_GRAY_8,
			srgb, TYPE_RGB_8, INTENT_RELATIVE_COLORIMETRIC, cmsFLAGS_NOCACHE);
	cmsCloseProfile(in);
	return t;
}

// transform_for finds or makes the transform of icc; *own says the caller
// frees it.
static cmsHTRANSFORM
transform_for(const void *icc, size_t len, int bands, int *own)
{
	cmsHTRANSFORM t = NULL;

	*own = 0;
	g_mutex_lock(&lock);
	for (int i = 0; i < count && !t; i++)
		if (transforms[i].bands == bands && transforms[i].len == len && !memcmp(transforms[i].icc, icc, len))
			t = transforms[i].transform;
	if (!t && (t = make_transform(icc, len, bands))) {
		if (count < MAX_TRANSFORMS && len <= MAX_CACHED_PROFILE)
			transforms[count++] = (cached) { g_memdup2(icc, len), len, bands, t };
		else
			*own = 1;
	}
	g_mutex_unlock(&lock);
	return t;
}

int
imgedge_reduced_to_srgb(VipsImage *in, VipsImage **out)
{
	const void *icc;
	size_t len;
	int own;
	cmsHTRANSFORM t = NULL;
	uint8_t *rgb;

	// A reduced image holds its pixels in memory, 8-bit, one or three
	// bands: converted here with a transform made once per profile.
	if (in->BandFmt == VIPS_FORMAT_UCHAR && (in->Bands == 3 || in->Bands == 1) && in->data &&
		!vips_image_get_blob(in, VIPS_META_ICC_NAME, &icc, &len) &&
		(t = transform_for(icc, len, in->Bands, &own)) &&
		(rgb = g_try_malloc((size_t) in->Xsize * in->Ysize * 3))) {
		cmsDoTransform(t, in->data, rgb, (cmsUInt32Number) in->Xsize * in->Ysize);
		if (own)
			cmsDeleteTransform(t);
		return imgedge_reduced_image(rgb, in->Xsize, in->Ysize, 3, in->Xres, in->Yres, out) == IMGEDGE_REDUCED ? 0 : -1;
	}
	if (t && own)
		cmsDeleteTransform(t);
	// Anything else (a profile lcms2 or libvips would treat otherwise, no
	// memory): vips_thumbnail_build's own step, in libvips 8.14, with the
	// intent it defaults to.
	return vips_icc_transform(in, out, "srgb",
		"intent", VIPS_INTENT_RELATIVE,
		"embedded", TRUE,
		NULL);
}

int
imgedge_kept_transforms(void)
{
	g_mutex_lock(&lock);
	int n = count;
	g_mutex_unlock(&lock);
	return n;
}
