package transform

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The imgix and Cloudflare parameters imgedge does not implement. A
// request that names one is refused (400, naming it) rather than answered
// with an image that silently ignores it. Parameters outside both
// vocabularies are not image parameters: they go on to the origin.
var unimplemented = map[string]string{}

func init() {
	for msg, names := range map[string][]string{
		"this colour adjustment is not implemented (bri, con, exp, gam, sat are)": {
			"high", "hue", "invert", "shad", "vib", "mono", "sepia", "htn", "duotone", "duotone-alpha",
		},
		"usmrad is not implemented (usm maps onto sharpen)": {"usmrad"},
		"these text, blending and watermark options are not implemented (txt, txt-size, txt-color, txt-font, txt-align, txt-pad, txt-shad, txt-fit, txt-width, txt-clip, mark, mark-align, mark-w, mark-h, mark-scale, mark-alpha, mark-pad are)": {
			"mark-base", "mark-fit", "mark-rot", "mark-tile", "mark-x", "mark-y",
			"txt-lead", "txt-line", "txt-line-color", "txt-track", "txt-x", "txt-y",
			"blend", "blend-align", "blend-alpha", "blend-color", "blend-crop", "blend-fit", "blend-h", "blend-mode", "blend-pad", "blend-size", "blend-w", "blend-x", "blend-y",
		},
		"borders, masks and rounded corners are not implemented": {
			"border", "border-bottom", "border-color", "border-left", "border-outer-color", "border-radius", "border-radius-inner", "border-right", "border-top",
			"mask", "mask-bg", "corner-radius",
		},
		"pixellation and noise reduction are not implemented":    {"px", "nr", "nrs"},
		"this face option is not implemented":                    {"fp-z", "fp-debug", "face-zoom"},
		"automatic trimming is not implemented":                  {"trim-color", "trim-md", "trim-pad", "trim-sd", "trim-tol"},
		"this encoder setting is not implemented":                {"lossless", "cs", "chromasub", "dpi", "colorquant", "compression", "slow-connection-quality"},
		"animation controls other than anim are not implemented": {"frame", "reverse", "loop", "fps", "skip"},
		"pages of documents are not implemented":                 {"page"},
		"downloads (dl) are not implemented":                     {"dl"},
		"segmentation and generative fill are not implemented":   {"segment", "bg-remove", "bg-replace", "fill-gen-fallback", "fill-gen-negative-prompt", "fill-gen-pos", "fill-gen-prompt", "fill-gen-seed", "upscale"},
	} {
		for _, n := range names {
			unimplemented[n] = msg
		}
	}
}

// Rect is a region of the source, in pixels of its upright first page.
type Rect struct{ X, Y, W, H int }

// Edges are four lengths in pixels, one per side.
type Edges struct{ Top, Right, Bottom, Left int }

// Zero reports whether every edge is 0.
func (e Edges) Zero() bool { return e == Edges{} }

// Region is the part of a srcW x srcH source the options use (imgix
// rect, Cloudflare trim), clipped to the source; ok is false when they use
// all of it, or when nothing would be left (the caller refuses that).
func (o Options) Region(srcW, srcH int) (r Rect, ok bool, err error) {
	switch {
	case o.Rect != nil:
		r = *o.Rect
		r.W, r.H = min(r.W, srcW-r.X), min(r.H, srcH-r.Y)
	case o.Trim != nil:
		t := *o.Trim
		r = Rect{t.Left, t.Top, srcW - t.Left - t.Right, srcH - t.Top - t.Bottom}
	default:
		return Rect{}, false, nil
	}
	if r.W <= 0 || r.H <= 0 {
		return r, false, &Error{"rect", fmt.Sprintf("nothing of the %dx%d source is left to use", srcW, srcH)}
	}
	if r == (Rect{0, 0, srcW, srcH}) {
		return r, false, nil
	}
	return r, true, nil
}

// parseRotate reads rot, rotate or orient: a quarter turn (90, 180, 270,
// clockwise; 0 and 360 are none). imgix's orient takes EXIF values too;
// only its turns are implemented.
func parseRotate(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &Error{name, fmt.Sprintf("%q is not a whole number of degrees", v)}
	}
	if n%90 != 0 || n < 0 || n > 360 {
		return 0, &Error{name, fmt.Sprintf("%d: only quarter turns (90, 180, 270) are implemented", n)}
	}
	return n % 360, nil
}

// parseFlip reads flip: h, v or hv (vh).
func parseFlip(v string) (h, vert bool, err error) {
	switch strings.ToLower(v) {
	case "h":
		return true, false, nil
	case "v":
		return false, true, nil
	case "hv", "vh":
		return true, true, nil
	}
	return false, false, &Error{"flip", fmt.Sprintf("%q is not one of h, v, hv", v)}
}

// parseRect reads imgix rect=x,y,w,h in source pixels.
func parseRect(v string) (*Rect, error) {
	parts := strings.Split(v, ",")
	if len(parts) != 4 {
		return nil, &Error{"rect", fmt.Sprintf("%q is not x,y,w,h", v)}
	}
	var n [4]int
	for i, p := range parts {
		lo := 0
		if i >= 2 {
			lo = 1
		}
		x, err := parseInt("rect", strings.TrimSpace(p), lo, 1<<20)
		if err != nil {
			return nil, &Error{"rect", fmt.Sprintf("%q is not x,y,w,h in whole pixels (w and h at least 1)", v)}
		}
		n[i] = x
	}
	return &Rect{n[0], n[1], n[2], n[3]}, nil
}

// parseTrim reads Cloudflare trim=top;right;bottom;left in pixels.
// imgix's trim (auto, color) finds borders itself: not implemented.
func parseTrim(v string) (*Edges, error) {
	parts := strings.Split(v, ";")
	if len(parts) != 4 {
		if strings.EqualFold(v, "auto") || strings.EqualFold(v, "color") {
			return nil, &Error{"trim", "automatic trimming (imgix trim=auto, trim=color) is not implemented; Cloudflare's trim=top;right;bottom;left is"}
		}
		return nil, &Error{"trim", fmt.Sprintf("%q is not top;right;bottom;left in pixels", v)}
	}
	var n [4]int
	for i, p := range parts {
		x, err := parseInt("trim", strings.TrimSpace(p), 0, 1<<20)
		if err != nil {
			return nil, &Error{"trim", fmt.Sprintf("%q is not top;right;bottom;left in whole pixels", v)}
		}
		n[i] = x
	}
	return &Edges{n[0], n[1], n[2], n[3]}, nil
}

// parseAspect reads imgix ar=W:H (also W:H with decimals, or one number).
func parseAspect(v string) (float64, error) {
	bad := &Error{"ar", fmt.Sprintf("%q is not an aspect ratio W:H", v)}
	w, h, found := strings.Cut(v, ":")
	if !found {
		h = "1"
	}
	fw, err1 := strconv.ParseFloat(w, 64)
	fh, err2 := strconv.ParseFloat(h, 64)
	if err1 != nil || err2 != nil || !(fw > 0) || !(fh > 0) || math.IsInf(fw/fh, 0) {
		return 0, bad
	}
	if r := fw / fh; r >= 1.0/100 && r <= 100 {
		return r, nil
	}
	return 0, &Error{"ar", fmt.Sprintf("%q is out of range 1:100..100:1", v)}
}

// parseGravityValue reads a gravity (g, gravity, imgix crop=): a point
// XxY, or a comma list of top/bottom/left/right (the anchor), faces,
// entropy, edges, auto (a smart crop: faces aims at the detected faces
// (see Faces) and falls back to it, the directions are what imgix falls
// back to) and focalpoint (the point comes from fp-x and fp-y).
func parseGravityValue(v string) (a Anchor, smart bool, err error) {
	if strings.Contains(v, "x") && !strings.Contains(v, ",") {
		a, err = parsePoint(v)
		return a, false, err
	}
	a = Center
	for tok := range strings.SplitSeq(v, ",") {
		switch tok = strings.TrimSpace(tok); tok {
		case "faces", "face", "entropy", "edges", "auto", "smart", "attention":
			smart = true
		case "focalpoint":
		default:
			n, ok := anchorNames[tok]
			if !ok {
				return a, false, fmt.Errorf("%q is not one of center, top, bottom, left, right, faces, entropy, edges, focalpoint, auto, or a point XxY", v)
			}
			switch n {
			case anchorNames["top"], anchorNames["bottom"]:
				a.Y = n.Y
			case anchorNames["left"], anchorNames["right"]:
				a.X = n.X
			}
		}
	}
	return a, smart, nil
}

// cloudflareQuality maps Cloudflare's perceptual quality names.
var cloudflareQuality = map[string]int{"high": 90, "medium-high": 80, "medium-low": 65, "low": 50}

// parseQuality reads q: 1..100, or one of Cloudflare's names.
func parseQuality(v string) (int, error) {
	if q, ok := cloudflareQuality[strings.ToLower(v)]; ok {
		return q, nil
	}
	return parseInt("q", v, 1, 100)
}

// parseBool reads Cloudflare's true/false (also 1/0).
func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, &Error{name, fmt.Sprintf("%q is not true or false", v)}
}

// parsePad reads imgix pad (all sides) or one side's pad-*.
func parsePad(name, v string) (int, error) { return parseInt(name, v, 0, 4096) }

// Client hints, as imgix's ch= names them.
var hintNames = map[string]bool{"width": true, "dpr": true, "save-data": true, "viewport-width": true}

// parseHints reads ch=: the hints it lists, lower case.
func parseHints(v string) (map[string]bool, error) {
	set := map[string]bool{}
	for tok := range strings.SplitSeq(v, ",") {
		tok = strings.ToLower(strings.TrimSpace(tok))
		if !hintNames[tok] {
			return nil, &Error{"ch", fmt.Sprintf("%q is not a list of Width, DPR, Save-Data", v)}
		}
		set[tok] = true
	}
	return set, nil
}

// KeepsFrames reports whether an animation of srcW x srcH frames
// (upright) can keep all its frames under the options: not when only its
// first is asked for (anim=false), nor when it is turned, flipped
// top-bottom, cut to a region or given a border, which act on one frame.
// A region that is the whole frame cuts nothing.
func (o Options) KeepsFrames(srcW, srcH int) bool {
	if o.FirstFrame || o.Rotate != 0 || o.FlipV || !o.Border.Zero() {
		return false
	}
	_, cut, err := o.Region(srcW, srcH)
	return !cut && err == nil
}
