package imaging

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
)

// bmp1x1 is a 24-bit BMP of one red pixel, written by hand: a 14-byte file
// header, a 40-byte BITMAPINFOHEADER and one row padded to 4 bytes.
func bmp1x1() []byte {
	b := make([]byte, 58)
	copy(b, "BM")
	binary.LittleEndian.PutUint32(b[2:], 58)  // file size
	binary.LittleEndian.PutUint32(b[10:], 54) // offset of the pixels
	binary.LittleEndian.PutUint32(b[14:], 40) // BITMAPINFOHEADER
	binary.LittleEndian.PutUint32(b[18:], 1)  // width
	binary.LittleEndian.PutUint32(b[22:], 1)  // height
	binary.LittleEndian.PutUint16(b[26:], 1)  // planes
	binary.LittleEndian.PutUint16(b[28:], 24) // bits per pixel
	binary.LittleEndian.PutUint32(b[34:], 4)  // size of the pixels
	copy(b[54:], []byte{0x00, 0x00, 0xff, 0x00})
	return b
}

// psd1x1 is the header of a 1x1 RGB Photoshop file with empty sections.
func psd1x1() []byte {
	b := make([]byte, 26, 26+4*4+3)
	copy(b, "8BPS")
	binary.BigEndian.PutUint16(b[4:], 1)  // version
	binary.BigEndian.PutUint16(b[12:], 3) // channels
	binary.BigEndian.PutUint32(b[14:], 1) // height
	binary.BigEndian.PutUint32(b[18:], 1) // width
	binary.BigEndian.PutUint16(b[22:], 8) // depth
	binary.BigEndian.PutUint16(b[24:], 3) // RGB
	b = append(b, make([]byte, 12)...)    // colour mode, resources, layers
	b = append(b, 0, 0, 0xff, 0x80, 0x40) // raw, one pixel
	return b
}

// ico1x1 is an icon directory with one 1x1 PNG image.
func ico1x1() []byte {
	png := testimages.PNG(testimages.Gradient(1, 1))
	b := []byte{0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 32, 0}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(png)))
	b = binary.LittleEndian.AppendUint32(b, 22)
	return append(b, png...)
}

// A source that libvips recognises but no loader imgedge allows reads is
// an unsupported format (415), however it is sniffed; broken bytes of a
// format imgedge reads stay undecodable (422).
func TestInspectTellsBlockedFormatsFromBrokenImages(t *testing.T) {
	jpeg := testimages.JPEG(testimages.Gradient(64, 48))
	png := testimages.PNG(testimages.Gradient(64, 48))
	cases := []struct {
		name string
		src  []byte
		want Kind
	}{
		{"a BMP is unsupported", bmp1x1(), Unsupported},
		{"a Photoshop file is unsupported", psd1x1(), Unsupported},
		{"an icon is unsupported", ico1x1(), Unsupported},
		{"a PDF is unsupported", []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"), Unsupported},
		{"a JPEG XL codestream is unsupported", []byte{0xff, 0x0a, 0xfa, 0x1f, 0x42, 0x08, 0x04, 0x11, 0x00, 0x00, 0x00, 0x00}, Unsupported},
		{"a JPEG XL container is unsupported", []byte("\x00\x00\x00\x0cJXL \r\n\x87\n\x00\x00\x00\x14ftypjxl \x00\x00\x00\x00jxl "), Unsupported},
		{"an HTML page is unsupported", []byte("<!doctype html><html><body>Not found</body></html>\n"), Unsupported},
		{"a truncated JPEG is undecodable", testimages.Truncated(jpeg, 0.3), Undecodable},
		{"a PNG cut inside its header is undecodable", png[:20], Undecodable},
		{"a broken SVG is undecodable", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect`), Undecodable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Inspect(tc.src, DefaultConfig())
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Inspect = %v, want an *Error", err)
			}
			if e.Kind != tc.want {
				t.Errorf("kind %d (%v), want %d", e.Kind, err, tc.want)
			}
		})
	}
	if _, err := Inspect(png, DefaultConfig()); err != nil {
		t.Errorf("a good PNG: %v", err)
	}
}
