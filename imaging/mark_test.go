package imaging_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"testing"

	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// marked runs query over src with mark as its watermark.
func marked(t *testing.T, src, mark []byte, query string) image.Image {
	t.Helper()
	cfg := imaging.DefaultConfig()
	q, _ := url.ParseQuery(query)
	opts, err := transform.Parse(q, cfg.Limits)
	if err != nil {
		t.Fatal(err)
	}
	s, err := imaging.Inspect(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := imaging.Inspect(mark, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := imaging.Prepare(s, opts, transform.PNG, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetMark(m)
	res, err := p.Process(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func grey(img image.Image, x, y int) uint8 {
	c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
	return uint8((int(c.R) + int(c.G) + int(c.B)) / 3)
}

func TestAWhiteMarkIsFoundAtTheCornerItWasAlignedTo(t *testing.T) {
	src := testimages.SolidPNG(400, 300, color.Black)
	mark := testimages.SolidPNG(50, 40, color.White)
	for _, tc := range []struct {
		align      string
		x0, y0     int // where the mark's top-left corner must be
		notX, notY int // a point where it must not be
	}{
		{"bottom,right", 400 - 5 - 50, 300 - 5 - 40, 10, 10},
		{"top,left", 5, 5, 390, 290},
		{"middle,center", 175, 130, 10, 10},
		{"top,right", 400 - 5 - 50, 5, 10, 290},
	} {
		img := marked(t, src, mark, "w=400&mark=/logo.png&mark-align="+tc.align)
		if img.Bounds().Dx() != 400 {
			t.Fatalf("%s: %v, want the 400 px output", tc.align, img.Bounds())
		}
		if g := grey(img, tc.x0+2, tc.y0+2); g < 250 {
			t.Errorf("%s: grey %d just inside the mark's corner (%d,%d), want white", tc.align, g, tc.x0, tc.y0)
		}
		if g := grey(img, tc.x0+47, tc.y0+37); g < 250 {
			t.Errorf("%s: grey %d at the mark's far corner, want white (50x40 at its own size)", tc.align, g)
		}
		if g := grey(img, tc.x0-2, tc.y0-2); g > 5 {
			t.Errorf("%s: grey %d just outside the mark, want black", tc.align, g)
		}
		if g := grey(img, tc.notX, tc.notY); g > 5 {
			t.Errorf("%s: grey %d at (%d,%d), away from the mark", tc.align, g, tc.notX, tc.notY)
		}
	}
}

func TestMarkSizeAndAlpha(t *testing.T) {
	src := testimages.SolidPNG(400, 300, color.Black)
	mark := testimages.SolidPNG(50, 40, color.White)
	// mark-scale=50: half the output's width, 200x160, bottom right, pad 5.
	img := marked(t, src, mark, "w=400&mark=/logo.png&mark-scale=50")
	if g := grey(img, 400-5-198, 300-5-158); g < 250 {
		t.Errorf("mark-scale=50: grey %d near the top-left of a 200x160 mark, want white", g)
	}
	if g := grey(img, 400-5-205, 300-5-158); g > 5 {
		t.Errorf("mark-scale=50: grey %d left of the mark, want black", g)
	}
	// mark-w=0.1: 40 px wide, 32 tall.
	img = marked(t, src, mark, "w=400&mark=/logo.png&mark-w=0.1&mark-align=top,left&mark-pad=0")
	if grey(img, 38, 30) < 250 || grey(img, 42, 10) > 5 || grey(img, 10, 34) > 5 {
		t.Errorf("mark-w=0.1: want a 40x32 mark at the top left")
	}
	// mark-alpha=50: half-way grey.
	img = marked(t, src, mark, "w=400&mark=/logo.png&mark-alpha=50")
	if g := grey(img, 370, 270); g < 110 || g > 145 {
		t.Errorf("mark-alpha=50: grey %d, want about 128", g)
	}
}

func TestAMarkOnAnAnimationIsRefused(t *testing.T) {
	cfg := imaging.DefaultConfig()
	s, err := imaging.Inspect(testimages.AnimatedGIF(60, 40, 3), cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := transform.Parse(url.Values{"w": {"60"}, "mark": {"/m.png"}, "f": {"gif"}}, cfg.Limits)
	if err != nil {
		t.Fatal(err)
	}
	_, err = imaging.Prepare(s, opts, transform.GIF, cfg)
	if pe, ok := err.(*transform.Error); !ok || pe.Param != "mark" {
		t.Errorf("a mark on an animated GIF: %v, want a refusal naming mark", err)
	}
}

func TestAMarkSitsOnThePictureNeverOnThePadding(t *testing.T) {
	src := testimages.SolidPNG(400, 300, color.Black)
	mark := testimages.SolidPNG(50, 40, color.White)
	img := marked(t, src, mark, "w=400&mark=/logo.png&pad-right=300&pad-bottom=200&bg=000000")
	if b := img.Bounds(); b.Dx() != 700 || b.Dy() != 500 {
		t.Fatalf("%v, want the 400x300 picture padded to 700x500", b)
	}
	if g := grey(img, 400-5-25, 300-5-20); g < 250 {
		t.Errorf("grey %d at the picture's bottom right, want the mark there", g)
	}
	if g := grey(img, 700-5-25, 500-5-20); g > 5 {
		t.Errorf("grey %d at the canvas's bottom right: the mark went onto the padding", g)
	}
}
