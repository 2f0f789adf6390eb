// Package transform is the plain-Go half of imgedge's image pipeline: it
// parses and canonicalises the URL parameters, negotiates the output format,
// and computes the geometry of every fit mode. It has no cgo; internal/vips
// carries the plan out.
package transform

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Fit says how the image fills the target box.
type Fit int

// Fit modes, named as Cloudflare Images names them.
const (
	FitScaleDown Fit = iota // fit inside the box, never enlarge (default)
	FitContain              // fit inside the box, enlarging if needed
	FitCover                // fill the box exactly, cropping the overflow
	FitCrop                 // like cover, but never enlarge
	FitPad                  // fit inside, then pad to the box with bg
	FitSqueeze              // stretch to the box, aspect ratio broken
	FitFillMax              // like pad, but never enlarge (imgix fillmax)
	FitMin                  // like crop, but a smaller image keeps the box's aspect ratio (imgix min)
)

var fitNames = [...]string{"scale-down", "contain", "cover", "crop", "pad", "squeeze", "fillmax", "min"}

func (f Fit) String() string { return fitNames[f] }

var fitValues = map[string]Fit{
	"scale-down": FitScaleDown, "max": FitScaleDown,
	"contain": FitContain, "clip": FitContain,
	"cover": FitCover,
	"crop":  FitCrop,
	"pad":   FitPad, "fill": FitPad,
	"squeeze": FitSqueeze, "scale": FitSqueeze,
	"fillmax":  FitFillMax,
	"min":      FitMin,
	"facearea": FitCover, // and Options.Faces.Area
}

// fitRefused are fit modes of imgix that are not implemented.
var fitRefused = map[string]string{
	"clamp": "fit=clamp (edge extension) is not implemented",
}

// Output format choices besides a concrete Format.
const (
	FormatSource Format = 0   // the source's family (no f parameter)
	FormatAuto   Format = 100 // negotiate from Accept
)

var formatValues = map[string]Format{
	"auto": FormatAuto,
	"avif": AVIF,
	"webp": WEBP,
	"jpeg": JPEG, "jpg": JPEG, "pjpg": JPEG, "baseline-jpeg": JPEG,
	"png": PNG, "png8": PNG, "png32": PNG,
	"gif": GIF,
}

// Metadata says which of the source's metadata the output keeps.
type Metadata int

// Metadata policies.
const (
	MetadataNone      Metadata = iota // strip everything; pixels are converted to sRGB
	MetadataCopyright                 // keep EXIF copyright and artist only
	MetadataKeep                      // keep everything
)

var metadataNames = [...]string{"none", "copyright", "keep"}

func (m Metadata) String() string { return metadataNames[m] }

// Anchor is a point of the image, in fractions of its width and height,
// that a crop keeps in view: (0.5, 0.5) is the centre, (0.5, 0) the top
// edge's middle. It serves gravity names and focal points alike.
type Anchor struct{ X, Y float64 }

// Named anchors.
var (
	Center      = Anchor{0.5, 0.5}
	anchorNames = map[string]Anchor{
		"center": Center, "centre": Center,
		"top": {0.5, 0}, "bottom": {0.5, 1}, "left": {0, 0.5}, "right": {1, 0.5},
		"north": {0.5, 0}, "south": {0.5, 1}, "west": {0, 0.5}, "east": {1, 0.5},
	}
)

// RGBA is a colour.
type RGBA struct{ R, G, B, A uint8 }

// White is the default background.
var White = RGBA{255, 255, 255, 255}

// Options is a parsed, validated image request. The zero value means "the
// original, re-encoded in its own family".
type Options struct {
	Width, Height int     // target box in device pixels (dpr applied); 0 = free
	Fit           Fit     // how to fill the box
	Smart         bool    // crop around the most interesting region
	Anchor        Anchor  // what a crop or pad keeps in view; Parse sets Center by default
	Quality       int     // 1..100; 0 = the format's default
	Format        Format  // FormatSource, FormatAuto or a writable format
	Blur          float64 // Gaussian blur sigma; 0 = none
	Sharpen       float64 // sharpening sigma; 0 = none
	Background    *RGBA   // for pad and for flattening alpha; nil = white
	Metadata      Metadata
	Signature     string // s=, checked elsewhere; not part of the key

	Rotate       int     // 0, 90, 180 or 270 degrees clockwise, after EXIF orientation; w and h are of the turned image
	FlipH, FlipV bool    // mirror left-right, top-bottom
	Rect         *Rect   // imgix rect: the region of the source to use
	Trim         *Edges  // Cloudflare trim: pixels cut from each side of the source
	Border       Edges   // imgix pad: room added around the image, in bg
	Aspect       float64 // imgix ar (W/H) with fit=crop or fill and no w or h: the largest box of that shape in the source
	MaxW, MaxH   int     // imgix max-w, max-h: bounds of the box (dpr applied)
	MinW, MinH   int     // imgix min-w, min-h: least box (dpr applied)
	Progressive  bool    // an interlaced JPEG (imgix fm=pjpg)
	FirstFrame   bool    // Cloudflare anim=false: the first frame of an animation only
	Adjust       Adjust  // brightness, contrast, gamma, saturation (both vocabularies)
	Mark         *Mark   // imgix watermark
	Colors       int     // imgix palette: how many dominant colours (Format PaletteJSON or PaletteCSS)
	Prefix       string  // imgix palette=css: the class names' prefix
	Faces        Faces   // what detected faces steer (crop=faces, fit=facearea, faces=1)
	Text         *Text   // imgix text overlay (txt)
	// OnErrorRedirect is Cloudflare's onerror=redirect: a source that
	// cannot be processed is answered with a redirect to it. It changes
	// no variant, so it is not part of the key.
	OnErrorRedirect bool
}

// Limits bound what a request may ask for.
type Limits struct {
	MaxWidth  int     // largest output width in pixels
	MaxHeight int     // largest output height in pixels
	MaxDPR    float64 // dpr above this is clamped
	Strict    bool    // refuse unknown parameters
}

// DefaultLimits are the limits when none are configured.
var DefaultLimits = Limits{MaxWidth: 4096, MaxHeight: 4096, MaxDPR: 3}

// Error is a refused parameter.
type Error struct {
	Param string
	Msg   string
}

func (e *Error) Error() string { return fmt.Sprintf("parameter %s: %s", e.Param, e.Msg) }

// Canonical parameter names and their aliases. Every name here is removed
// from the query before the original is fetched.
var aliases = map[string]string{
	"w": "w", "width": "w",
	"h": "h", "height": "h",
	"dpr": "dpr",
	"fit": "fit",
	"g":   "g", "gravity": "g", "crop": "g",
	"fp-x": "fp-x", "fp-y": "fp-y",
	"q": "q", "quality": "q",
	"f": "f", "fm": "f", "format": "f",
	"auto":    "auto",
	"blur":    "blur",
	"sharpen": "sharpen",
	"bg":      "bg", "background": "bg",
	"metadata": "metadata",
	"s":        "s",
	"rot":      "rot", "rotate": "rot", "orient": "rot",
	"flip": "flip",
	"rect": "rect",
	"trim": "trim",
	"ar":   "ar",
	"pad":  "pad", "pad-top": "pad-top", "pad-right": "pad-right", "pad-bottom": "pad-bottom", "pad-left": "pad-left",
	"max-w": "max-w", "max-h": "max-h", "min-w": "min-w", "min-h": "min-h",
	"fill":       "fill",
	"fill-color": "bg",
	"anim":       "anim",
	"ch":         "ch",
	"ixlib":      "ixlib", // the imgix library's version: nothing to do
	"brightness": "brightness", "contrast": "contrast", "gamma": "gamma", "saturation": "saturation",
	"bri": "bri", "con": "con", "exp": "exp", "gam": "gam", "sat": "sat",
	"sharp": "sharp", "usm": "usm",
	"palette": "palette", "colors": "colors", "prefix": "prefix",
	"onerror": "onerror",
	"mark":    "mark", "mark-align": "mark-align", "markalign": "mark-align", "mark-w": "mark-w", "mark-h": "mark-h",
	"mark-scale": "mark-scale", "mark-alpha": "mark-alpha", "mark-pad": "mark-pad",
	"facepad": "facepad", "faceindex": "faceindex", "zoom": "zoom", "faces": "faces",
	"txt": "txt", "txt-size": "txt-size", "txt-color": "txt-color", "txt-font": "txt-font", "txt-align": "txt-align",
	"txt-pad": "txt-pad", "txt-shad": "txt-shad", "txt-fit": "txt-fit", "txt-width": "txt-width", "txt-clip": "txt-clip",
}

// ParamName is the canonical name of an image parameter given under any
// alias and case ("Width" -> "w"); ok is false for other query keys.
func ParamName(key string) (name string, ok bool) {
	name, ok = aliases[strings.ToLower(key)]
	return name, ok
}

// IsImageParam reports whether a query key belongs to imgedge: one it
// implements, or one of the imgix and Cloudflare vocabularies it refuses.
func IsImageParam(key string) bool {
	if _, ok := ParamName(key); ok {
		return true
	}
	_, refused := unimplemented[strings.ToLower(key)]
	return refused
}

// HasImageParams reports whether the query asks for any image work.
func HasImageParams(q url.Values) bool {
	for k := range q {
		if IsImageParam(k) {
			return true
		}
	}
	return false
}

// SourceQuery is the query with every image parameter removed: what the
// origin is asked for.
func SourceQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if !IsImageParam(k) {
			out[k] = v
		}
	}
	return out
}

// Parse validates the image parameters of a query against the limits.
func Parse(q url.Values, lim Limits) (Options, error) {
	var o Options
	vals := map[string]string{}
	raw := map[string]string{} // canonical name -> the key as given
	for k, vs := range q {
		name, ok := aliases[strings.ToLower(k)]
		if msg, refused := unimplemented[strings.ToLower(k)]; refused {
			return o, &Error{k, msg}
		}
		if !ok {
			if lim.Strict {
				return o, &Error{k, "unknown parameter"}
			}
			continue
		}
		if len(vs) != 1 && name == "auto" {
			vs = []string{strings.Join(vs, ",")} // imgix: auto=compress&auto=format
		}
		if len(vs) != 1 {
			return o, &Error{k, "given more than once"}
		}
		if _, dup := vals[name]; dup {
			return o, &Error{k, "given more than once (under another name)"}
		}
		vals[name] = strings.TrimSpace(vs[0])
		raw[name] = k
	}

	var err error
	dpr := 1.0
	if v, ok := vals["dpr"]; ok {
		if dpr, err = parseFloat("dpr", v, 0, math.Inf(1)); err != nil {
			return o, err
		}
		if dpr == 0 {
			return o, &Error{"dpr", "must be greater than 0"}
		}
		dpr = min(dpr, lim.MaxDPR)
	}
	if v, ok := vals["fit"]; ok {
		if msg, refused := fitRefused[strings.ToLower(v)]; refused {
			return o, &Error{"fit", msg}
		}
		if o.Fit, ok = fitValues[strings.ToLower(v)]; !ok {
			return o, &Error{"fit", fmt.Sprintf("%q is not one of scale-down, contain, cover, crop, pad, squeeze (imgix: clip, crop, fill, fillmax, max, min, scale)", v)}
		}
	}
	if v, ok := vals["fill"]; ok && !strings.EqualFold(v, "solid") {
		return o, &Error{"fill", fmt.Sprintf("fill=%s is not implemented (only solid, with fill-color or bg)", v)}
	}
	var w, h int
	if v, ok := vals["w"]; ok && !strings.EqualFold(v, "auto") { // width=auto without a client hint: the source's width
		if w, err = parseInt("w", v, 1, lim.MaxWidth); err != nil {
			return o, err
		}
	}
	if v, ok := vals["h"]; ok {
		if h, err = parseInt("h", v, 1, lim.MaxHeight); err != nil {
			return o, err
		}
	}
	if v, ok := vals["ar"]; ok {
		// imgix: the aspect ratio of a crop (or of fill's frame); it
		// gives the side that is not set, or both from the source.
		r, err := parseAspect(v)
		if err != nil {
			return o, err
		}
		switch {
		case o.Fit != FitCrop && o.Fit != FitPad && o.Fit != FitMin:
			return o, &Error{"ar", "applies with fit=crop or fit=fill only (as imgix)"}
		case w > 0 && h == 0:
			h = max(1, int(math.Round(float64(w)/r)))
		case h > 0 && w == 0:
			w = max(1, int(math.Round(float64(h)*r)))
		case w == 0 && h == 0:
			o.Aspect = r
		}
		if w > lim.MaxWidth || h > lim.MaxHeight {
			return o, &Error{"ar", fmt.Sprintf("makes a %dx%d box, over the limit of %dx%d", w, h, lim.MaxWidth, lim.MaxHeight)}
		}
	}
	o.Width, o.Height = scaleBox(w, h, dpr, lim)
	for _, b := range []struct {
		name string
		dst  *int
		max  int
	}{{"max-w", &o.MaxW, lim.MaxWidth}, {"max-h", &o.MaxH, lim.MaxHeight}, {"min-w", &o.MinW, lim.MaxWidth}, {"min-h", &o.MinH, lim.MaxHeight}} {
		if v, ok := vals[b.name]; ok {
			n, err := parseInt(b.name, v, 1, b.max)
			if err != nil {
				return o, err
			}
			*b.dst = min(b.max, max(1, int(math.Round(float64(n)*dpr))))
		}
	}
	if (o.MinW > 0 || o.MinH > 0) && o.Fit != FitCrop && o.Fit != FitMin && o.Fit != FitCover {
		return o, &Error{"min-w", "min-w and min-h apply with fit=crop only (as imgix)"}
	}
	if o.Aspect == 0 {
		// The box does not depend on the source: bound it now, so that
		// the canonical form sees the box the plan will use.
		o.Width, o.Height = o.bound(o.Width, o.Height, lim)
		o.MaxW, o.MaxH, o.MinW, o.MinH = 0, 0, 0, 0
	}
	if err := o.parseGravity(vals); err != nil {
		return o, err
	}
	if v, ok := vals["q"]; ok {
		if o.Quality, err = parseQuality(v); err != nil {
			return o, err
		}
	}
	if v, ok := vals["f"]; ok {
		lv := strings.ToLower(v)
		switch {
		case lv == "json" && strings.EqualFold(raw["f"], "fm"):
			o.Format = InfoImgix // imgix's fm=json: the source's header
		case lv == "json":
			o.Format = InfoCloudflare // Cloudflare's format=json
		case lv == "blurhash":
			o.Format = BlurHash
		default:
			if o.Format, ok = formatValues[lv]; !ok {
				return o, &Error{"f", fmt.Sprintf("%q is not one of auto, avif, webp, jpeg, png, gif, json, blurhash (imgix also jpg, pjpg, png8, png32; Cloudflare baseline-jpeg)", v)}
			}
		}
		o.Progressive = lv == "pjpg"
	}
	if err := o.parseDescriptions(vals); err != nil {
		return o, err
	}
	if v, ok := vals["auto"]; ok {
		// imgix: auto=format,compress. format negotiates the output;
		// compress, without a q, is imgix's quality of 45.
		for tok := range strings.SplitSeq(strings.ToLower(v), ",") {
			switch strings.TrimSpace(tok) {
			case "format":
				if o.Format == FormatSource {
					o.Format = FormatAuto
				}
			case "compress":
				if _, hasQ := vals["q"]; !hasQ {
					o.Quality = 45
				}
			case "", "true":
			default:
				return o, &Error{"auto", fmt.Sprintf("auto=%s is not implemented (format and compress are)", strings.TrimSpace(tok))}
			}
		}
	}
	if v, ok := vals["blur"]; ok {
		if o.Blur, err = parseFloat("blur", v, 0, 250); err != nil {
			return o, err
		}
	}
	if v, ok := vals["sharpen"]; ok {
		if o.Sharpen, err = parseFloat("sharpen", v, 0, 10); err != nil {
			return o, err
		}
	}
	if err := o.parseAdjust(vals); err != nil {
		return o, err
	}
	if err := o.parseMark(vals, lim); err != nil {
		return o, err
	}
	if v, ok := vals["bg"]; ok {
		// imgix (bg, fill-color) writes the alpha first; Cloudflare's
		// background is CSS.
		parse := ImgixColor
		if strings.EqualFold(raw["bg"], "background") {
			parse = ParseColor
		}
		c, err := parse(v)
		if err != nil {
			return o, &Error{"bg", err.Error()}
		}
		o.Background = &c
	}
	if v, ok := vals["metadata"]; ok {
		switch strings.ToLower(v) {
		case "none":
			o.Metadata = MetadataNone
		case "copyright":
			o.Metadata = MetadataCopyright
		case "keep":
			o.Metadata = MetadataKeep
		default:
			return o, &Error{"metadata", fmt.Sprintf("%q is not one of none, copyright, keep", v)}
		}
	}
	if err := o.parseGeometryEdits(vals); err != nil {
		return o, err
	}
	if v, ok := vals["anim"]; ok {
		anim, err := parseBool("anim", v)
		if err != nil {
			return o, err
		}
		o.FirstFrame = !anim
	}
	if v, ok := vals["ch"]; ok {
		if _, err := parseHints(v); err != nil {
			return o, err
		}
	}
	o.Signature = vals["s"]
	if err := o.parseFaces(vals); err != nil {
		return o, err
	}
	if err := o.parseText(vals, lim); err != nil {
		return o, err
	}
	return o, nil
}

// parseGeometryEdits reads the turns, mirrors, source regions and padding.
func (o *Options) parseGeometryEdits(vals map[string]string) error {
	var err error
	if v, ok := vals["rot"]; ok {
		if o.Rotate, err = parseRotate("rot", v); err != nil {
			return err
		}
	}
	if v, ok := vals["flip"]; ok {
		if o.FlipH, o.FlipV, err = parseFlip(v); err != nil {
			return err
		}
	}
	if v, ok := vals["rect"]; ok {
		if o.Rect, err = parseRect(v); err != nil {
			return err
		}
	}
	if v, ok := vals["trim"]; ok {
		if o.Rect != nil {
			return &Error{"trim", "cannot be combined with rect"}
		}
		if o.Trim, err = parseTrim(v); err != nil {
			return err
		}
	}
	if v, ok := vals["pad"]; ok {
		n, err := parsePad("pad", v)
		if err != nil {
			return err
		}
		o.Border = Edges{n, n, n, n}
	}
	for _, side := range []struct {
		name string
		dst  *int
	}{{"pad-top", &o.Border.Top}, {"pad-right", &o.Border.Right}, {"pad-bottom", &o.Border.Bottom}, {"pad-left", &o.Border.Left}} {
		if v, ok := vals[side.name]; ok {
			if *side.dst, err = parsePad(side.name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// scaleBox applies dpr to the requested box and shrinks it, keeping its
// aspect ratio, until it fits the output limits.
func scaleBox(w, h int, dpr float64, lim Limits) (int, int) {
	sw, sh := float64(w)*dpr, float64(h)*dpr
	k := 1.0
	if sw > float64(lim.MaxWidth) {
		k = float64(lim.MaxWidth) / sw
	}
	if sh > float64(lim.MaxHeight) {
		k = min(k, float64(lim.MaxHeight)/sh)
	}
	round := func(v float64) int {
		if v == 0 {
			return 0
		}
		return max(1, int(math.Round(v*k)))
	}
	return round(sw), round(sh)
}

func (o *Options) parseGravity(vals map[string]string) error {
	o.Anchor = Center
	fx, hasX := vals["fp-x"]
	fy, hasY := vals["fp-y"]
	if v, ok := vals["g"]; ok {
		a, smart, err := parseGravityValue(strings.ToLower(v))
		if err != nil {
			return &Error{"g", err.Error()}
		}
		o.Anchor, o.Smart = a, smart
	}
	if hasX || hasY {
		if o.Smart {
			name := "fp-x"
			if !hasX {
				name = "fp-y"
			}
			return &Error{name, "a focal point cannot be combined with smart cropping"}
		}
		var err error
		if hasX {
			if o.Anchor.X, err = parseFloat("fp-x", fx, 0, 1); err != nil {
				return err
			}
		}
		if hasY {
			if o.Anchor.Y, err = parseFloat("fp-y", fy, 0, 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// parsePoint reads a point "0.25x0.75" as Cloudflare writes a gravity.
func parsePoint(v string) (Anchor, error) {
	x, y, _ := strings.Cut(v, "x")
	fx, errX := strconv.ParseFloat(x, 64)
	fy, errY := strconv.ParseFloat(y, 64)
	if errX != nil || errY != nil || !(fx >= 0 && fx <= 1 && fy >= 0 && fy <= 1) {
		return Anchor{}, fmt.Errorf("%q is not a point XxY with X and Y from 0 to 1", v)
	}
	return Anchor{fx, fy}, nil
}

// ParseColor reads a colour as CSS hex (#rgb, #rgba, #rrggbb, #rrggbbaa,
// with or without '#') or one of white, black, transparent.
func ParseColor(v string) (RGBA, error) {
	switch strings.ToLower(v) {
	case "white":
		return RGBA{255, 255, 255, 255}, nil
	case "black":
		return RGBA{0, 0, 0, 255}, nil
	case "transparent":
		return RGBA{0, 0, 0, 0}, nil
	}
	s := strings.TrimPrefix(v, "#")
	if len(s) == 3 || len(s) == 4 {
		var b strings.Builder
		for _, c := range s {
			b.WriteRune(c)
			b.WriteRune(c)
		}
		s = b.String()
	}
	if len(s) == 6 {
		s += "ff"
	}
	n, err := strconv.ParseUint(s, 16, 32)
	if len(s) != 8 || err != nil {
		return RGBA{}, fmt.Errorf("%q is not a colour (#rrggbb, #rrggbbaa, #rgb, white, black, transparent)", v)
	}
	return RGBA{uint8(n >> 24), uint8(n >> 16), uint8(n >> 8), uint8(n)}, nil
}

// ImgixColor reads a colour as imgix writes them: hex with 3, 4, 6 or 8
// digits, the alpha first in 4 and 8 (ARGB: 80ff0000 is half-transparent
// red), or one of the names ParseColor knows.
func ImgixColor(v string) (RGBA, error) {
	c, err := ParseColor(v)
	if err != nil {
		return c, fmt.Errorf("%q is not a colour (rrggbb; aarrggbb, the alpha first; rgb; argb; white, black, transparent)", v)
	}
	if h := strings.TrimPrefix(v, "#"); len(h) == 4 || len(h) == 8 {
		c = RGBA{c.G, c.B, c.A, c.R} // read as RGBA, written as ARGB
	}
	return c, err
}

func parseInt(name, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &Error{name, fmt.Sprintf("%q is not a whole number", v)}
	}
	if n < lo || n > hi {
		return 0, &Error{name, fmt.Sprintf("%d is out of range %d..%d", n, lo, hi)}
	}
	return n, nil
}

func parseFloat(name, v string, lo, hi float64) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) {
		return 0, &Error{name, fmt.Sprintf("%q is not a number", v)}
	}
	if f < lo || f > hi {
		return 0, &Error{name, fmt.Sprintf("%s is out of range %g..%g", v, lo, hi)}
	}
	return f, nil
}

// Crops reports whether the options cut part of the image away.
func (o Options) Crops() bool {
	return (o.Fit == FitCover || o.Fit == FitCrop || o.Fit == FitMin) && ((o.Width > 0 && o.Height > 0) || o.Aspect > 0)
}

// Canonical is the options as one normalised string: parameter order,
// aliases, dpr and defaults that change nothing all collapse, so requests
// that must produce the same bytes produce the same string. The output
// format is not part of it (see OutputFormat); neither is the signature.
func (o Options) Canonical() string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	if o.Width > 0 {
		add("w", strconv.Itoa(o.Width))
	}
	if o.Height > 0 {
		add("h", strconv.Itoa(o.Height))
	}
	fit := o.Fit
	if (o.Width == 0 || o.Height == 0) && o.Aspect == 0 {
		// With one side free, cover and crop cannot crop, pad has nothing
		// to pad and squeeze nothing to stretch.
		switch fit {
		case FitCover, FitPad, FitSqueeze:
			fit = FitContain
		case FitCrop, FitMin, FitFillMax:
			fit = FitScaleDown
		}
	}
	if o.Width == 0 && o.Height == 0 && o.Aspect == 0 {
		fit = FitScaleDown
	}
	if o.Aspect > 0 {
		add("ar", fmtFloat(o.Aspect))
	}
	for _, b := range []struct {
		name string
		v    int
	}{{"max-w", o.MaxW}, {"max-h", o.MaxH}, {"min-w", o.MinW}, {"min-h", o.MinH}} {
		if b.v > 0 {
			add(b.name, strconv.Itoa(b.v))
		}
	}
	if fit != FitScaleDown {
		add("fit", o.Faces.fitName(fit))
	}
	if o.Crops() {
		if o.Faces.Crop {
			add("g", "faces")
		} else if o.Smart {
			add("g", "smart")
		} else if o.Anchor != Center {
			add("g", fmtFloat(o.Anchor.X)+"x"+fmtFloat(o.Anchor.Y))
		}
	}
	if (fit == FitPad || fit == FitFillMax) && o.Anchor != Center {
		add("g", fmtFloat(o.Anchor.X)+"x"+fmtFloat(o.Anchor.Y))
	}
	if o.Quality > 0 {
		add("q", strconv.Itoa(o.Quality))
	}
	if o.Blur > 0 {
		add("blur", fmtFloat(o.Blur))
	}
	if o.Sharpen > 0 {
		add("sharpen", fmtFloat(o.Sharpen))
	}
	if adj := o.Adjust.canonical(); adj != "" {
		add("adj", adj)
	}
	if o.Mark != nil {
		add("mark", o.Mark.canonical())
	}
	if c := o.Background; c != nil && *c != White {
		add("bg", fmt.Sprintf("%02x%02x%02x%02x", c.A, c.R, c.G, c.B)) // ARGB, as ImgixColor reads it
	}
	if o.Metadata != MetadataNone {
		add("metadata", o.Metadata.String())
	}
	if o.Rotate != 0 {
		add("rot", strconv.Itoa(o.Rotate))
	}
	if o.FlipH || o.FlipV {
		add("flip", map[[2]bool]string{{true, false}: "h", {false, true}: "v", {true, true}: "hv"}[[2]bool{o.FlipH, o.FlipV}])
	}
	if r := o.Rect; r != nil {
		add("rect", fmt.Sprintf("%d,%d,%d,%d", r.X, r.Y, r.W, r.H))
	}
	if t := o.Trim; t != nil && !t.Zero() {
		add("trim", fmt.Sprintf("%d%%3B%d%%3B%d%%3B%d", t.Top, t.Right, t.Bottom, t.Left))
	}
	for _, side := range []struct {
		name string
		v    int
	}{{"pad-top", o.Border.Top}, {"pad-right", o.Border.Right}, {"pad-bottom", o.Border.Bottom}, {"pad-left", o.Border.Left}} {
		if side.v > 0 {
			add(side.name, strconv.Itoa(side.v))
		}
	}
	if o.Progressive {
		add("f", "pjpg") // the output format is keyed apart; interlacing is not
	}
	if o.FirstFrame {
		add("anim", "false")
	}
	if o.Format == PaletteJSON || o.Format == PaletteCSS {
		add("colors", strconv.Itoa(o.Colors))
		if o.Format == PaletteCSS {
			add("prefix", o.Prefix)
		}
	}
	o.Faces.canonical(add)
	if o.Text != nil {
		o.Text.canonical(add)
	}
	return b.String()
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
