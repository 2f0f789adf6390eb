package imaging_test

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// A JPEG shrunk as it is decoded (by 2, 4 or 8) comes out at the size the
// plan asks for, upright whatever its EXIF orientation, with its picture
// where it belongs.
func TestJPEGsShrunkOnLoadKeepTheirGeometry(t *testing.T) {
	want := testimages.Upright(1600, 800) // red top-left quadrant, blue elsewhere
	tests := []struct {
		query string
		w, h  int
		fits  bool // the whole picture is kept: its quadrants can be checked
	}{
		{"w=200", 200, 100, true}, // shrunk by 8 on load
		{"w=400", 400, 200, true}, // by 4
		{"w=700", 700, 350, true}, // by 2
		{"h=90", 180, 90, true},   // by 8, from the height
		{"w=300&h=300&fit=cover", 300, 300, false},
		{"w=300&h=300&fit=cover&smart=1", 300, 300, false},
		{"w=300&h=100&fit=squeeze", 300, 100, true},
		{"w=300&h=300&fit=pad", 300, 300, false},
	}
	for o := 1; o <= 8; o++ {
		src := testimages.OrientedJPEG(want, o)
		for _, tt := range tests {
			t.Run(fmt.Sprintf("orientation %d %s", o, tt.query), func(t *testing.T) {
				img, err := jpeg.Decode(bytes.NewReader(process(t, src, tt.query, transform.JPEG).Body))
				if err != nil {
					t.Fatal(err)
				}
				if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
					t.Fatalf("%dx%d, want %dx%d", b.Dx(), b.Dy(), tt.w, tt.h)
				}
				if !tt.fits {
					return
				}
				if !reddish(img, tt.w/4, tt.h/4) || reddish(img, 3*tt.w/4, tt.h/4) || reddish(img, tt.w/4, 3*tt.h/4) {
					t.Fatalf("the red quadrant is not at the top left")
				}
			})
		}
	}
}

func reddish(img image.Image, x, y int) bool {
	r, _, b, _ := img.At(x, y).RGBA()
	return r > 2*b
}

// A strip shorter than the shrink its box would allow is shrunk on load
// by no more than its short side, on the direct path and on libvips'
// (metadata=keep), and answered: libvips 8.14's jpegload aborted the whole
// process on a shrink that left a side of 0 pixels (800x1 at w=400).
func TestAStripThinnerThanTheShrinkIsResized(t *testing.T) {
	tests := []struct {
		w, h  int
		query string
	}{
		{800, 1, "w=400"},
		{4000, 5, "w=400"},
		{3, 3000, "h=300"},
		{10000, 2, "w=100"},
		{10000, 2, "w=1000"},
		{10000, 2, "fit=clip&h=100"},
	}
	for _, tt := range tests {
		src := testimages.JPEG(testimages.Gradient(tt.w, tt.h))
		for _, path := range []string{"", "&metadata=keep"} {
			t.Run(fmt.Sprintf("%dx%d %s%s", tt.w, tt.h, tt.query, path), func(t *testing.T) {
				img, err := jpeg.Decode(bytes.NewReader(process(t, src, tt.query+path, transform.JPEG).Body))
				if err != nil {
					t.Fatal(err)
				}
				if b := img.Bounds(); b.Dx() < 1 || b.Dy() < 1 || b.Dx() > tt.w || b.Dy() > tt.h {
					t.Errorf("%dx%d from %dx%d", b.Dx(), b.Dy(), tt.w, tt.h)
				}
			})
		}
	}
}
