package transform

import (
	"strconv"
	"strings"
)

// Format is an image format imgedge reads or writes.
type Format int

// Formats. The first five can be written; the rest are sources only.
const (
	FormatUnknown Format = iota
	JPEG
	PNG
	WEBP
	AVIF
	GIF
	HEIF
	TIFF
	SVG

	// Descriptions of the image instead of the image: imgix's fm=json
	// (the source's header), Cloudflare's format=json (the output's size
	// and the original's), imgix's fm=blurhash, and imgix's palette=json
	// and palette=css (dominant colours).
	InfoImgix
	InfoCloudflare
	BlurHash
	PaletteJSON
	PaletteCSS
)

var formatNames = [...]string{"unknown", "jpeg", "png", "webp", "avif", "gif", "heif", "tiff", "svg",
	"json-imgix", "json-cloudflare", "blurhash", "palette-json", "palette-css"}

func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return "unknown"
	}
	return formatNames[f]
}

// MIME is the format's media type.
func (f Format) MIME() string {
	switch f {
	case JPEG:
		return "image/jpeg"
	case PNG:
		return "image/png"
	case WEBP:
		return "image/webp"
	case AVIF:
		return "image/avif"
	case GIF:
		return "image/gif"
	case HEIF:
		return "image/heif"
	case TIFF:
		return "image/tiff"
	case SVG:
		return "image/svg+xml"
	case InfoImgix, InfoCloudflare, PaletteJSON:
		return "application/json"
	case BlurHash:
		return "text/plain; charset=utf-8"
	case PaletteCSS:
		return "text/css; charset=utf-8"
	}
	return "application/octet-stream"
}

// Writable reports whether imgedge can encode the format.
func (f Format) Writable() bool { return f >= JPEG && f <= GIF }

// Describes reports whether the format describes the image (JSON, a
// BlurHash, a palette) rather than encoding it.
func (f Format) Describes() bool { return f >= InfoImgix && f <= PaletteCSS }

// NeedsPixels reports whether a description is worked out from the
// output's pixels; the JSON ones need the header only.
func (f Format) NeedsPixels() bool { return f == BlurHash || f == PaletteJSON || f == PaletteCSS }

// CanAnimate reports whether the format can carry several frames here.
// (libvips 8.14 writes AVIF as a single frame.)
func (f Format) CanAnimate() bool { return f == GIF || f == WEBP }

// CanAlpha reports whether the format has an alpha channel.
func (f Format) CanAlpha() bool { return f != JPEG }

// Source describes an original, as far as choosing an output needs.
type Source struct {
	Format        Format
	HasAlpha      bool
	Animated      bool
	Width, Height int // of one frame, upright
}

// family is the writable format closest to the source: the source's own
// format when imgedge can write it, else PNG for images with alpha and JPEG
// for the rest.
func (s Source) family() Format {
	switch {
	case s.Format.Writable():
		return s.Format
	case s.HasAlpha || s.Format == SVG:
		return PNG
	}
	return JPEG
}

// universal is the source's family among the formats every browser
// decodes: a WebP or AVIF source answers a browser that did not ask for
// them as GIF (animated), PNG (alpha) or JPEG.
func (s Source) universal() Format {
	switch f := s.family(); {
	case f == JPEG || f == PNG || f == GIF:
		return f
	case s.Animated:
		return GIF
	case s.HasAlpha:
		return PNG
	}
	return JPEG
}

// OutputFormat picks the format to answer with. The second result reports
// whether the choice depended on the Accept header (the answer then needs
// Vary: Accept).
//
// With f=auto the order is AVIF, then WebP, each only when Accept names it
// with a non-zero q, then the source's family among JPEG, PNG and GIF. Animated sources skip AVIF,
// which libvips 8.14 writes as a still image.
func OutputFormat(o Options, accept string, src Source) (Format, bool) {
	src.Animated = src.Animated && o.KeepsFrames(src.Width, src.Height)
	switch o.Format {
	case FormatAuto:
		acc := parseAccept(accept)
		if !src.Animated && acc.accepts("image/avif") {
			return AVIF, true
		}
		if acc.accepts("image/webp") {
			return WEBP, true
		}
		return src.universal(), true
	case FormatSource:
		return src.family(), false
	}
	return o.Format, false
}

// accept is a parsed Accept header: media range to q.
type accept map[string]float64

func parseAccept(h string) accept {
	a := accept{}
	for part := range strings.SplitSeq(h, ",") {
		typ, params, _ := strings.Cut(part, ";")
		typ = strings.ToLower(strings.TrimSpace(typ))
		if typ == "" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				} else {
					q = 0
				}
			}
		}
		if old, seen := a[typ]; !seen || q > old {
			a[typ] = q
		}
	}
	return a
}

// accepts reports whether the exact type is named with q > 0. Wildcards do
// not count: browsers send image/* and */* whether or not they decode
// AVIF or WebP, so only an explicit mention is a promise.
func (a accept) accepts(typ string) bool {
	return a[typ] > 0
}
