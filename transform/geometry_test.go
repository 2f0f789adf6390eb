package transform

import (
	"fmt"
	"math"
	"net/url"
	"testing"
)

// rendered is what the pipeline makes of a plan: the final size, and where
// the image's own pixels lie on it (they fill it unless the plan pads).
type rendered struct {
	W, H                   int
	ImgX, ImgY, ImgW, ImgH int
}

func (r rendered) String() string {
	if r.ImgX == 0 && r.ImgY == 0 && r.ImgW == r.W && r.ImgH == r.H {
		return fmt.Sprintf("%dx%d", r.W, r.H)
	}
	return fmt.Sprintf("%dx%d with the image %dx%d at left=%d top=%d", r.W, r.H, r.ImgW, r.ImgH, r.ImgX, r.ImgY)
}

func filled(w, h int) rendered { return rendered{W: w, H: h, ImgW: w, ImgH: h} }

// thumbnail simulates vips_thumbnail on a srcW x srcH image with the plan's
// box: without a crop it scales so the image fits the box, with a smart crop
// so it covers the box and then cuts the box out; Down never enlarges,
// Force gives exactly the box.
func thumbnail(p Plan, srcW, srcH int) (w, h int) {
	if p.Resize == ResizeForce {
		return p.BoxW, p.BoxH
	}
	hs := float64(srcW) / float64(p.BoxW)
	vs := float64(srcH) / float64(p.BoxH)
	shrink := max(hs, vs)
	if p.SmartCrop {
		shrink = min(hs, vs)
	}
	if p.Resize == ResizeDown {
		shrink = max(shrink, 1)
	}
	w = max(1, int(math.Round(float64(srcW)/shrink)))
	h = max(1, int(math.Round(float64(srcH)/shrink)))
	if p.SmartCrop {
		w, h = min(w, p.BoxW), min(h, p.BoxH)
	}
	return w, h
}

// render carries a plan out as the imaging pipeline does: thumbnail, then
// crop when CropW is set, then pad when PadW is set.
func render(p Plan, srcW, srcH int) rendered {
	w, h := thumbnail(p, srcW, srcH)
	if p.CropW != 0 && !p.SmartCrop {
		_, _, w, h = CropOffset(w, h, p.CropW, p.CropH, p.Anchor)
	}
	if p.PadW != 0 {
		x, y := PadOffset(w, h, p.PadW, p.PadH, p.Anchor)
		return rendered{W: p.PadW, H: p.PadH, ImgX: x, ImgY: y, ImgW: w, ImgH: h}
	}
	return filled(w, h)
}

func TestNewPlanGivesTheExpectedOutputSize(t *testing.T) {
	tests := []struct {
		name       string
		query      string
		srcW, srcH int
		want       rendered
	}{
		{"no size keeps an 800x600 original as it is", "", 800, 600, filled(800, 600)},
		{"no size bounds an 8000x6000 original by 4096x4096", "", 8000, 6000, filled(4096, 3072)},
		{"no size bounds a tall original by the height limit", "", 3000, 9000, filled(1365, 4096)},

		{"w=400 scales 800x600 down to 400x300", "w=400", 800, 600, filled(400, 300)},
		{"h=300 scales 800x600 down to 400x300", "h=300", 800, 600, filled(400, 300)},
		{"w=200 at dpr 2 is w=400", "w=200&dpr=2", 800, 600, filled(400, 300)},
		{"scale-down fits a 400x400 box inside", "w=400&h=400", 800, 600, filled(400, 300)},
		{"scale-down never enlarges a width", "w=1600", 800, 600, filled(800, 600)},
		{"scale-down never enlarges a box", "w=1600&h=1600&fit=scale-down", 800, 600, filled(800, 600)},

		{"contain enlarges to w=1600", "w=1600&fit=contain", 800, 600, filled(1600, 1200)},
		{"contain enlarges to h=1200", "h=1200&fit=contain", 800, 600, filled(1600, 1200)},
		{"contain fits a 400x100 box by its height", "w=400&h=100&fit=contain", 800, 600, filled(133, 100)},
		{"contain fits a 400x400 box by its width", "w=400&h=400&fit=contain", 800, 600, filled(400, 300)},

		{"cover fills a 400x400 box", "w=400&h=400&fit=cover", 800, 600, filled(400, 400)},
		{"cover enlarges to fill a 1600x400 box", "w=1600&h=400&fit=cover", 800, 600, filled(1600, 400)},
		{"cover enlarges to fill a 400x1600 box", "w=400&h=1600&fit=cover", 800, 600, filled(400, 1600)},
		{"cover with only a width is contain", "w=400&fit=cover", 800, 600, filled(400, 300)},
		{"cover with only a height is contain", "h=300&fit=cover", 800, 600, filled(400, 300)},
		{"smart cover fills a 400x400 box", "w=400&h=400&fit=cover&g=auto", 800, 600, filled(400, 400)},
		{"smart cover enlarges to fill a 1600x400 box", "w=1600&h=400&fit=cover&g=auto", 800, 600, filled(1600, 400)},
		{"smart cover with only a width is contain", "w=400&fit=cover&g=auto", 800, 600, filled(400, 300)},

		{"crop fills a 400x400 box", "w=400&h=400&fit=crop", 800, 600, filled(400, 400)},
		{"crop never enlarges: a 1600x400 box keeps 800x400", "w=1600&h=400&fit=crop", 800, 600, filled(800, 400)},
		{"crop of a box larger than the image is the image", "w=1600&h=1600&fit=crop", 800, 600, filled(800, 600)},
		{"crop with only a width is scale-down", "w=400&fit=crop", 800, 600, filled(400, 300)},
		{"crop with only a large width never enlarges", "w=1600&fit=crop", 800, 600, filled(800, 600)},
		{"smart crop fills a 400x400 box", "w=400&h=400&fit=crop&g=auto", 800, 600, filled(400, 400)},
		{"smart crop never enlarges: a 1600x400 box keeps 800x400", "w=1600&h=400&fit=crop&g=auto", 800, 600, filled(800, 400)},
		{"smart crop of a box larger than the image is the image", "w=1600&h=1600&fit=crop&g=auto", 800, 600, filled(800, 600)},

		{"pad centres a 400x300 image in a 400x400 box", "w=400&h=400&fit=pad", 800, 600,
			rendered{W: 400, H: 400, ImgX: 0, ImgY: 50, ImgW: 400, ImgH: 300}},
		{"pad with g=top puts the image at the top", "w=400&h=400&fit=pad&g=top", 800, 600,
			rendered{W: 400, H: 400, ImgX: 0, ImgY: 0, ImgW: 400, ImgH: 300}},
		{"pad with g=bottom puts the image at the bottom", "w=400&h=400&fit=pad&g=bottom", 800, 600,
			rendered{W: 400, H: 400, ImgX: 0, ImgY: 100, ImgW: 400, ImgH: 300}},
		{"pad centres a 400x300 image in a 1600x300 box", "w=1600&h=300&fit=pad", 800, 600,
			rendered{W: 1600, H: 300, ImgX: 600, ImgY: 0, ImgW: 400, ImgH: 300}},
		{"pad with g=left puts the image at the left", "w=1600&h=300&fit=pad&g=left", 800, 600,
			rendered{W: 1600, H: 300, ImgX: 0, ImgY: 0, ImgW: 400, ImgH: 300}},
		{"pad enlarges to fit before padding", "w=1600&h=1600&fit=pad", 800, 600,
			rendered{W: 1600, H: 1600, ImgX: 0, ImgY: 200, ImgW: 1600, ImgH: 1200}},
		{"pad with only a width is contain", "w=400&fit=pad", 800, 600, filled(400, 300)},

		{"squeeze stretches to a 400x400 box", "w=400&h=400&fit=squeeze", 800, 600, filled(400, 400)},
		{"squeeze stretches to a 1600x100 box", "w=1600&h=100&fit=squeeze", 800, 600, filled(1600, 100)},
		{"squeeze with only a width is contain", "w=400&fit=squeeze", 800, 600, filled(400, 300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustParse(t, tt.query)
			p := NewPlan(o, tt.srcW, tt.srcH, DefaultLimits)
			if got := render(p, tt.srcW, tt.srcH); got != tt.want {
				t.Errorf("%q on %dx%d gives %v, want %v (plan %+v)", tt.query, tt.srcW, tt.srcH, got, tt.want, p)
			}
		})
	}
}

func TestNewPlanWithoutASizeIsBoundedAndNeverEnlarges(t *testing.T) {
	for _, src := range [][2]int{{800, 600}, {8000, 6000}} {
		t.Run(fmt.Sprintf("a %dx%d original is re-encoded within the limits", src[0], src[1]), func(t *testing.T) {
			p := NewPlan(mustParse(t, "q=80"), src[0], src[1], DefaultLimits)
			want := Plan{BoxW: 4096, BoxH: 4096, Resize: ResizeDown, Anchor: Center}
			if p != want {
				t.Errorf("plan = %+v, want %+v", p, want)
			}
		})
	}
}

func TestNewPlanKeepsTheAnchoredRegion(t *testing.T) {
	// 800x600 covered to 300x300 is a 400x300 thumbnail with 100 columns to
	// spare; covered to 400x100 a 400x300 thumbnail with 200 rows to spare.
	tests := []struct {
		name      string
		query     string
		left, top int
	}{
		{"cover keeps the centre columns", "w=300&h=300&fit=cover", 50, 0},
		{"cover with g=left keeps the left edge", "w=300&h=300&fit=cover&g=left", 0, 0},
		{"cover with g=right keeps the right edge", "w=300&h=300&fit=cover&g=right", 100, 0},
		{"cover centres a focal point that has room", "w=300&h=300&fit=cover&fp-x=0.4", 10, 0},
		{"cover clamps a focal point near the left edge", "w=300&h=300&fit=cover&fp-x=0.1", 0, 0},
		{"cover clamps a focal point near the right edge", "w=300&h=300&fit=cover&fp-x=0.9", 100, 0},
		{"cover keeps the centre rows", "w=400&h=100&fit=cover", 0, 100},
		{"cover with g=top keeps the top edge", "w=400&h=100&fit=cover&g=top", 0, 0},
		{"cover with g=bottom keeps the bottom edge", "w=400&h=100&fit=cover&gravity=bottom", 0, 200},
		{"cover centres a focal y that has room", "w=400&h=100&fit=cover&fp-y=0.4", 0, 70},
		{"cover with a point gravity centres it", "w=400&h=100&fit=cover&g=0.5x0.6", 0, 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPlan(mustParse(t, tt.query), 800, 600, DefaultLimits)
			tw, th := thumbnail(p, 800, 600)
			left, top, _, _ := CropOffset(tw, th, p.CropW, p.CropH, p.Anchor)
			if left != tt.left || top != tt.top {
				t.Errorf("%q crops at left=%d top=%d of a %dx%d thumbnail, want left=%d top=%d", tt.query, left, top, tw, th, tt.left, tt.top)
			}
		})
	}
}

func TestNewPlanStaysWithinTheLimits(t *testing.T) {
	sources := [][2]int{{800, 600}, {300, 6000}, {6000, 300}, {100, 100}, {20000, 20000}}
	queries := []string{"", "w=400", "h=400", "w=400&h=400", "w=4096&h=4096", "w=4096", "h=4096", "w=1&h=4096", "w=4096&h=1"}
	fits := []string{"scale-down", "contain", "cover", "crop", "pad", "squeeze"}
	for _, src := range sources {
		for _, q := range queries {
			for _, fit := range fits {
				for _, g := range []string{"", "&g=auto"} {
					raw := q + "&fit=" + fit + g
					t.Run(fmt.Sprintf("%s on %dx%d stays within 4096x4096", raw, src[0], src[1]), func(t *testing.T) {
						p := NewPlan(mustParse(t, raw), src[0], src[1], DefaultLimits)
						got := render(p, src[0], src[1])
						if got.W < 1 || got.H < 1 || got.W > 4096 || got.H > 4096 {
							t.Errorf("gives %v, want each side from 1 to 4096 (plan %+v)", got, p)
						}
					})
				}
			}
		}
	}
}

func TestNewPlanAgreesWithCanonical(t *testing.T) {
	// Requests that share a cache key must produce the same image.
	groups := [][]string{
		{"w=400&fit=contain", "w=400&fit=cover", "w=400&fit=pad", "w=400&fit=squeeze", "w=400&fit=cover&g=auto"},
		{"h=400&fit=contain", "h=400&fit=cover", "h=400&fit=pad", "h=400&fit=squeeze", "h=400&fit=cover&g=auto"},
		{"w=400", "w=400&fit=crop", "w=400&fit=crop&g=auto"},
		{"h=400", "h=400&fit=crop", "h=400&fit=crop&g=auto"},
		{"w=400&h=400", "w=400&h=400&g=top", "w=400&h=400&g=auto"},
		{"", "fit=cover", "fit=contain", "fit=pad", "fit=squeeze", "fit=crop&g=auto"},
	}
	sources := [][2]int{{800, 600}, {300, 6000}, {6000, 300}}
	for _, group := range groups {
		for _, src := range sources {
			t.Run(fmt.Sprintf("%q on %dx%d give the same image", group, src[0], src[1]), func(t *testing.T) {
				first := mustParse(t, group[0])
				want := render(NewPlan(first, src[0], src[1], DefaultLimits), src[0], src[1])
				for _, raw := range group[1:] {
					o := mustParse(t, raw)
					if o.Canonical() != first.Canonical() {
						t.Fatalf("Canonical(%q) = %q, Canonical(%q) = %q: the test expects one key", raw, o.Canonical(), group[0], first.Canonical())
					}
					p := NewPlan(o, src[0], src[1], DefaultLimits)
					if got := render(p, src[0], src[1]); got != want {
						t.Errorf("%q gives %v, %q gives %v under the same key %q (plan %+v)", raw, got, group[0], want, o.Canonical(), p)
					}
				}
			})
		}
	}
}

func TestCropOffset(t *testing.T) {
	tests := []struct {
		name                   string
		imgW, imgH, winW, winH int
		a                      Anchor
		left, top, w, h        int
	}{
		{"the centre centres the window", 800, 600, 400, 400, Center, 200, 100, 400, 400},
		{"top pins the window to the top edge", 800, 600, 400, 400, Anchor{0.5, 0}, 200, 0, 400, 400},
		{"bottom pins the window to the bottom edge", 800, 600, 400, 400, Anchor{0.5, 1}, 200, 200, 400, 400},
		{"left pins the window to the left edge", 800, 600, 400, 400, Anchor{0, 0.5}, 0, 100, 400, 400},
		{"right pins the window to the right edge", 800, 600, 400, 400, Anchor{1, 0.5}, 400, 100, 400, 400},
		{"top-left pins the window to the corner", 800, 600, 400, 400, Anchor{0, 0}, 0, 0, 400, 400},
		{"bottom-right pins the window to the far corner", 800, 600, 400, 400, Anchor{1, 1}, 400, 200, 400, 400},
		{"a focal point with room is centred", 1000, 1000, 200, 200, Anchor{0.3, 0.6}, 200, 500, 200, 200},
		{"a focal point near the left edge clamps to it", 1000, 1000, 200, 200, Anchor{0.05, 0.5}, 0, 400, 200, 200},
		{"a focal point near the right edge clamps to it", 1000, 1000, 200, 200, Anchor{0.95, 0.5}, 800, 400, 200, 200},
		{"a focal point near the top edge clamps to it", 1000, 1000, 200, 200, Anchor{0.5, 0.02}, 400, 0, 200, 200},
		{"a focal point near the bottom edge clamps to it", 1000, 1000, 200, 200, Anchor{0.5, 0.98}, 400, 800, 200, 200},
		{"a window as large as the image is the image", 800, 600, 800, 600, Anchor{0.9, 0.1}, 0, 0, 800, 600},
		{"a window wider than the image is clipped to its width", 800, 600, 1600, 400, Center, 0, 100, 800, 400},
		{"a window taller than the image is clipped to its height", 800, 600, 400, 1200, Anchor{0, 1}, 0, 0, 400, 600},
		{"a window larger than the image both ways is the image", 800, 600, 1600, 1200, Center, 0, 0, 800, 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			left, top, w, h := CropOffset(tt.imgW, tt.imgH, tt.winW, tt.winH, tt.a)
			if left != tt.left || top != tt.top || w != tt.w || h != tt.h {
				t.Errorf("CropOffset(%d, %d, %d, %d, %v) = %d, %d, %d, %d, want %d, %d, %d, %d",
					tt.imgW, tt.imgH, tt.winW, tt.winH, tt.a, left, top, w, h, tt.left, tt.top, tt.w, tt.h)
			}
			if left < 0 || top < 0 || left+w > tt.imgW || top+h > tt.imgH {
				t.Errorf("window %dx%d at %d,%d leaves the %dx%d image", w, h, left, top, tt.imgW, tt.imgH)
			}
		})
	}
}

func TestPadOffset(t *testing.T) {
	tests := []struct {
		name                   string
		imgW, imgH, padW, padH int
		a                      Anchor
		left, top              int
	}{
		{"the centre splits the spare rows evenly", 400, 300, 400, 400, Center, 0, 50},
		{"the centre splits the spare columns evenly", 300, 400, 400, 400, Center, 50, 0},
		{"top puts the image at the top", 400, 300, 400, 400, Anchor{0.5, 0}, 0, 0},
		{"bottom puts the image at the bottom", 400, 300, 400, 400, Anchor{0.5, 1}, 0, 100},
		{"left puts the image at the left", 300, 300, 400, 400, Anchor{0, 0.5}, 0, 50},
		{"right puts the image at the right", 300, 300, 400, 400, Anchor{1, 0.5}, 100, 50},
		{"bottom-right puts the image in the far corner", 300, 300, 400, 400, Anchor{1, 1}, 100, 100},
		{"a point shares the spare room in its proportion", 200, 200, 400, 400, Anchor{0.25, 0.75}, 50, 150},
		{"an image that fills the canvas sits at the origin", 400, 400, 400, 400, Anchor{1, 1}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			left, top := PadOffset(tt.imgW, tt.imgH, tt.padW, tt.padH, tt.a)
			if left != tt.left || top != tt.top {
				t.Errorf("PadOffset(%d, %d, %d, %d, %v) = %d, %d, want %d, %d",
					tt.imgW, tt.imgH, tt.padW, tt.padH, tt.a, left, top, tt.left, tt.top)
			}
		})
	}
}

func TestJPEGShrinkNeverGoesBelowTheBox(t *testing.T) {
	lim := Limits{MaxWidth: 4096, MaxHeight: 4096, MaxDPR: 3}
	tests := []struct {
		query      string
		srcW, srcH int
		want       int
	}{
		{"w=400", 2560, 1600, 4},                         // 6.4: a JPEG decodes at a quarter, 640x400
		{"w=320", 2560, 1600, 8},                         // exactly 8
		{"w=321", 2560, 1600, 4},                         // just short of 8
		{"w=1280", 2560, 1600, 2},                        // exactly 2
		{"w=1281", 2560, 1600, 1},                        // short of 2: vips_thumbnail decides
		{"w=4000", 2560, 1600, 1},                        // enlarging
		{"h=100", 2560, 1600, 16 / 2},                    // 16, capped at 8
		{"w=400&h=400&fit=cover&smart=1", 2560, 1600, 4}, // covers 400x400: 4
		{"w=400&h=400&fit=cover", 2560, 1600, 4},         // covers via the crop box: 1600/400
		{"w=400&h=100&fit=squeeze", 2560, 1600, 4},       // force: the smaller factor, 6.4
		{"w=400&h=400&fit=pad", 2560, 1600, 4},           // fits 400x250 on the canvas
		{"w=400", 800, 1, 1},                             // a 1 px strip: no side may shrink to 0
		{"w=400", 4000, 5, 4},                            // 5/8 would be 0
		{"h=300", 3, 3000, 2},                            // 3/4 would be 0
		{"w=100", 10000, 2, 2},                           // at most the shorter side
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		o, err := Parse(q, lim)
		if err != nil {
			t.Fatal(tt.query, err)
		}
		p := NewPlan(o, tt.srcW, tt.srcH, lim)
		if got := p.JPEGShrink(tt.srcW, tt.srcH); got != tt.want {
			t.Errorf("%s on %dx%d: shrink %d, want %d (plan %+v)", tt.query, tt.srcW, tt.srcH, got, tt.want, p)
		}
		// Decoded at that factor, the source still covers what the
		// thumbnail step makes of it: nothing is enlarged back.
		f := p.JPEGShrink(tt.srcW, tt.srcH)
		sw, sh := (tt.srcW+f-1)/f, (tt.srcH+f-1)/f
		tw, th := thumbnail(p, tt.srcW, tt.srcH)
		if p.Resize != ResizeForce && !p.SmartCrop && (sw < tw || sh < th) && f > 1 {
			t.Errorf("%s: decoded at %dx%d, below the thumbnail's %dx%d", tt.query, sw, sh, tw, th)
		}
	}
}

// max-w, max-h, min-w and min-h become the box itself where it does not
// depend on the source, so the canonical form tells apart what the plan
// tells apart; a free side stays free under a minimum.
func TestBoundsAreTheBox(t *testing.T) {
	parse := func(query string) Options {
		t.Helper()
		q, _ := url.ParseQuery(query)
		o, err := Parse(q, DefaultLimits)
		if err != nil {
			t.Fatal(query, err)
		}
		return o
	}
	distinct := []string{"max-w=50&max-h=50&fit=crop", "max-w=50&max-h=50", "max-w=50&max-h=50&fit=pad", "h=100&max-w=50&fit=crop", "h=100&max-w=50", "max-w=50&max-h=50&fit=crop&g=top"}
	seen := map[string]string{}
	for _, q := range distinct {
		c := parse(q).Canonical()
		if other, dup := seen[c]; dup {
			t.Errorf("%q and %q share the key %q", q, other, c)
		}
		seen[c] = q
	}
	if c := parse("max-w=50&max-h=50&fit=crop").Canonical(); c != parse("w=50&h=50&fit=crop").Canonical() {
		t.Errorf("max-w=50&max-h=50&fit=crop is %q, not the 50x50 crop's key", c)
	}
	p := NewPlan(parse("w=100&min-w=200&fit=crop"), 1000, 500, DefaultLimits)
	if w, h := p.OutputSize(1000, 500); w != 200 || h != 100 {
		t.Errorf("w=100&min-w=200 on 1000x500: %dx%d, want 200x100", w, h)
	}
}
