package transform

import (
	"math"
	"strings"
)

// Adjust is a colour adjustment, made after the resize, on the output's
// pixels v in 0..1:
//
//	v = ((v*Brightness + Offset) - 0.5) * Contrast + 0.5
//	v = v ^ (1 / Gamma)
//	v = luminance + (v - luminance) * Saturation (CSS's saturate())
//
// Every factor's zero value means "unchanged", so the zero Adjust is none:
// the fields hold factor - 1 (Offset is added as it is).
type Adjust struct {
	Brightness float64 // multiplier - 1: Cloudflare brightness, imgix exp
	Offset     float64 // added, in fractions of full scale: imgix bri
	Contrast   float64 // factor around mid-grey - 1: Cloudflare contrast, imgix con
	Gamma      float64 // exponent - 1 (above 0: lighter): Cloudflare gamma, imgix gam
	Saturation float64 // factor - 1 (-1: grey): Cloudflare saturation, imgix sat
}

// None reports whether the adjustment changes nothing.
func (a Adjust) None() bool { return a == Adjust{} }

// Linear is the adjustment's first step as one v*A + B.
func (a Adjust) Linear() (mul, add float64) {
	c := 1 + a.Contrast
	return (1 + a.Brightness) * c, a.Offset*c + 0.5*(1-c)
}

// adjustParams are the adjustment parameters of both vocabularies, with
// their ranges and how each maps onto Adjust. Cloudflare's are factors
// (1: unchanged; 0 is ignored, but for saturation, where it means grey);
// imgix's run -100..100 (0: unchanged).
var adjustParams = []struct {
	name   string
	lo, hi float64
	apply  func(a *Adjust, v float64)
}{
	{"brightness", 0, 10, func(a *Adjust, v float64) { a.Brightness = factor(a.Brightness, ignoreZero(v)) }},
	{"contrast", 0, 10, func(a *Adjust, v float64) { a.Contrast = factor(a.Contrast, ignoreZero(v)) }},
	{"gamma", 0, 10, func(a *Adjust, v float64) { a.Gamma = factor(a.Gamma, ignoreZero(v)) }},
	{"saturation", 0, 10, func(a *Adjust, v float64) { a.Saturation = factor(a.Saturation, v) }},
	// imgix: bri 100 is white and -100 black; exp is exposure, up to
	// two stops either way; con -100 is flat grey and 100 four times the
	// contrast; gam 100 is a gamma of 4 (lighter) and -100 of 1/4; sat
	// -100 is grey and 100 twice the saturation.
	{"bri", -100, 100, func(a *Adjust, v float64) { a.Offset = v / 100 }},
	{"exp", -100, 100, func(a *Adjust, v float64) { a.Brightness = factor(a.Brightness, math.Pow(2, 2*v/100)) }},
	{"con", -100, 100, func(a *Adjust, v float64) { a.Contrast = factor(a.Contrast, contrastOf(v)) }},
	{"gam", -100, 100, func(a *Adjust, v float64) { a.Gamma = factor(a.Gamma, math.Pow(2, 2*v/100)) }},
	{"sat", -100, 100, func(a *Adjust, v float64) { a.Saturation = factor(a.Saturation, 1+v/100) }},
}

// ignoreZero is Cloudflare's rule for brightness, contrast and gamma: 0
// leaves the image unchanged.
func ignoreZero(v float64) float64 {
	if v == 0 {
		return 1
	}
	return v
}

// factor combines a stored factor - 1 with another factor f.
func factor(stored, f float64) float64 { return (1+stored)*f - 1 }

// contrastOf maps imgix con onto a contrast factor.
func contrastOf(con float64) float64 {
	if con <= 0 {
		return 1 + con/100
	}
	return 1 + 3*con/100
}

// parseAdjust reads the adjustments, and imgix sharp and usm onto the
// sharpening (as Cloudflare's sharpen, 0..10).
func (o *Options) parseAdjust(vals map[string]string) error {
	for _, p := range adjustParams {
		v, ok := vals[p.name]
		if !ok {
			continue
		}
		f, err := parseFloat(p.name, v, p.lo, p.hi)
		if err != nil {
			return err
		}
		p.apply(&o.Adjust, f)
	}
	for _, name := range []string{"sharp", "usm"} {
		v, ok := vals[name]
		if !ok {
			continue
		}
		if _, both := vals["sharpen"]; both {
			return &Error{name, "give sharpen or " + name + ", not both"}
		}
		lo := 0.0
		if name == "usm" {
			lo = -100
		}
		f, err := parseFloat(name, v, lo, 100)
		if err != nil {
			return err
		}
		if f < 0 {
			return &Error{name, "a negative unsharp mask (softening) is not implemented: use blur"}
		}
		o.Sharpen = max(o.Sharpen, f/10)
	}
	return nil
}

// canonical is the adjustment in the canonical form: the combined
// factors, so both vocabularies' spellings of one change share a key.
func (a Adjust) canonical() string {
	if a.None() {
		return ""
	}
	var parts []string
	for _, f := range []float64{a.Brightness, a.Offset, a.Contrast, a.Gamma, a.Saturation} {
		parts = append(parts, fmtFloat(math.Round(f*1e6)/1e6))
	}
	return strings.Join(parts, ",")
}
