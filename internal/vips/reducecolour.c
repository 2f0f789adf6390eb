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
// libvips' own sRGB profile, what "srgb" names, as bytes: every build
// opens its own handle on it, since an lcms2 profile is not to be read
// from two threads at once.
static void *srgb_icc;
static size_t srgb_len;

// load_srgb reads libvips' sRGB profile once; call it holding lock.
static gboolean
load_srgb(void)
{
	VipsBlob *blob;
	size_t n;

	if (srgb_icc)
		return TRUE;
	if (vips_profile_load("srgb", &blob, NULL))
		return FALSE;
	const void *data = vips_blob_get(blob, &n);
	srgb_icc = g_memdup2(data, n);
	srgb_len = n;
	vips_area_unref(VIPS_AREA(blob));
	return TRUE;
}

// make_transform is the transform vips_icc_transform builds from icc, for
// 8-bit pixels of bands bands, to libvips' sRGB: TYPE_RGB_8 or
// TYPE_GRAY_8 in, TYPE_RGB_8 out, relative colorimetric, no black point
// compensation. NULL when the profile is not one vips_icc_transform would
// take as it is for these pixels (it then decides). It opens profiles of
// its own and holds no lock: a costly profile holds up no other
// conversion.
static cmsHTRANSFORM
make_transform(const void *icc, size_t len, int bands)
{
	cmsHPROFILE in, out;
	cmsHTRANSFORM t = NULL;
	cmsColorSpaceSignature want = bands == 3 ? cmsSigRgbData : cmsSigGrayData;

	if (!(in = cmsOpenProfileFromMem(icc, len)))
		return NULL;
	if (!(out = cmsOpenProfileFromMem(srgb_icc, srgb_len))) {
		cmsCloseProfile(in);
		return NULL;
	}
	if (cmsGetColorSpace(in) == want && cmsGetDeviceClass(in) != cmsSigAbstractClass &&
		cmsGetDeviceClass(in) != cmsSigLinkClass && cmsIsIntentSupported(in, INTENT_RELATIVE_COLORIMETRIC, LCMS_USED_AS_INPUT))
		t = cmsCreateTransform(in, bands == 3 ? TYPE_RGB_8 : TYPE_GRAY_8,
			out, TYPE_RGB_8, INTENT_RELATIVE_COLORIMETRIC, cmsFLAGS_NOCACHE);
	cmsCloseProfile(in); // a transform needs neither once made
	cmsCloseProfile(out);
	return t;
}

// kept finds the kept transform of icc; call it holding lock.
static cmsHTRANSFORM
kept(const void *icc, size_t len, int bands)
{
	for (int i = 0; i < count; i++)
		if (transforms[i].bands == bands && transforms[i].len == len && !memcmp(transforms[i].icc, icc, len))
			return transforms[i].transform;
	return NULL;
}

// transform_for finds or makes the transform of icc; *own says the caller
// frees it. The lock is held to look and to keep, not to make.
static cmsHTRANSFORM
transform_for(const void *icc, size_t len, int bands, int *own)
{
	cmsHTRANSFORM t;
	gboolean ready;

	*own = 0;
	g_mutex_lock(&lock);
	t = kept(icc, len, bands);
	ready = t || load_srgb();
	g_mutex_unlock(&lock);
	if (t || !ready || !(t = make_transform(icc, len, bands)))
		return t;
	*own = 1;
	if (len <= MAX_CACHED_PROFILE) {
		g_mutex_lock(&lock);
		// Another request may have kept the same profile's meanwhile:
		// this one is then the caller's to free.
		if (!kept(icc, len, bands) && count < MAX_TRANSFORMS) {
			transforms[count++] = (cached) { g_memdup2(icc, len), len, bands, t };
			*own = 0;
		}
		g_mutex_unlock(&lock);
	}
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
