package imaging_test

import (
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// stats are an image's mean channel values (0..255), the largest spread
// between its R, G and B at any pixel, and the mean alpha.
type stats struct {
	r, g, b, alpha float64
	spread         int
}

func (s stats) mean() float64 { return (s.r + s.g + s.b) / 3 }

func measure(img image.Image) stats {
	var s stats
	b := img.Bounds()
	n := float64(b.Dx() * b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			s.r += float64(c.R) / n
			s.g += float64(c.G) / n
			s.b += float64(c.B) / n
			s.alpha += float64(c.A) / n
			lo, hi := min(c.R, c.G, c.B), max(c.R, c.G, c.B)
			s.spread = max(s.spread, int(hi)-int(lo))
		}
	}
	return s
}

func TestColourAdjustmentsChangeThePixelsAsDocumented(t *testing.T) {
	src := testimages.PNG(testimages.Gradient(300, 200))
	plain := measure(render(t, src, "w=150"))
	if plain.spread < 100 {
		t.Fatalf("the test picture is not colourful: spread %d", plain.spread)
	}
	for _, tc := range []struct {
		query string
		check func(s stats) bool
		want  string
	}{
		{"w=150&sat=-100", func(s stats) bool { return s.spread <= 3 }, "grey (R=G=B within 3)"},
		{"w=150&saturation=0", func(s stats) bool { return s.spread <= 3 }, "grey (R=G=B within 3)"},
		{"w=150&sat=100", func(s stats) bool { return s.spread > plain.spread-5 && math.Abs(s.mean()-plain.mean()) < 25 }, "at least as colourful, about as bright"},
		{"w=150&bri=100", func(s stats) bool { return s.mean() > 254 }, "white"},
		{"w=150&bri=-100", func(s stats) bool { return s.mean() < 1 }, "black"},
		{"w=150&bri=20", func(s stats) bool { return s.mean() > plain.mean()+30 }, "brighter by about a fifth of full scale"},
		{"w=150&brightness=0.5", func(s stats) bool { return math.Abs(s.mean()-plain.mean()/2) < 4 }, "half as bright"},
		{"w=150&brightness=0", func(s stats) bool { return math.Abs(s.mean()-plain.mean()) < 1 }, "unchanged (Cloudflare ignores 0)"},
		{"w=150&exp=50", func(s stats) bool { return s.mean() > plain.mean()*1.5 }, "brighter (an exposure stop up)"},
		{"w=150&con=-100", func(s stats) bool { return s.spread <= 2 && math.Abs(s.mean()-128) < 2 }, "flat mid-grey"},
		{"w=150&contrast=0.5", func(s stats) bool { return math.Abs(s.mean()-(plain.mean()-128)/2-128) < 4 }, "half the contrast around mid-grey"},
		{"w=150&gamma=2", func(s stats) bool { return s.mean() > plain.mean()+20 }, "lighter"},
		{"w=150&gam=-50", func(s stats) bool { return s.mean() < plain.mean()-20 }, "darker"},
	} {
		got := measure(render(t, src, tc.query))
		if !tc.check(got) {
			t.Errorf("%s: mean %.1f, spread %d (plain: mean %.1f, spread %d); want %s", tc.query, got.mean(), got.spread, plain.mean(), plain.spread, tc.want)
		}
	}
}

func TestAnAdjustmentKeepsTheAlpha(t *testing.T) {
	src := testimages.PNGWithAlpha(200, 100)
	before, after := measure(render(t, src, "w=100")), measure(render(t, src, "w=100&sat=-100&bri=10"))
	if math.Abs(before.alpha-after.alpha) > 0.5 {
		t.Errorf("mean alpha %.1f after the adjustment, %.1f before", after.alpha, before.alpha)
	}
}

func TestImgixSharpAndUsmAreTheSharpening(t *testing.T) {
	src := testimages.JPEG(testimages.Gradient(300, 200))
	if a, b := process(t, src, "w=150&sharp=50", transform.JPEG).Body, process(t, src, "w=150&sharpen=5", transform.JPEG).Body; string(a) != string(b) {
		t.Error("sharp=50 and sharpen=5 made different images")
	}
	if a, b := process(t, src, "w=150&usm=50", transform.JPEG).Body, process(t, src, "w=150", transform.JPEG).Body; string(a) == string(b) {
		t.Error("usm=50 changed nothing")
	}
}
