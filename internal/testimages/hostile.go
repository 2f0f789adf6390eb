package testimages

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
)

// The hostile images below are small files that cost a decoder far more
// than their size suggests. Each is made here, by code, so the tests need
// no binary blobs and can make them at any size.

// EndlessScansJPEG is a progressive w x h JPEG (three components, no
// subsampling) whose coefficients are all zero, with acScans AC scans
// after its DC scan, one component each in turn. Every AC scan codes the
// whole component in a few end-of-band runs, so it costs a few dozen
// bytes, but a decoder must visit every block of it; nor does any scan
// make libjpeg warn: a first AC scan with Ah=Al=0 is expected again and
// again. A decoder reads every scan before it gives its first row.
func EndlessScansJPEG(w, h, acScans int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xFF, 0xD8})
	segment(&b, 0xDB, append([]byte{0x00}, bytes.Repeat([]byte{1}, 64)...)) // DQT: table 0, all 1
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3}
	for id := byte(1); id <= 3; id++ {
		sof = append(sof, id, 0x11, 0)
	}
	segment(&b, 0xC2, sof) // SOF2: progressive
	// DC: one code of one bit, difference 0. AC: the 15 end-of-band runs
	// EOBn (symbol n<<4: a run of 2^n and n more bits), four bits each,
	// EOBn coded as n.
	dc := append([]byte{0x00, 1}, make([]byte, 15)...)
	dc = append(dc, 0x00)
	ac := []byte{0x10, 0, 0, 0, 15}
	ac = append(ac, make([]byte, 12)...)
	for n := range 15 {
		ac = append(ac, byte(n<<4))
	}
	segment(&b, 0xC4, append(dc, ac...))
	blocks := ((w + 7) / 8) * ((h + 7) / 8) // a component's, non-interleaved
	// The DC scan: all three components interleaved, one bit a block.
	segment(&b, 0xDA, []byte{3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 0, 0})
	var bits bitWriter
	for range 3 * blocks {
		bits.put(0, 1)
	}
	b.Write(bits.flush())
	for s := range acScans {
		segment(&b, 0xDA, []byte{1, byte(1 + s%3), 0x00, 1, 63, 0})
		for left := blocks; left > 0; {
			run := min(left, 1<<15-1)
			n := bitsLen(run) - 1 // EOBn: 2^n <= run < 2^(n+1)
			bits.put(uint32(n), 4)
			bits.put(uint32(run-1<<n), n)
			left -= run
		}
		b.Write(bits.flush())
	}
	b.Write([]byte{0xFF, 0xD9})
	return b.Bytes()
}

// bitsLen is the number of bits v needs.
func bitsLen(v int) int {
	n := 0
	for ; v > 0; v >>= 1 {
		n++
	}
	return n
}

// segment writes a JPEG marker segment.
func segment(b *bytes.Buffer, marker byte, data []byte) {
	b.Write([]byte{0xFF, marker, byte((len(data) + 2) >> 8), byte(len(data) + 2)})
	b.Write(data)
}

// bitWriter writes entropy-coded JPEG data: most significant bit first,
// 0xFF bytes stuffed with 0x00, padded with 1 bits.
type bitWriter struct {
	out  []byte
	acc  uint32
	nacc int
}

func (w *bitWriter) put(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | (v>>i)&1
		if w.nacc++; w.nacc == 8 {
			w.emit()
		}
	}
}

func (w *bitWriter) emit() {
	w.out = append(w.out, byte(w.acc))
	if byte(w.acc) == 0xFF {
		w.out = append(w.out, 0)
	}
	w.acc, w.nacc = 0, 0
}

func (w *bitWriter) flush() []byte {
	for w.nacc != 0 {
		w.put(1, 1)
	}
	out := w.out
	w.out = nil
	return out
}

// LateWarningJPEG is img as a JPEG with a stray marker in the data of its
// last rows: libjpeg decodes every row before it, then warns ("premature
// end of data segment") and decodes the rest as grey.
func LateWarningJPEG(img image.Image) []byte {
	j := JPEG(img)
	at := len(j) - 2 - 64 // in the entropy-coded data, before FF D9
	for j[at-1] == 0xFF || j[at] == 0x00 {
		at-- // not inside a stuffed FF 00
	}
	return append(append(bytes.Clone(j[:at]), 0xFF, 0xD3), j[at:]...)
}

// TextBombPNG is a w x h PNG with chunks zTXt chunks after its header,
// each inflating to inflated bytes of text: a few hundred kilobytes of
// file that a decoder keeping its text inflates to chunks x inflated.
func TextBombPNG(w, h, chunks, inflated int) []byte {
	small := PNG(Gradient(w, h))
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zeros := make([]byte, 1<<20)
	for left := inflated; left > 0; left -= len(zeros) {
		zw.Write(zeros[:min(left, len(zeros))])
	}
	zw.Close()
	var out bytes.Buffer
	const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, then IHDR: length, type, data, CRC
	out.Write(small[:ihdrEnd])
	for i := range chunks {
		data := append([]byte("Comment"), 0, 0) // keyword, NUL, compression method 0
		data[len("Comment")-1] = byte('a' + i%26)
		pngChunk(&out, "zTXt", append(data, z.Bytes()...))
	}
	out.Write(small[ihdrEnd:])
	return out.Bytes()
}

// pngChunk writes one PNG chunk.
func pngChunk(b *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	b.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	b.WriteString(typ)
	b.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	b.Write(n[:])
}

// StripPNG is a grey w x h PNG, tiny when compressed: a source of
// extreme aspect (16 x 1,000,000 is 40 KB) whose every row a sequential
// decoder must walk to reach the last ones.
func StripPNG(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i / w % 251)
	}
	return PNG(img)
}

// FilteredSVG is a w x h SVG of one rectangle blurred by a filter, drawn
// once and then uses times more by <use>: a few bytes a use, each a
// render of the blurred rectangle again.
func FilteredSVG(w, h, uses int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="%d" height="%d">`, w, h)
	fmt.Fprintf(&b, `<defs><filter id="f" x="0" y="0" width="1" height="1"><feGaussianBlur stdDeviation="20"/></filter>`)
	fmt.Fprintf(&b, `<rect id="r" width="%d" height="%d" fill="red" filter="url(#f)"/></defs><use xlink:href="#r"/>`, w, h)
	for range uses {
		b.WriteString(`<use xlink:href="#r"/>`)
	}
	b.WriteString(`</svg>`)
	return b.Bytes()
}
