package imaging_test

import (
	"errors"
	"image"
	"image/color"
	"net/url"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// inked is the bounding box of the pixels of img that ink says are drawn,
// and how many there are.
func inked(img image.Image, ink func(r, g, b uint32) bool) (image.Rectangle, int) {
	var box image.Rectangle
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if ink(r>>8, g>>8, bl>>8) {
				box = box.Union(image.Rect(x, y, x+1, y+1))
				n++
			}
		}
	}
	return box, n
}

func white(r, g, b uint32) bool { return r > 200 && g > 200 && b > 200 }

// txt=Hello&txt-size=40&txt-color=fff&txt-align=bottom,center draws white
// text in the bottom centre, 10 px (txt-pad's default) off the bottom, and
// nothing anywhere else.
func TestTextIsDrawnWhereAsked(t *testing.T) {
	black := testimages.SolidPNG(400, 300, color.Black)
	img := render(t, black, "txt=Hello&txt-size=40&txt-color=fff&txt-align=bottom,center")
	box, n := inked(img, white)
	if n < 300 {
		t.Fatalf("%d white pixels: no text drawn", n)
	}
	if c := (box.Min.X + box.Max.X) / 2; c < 190 || c > 210 {
		t.Fatalf("text box %v: centred at x=%d, want 200±10", box, c)
	}
	if box.Max.Y > 290 || box.Max.Y < 260 || box.Min.Y < 220 {
		t.Fatalf("text box %v: want it in the bottom 80 px, ending by y=290 (10 px pad)", box)
	}
	if box.Dx() < 70 || box.Dx() > 160 || box.Dy() < 20 || box.Dy() > 50 {
		t.Fatalf("text box %v: not a 40 px \"Hello\"", box)
	}

	for _, tt := range []struct {
		align string
		at    func(image.Rectangle) bool
	}{
		{"top,left", func(b image.Rectangle) bool { return b.Min.X >= 10 && b.Min.X < 16 && b.Min.Y >= 10 && b.Min.Y < 24 }},
		{"middle,right", func(b image.Rectangle) bool { return b.Max.X <= 390 && b.Max.X > 380 && b.Min.Y < 150 && b.Max.Y > 150 }},
		{"bottom,right", func(b image.Rectangle) bool {
			return b.Max.X <= 390 && b.Max.X > 380 && b.Max.Y <= 290 && b.Max.Y > 270
		}},
	} {
		box, _ := inked(render(t, black, "txt=Hello&txt-size=40&txt-color=fff&txt-align="+tt.align), white)
		if !tt.at(box) {
			t.Errorf("txt-align=%s: text box %v", tt.align, box)
		}
	}
}

// The text is text, never Pango markup: a span that would draw a huge
// glyph is drawn as its own characters, at txt-size.
func TestTextIsNeverMarkup(t *testing.T) {
	black := testimages.SolidPNG(600, 200, color.Black)
	for _, txt := range []string{`<span size="90000">X</span>`, `<b>X</b>`, `&amp;`, `X & Y < Z`, `</span>`} {
		box, n := inked(render(t, black, "txt-size=20&txt-color=fff&txt-align=middle,center&txt="+url.QueryEscape(txt)), white)
		if n == 0 || box.Dy() > 30 {
			t.Errorf("txt=%s: text box %v (%d px): not drawn as 20 px characters", txt, box, n)
		}
		if len(txt) > 10 && box.Dx() < 100 {
			t.Errorf("txt=%s: %d px wide: the markup was read, not drawn", txt, box.Dx())
		}
	}
}

// A line wider than its room: clipped at its end (the default) or start,
// or drawn smaller (txt-fit=max); txt-width narrows the room.
func TestTextTooWideForItsRoom(t *testing.T) {
	black := testimages.SolidPNG(300, 200, color.Black)
	long := "txt=" + url.QueryEscape("The quick brown fox jumps over the lazy dog") + "&txt-size=30&txt-color=fff&txt-align=middle,left"
	clipped, _ := inked(render(t, black, long), white)
	if clipped.Min.X < 10 || clipped.Max.X > 290 || clipped.Max.X < 280 {
		t.Fatalf("clipped: text box %v, want it to fill x 10..290", clipped)
	}
	fitted, _ := inked(render(t, black, long+"&txt-fit=max"), white)
	if fitted.Max.X > 290 || fitted.Dy() >= clipped.Dy()*3/4 {
		t.Fatalf("txt-fit=max: text box %v (clipped %v), want it within x 290 and smaller", fitted, clipped)
	}
	narrow, _ := inked(render(t, black, long+"&txt-width=100"), white)
	if narrow.Min.X < 10 || narrow.Max.X > 110 || narrow.Max.X < 100 {
		t.Fatalf("txt-width=100: text box %v, want x 10..110", narrow)
	}
	start := render(t, black, long+"&txt-clip=start")
	end := render(t, black, long)
	if channelDiff(start, end) < 1 {
		t.Fatal("txt-clip=start draws what txt-clip=end draws")
	}
}

// txt-shad draws a dark shadow around the text; txt-font draws another
// face.
func TestTextShadowAndFont(t *testing.T) {
	grey := testimages.SolidPNG(300, 100, color.Gray{160})
	q := "txt=Shadow&txt-size=30&txt-color=fff&txt-align=middle,center"
	dark := func(r, g, b uint32) bool { return r < 120 && g < 120 && b < 120 }
	if _, n := inked(render(t, grey, q), dark); n != 0 {
		t.Fatalf("%d dark pixels without a shadow", n)
	}
	if _, n := inked(render(t, grey, q+"&txt-shad=3"), dark); n < 50 {
		t.Fatalf("%d dark pixels with txt-shad=3, want a shadow", n)
	}
	if channelDiff(render(t, grey, q+"&txt-font=serif"), render(t, grey, q+"&txt-font=monospace,bold")) < 1 {
		t.Fatal("serif and bold monospace draw the same pixels")
	}
}

// Text within the length and size bounds that the renderer still cannot
// draw (wider than its 32,767 px surface) is refused naming txt, as a
// parameter's fault, not answered as a source that cannot be processed.
func TestTextTooWideToDrawIsRefusedNamingTxt(t *testing.T) {
	src := testimages.SolidPNG(300, 200, color.Black)
	for _, q := range []string{
		"txt=" + strings.Repeat("W", 170) + "&txt-size=200",
		"txt=" + strings.Repeat("m", 500) + "&txt-size=80",
	} {
		_, err := processErr(t, src, q, transform.PNG)
		var pe *transform.Error
		if !errors.As(err, &pe) || pe.Param != "txt" {
			t.Errorf("%.40s…: %v, want a refusal naming txt", q, err)
		}
	}
}
