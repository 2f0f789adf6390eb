package tenant

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/imgedge/imgedge/transform"
)

// widthParams are the parameters that make the output's width: the box
// (w, h and the parameters that scale or bound it), the region of the
// source (rect, trim) and the padding on the sides.
var widthParams = []string{"w", "h", "dpr", "ar", "max-w", "max-h", "min-w", "min-h", "rect", "trim", "pad", "pad-left", "pad-right"}

// roundWidth brings the width of the output that q asks for to one of
// AllowedWidths, in q itself. own is the request's own query, without a
// preset's parameters: what a preset sets is the operator's choice, so a
// request that sets none of widthParams keeps the preset's geometry (or
// the source's own width). Otherwise the width the output will have,
// whatever parameters make it, is rounded:
//
//   - the box's width (w times dpr, within max-w and min-w, or made by ar
//     from h) is rounded up to an allowed width (the largest when above
//     them all); a height the request takes part in (h, ar, dpr, max-*,
//     min-*) is scaled by the same factor, so the box keeps its shape,
//     while a preset's height stays as the preset sets it when the request
//     gives only w; the box is written back as w and h, the rest folded in;
//   - rect without w: the region's width is the width to round. Unless the
//     image fills a box of both sides (fit=cover, pad, fillmax or squeeze
//     with w and h), the width is at most the region's, rounded down, since
//     the region is not enlarged; a region narrower than every allowed
//     width, or too tall to be that wide within the height limit, is
//     refused;
//   - what would take the width from the source's shape, which is not known
//     here, is refused: a height without a width (h, max-h, or ar alone);
//     where the image fits inside a box with a height (fit=scale-down,
//     contain, min), any width parameter of the request but w, since the
//     height (or the region's shape) would narrow the image; trim where the
//     output is not exactly the box; and padding on the sides (pad,
//     pad-left, pad-right), which would widen the output past the width.
//
// A source (or a region cut by the source's edge) narrower than the width
// is not enlarged where the fit never enlarges: the output is then as wide
// as the source, a width the request cannot choose.
func (s Settings) roundWidth(q, own url.Values, o transform.Options, lim transform.Limits) error {
	if len(s.AllowedWidths) == 0 || ownParam(own, widthParams...) == "" {
		return nil
	}
	if k := ownParam(own, "pad", "pad-left", "pad-right"); k != "" && o.Border.Left+o.Border.Right > 0 {
		return s.widthError(k, "padding on the sides would widen the output past this tenant's widths (pad-top and pad-bottom do not)")
	}
	if o.Aspect > 0 {
		if k := ownParam(own, "ar", "max-w", "max-h", "min-w", "min-h", "rect", "trim"); k != "" {
			return s.widthError(k, "without w or h, ar takes the output's width from the source: give w")
		}
		return nil
	}
	var regionW, regionH int
	if k := ownParam(own, "rect"); k != "" && o.Rect != nil {
		regionW, regionH = o.Rect.W, o.Rect.H
		if o.Rotate == 90 || o.Rotate == 270 {
			regionW, regionH = regionH, regionW // w is of the turned image
		}
	}
	w := o.Width
	if w == 0 {
		switch {
		case o.Height > 0:
			if k := ownParam(own, "h", "max-h", "min-h", "dpr", "rect", "trim"); k != "" {
				return s.widthError(k, "without w, the height takes the output's width from the source's shape: give w")
			}
			return nil
		case regionW > 0:
			w = regionW // rect alone: the region's width is the output's
		case ownParam(own, "trim") != "":
			return s.widthError(ownParam(own, "trim"), "without w, the output is as wide as the source less the trim: give w")
		default:
			return nil // no box: the source's own width
		}
	}
	fillsBox := o.Height > 0 && (o.Fit == transform.FitCover || o.Fit == transform.FitPad || o.Fit == transform.FitFillMax || o.Fit == transform.FitSqueeze)
	if o.Height > 0 && (o.Fit == transform.FitScaleDown || o.Fit == transform.FitContain || o.Fit == transform.FitMin) {
		// The image fits inside the box: the box's height, or the
		// region's shape, can make it narrower than w. Only w may change.
		if k := ownParam(own, "h", "max-h", "min-h", "ar", "dpr", "max-w", "min-w", "rect", "trim"); k != "" {
			return s.widthError(k, fmt.Sprintf("with fit=%s and a height, the height narrows the image below w: give w alone, or fit=crop, cover, pad or squeeze", o.Fit))
		}
	}
	if k := ownParam(own, "trim"); k != "" && !fillsBox {
		return s.widthError(k, "the output would be as wide as the source less the trim: give w and h with fit=cover, pad or squeeze")
	}
	rounded := roundUp(w, s.AllowedWidths, lim.MaxWidth)
	if regionW > 0 && !fillsBox {
		// The region is not enlarged: the width is at most the region's.
		if rounded > regionW {
			var ok bool
			if rounded, ok = roundDown(regionW, s.AllowedWidths, lim.MaxWidth); !ok {
				return s.widthError(ownParam(own, "rect"), fmt.Sprintf("the region is %d px wide, narrower than every width of this tenant", regionW))
			}
		}
		if o.Height == 0 && float64(regionH)*float64(rounded)/float64(regionW) > float64(lim.MaxHeight) {
			// With one side free the box is as tall as the limit: a
			// region taller than that would come out narrower than w.
			return s.widthError(ownParam(own, "rect"), fmt.Sprintf("the region is too tall to be %d px wide within the height limit of %d", rounded, lim.MaxHeight))
		}
	}
	h := o.Height
	if h > 0 && o.Width > 0 && ownParam(own, "h", "ar", "dpr", "max-w", "max-h", "min-w", "min-h") != "" {
		h = min(lim.MaxHeight, max(1, int(math.Round(float64(h)*float64(rounded)/float64(o.Width)))))
	}
	del(q, "w", "h", "dpr", "ar", "max-w", "max-h", "min-w", "min-h")
	q.Set("w", strconv.Itoa(rounded))
	if h > 0 {
		q.Set("h", strconv.Itoa(h))
	}
	return nil
}

// widthError refuses param k, listing the widths the tenant serves.
func (s Settings) widthError(k, msg string) error {
	ws := make([]string, 0, len(s.AllowedWidths))
	for _, w := range slices.Sorted(slices.Values(s.AllowedWidths)) {
		ws = append(ws, strconv.Itoa(w))
	}
	return &transform.Error{Param: k, Msg: msg + " (this tenant serves the widths " + strings.Join(ws, ", ") + ")"}
}

// ownParam is the first of names (under any alias and case) that own
// has, as own spells it, or "" when it has none.
func ownParam(own url.Values, names ...string) string {
	for _, n := range names {
		for _, k := range sortedKeys(own) {
			if sameParam(k, n) {
				return k
			}
		}
	}
	return ""
}

// roundUp is the smallest allowed width at least w, or the largest allowed
// width when w is above them all. Widths over maxWidth do not count; when
// none is left, maxWidth is the only choice.
func roundUp(w int, allowed []int, maxWidth int) int {
	best, largest := 0, 0
	for _, a := range allowed {
		if a > maxWidth {
			continue
		}
		largest = max(largest, a)
		if a >= w && (best == 0 || a < best) {
			best = a
		}
	}
	switch {
	case best > 0:
		return best
	case largest > 0:
		return largest
	}
	return maxWidth
}

// roundDown is the largest allowed width at most w (and maxWidth); false
// when every allowed width is larger.
func roundDown(w int, allowed []int, maxWidth int) (int, bool) {
	best := 0
	for _, a := range allowed {
		if a <= min(w, maxWidth) {
			best = max(best, a)
		}
	}
	return best, best > 0
}
