package imaging

import (
	"errors"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

func TestAnSVGIsPricedBeforeItIsRendered(t *testing.T) {
	plain := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="500"><rect width="1000" height="500" fill="red"/></svg>`)
	for _, c := range []struct {
		name    string
		buf     []byte
		width   int
		refused bool
	}{
		{"a blurred rectangle used 200 times", testimages.FilteredSVG(1000, 1000, 200), 1000, true},
		{"a blurred rectangle rendered 4000 px wide", testimages.FilteredSVG(4000, 4000, 0), 4000, true},
		{"a blurred rectangle rendered 1000 px wide", testimages.FilteredSVG(1000, 1000, 0), 1000, false},
		{"a blurred rectangle used 5 times, 1000 px wide", testimages.FilteredSVG(1000, 1000, 5), 1000, false},
		{"plain shapes, 4000 px wide", plain, 4000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, err := Inspect(c.buf, DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			_, err = Prepare(src, transform.Options{Width: c.width, Anchor: transform.Center}, transform.PNG, DefaultConfig())
			var e *Error
			if refused := errors.As(err, &e) && e.Kind == TooSlow; refused != c.refused {
				t.Errorf("err %v, want refused %v", err, c.refused)
			}
		})
	}
}

func TestWhatMakesAnSVGDearIsCountedWhateverItsSpelling(t *testing.T) {
	for _, c := range []struct {
		svg           string
		filters, uses int
	}{
		{`<svg><use href="#a"/><use/><use></use></svg>`, 0, 3},
		{`<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:use href="#a"/><s:filter><s:feGaussianBlur/></s:filter></s:svg>`, 1, 1},
		{`<svg><rect style="filter: blur(4px)"/><rect style="FILTER:drop-shadow(1px 1px 1px red)"/></svg>`, 4, 0},
		{`<svg><useful/><user/></svg>`, 0, 0},
	} {
		if got := svgCostOf([]byte(c.svg)); got.filters != c.filters || got.uses != c.uses {
			t.Errorf("%s: %d filters, %d uses; want %d, %d", c.svg, got.filters, got.uses, c.filters, c.uses)
		}
	}
}
