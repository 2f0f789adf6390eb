// Package testimages makes the images integration tests need, in memory:
// ordinary sources, EXIF-oriented JPEGs, animations, and hostile files.
package testimages

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
)

// Gradient is a w x h picture with smooth colour changes, something like a
// photograph's content for an encoder.
func Gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(255 * x / max(1, w-1)), uint8(255 * y / max(1, h-1)), uint8((x + y) % 256), 255})
		}
	}
	return img
}

// JPEG encodes img at quality 90.
func JPEG(img image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PNG encodes img.
func PNG(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// SolidPNG is a w x h PNG of one colour.
func SolidPNG(w, h int, c color.Color) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	return PNG(img)
}

// PNGWithAlpha is a w x h PNG whose left half is transparent.
func PNGWithAlpha(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if x < w/2 {
				a = 0
			}
			img.Set(x, y, color.NRGBA{200, 30, 30, a})
		}
	}
	return PNG(img)
}

// AnimatedGIF is a w x h GIF of n frames, each a different colour.
func AnimatedGIF(w, h, n int) []byte {
	g := &gif.GIF{}
	for i := range n {
		frame := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
		draw.Draw(frame, frame.Bounds(), &image.Uniform{palette.Plan9[(i*37)%len(palette.Plan9)]}, image.Point{}, draw.Src)
		g.Image = append(g.Image, frame)
		g.Delay = append(g.Delay, 10)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Upright is the picture the orientation tests expect to see: w x h,
// red in the top-left quadrant, blue elsewhere.
func Upright(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{0, 0, 255, 255}
			if x < w/2 && y < h/2 {
				c = color.RGBA{255, 0, 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

// OrientedJPEG stores want's pixels so that a viewer applying EXIF
// orientation o (1-8) shows want again; the file carries that orientation.
func OrientedJPEG(want *image.RGBA, o int) []byte {
	dw, dh := want.Bounds().Dx(), want.Bounds().Dy()
	sw, sh := dw, dh
	if o >= 5 {
		sw, sh = dh, dw
	}
	stored := image.NewRGBA(image.Rect(0, 0, sw, sh))
	for y := range dh {
		for x := range dw {
			sx, sy := storedAt(o, x, y, dw, dh)
			stored.Set(sx, sy, want.At(x, y))
		}
	}
	return WithOrientation(JPEG(stored), o)
}

// storedAt maps a displayed pixel to where orientation o keeps it.
func storedAt(o, x, y, dw, dh int) (int, int) {
	switch o {
	case 2:
		return dw - 1 - x, y
	case 3:
		return dw - 1 - x, dh - 1 - y
	case 4:
		return x, dh - 1 - y
	case 5:
		return y, x
	case 6:
		return y, dw - 1 - x
	case 7:
		return dh - 1 - y, dw - 1 - x
	case 8:
		return dh - 1 - y, x
	}
	return x, y
}

// WithOrientation inserts an EXIF APP1 segment carrying orientation o
// right after the JPEG's SOI marker.
func WithOrientation(jpg []byte, o int) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("II*\x00")
	binary.Write(&tiff, binary.LittleEndian, uint32(8)) // IFD0 offset
	binary.Write(&tiff, binary.LittleEndian, uint16(1)) // one entry
	binary.Write(&tiff, binary.LittleEndian, uint16(0x0112))
	binary.Write(&tiff, binary.LittleEndian, uint16(3)) // SHORT
	binary.Write(&tiff, binary.LittleEndian, uint32(1))
	binary.Write(&tiff, binary.LittleEndian, uint16(o))
	binary.Write(&tiff, binary.LittleEndian, uint16(0))
	binary.Write(&tiff, binary.LittleEndian, uint32(0)) // no next IFD
	return afterSOI(jpg, 0xE1, append([]byte("Exif\x00\x00"), tiff.Bytes()...))
}

// afterSOI inserts an APPn segment (marker 0xE0 + n) carrying payload
// right after the JPEG's SOI marker.
func afterSOI(jpg []byte, marker byte, payload []byte) []byte {
	var out bytes.Buffer
	out.Write(jpg[:2])
	out.Write([]byte{0xFF, marker})
	binary.Write(&out, binary.BigEndian, uint16(len(payload)+2))
	out.Write(payload)
	out.Write(jpg[2:])
	return out.Bytes()
}

// BombPNG is a tiny PNG whose header declares w x h pixels: decoding it
// would need w*h*3 bytes.
func BombPNG(w, h int) []byte {
	small := PNG(image.NewGray(image.Rect(0, 0, 8, 8)))
	// IHDR data starts at 16: width, height (big-endian), then the CRC at 29.
	out := bytes.Clone(small)
	binary.BigEndian.PutUint32(out[16:], uint32(w))
	binary.BigEndian.PutUint32(out[20:], uint32(h))
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

// Truncated cuts b to its first fraction.
func Truncated(b []byte, fraction float64) []byte {
	return bytes.Clone(b[:int(float64(len(b))*fraction)])
}

// Garbage is n pseudo-random bytes that are no image at all.
func Garbage(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TIFF encodes img as a baseline, uncompressed RGB TIFF in one strip.
func TIFF(img *image.RGBA) []byte {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	pixels := make([]byte, 0, w*h*3)
	for y := range h {
		for x := range w {
			c := img.RGBAAt(x, y)
			pixels = append(pixels, c.R, c.G, c.B)
		}
	}
	const entries = 10
	ifdAt := 8
	bpsAt := ifdAt + 2 + entries*12 + 4 // BitsPerSample values follow the IFD
	dataAt := bpsAt + 6
	var b bytes.Buffer
	b.WriteString("II*\x00")
	le := binary.LittleEndian
	binary.Write(&b, le, uint32(ifdAt))
	binary.Write(&b, le, uint16(entries))
	entry := func(tag, typ uint16, count, value uint32) {
		binary.Write(&b, le, tag)
		binary.Write(&b, le, typ)
		binary.Write(&b, le, count)
		binary.Write(&b, le, value)
	}
	const short, long = 3, 4
	entry(256, long, 1, uint32(w))           // ImageWidth
	entry(257, long, 1, uint32(h))           // ImageLength
	entry(258, short, 3, uint32(bpsAt))      // BitsPerSample 8,8,8
	entry(259, short, 1, 1)                  // no compression
	entry(262, short, 1, 2)                  // RGB
	entry(273, long, 1, uint32(dataAt))      // StripOffsets
	entry(277, short, 1, 3)                  // SamplesPerPixel
	entry(278, long, 1, uint32(h))           // RowsPerStrip
	entry(279, long, 1, uint32(len(pixels))) // StripByteCounts
	entry(284, short, 1, 1)                  // chunky
	binary.Write(&b, le, uint32(0))          // no next IFD
	binary.Write(&b, le, [3]uint16{8, 8, 8})
	b.Write(pixels)
	return b.Bytes()
}
