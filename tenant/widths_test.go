package tenant

import (
	"errors"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/transform"
)

// outputWidth is the width of the image the pipeline makes of options o
// for a srcW x srcH source, worked out as imaging.Prepare does: the
// region, the turn, then the plan.
// A region the source does not have is refused there: -1.
func outputWidth(o transform.Options, srcW, srcH int, lim transform.Limits) int {
	r, cut, err := o.Region(srcW, srcH)
	if err != nil {
		return -1
	}
	w, h := srcW, srcH
	if cut {
		w, h = r.W, r.H
	}
	if o.Rotate == 90 || o.Rotate == 270 {
		w, h = h, w
	}
	ow, _ := transform.NewPlan(o, w, h, lim).OutputSize(w, h)
	return ow
}

func TestApplyWidths(t *testing.T) {
	s := Settings{AllowedWidths: []int{320, 640}, Presets: map[string]string{
		"thumb":  "h=200&fit=cover",
		"square": "w=200&h=200&fit=cover",
		"tall":   "h=300",
	}}
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"a width a preset leaves open is rounded", "preset=thumb&w=1234", "fit=cover&h=200&w=640"},
		{"a preset's own width stays when the request sets none", "preset=square&q=50", "fit=cover&h=200&q=50&w=200"},
		{"dpr on a preset's width is rounded, the box keeping its shape", "preset=square&dpr=3", "fit=cover&h=640&w=640"},
		{"max-w alone becomes a rounded w", "max-w=555", "w=640"},
		{"max-w under a larger w is folded in", "w=1000&max-w=400", "w=640"},
		{"min-w is folded in", "w=100&h=100&fit=crop&min-w=500", "fit=crop&h=640&w=640"},
		{"ar with h only makes a width, rounded", "ar=1:1&h=777&fit=crop", "fit=crop&h=640&w=640"},
		{"a fractional dpr is rounded with w", "w=300&dpr=1.7", "w=640"},
		{"rect alone: the region's width, rounded down", "rect=0,0,777,500", "rect=0,0,777,500&w=640"},
		{"rect with a larger w: never past the region", "rect=0,0,500,500&w=640", "rect=0,0,500,500&w=320"},
		{"rect where the fit fills the box: rounded up", "rect=0,0,100,100&w=300&h=300&fit=cover", "fit=cover&h=320&rect=0%2C0%2C100%2C100&w=320"},
		{"rect turned a quarter: its height is the width", "rect=0,0,300,700&rot=90", "rect=0%2C0%2C300%2C700&rot=90&w=640"},
		{"a preset's height with a box fit stays under a request's w", "preset=tall&w=1000", "h=300&w=640"},
		{"dpr alone asks for no box", "dpr=2&q=40", "dpr=2&q=40"},
		{"trim where the box is filled", "w=500&h=500&fit=pad&trim=10%3B10%3B10%3B10", "fit=pad&h=640&trim=10%3B10%3B10%3B10&w=640"},
		{"padding above and below is allowed", "w=500&pad-top=10", "pad-top=10&w=640"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := s.Limits(transform.DefaultLimits)
			got, err := applyQuery(s, mustQuery(t, tt.query), lim)
			if err != nil {
				t.Fatalf("Apply(%q) = %v, want %q", tt.query, err, tt.want)
			}
			want := mustQuery(t, tt.want).Encode()
			if got.Encode() != want {
				t.Errorf("Apply(%q) = %q, want %q", tt.query, got.Encode(), want)
			}
		})
	}
}

func TestApplyWidthsRefuses(t *testing.T) {
	s := Settings{AllowedWidths: []int{320, 640}, Presets: map[string]string{"tall": "h=300", "ratio": "ar=16:9&fit=crop"}}
	tests := []struct {
		name, query, wantParam string
	}{
		{"a height alone", "h=333", "h"},
		{"a height alone, scaled by dpr", "h=333&dpr=2", "h"},
		{"max-h alone", "max-h=300", "max-h"},
		{"ar without w or h", "ar=16:9&fit=crop", "ar"},
		{"max-w on a preset's ar", "preset=ratio&max-w=500", "max-w"},
		{"a height that narrows a fitted image", "w=640&h=17", "h"},
		{"a height that narrows a contained image", "w=640&h=17&fit=contain", "h"},
		{"ar with fit=min", "w=640&ar=1:6&fit=min", "ar"},
		{"dpr on a preset's height with a box fit", "preset=tall&w=640&dpr=1.37", "dpr"},
		{"dpr on a preset's height alone", "preset=tall&dpr=2", "dpr"},
		{"a region under a preset's fitted height", "preset=tall&w=640&rect=0,0,100,1000", "rect"},
		{"a region narrower than every width", "rect=0,0,100,100", "rect"},
		{"a region too tall for the width within the height limit", "rect=0,0,320,9000", "rect"},
		{"trim without w", "trim=0%3B100%3B0%3B0", "trim"},
		{"trim where the image is not enlarged", "w=640&trim=0%3B100%3B0%3B0", "trim"},
		{"padding on the sides", "w=640&pad=7", "pad"},
		{"padding on the left", "w=640&pad-left=7", "pad-left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := applyQuery(s, mustQuery(t, tt.query), s.Limits(transform.DefaultLimits))
			var pe *transform.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Apply(%q) = %v, want a *transform.Error", tt.query, err)
			}
			if pe.Param != tt.wantParam || !strings.Contains(pe.Msg, "320, 640") {
				t.Errorf("Apply(%q) = %v, want it to name %s and the widths", tt.query, err, tt.wantParam)
			}
		})
	}
}

// TestEveryOutputWidthOfAWidthsTenantIsAllowed attacks the allow-list with
// random combinations of every parameter that makes a width, and works out
// the width each accepted request's output has, on sources in both
// orientations larger than every allowed width: it is an allowed width,
// the width the preset alone gives (turned as asked), or, for a request that asks for no
// box, the source's own.
func TestEveryOutputWidthOfAWidthsTenantIsAllowed(t *testing.T) {
	s := Settings{AllowedWidths: []int{320, 640, 1280}, MaxHeight: 1500, Presets: map[string]string{
		"thumb":  "h=200&fit=cover",
		"square": "w=200&h=200&fit=cover",
		"tall":   "h=300",
		"ratio":  "ar=16:9&fit=crop",
	}}
	lim := s.Limits(transform.DefaultLimits)
	vocabulary := []struct {
		key    string
		values []string
	}{
		{"preset", []string{"thumb", "square", "tall", "ratio"}},
		{"w", []string{"1", "333", "700", "1234", "2000", "auto"}},
		{"width", []string{"555"}},
		{"h", []string{"17", "500", "1500"}},
		{"dpr", []string{"0.5", "1.37", "2", "3"}},
		{"fit", []string{"scale-down", "contain", "cover", "crop", "pad", "squeeze", "fillmax", "min"}},
		{"ar", []string{"16:9", "1:6", "3:1"}},
		{"max-w", []string{"150", "555"}},
		{"max-h", []string{"100", "300"}},
		{"min-w", []string{"700"}},
		{"min-h", []string{"900"}},
		{"rect", []string{"0,0,777,500", "10,10,100,100", "0,0,300,1900", "5,5,1500,40", "0,0,640,1999"}},
		{"trim", []string{"0;100;0;0", "10;10;10;10", "0;1800;0;0"}},
		{"pad", []string{"7"}},
		{"pad-right", []string{"3"}},
		{"pad-top", []string{"9"}},
		{"rot", []string{"90", "180"}},
	}
	sources := [][2]int{{3000, 2000}, {2000, 3000}}
	rng := rand.New(rand.NewPCG(26, 1))
	accepted := 0
	for range 40000 {
		q := url.Values{}
		for _, p := range vocabulary {
			if rng.IntN(4) == 0 {
				q.Set(p.key, p.values[rng.IntN(len(p.values))])
			}
		}
		got, err := applyQuery(s, q, lim)
		if err != nil {
			if _, ok := errors.AsType[*transform.Error](err); !ok {
				t.Fatalf("Apply(%q) = %v, want a *transform.Error", q.Encode(), err)
			}
			continue
		}
		o, err := transform.Parse(got, lim)
		if err != nil {
			t.Fatalf("Parse(Apply(%q) = %q) = %v", q.Encode(), got.Encode(), err)
		}
		if ownParam(q, widthParams...) == "" {
			continue // the preset's geometry, or the source's own width
		}
		accepted++
		for _, src := range sources {
			ow := outputWidth(o, src[0], src[1], lim)
			if ow < 0 || slices.Contains(s.AllowedWidths, ow) {
				continue
			}
			if ow == outputWidth(transform.Options{Rotate: o.Rotate}, src[0], src[1], lim) {
				continue // no box: the source's own width, turned
			}
			if name := q.Get("preset"); name != "" {
				po, err := transform.Parse(mustQuery(t, s.Presets[name]), lim)
				if err != nil {
					t.Fatal(err)
				}
				po.Rotate = o.Rotate
				if outputWidth(po, src[0], src[1], lim) == ow {
					continue // the preset's own, turned
				}
			}
			t.Errorf("%q, as %q, makes a %dx%d source %d px wide", q.Encode(), got.Encode(), src[0], src[1], ow)
		}
	}
	if accepted < 1000 {
		t.Errorf("only %d requests with width parameters were accepted: the test attacks too little", accepted)
	}
	t.Logf("%d requests that set a width accepted, every one of an allowed width", accepted)
}
