package transform

import (
	"fmt"
	"math"
)

// MaxEffectCost bounds the work of a request's effects (blur, sharpen),
// counted as output pixels times sigma squared: libvips' Gaussian blur
// grows with the square of sigma. Measured on a 2-core machine, a 2000x1250
// output takes 0.3 s at blur 10, 1.1 s at 25, 4.2 s at 50 and 135 s at 250.
// The budget, 1e9, is about a second of one core: a 2000x1250 output may
// blur up to sigma 20, a 400x300 one up to 91. Blurs wider than
// MaxBlurSigma are computed at a reduced scale (see EffectiveBlur), which is
// what makes the large sigmas of the imgix and Cloudflare vocabularies
// affordable.
const MaxEffectCost = 1e9

// MaxBlurSigma is the widest blur run at full scale; a wider one is run on
// the image shrunk by sigma/MaxBlurSigma and scaled back, which a Gaussian
// of that width cannot tell apart.
const MaxBlurSigma = 10.0

// EffectiveBlur is the sigma a blur of sigma runs at on a w x h image, and
// the factor the image is shrunk by for it (1: full scale). The shrunk
// image keeps at least two pixels a side, so a thin one may run a wider
// sigma than MaxBlurSigma.
func EffectiveBlur(sigma float64, w, h int) (effective, shrink float64) {
	shrink = min(sigma/MaxBlurSigma, float64(min(w, h))/2)
	if shrink <= 1 {
		return sigma, 1
	}
	return sigma / shrink, shrink
}

// CheckCost refuses options whose effects would cost more than
// MaxEffectCost on an output of frames frames of w x h pixels, naming the
// parameter.
func CheckCost(o Options, w, h, frames int) error {
	area := float64(max(w, 0)) * float64(max(h, 0)) * float64(max(frames, 1))
	if o.Blur > 0 {
		eff, shrink := EffectiveBlur(o.Blur, w, h)
		if cost := area / (shrink * shrink) * eff * eff; cost > MaxEffectCost {
			return &Error{Param: "blur", Msg: fmt.Sprintf("a blur of %s on %s is too expensive; at most %s at this size",
				fmtFloat(o.Blur), describe(w, h, frames), fmtFloat(maxSigma(area)))}
		}
	}
	if o.Sharpen > 0 {
		if cost := area * o.Sharpen * o.Sharpen; cost > MaxEffectCost {
			return &Error{Param: "sharpen", Msg: fmt.Sprintf("sharpening of %s on %s is too expensive; at most %s at this size",
				fmtFloat(o.Sharpen), describe(w, h, frames), fmtFloat(maxSigma(area)))}
		}
	}
	return nil
}

func describe(w, h, frames int) string {
	if frames > 1 {
		return fmt.Sprintf("%d frames of %dx%d", frames, w, h)
	}
	return fmt.Sprintf("a %dx%d output", w, h)
}

// maxSigma is the largest full-scale sigma the budget allows on area pixels,
// rounded down to one decimal.
func maxSigma(area float64) float64 {
	if area <= 0 {
		return 0
	}
	return math.Floor(math.Sqrt(MaxEffectCost/area)*10) / 10
}

// OutputSize is the size of the image the plan makes from a srcW x srcH
// source (its first page): an upper bound good enough to price the work.
func (p Plan) OutputSize(srcW, srcH int) (w, h int) {
	w, h = p.innerSize(srcW, srcH)
	if w == 0 {
		return 0, 0
	}
	return w + p.Border.Left + p.Border.Right, h + p.Border.Top + p.Border.Bottom
}

// innerSize is OutputSize without the border.
func (p Plan) innerSize(srcW, srcH int) (w, h int) {
	switch {
	case p.PadW > 0:
		return p.PadW, p.PadH
	case p.CropW > 0:
		return p.CropW, p.CropH
	case p.SmartCrop || p.Resize == ResizeForce:
		return p.BoxW, p.BoxH
	}
	return p.FitSize(srcW, srcH)
}

// FitSize is the size the thumbnail step makes of a srcW x srcH source (or
// region) when it fits it in the box (no smart crop, no force): every side
// scaled by one factor from the full-resolution size, rounded to the
// nearest pixel, as imgix and Cloudflare compute the free side. A decoder
// that shrinks on load, or a region cut on its grid, must not change it.
func (p Plan) FitSize(srcW, srcH int) (w, h int) {
	if srcW <= 0 || srcH <= 0 {
		return 0, 0
	}
	scale := 1 / p.LoadShrink(srcW, srcH)
	if p.Resize == ResizeDown {
		scale = math.Min(scale, 1)
	}
	return max(1, int(math.Round(float64(srcW)*scale))), max(1, int(math.Round(float64(srcH)*scale)))
}
