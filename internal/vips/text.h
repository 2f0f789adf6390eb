// Text drawn by libvips' Pango renderer, as an RGBA overlay (see text.c).
#ifndef IMGEDGE_TEXT_H
#define IMGEDGE_TEXT_H

#include <vips/vips.h>

// imgedge_text renders markup (Pango markup the caller has escaped) in
// font ("Family Style Size", pixels at 72 dpi) as 8-bit sRGB with alpha,
// in colour r, g, b at alpha a (0..255), one line per line of the text,
// never wrapped. shadow > 0 adds a soft black drop shadow of that
// blur, offset down and right; *pad is then the room it takes on every
// side of the text's own box.
int imgedge_text(VipsImage **out, const char *markup, const char *font,
	double r, double g, double b, double a, double shadow, int *pad);

#endif
