package vips

/*
#include "text.h"
*/
import "C"

import (
	"strings"
	"unsafe"
)

// TextOptions configure Text.
type TextOptions struct {
	Font   string  // a Pango font description, "DejaVu Sans Bold 40": the size in pixels
	Colour RGBA    // the ink, its alpha included
	Shadow float64 // > 0: a soft drop shadow of that blur
}

// Text renders s, plain text (never markup: it is escaped here), as an
// sRGB image with alpha; pad is the room the shadow takes on every side of
// the text's own box.
func Text(s string, o TextOptions) (img *Image, pad int, err error) {
	markup := C.CString(escapeMarkup(s))
	defer C.free(unsafe.Pointer(markup))
	font := C.CString(o.Font)
	defer C.free(unsafe.Pointer(font))
	var out *C.VipsImage
	var cpad C.int
	c := o.Colour
	rc := C.imgedge_text(&out, markup, font,
		C.double(c.R), C.double(c.G), C.double(c.B), C.double(c.A), C.double(o.Shadow), &cpad)
	if rc != 0 {
		return nil, 0, lastError("text")
	}
	return &Image{im: out}, int(cpad), nil
}

// markupEscaper escapes what Pango markup reads as markup: vips_text
// always parses its text as markup, so a caller's "<span size=...>" must
// arrive as those characters, not as a span.
var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&#39;", `"`, "&quot;")

func escapeMarkup(s string) string { return markupEscaper.Replace(s) }
