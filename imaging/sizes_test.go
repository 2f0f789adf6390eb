package imaging_test

import (
	"bytes"
	"image/jpeg"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// Output sizes are worked out from the region the request uses, at full
// resolution, as the services document them: the side asked for exactly,
// the other the source's aspect ratio applied to it, rounded to the
// nearest pixel (imgix fit=max/clip: "resized to fit within the
// dimensions"; Cloudflare width: "the height is computed from the aspect
// ratio"). A JPEG shrunk on load by 2, 4 or 8 and a region whose edges are
// not on that grid must not move the rounding.
func TestOutputSizesRoundLikeTheServices(t *testing.T) {
	photo := testimages.JPEG(testimages.Gradient(2560, 1600))
	odd := testimages.JPEG(testimages.Gradient(2001, 1333))
	small, large := testimages.JPEG(testimages.Gradient(300, 200)), testimages.JPEG(testimages.Gradient(3000, 2000))
	tests := []struct {
		name  string
		src   []byte
		query string
		w, h  int
	}{
		// The case: the trimmed region is 2160x1400; 216*1400/2160 = 140.0.
		{"Cloudflare trim then width: 216x140 from a 2160x1400 region", photo, "trim=100%3B200%3B100%3B200&width=216", 216, 140},
		{"Cloudflare trim then height", photo, "trim=100%3B200%3B100%3B200&height=140", 216, 140},
		{"imgix rect then w", photo, "rect=200,100,2160,1400&w=216", 216, 140},
		{"imgix rect off the 8-pixel grid", photo, "rect=3,5,2003,1001&w=200", 200, 100}, // 2003x1001: 99.95 → 100
		{"imgix fit=max on a plain photo", photo, "w=216&fit=max", 216, 135},
		{"an odd-sized JPEG shrunk by 8 on load", odd, "w=200", 200, 133}, // 200*1333/2001 = 133.2
		{"an odd-sized JPEG, height given", odd, "h=101", 152, 101},       // 101*2001/1333 = 151.6
		{"an odd-sized JPEG cropped to a box", odd, "w=150&h=150&fit=crop", 150, 150},
		// imgix's fit documentation: a 300x200 original at fit=clip&w=100&h=100 is 100x67 (66.7 rounded).
		{"imgix's documented clip", small, "fit=clip&w=100&h=100", 100, 67},
		{"imgix's documented clip, from a 3000x2000 JPEG shrunk by 8 on load", large, "fit=clip&w=100&h=100", 100, 67},
		{"Cloudflare scale-down never enlarges", photo, "trim=100%3B200%3B100%3B200&width=3000&fit=scale-down", 2160, 1400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := process(t, tt.src, tt.query, transform.JPEG)
			if res.Width != tt.w || res.Height != tt.h {
				t.Fatalf("%s: %dx%d, want %dx%d", tt.query, res.Width, res.Height, tt.w, tt.h)
			}
			img, err := jpeg.Decode(bytes.NewReader(res.Body))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Fatalf("%s: encoded %dx%d, want %dx%d", tt.query, b.Dx(), b.Dy(), tt.w, tt.h)
			}
		})
	}
}
