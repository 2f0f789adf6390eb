package imaging_test

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"net/url"
	"testing"

	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// quadrants is a 400x200 picture: red top-left, green top-right, blue
// bottom-left, white bottom-right.
func quadrants() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 400, 200))
	for y := range 200 {
		for x := range 400 {
			c := color.RGBA{255, 255, 255, 255}
			switch {
			case x < 200 && y < 100:
				c = color.RGBA{255, 0, 0, 255}
			case y < 100:
				c = color.RGBA{0, 255, 0, 255}
			case x < 200:
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	return testimages.PNG(img)
}

// colourAt names the colour at a fraction of the image: r, g, b, w (white)
// or k (black), "?" otherwise.
func colourAt(img image.Image, fx, fy float64) string {
	b := img.Bounds()
	r, g, bl, _ := img.At(b.Min.X+int(fx*float64(b.Dx())), b.Min.Y+int(fy*float64(b.Dy()))).RGBA()
	hi := func(v uint32) bool { return v > 0xc000 }
	lo := func(v uint32) bool { return v < 0x4000 }
	switch {
	case hi(r) && lo(g) && lo(bl):
		return "r"
	case lo(r) && hi(g) && lo(bl):
		return "g"
	case lo(r) && lo(g) && hi(bl):
		return "b"
	case hi(r) && hi(g) && hi(bl):
		return "w"
	case lo(r) && lo(g) && lo(bl):
		return "k"
	}
	return "?"
}

// process runs query's options over src, as the handler does, into out.
func process(t testing.TB, src []byte, query string, out transform.Format) imaging.Result {
	t.Helper()
	res, err := processErr(t, src, query, out)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// processErr is process, with the pipeline's error returned: the query
// must parse and the source inspect.
func processErr(t testing.TB, src []byte, query string, out transform.Format) (imaging.Result, error) {
	t.Helper()
	cfg := imaging.DefaultConfig()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := transform.Parse(q, cfg.Limits)
	if err != nil {
		t.Fatal(err)
	}
	s, err := imaging.Inspect(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return imaging.Process(s, opts, out, cfg)
}

func render(t testing.TB, src []byte, query string) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(process(t, src, query, transform.PNG).Body))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// The imgix and Cloudflare geometry: turns, mirrors, regions, padding,
// aspect ratios and the imgix fit modes, by exact size and by where each
// quadrant of the picture lands (sampled at the centres of the output's
// quarters: top-left, top-right, bottom-left, bottom-right).
func TestTheVocabularysGeometry(t *testing.T) {
	src := quadrants()
	tests := []struct {
		query     string
		w, h      int
		quarters  string // colours at the quarters' centres
		samplePad bool   // quarters sampled inside a border of 20 px: the corners are the border's
	}{
		{"w=200", 200, 100, "rgbw", false},
		{"w=100&rot=90", 100, 200, "brwg", false},     // a quarter turn clockwise: width is of the turned image
		{"rotate=180&w=200", 200, 100, "wbgr", false}, // Cloudflare's name
		{"w=100&orient=270", 100, 200, "gwrb", false},
		{"w=200&flip=h", 200, 100, "grwb", false},
		{"w=200&flip=v", 200, 100, "bwrg", false},
		{"w=200&flip=hv", 200, 100, "wbgr", false},
		{"rect=0,0,200,100", 200, 100, "rrrr", false},         // the red quadrant alone
		{"rect=200,0,200,200&w=100", 100, 100, "ggww", false}, // the right half
		{"trim=0%3B200%3B100%3B0", 200, 100, "rrrr", false},   // Cloudflare trim: top;right;bottom;left
		{"trim=0%3B0%3B100%3B200", 200, 100, "gggg", false},
		{"w=200&pad=20", 240, 140, "kkkk", true}, // imgix pad: room around the image in bg
		{"w=200&pad=10&bg=000", 220, 120, "kkkk", true},
		{"w=200&ar=1:1&fit=crop", 200, 200, "rgbw", false},          // the middle square: x 100..300 of 400
		{"w=100&h=100&fit=min", 100, 100, "rgbw", false},            // like crop
		{"w=800&h=800&fit=min", 200, 200, "rgbw", false},            // never enlarged, keeps the box's shape
		{"ar=1:1&fit=crop", 200, 200, "rgbw", false},                // no w or h: the largest square the source holds
		{"w=800&h=400&fit=fillmax&bg=000", 800, 400, "kkkk", false}, // not enlarged, padded to the box
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			img := render(t, src, tt.query)
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Fatalf("%dx%d, want %dx%d", b.Dx(), b.Dy(), tt.w, tt.h)
			}
			var got string
			if tt.samplePad {
				// The corners are the border's colour; the quarters of
				// the picture are inside it.
				got = colourAt(img, 0.01, 0.01) + colourAt(img, 0.99, 0.01) + colourAt(img, 0.01, 0.99) + colourAt(img, 0.99, 0.99)
				if want := map[bool]string{true: "kkkk", false: "wwww"}[bytes.Contains([]byte(tt.query), []byte("bg=000"))]; got != want {
					t.Fatalf("border corners %q, want %q", got, want)
				}
				return
			}
			got = colourAt(img, 0.25, 0.25) + colourAt(img, 0.75, 0.25) + colourAt(img, 0.25, 0.75) + colourAt(img, 0.75, 0.75)
			if tt.quarters == "kkkk" {
				// fillmax: the 400x200 picture, not enlarged, in the
				// middle of a black 800x400 canvas.
				got = colourAt(img, 0.02, 0.02) + colourAt(img, 0.3, 0.3) + colourAt(img, 0.6, 0.3) + colourAt(img, 0.3, 0.6)
				if got != "krgb" {
					t.Fatalf("corner and picture %q, want krgb", got)
				}
				return
			}
			if got != tt.quarters {
				t.Fatalf("quarters %q, want %q", got, tt.quarters)
			}
		})
	}
}

func TestAnimFalseKeepsTheFirstFrame(t *testing.T) {
	src := testimages.AnimatedGIF(40, 30, 4)
	for _, tt := range []struct {
		query  string
		frames int
	}{{"w=20", 4}, {"w=20&anim=false", 1}, {"w=20&anim=true", 4}, {"w=20&rot=90", 1}} {
		res := process(t, src, tt.query, transform.GIF)
		g, err := gif.DecodeAll(bytes.NewReader(res.Body))
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Image) != tt.frames || res.Frames != tt.frames {
			t.Errorf("%s: %d frames (result says %d), want %d", tt.query, len(g.Image), res.Frames, tt.frames)
		}
	}
}

func TestPJPGIsProgressive(t *testing.T) {
	src := testimages.JPEG(testimages.Gradient(300, 200))
	for _, tt := range []struct {
		fm          string
		progressive bool
	}{{"pjpg", true}, {"jpg", false}, {"baseline-jpeg", false}} {
		res := process(t, src, "w=100&fm="+tt.fm, transform.JPEG)
		// SOF2 (FF C2) marks a progressive JPEG, SOF0/SOF1 a baseline one.
		if got := bytes.Contains(res.Body, []byte{0xff, 0xc2}); got != tt.progressive {
			t.Errorf("fm=%s: progressive %v, want %v", tt.fm, got, tt.progressive)
		}
	}
}

func TestARegionOfTheWholeAnimationKeepsItsFrames(t *testing.T) {
	cfg := imaging.DefaultConfig()
	src := testimages.AnimatedGIF(40, 30, 4)
	s, err := imaging.Inspect(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for query, frames := range map[string]int{"rect=0,0,99999,99999": 4, "rect=0,0,20,30": 1} {
		q, _ := url.ParseQuery(query)
		opts, err := transform.Parse(q, cfg.Limits)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Frames(opts, transform.GIF, cfg); got != frames {
			t.Errorf("%s: %d frames, want %d", query, got, frames)
		}
	}
}
