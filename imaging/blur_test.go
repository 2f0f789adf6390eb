package imaging

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/internal/vips"
	"github.com/imgedge/imgedge/transform"
)

func blurred(t *testing.T, src []byte, o transform.Options, out transform.Format) (image.Image, time.Duration) {
	t.Helper()
	cfg := DefaultConfig()
	s, err := Inspect(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	res, err := Process(s, o, out, cfg)
	took := time.Since(began)
	if err != nil {
		t.Fatalf("%+v: %v", o, err)
	}
	img, _, err := image.Decode(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	return img, took
}

// A wide blur runs at a reduced scale: the image keeps its exact size, at
// any size down to a few pixels, and looks like the full-scale blur.
func TestAWideBlurKeepsTheSizeAndLooksTheSame(t *testing.T) {
	for _, size := range [][2]int{{2000, 1250}, {401, 299}, {37, 23}, {3, 2}, {1, 1}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			src := testimages.PNG(testimages.Gradient(size[0], size[1]))
			img, took := blurred(t, src, transform.Options{Blur: 250}, transform.PNG)
			if b := img.Bounds(); b.Dx() != size[0] || b.Dy() != size[1] {
				t.Fatalf("blurred to %v, want %dx%d", b, size[0], size[1])
			}
			t.Logf("blur 250 in %v", took)
		})
	}

	// Against the full-scale blur, on an image small enough to afford it.
	src := testimages.PNG(testimages.Gradient(400, 300))
	reduced, _ := blurred(t, src, transform.Options{Blur: 40}, transform.PNG)
	cfg := DefaultConfig()
	s, _ := Inspect(src, cfg)
	p, err := Prepare(s, transform.Options{}, transform.PNG, cfg)
	if err != nil {
		t.Fatal(err)
	}
	j := &job{Prepared: p, ctx: context.Background(), started: time.Now()}
	if err := j.thumbnail(); err != nil {
		t.Fatal(err)
	}
	full, err := j.img.Blur(40, 1)
	if err != nil {
		t.Fatal(err)
	}
	body, err := full.Save(t.Context(), vipsSave(transform.PNG))
	if err != nil {
		t.Fatal(err)
	}
	fullImg, _, err := image.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if d := meanAbsDiff(reduced, fullImg); d > 3 {
		t.Errorf("the reduced-scale blur differs from the full one by %.2f levels on average", d)
	} else {
		t.Logf("mean difference from the full-scale blur: %.2f levels of 255", d)
	}
}

func TestABlurredAnimationKeepsItsFrames(t *testing.T) {
	src := testimages.AnimatedGIF(120, 80, 4)
	cfg := DefaultConfig()
	s, err := Inspect(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Process(s, transform.Options{Blur: 100}, transform.GIF, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 120 || res.Height != 80 || res.Frames != 4 {
		t.Fatalf("got %dx%d with %d frames, want 120x80 with 4", res.Width, res.Height, res.Frames)
	}
}

func meanAbsDiff(a, b image.Image) float64 {
	var sum, n float64
	r := a.Bounds().Intersect(b.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x, y).RGBA()
			for _, d := range []int64{int64(ar) - int64(br), int64(ag) - int64(bg), int64(ab) - int64(bb)} {
				sum += float64(max(d, -d)) / 257
				n++
			}
		}
	}
	return sum / n
}

func vipsSave(f transform.Format) vips.SaveOptions {
	return vips.SaveOptions{Format: f, Effort: 1}
}
