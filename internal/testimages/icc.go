package testimages

/*
#cgo pkg-config: lcms2
#include <stdlib.h>
#include <lcms2.h>

// rgb_profile is an ICC v4 matrix-shaper profile of the white point and
// primaries given (CIE xy), every channel on the parametric curve of type
// 1 (a plain gamma) or 4 (the sRGB curve): what a camera or phone tags
// its photos with. *len is its size; the bytes are malloc'd.
static void *
rgb_profile(double wx, double wy, double rx, double ry, double gx, double gy,
	double bx, double by, int type, const double *params, cmsUInt32Number *len)
{
	cmsCIExyY white = { wx, wy, 1 };
	cmsCIExyYTRIPLE primaries = { { rx, ry, 1 }, { gx, gy, 1 }, { bx, by, 1 } };
	cmsToneCurve *curve = cmsBuildParametricToneCurve(NULL, type, params);
	cmsToneCurve *curves[3] = { curve, curve, curve };
	cmsHPROFILE p = cmsCreateRGBProfile(&white, &primaries, curves);
	void *buf = NULL;

	cmsFreeToneCurve(curve);
	if (!p)
		return NULL;
	if (cmsSaveProfileToMem(p, NULL, len) && (buf = malloc(*len)) &&
		!cmsSaveProfileToMem(p, buf, len)) {
		free(buf);
		buf = NULL;
	}
	cmsCloseProfile(p);
	return buf;
}
*/
import "C"

import (
	"bytes"
	"compress/zlib"
)

// Profile is an RGB colour space a source can be tagged with.
type Profile struct {
	Name                   string
	white, red, green, blu [2]float64
	srgbCurve              bool    // the sRGB transfer curve; else gamma
	gamma                  float64 // when not srgbCurve
}

// The wide-gamut spaces photos come in: Display P3 (what phones save),
// Adobe RGB (1998) and ProPhoto RGB (cameras and editors).
var (
	DisplayP3 = Profile{Name: "Display P3", white: [2]float64{0.3127, 0.3290},
		red: [2]float64{0.680, 0.320}, green: [2]float64{0.265, 0.690}, blu: [2]float64{0.150, 0.060}, srgbCurve: true}
	AdobeRGB = Profile{Name: "Adobe RGB", white: [2]float64{0.3127, 0.3290},
		red: [2]float64{0.64, 0.33}, green: [2]float64{0.21, 0.71}, blu: [2]float64{0.15, 0.06}, gamma: 563.0 / 256}
	ProPhoto = Profile{Name: "ProPhoto RGB", white: [2]float64{0.3457, 0.3585},
		red: [2]float64{0.7347, 0.2653}, green: [2]float64{0.1596, 0.8404}, blu: [2]float64{0.0366, 0.0001}, gamma: 1.8}
)

// ICC is the profile as an ICC v4 matrix-shaper profile with parametric
// curves, as Apple's Display P3 profile is, made by lcms2.
func (p Profile) ICC() []byte {
	typ, params := C.int(1), []C.double{C.double(p.gamma), 0, 0, 0, 0}
	if p.srgbCurve {
		typ, params = 4, []C.double{2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045}
	}
	var n C.cmsUInt32Number
	buf := C.rgb_profile(C.double(p.white[0]), C.double(p.white[1]), C.double(p.red[0]), C.double(p.red[1]),
		C.double(p.green[0]), C.double(p.green[1]), C.double(p.blu[0]), C.double(p.blu[1]), typ, &params[0], &n)
	if buf == nil {
		panic("lcms2 could not make the " + p.Name + " profile")
	}
	defer C.free(buf)
	return C.GoBytes(buf, C.int(n))
}

// JPEGWithProfile inserts icc as an APP2 ICC_PROFILE segment (one chunk:
// profiles under 64 KB) right after the JPEG's SOI marker: the pixels are
// taken to be in that space.
func JPEGWithProfile(jpg, icc []byte) []byte {
	return afterSOI(jpg, 0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), icc...))
}

// PNGWithProfile inserts icc as an iCCP chunk right after the PNG's IHDR.
func PNGWithProfile(p, icc []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(icc)
	zw.Close()
	const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, then IHDR: length, type, data, CRC
	var out bytes.Buffer
	out.Write(p[:ihdrEnd])
	pngChunk(&out, "iCCP", append([]byte("icc\x00\x00"), z.Bytes()...)) // name, NUL, deflate
	out.Write(p[ihdrEnd:])
	return out.Bytes()
}
