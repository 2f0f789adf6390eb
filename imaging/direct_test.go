package imaging_test

import (
	"image"
	"os"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// A plain JPEG, PNG or WebP downscale, colour-managed or grey, is made
// without a libvips pipeline; what
// the direct reduce cannot make exactly as vips_thumbnail would goes to
// libvips, at the size asked either way.
func TestWhichResizesAreDirect(t *testing.T) {
	jpg := testimages.JPEG(testimages.Gradient(800, 400))
	png := testimages.PNGWithAlpha(800, 400)
	p3, err := os.ReadFile("testdata/p3.jpg") // 64x48, a Display P3 profile
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		src    []byte
		query  string
		width  int
		direct bool
	}{
		{"a JPEG made smaller", jpg, "w=300", 300, true},
		{"cropped and padded after the resize", jpg, "w=300&h=300&fit=cover", 300, true},
		{"turned after the resize", jpg, "w=300&rot=90", 300, true},
		{"an EXIF turn", testimages.OrientedJPEG(testimages.Upright(800, 400), 6), "w=300", 300, true},
		{"a PNG with alpha made smaller", png, "w=300", 300, true},
		{"its metadata kept", jpg, "w=300&metadata=keep", 300, false},
		{"smart cropping", jpg, "w=300&h=300&fit=cover&g=smart", 300, false},
		{"a region", jpg, "w=300&rect=10,10,400,200", 300, false},
		{"a colour profile, converted to sRGB after", p3, "w=32", 32, true},
		{"a grey JPEG", greyJPEG(800, 400), "w=300", 300, true},
		{"a GIF", testimages.AnimatedGIF(80, 40, 2), "w=30", 30, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := process(t, tt.src, tt.query, transform.PNG)
			if res.Direct != tt.direct {
				t.Errorf("direct = %v, want %v", res.Direct, tt.direct)
			}
			if res.Width != tt.width {
				t.Errorf("%dx%d, want %d wide", res.Width, res.Height, tt.width)
			}
		})
	}
}

// greyJPEG is a w x h one-component JPEG.
func greyJPEG(w, h int) []byte {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = uint8(i % 251)
	}
	return testimages.JPEG(g)
}
