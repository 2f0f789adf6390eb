package transform

import "math"

// Unbounded stands for a free side of a thumbnail box (libvips' VIPS_MAX_COORD).
const Unbounded = 10_000_000

// Resize says how the thumbnail step treats its box.
type Resize int

// Resize modes.
const (
	ResizeBoth  Resize = iota // up or down, to fit the box
	ResizeDown                // only ever shrink
	ResizeForce               // exactly the box, aspect ratio broken
)

// Plan is the geometry of one request: a thumbnail box, then an optional
// crop or pad. It is computed from the source's size before any decoding.
type Plan struct {
	// BoxW, BoxH and Resize are handed to vips_thumbnail.
	BoxW, BoxH int
	Resize     Resize
	// SmartCrop asks vips_thumbnail itself to crop to the box around the
	// most interesting region; CropW/CropH are then zero.
	SmartCrop bool
	// CropW, CropH (when non-zero) is the region cut out of the thumbnail,
	// placed by Anchor (see CropOffset).
	CropW, CropH int
	// PadW, PadH (when non-zero) is the canvas the thumbnail is placed on,
	// by Anchor.
	PadW, PadH int
	Anchor     Anchor
	// Border is room added around the result (imgix pad), in bg.
	Border Edges
}

// NewPlan computes the plan for options o on a source whose first page,
// once EXIF orientation is applied, is srcW x srcH pixels. lim bounds the
// output even when no size is asked for.
func NewPlan(o Options, srcW, srcH int, lim Limits) Plan {
	p := Plan{Anchor: o.Anchor, Resize: ResizeDown, Border: o.Border}
	w, h := o.box(srcW, srcH, lim)
	if o.Fit == FitMin && w > 0 && h > 0 && (srcW < w || srcH < h) {
		// imgix min: never enlarge, but keep the box's shape: the
		// largest box of that shape the source holds.
		k := math.Min(float64(srcW)/float64(w), float64(srcH)/float64(h))
		w, h = max(1, int(math.Round(float64(w)*k))), max(1, int(math.Round(float64(h)*k)))
	}
	if o.Fit == FitMin {
		o.Fit = FitCrop
	}
	if w == 0 && h == 0 {
		// Re-encode only, but never answer larger than the limits.
		p.BoxW, p.BoxH = lim.MaxWidth, lim.MaxHeight
		return p
	}
	free := func(v, limit int) int {
		if v == 0 {
			return limit
		}
		return v
	}
	p.BoxW, p.BoxH = free(w, lim.MaxWidth), free(h, lim.MaxHeight)
	both := w > 0 && h > 0

	switch {
	case o.Fit == FitScaleDown, (o.Fit == FitCrop || o.Fit == FitFillMax) && !both:
		// Resize down only, box as given.
	case o.Fit == FitSqueeze && both:
		p.Resize = ResizeForce
	case (o.Fit == FitCover || o.Fit == FitCrop) && both:
		p.Resize = ResizeBoth
		if o.Fit == FitCrop {
			p.Resize = ResizeDown
		}
		if o.Smart {
			p.SmartCrop = true
			if o.Fit == FitCrop && (srcW < w || srcH < h) {
				// Too small to fill the box without enlarging: smart crop
				// what there is, to at most the box.
				p.BoxW, p.BoxH = min(w, srcW), min(h, srcH)
			}
			return p
		}
		// Scale so the image covers the box, then cut the box out.
		sx, sy := float64(w)/float64(srcW), float64(h)/float64(srcH)
		if sx >= sy {
			p.BoxW, p.BoxH = w, Unbounded
		} else {
			p.BoxW, p.BoxH = Unbounded, h
		}
		if o.Fit == FitCrop && math.Max(sx, sy) > 1 {
			p.BoxW, p.BoxH = srcW, srcH
		}
		p.CropW, p.CropH = w, h
	case (o.Fit == FitPad || o.Fit == FitFillMax) && both:
		p.Resize = ResizeBoth
		if o.Fit == FitFillMax {
			p.Resize = ResizeDown
		}
		p.PadW, p.PadH = w, h
	default:
		// contain, and the modes that need both sides given only one.
		p.Resize = ResizeBoth
	}
	return p
}

// CropOffset places a cropW x cropH window in an imgW x imgH image so that
// the anchor point stays as close to the window's centre as the image
// allows: for a focal point that centres it, and for "top" it pins the
// window to the top edge. The window is clipped to the image.
func CropOffset(imgW, imgH, cropW, cropH int, a Anchor) (left, top, w, h int) {
	w, h = min(cropW, imgW), min(cropH, imgH)
	place := func(size, win int, f float64) int {
		off := int(math.Round(f*float64(size) - float64(win)/2))
		return max(0, min(off, size-win))
	}
	return place(imgW, w, a.X), place(imgH, h, a.Y), w, h
}

// PadOffset places an imgW x imgH image on a padW x padH canvas: the anchor
// decides where the spare room goes (centre: split evenly).
func PadOffset(imgW, imgH, padW, padH int, a Anchor) (left, top int) {
	return int(math.Round(float64(padW-imgW) * a.X)), int(math.Round(float64(padH-imgH) * a.Y))
}

// LoadShrink is the factor by which the thumbnail step shrinks a srcW x
// srcH source (its oriented first page) to reach the box: for a fit inside
// the box the larger of the two sides' factors, for a box the image must
// cover (smart crop) or fill (force) the smaller. Below 1 it enlarges.
func (p Plan) LoadShrink(srcW, srcH int) float64 {
	if srcW <= 0 || srcH <= 0 || p.BoxW <= 0 || p.BoxH <= 0 {
		return 1
	}
	sx, sy := float64(srcW)/float64(p.BoxW), float64(srcH)/float64(p.BoxH)
	if p.SmartCrop || p.Resize == ResizeForce {
		return math.Min(sx, sy)
	}
	return math.Max(sx, sy)
}

// JPEGShrink is the factor, 1, 2, 4 or 8, a JPEG decoder may shrink the
// source by without going below the box: the largest power of two up to
// LoadShrink. The thumbnail step resizes the rest of the way. It never
// exceeds the source's shorter side: libvips 8.14's jpegload aborts the
// process on a shrink that leaves a side of 0 pixels (an 800x1 strip at
// w=400 would be shrunk by 2).
func (p Plan) JPEGShrink(srcW, srcH int) int {
	s := p.LoadShrink(srcW, srcH)
	for _, f := range []int{8, 4, 2} {
		if s >= float64(f) && srcW/f >= 1 && srcH/f >= 1 {
			return f
		}
	}
	return 1
}

// box is the target box (0 for a free side): w and h, or imgix ar's
// largest box of that shape in the srcW x srcH source, within max-w,
// max-h, min-w and min-h (Parse applies those itself when the box does not
// depend on the source).
func (o Options) box(srcW, srcH int, lim Limits) (w, h int) {
	w, h = o.Width, o.Height
	if o.Aspect > 0 && w == 0 && h == 0 && srcW > 0 && srcH > 0 {
		w, h = srcW, int(math.Round(float64(srcW)/o.Aspect))
		if h > srcH {
			w, h = int(math.Round(float64(srcH)*o.Aspect)), srcH
		}
		w, h = scaleBox(max(1, w), max(1, h), 1, lim)
	}
	return o.bound(w, h, lim)
}

// bound applies max-w, max-h, min-w and min-h to a box: a side over its
// maximum or under its minimum is brought to it, and a box with both
// sides set keeps its shape; a free side stays free under a minimum, and
// takes the maximum.
func (o Options) bound(w, h int, lim Limits) (int, int) {
	scale := func(k float64) {
		if w > 0 {
			w = max(1, int(math.Round(float64(w)*k)))
		}
		if h > 0 {
			h = max(1, int(math.Round(float64(h)*k)))
		}
	}
	both := w > 0 && h > 0
	if o.MaxW > 0 && (w == 0 || w > o.MaxW) {
		if both {
			scale(float64(o.MaxW) / float64(w))
		} else {
			w = o.MaxW
		}
	}
	if o.MaxH > 0 && (h == 0 || h > o.MaxH) {
		if both {
			scale(float64(o.MaxH) / float64(h))
		} else {
			h = o.MaxH
		}
	}
	if o.MinW > 0 && w > 0 && w < o.MinW {
		scale(float64(o.MinW) / float64(w))
	}
	if o.MinH > 0 && h > 0 && h < o.MinH {
		scale(float64(o.MinH) / float64(h))
	}
	return min(w, lim.MaxWidth), min(h, lim.MaxHeight)
}
