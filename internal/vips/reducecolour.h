// The colours of a reduced image: a source's ICC profile carried onto the
// image a decode straight into a reduce made, and its conversion to sRGB
// as vips_thumbnail makes it (see reduce.go).
#ifndef IMGEDGE_REDUCECOLOUR_H
#define IMGEDGE_REDUCECOLOUR_H

#include <stddef.h>
#include <vips/vips.h>

// imgedge_reduced_profile attaches a copy of the len bytes of icc, the
// source's ICC profile, to im, a reduced image. A NULL icc attaches nothing.
void imgedge_reduced_profile(VipsImage *im, const void *icc, size_t len);

// imgedge_reduced_to_srgb converts in, a reduced image carrying its
// source's profile, to sRGB as vips_thumbnail does with export_profile
// "srgb" and no linear light: the lcms2 transform vips_icc_transform makes
// from the embedded profile to libvips' sRGB profile (8-bit in and out,
// relative colorimetric, no black point compensation), on the reduced
// pixels (libvips converts after its resize too), made once per profile
// and kept. A grey source with a grey profile becomes three bands, as
// there. A profile it does not take as simply is left to
// vips_icc_transform itself.
int imgedge_reduced_to_srgb(VipsImage *in, VipsImage **out);

// imgedge_kept_transforms is how many profiles' transforms are kept.
int imgedge_kept_transforms(void);

#endif
