package imaging_test

import (
	"bytes"
	"image/png"
	"os"
	"testing"

	"github.com/imgedge/imgedge/transform"
)

// testdata/p3.jpg is sRGB (200, 30, 40) stored in Display P3, where it
// reads (185, 50, 47), with the P3 profile embedded. The output is sRGB:
// the profile is applied, whether the JPEG is shrunk on load or not.
func TestAnEmbeddedProfileIsConvertedToSRGB(t *testing.T) {
	src, err := os.ReadFile("testdata/p3.jpg")
	if err != nil {
		t.Fatal(err)
	}
	for _, query := range []string{"w=32", "w=64", "w=64&rect=0,0,32,24"} { // shrunk by 2 on load, not shrunk, a region
		img, err := png.Decode(bytes.NewReader(process(t, src, query, transform.PNG).Body))
		if err != nil {
			t.Fatal(err)
		}
		r, g, b, _ := img.At(5, 5).RGBA()
		near := func(got uint32, want int) bool { d := int(got>>8) - want; return d >= -8 && d <= 8 }
		if !near(r, 200) || !near(g, 30) || !near(b, 40) {
			t.Errorf("%s: (%d, %d, %d), want about sRGB (200, 30, 40)", query, r>>8, g>>8, b>>8)
		}
	}
}
