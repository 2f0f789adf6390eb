package imaging

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/imgedge/imgedge/internal/vips"
)

// What a source's structure may cost, checked by Inspect from the bytes
// alone, before any decoder (libvips' or imgedge's own) sees them. Each
// bounds work that a small file can ask for and that no decoder stops
// once it has started:
//
//   - a progressive JPEG's scans: libjpeg reads every scan before it
//     gives its first row, and each scan visits every block of the image,
//     so a few bytes a scan buy a full pass over the picture; and it holds
//     every coefficient of the image meanwhile, 2 bytes a sample, whatever
//     the shrink on load;
//   - a PNG's metadata: libpng inflates every text chunk (and the ICC
//     profile) when it reads the header, before a single row;
//   - a side longer than any photograph has: a sequential decoder walks
//     every row before the one it is asked for, one row at a time.
const (
	MaxJPEGScans   = 100
	MaxPNGMetadata = 16 << 20 // bytes, inflated
	MaxSide        = 65535    // pixels, JPEG's and WebP's own limit
)

// maxCoefficientBytes bounds what a progressive JPEG's decode holds: the
// 4 bytes a pixel of the largest source (50 MP) that the memory envelope
// counts a job. A 4:2:0 progressive photo holds 3 bytes a pixel, so up to
// 66 MP of it fits; a 4:4:4 one 6, up to 33 MP.
const maxCoefficientBytes = 200_000_000

// checkStructure refuses a source whose structure costs more than the
// limits on scans and metadata allow. It reads the bytes alone, so it
// runs before the header is read: libvips' PNG header read inflates the
// text chunks itself.
func checkStructure(buf []byte) error {
	switch {
	case bytes.HasPrefix(buf, []byte{0xFF, 0xD8}):
		l := jpegStructure(buf, MaxJPEGScans+1)
		if l.scans > MaxJPEGScans {
			return &Error{Kind: TooLarge, Msg: fmt.Sprintf("the JPEG has more than %d scans, over the limit", MaxJPEGScans)}
		}
		// A progressive or multi-scan JPEG is decoded from every one of
		// its coefficients, held at once: 2 bytes a sample.
		if l.scans > 1 && 2*l.samples > maxCoefficientBytes {
			return &Error{Kind: TooLarge, Msg: fmt.Sprintf("the progressive JPEG needs %d MiB to decode, over the limit of %d MiB", 2*l.samples>>20, maxCoefficientBytes>>20)}
		}
	case bytes.HasPrefix(buf, []byte("\x89PNG\r\n\x1a\n")):
		if n := pngMetadata(buf, MaxPNGMetadata+1); n > MaxPNGMetadata {
			return &Error{Kind: TooLarge, Msg: fmt.Sprintf("the PNG's metadata inflates to more than %d MiB, over the limit", MaxPNGMetadata>>20)}
		}
	}
	return nil
}

// checkSides refuses a source with a side longer than MaxSide.
func checkSides(h vips.Header) error {
	if h.Width > MaxSide || h.Height > MaxSide {
		return &Error{Kind: TooLarge, Msg: fmt.Sprintf("source is %dx%d, a side over the limit of %d pixels", h.Width, h.Height, MaxSide)}
	}
	return nil
}

// jpegLayout is what a JPEG's markers say of its decode: its scans,
// counted up to a limit, and the samples of its frame (8x8 blocks of every
// component, at their sampling).
type jpegLayout struct {
	scans   int
	samples int64
}

// jpegStructure walks a JPEG's markers as libjpeg reads them (jdmarker.c's
// next_marker, jdhuff.c's bit reader): bytes that are not 0xFF are
// skipped, a run of 0xFF is one, 0xFF 0x00 is data, and any other 0xFF X
// is marker X, in entropy-coded data too; a marker segment is skipped by
// its length. It stops at EOI, at the end of the bytes, or once it has
// counted limit scans.
func jpegStructure(b []byte, limit int) jpegLayout {
	var l jpegLayout
	i := 2 // past SOI
	for i < len(b) && l.scans < limit {
		j := bytes.IndexByte(b[i:], 0xFF)
		if j < 0 {
			break
		}
		i += j
		for i < len(b) && b[i] == 0xFF {
			i++
		}
		if i >= len(b) {
			break
		}
		m := b[i]
		i++
		switch {
		case m == 0x00, m == 0x01, m >= 0xD0 && m <= 0xD7: // data, TEM, RSTn: no length
			continue
		case m == 0xD9: // EOI: libjpeg reads nothing after it
			return l
		}
		if i+2 > len(b) {
			break
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		seg := b[i+2 : min(len(b), i+max(n, 2))]
		i += max(n, 2)
		switch {
		case m == 0xDA:
			l.scans++
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			l.samples = max(l.samples, frameSamples(seg))
		}
	}
	return l
}

// frameSamples is the samples a decode holds for a frame (an SOFn
// segment's data) when it keeps every coefficient, as libjpeg does for a
// progressive or multi-scan JPEG: every component padded to whole blocks
// at its sampling.
func frameSamples(sof []byte) int64 {
	if len(sof) < 6 {
		return 0
	}
	h, w, nc := int64(binary.BigEndian.Uint16(sof[1:])), int64(binary.BigEndian.Uint16(sof[3:])), int(sof[5])
	if len(sof) < 6+3*nc {
		return 0
	}
	var hmax, vmax int64 = 1, 1
	for c := range nc {
		f := sof[6+3*c+1]
		hmax, vmax = max(hmax, int64(f>>4)), max(vmax, int64(f&15))
	}
	var total int64
	for c := range nc {
		f := sof[6+3*c+1]
		ch, cv := max(int64(f>>4), 1), max(int64(f&15), 1)
		bw := (w*ch/hmax + 7) / 8 // blocks, as jdinput.c rounds them up
		bh := (h*cv/vmax + 7) / 8
		total += bw * 8 * bh * 8
	}
	return total
}

// pngMetadata is how many bytes a PNG's metadata chunks hold once
// inflated, counted up to limit: tEXt as it is, zTXt, iTXt (compressed)
// and iCCP inflated, eXIf as it is, every chunk of the file, before its
// image data and after.
func pngMetadata(b []byte, limit int64) int64 {
	var total int64
	for i := 8; i+12 <= len(b) && total < limit; {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if n < 0 || i+12+n > len(b) {
			return total // the decoder refuses a cut chunk
		}
		data := b[i+8 : i+8+n]
		i += 12 + n
		switch typ {
		case "tEXt", "eXIf":
			total += int64(n)
		case "zTXt", "iCCP": // keyword, NUL, method, zlib
			if k := bytes.IndexByte(data, 0); k >= 0 && k+2 <= len(data) {
				total += int64(k) + inflated(data[k+2:], limit-total)
			}
		case "iTXt": // keyword, NUL, flag, method, language, NUL, keyword, NUL, text
			k := bytes.IndexByte(data, 0)
			if k < 0 || k+3 > len(data) {
				continue
			}
			compressed := data[k+1] == 1
			rest := data[k+3:]
			for range 2 { // the language tag, then the translated keyword
				if z := bytes.IndexByte(rest, 0); z >= 0 {
					rest = rest[z+1:]
				}
			}
			if compressed {
				total += inflated(rest, limit-total)
			} else {
				total += int64(len(rest))
			}
		case "IEND":
			return total
		}
	}
	return total
}

// inflated is the size of zlib data inflated, counted up to limit.
func inflated(z []byte, limit int64) int64 {
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return int64(len(z))
	}
	defer r.Close()
	n, _ := io.Copy(io.Discard, io.LimitReader(r, max(limit, 0)))
	return n
}
