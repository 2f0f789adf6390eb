package imaging_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
)

// A mark on a 16-bit source keeps the source's levels: the picture stays
// as light as it was, and the mark lands at full strength.
func TestAMarkOnA16BitSourceKeepsItsLevels(t *testing.T) {
	src := image.NewNRGBA64(image.Rect(0, 0, 400, 300))
	for i := 0; i < len(src.Pix); i += 8 {
		copy(src.Pix[i:], []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0xff, 0xff}) // mid grey, opaque
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, src); err != nil {
		t.Fatal(err)
	}
	img := marked(t, buf.Bytes(), testimages.SolidPNG(50, 40, color.White), "w=400&mark=/logo.png&mark-align=top,left")
	if g := grey(img, 200, 200); g < 120 || g > 136 {
		t.Errorf("grey %d away from the mark, want the source's 128", g)
	}
	if g := grey(img, 7, 7); g < 250 {
		t.Errorf("grey %d inside the mark, want white", g)
	}
}
