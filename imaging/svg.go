package imaging

import (
	"fmt"
	"regexp"
)

// An SVG is rendered by librsvg, which no kill flag stops: libvips renders
// it a strip at a time, and every strip renders the whole of each element
// it touches, so a filtered element costs its area once a strip (a blurred
// 1000 x 1000 rectangle rendered 4000 px wide takes 6 s here), and every
// <use> of it costs that again. An SVG's render is therefore priced before
// it starts, from what the bytes say, and refused past a budget that the
// measurements behind it put at about two seconds of a core.

// svgCost is what makes an SVG dear to render.
type svgCost struct {
	filters int // filter primitives (<feX>) and CSS filter functions
	uses    int // <use> elements, each a render of what it names
}

var (
	svgFilter = regexp.MustCompile(`<([A-Za-z_][\w.-]*:)?fe[A-Z]|(?i)filter\s*:|blur\(|drop-shadow\(`)
	svgUse    = regexp.MustCompile(`<([A-Za-z_][\w.-]*:)?use[\s/>]`)
)

// svgCostOf counts, generously, what an SVG's bytes ask its renderer to
// do: a namespace prefix or CSS does not hide a filter or a use.
func svgCostOf(buf []byte) svgCost {
	return svgCost{filters: len(svgFilter.FindAllIndex(buf, -1)), uses: len(svgUse.FindAllIndex(buf, -1))}
}

// svgBudget bounds an SVG's price: render width x height^2 (a strip a
// 16-pixel row, each rendering the filtered area again) x filters x
// (1 + uses). Measured here, a price of 1e10 is about a second; plain
// shapes are priced by their pixels x (1 + uses) against svgPlainBudget.
const (
	svgBudget      = 2e10
	svgPlainBudget = 1e10
)

// checkSVG refuses an SVG too dear to render w x h pixels.
func checkSVG(c svgCost, w, h int) error {
	px := float64(w) * float64(h)
	price, budget := px*float64(1+c.uses), float64(svgPlainBudget)
	if c.filters > 0 {
		price, budget = px*float64(h)*float64(c.filters)*float64(1+c.uses), svgBudget
	}
	if price > budget {
		return &Error{Kind: TooSlow, Msg: fmt.Sprintf("the SVG would take too long to render %dx%d (%d filters, %d uses): ask for a smaller size", w, h, c.filters, c.uses)}
	}
	return nil
}
