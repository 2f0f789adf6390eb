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
//     so a few bytes a scan buy a full pass over the picture;
//   - a PNG's metadata: libpng inflates every text chunk (and the ICC
//     profile) when it reads the header, before a single row;
//   - a side longer than any photograph has: a sequential decoder walks
//     every row before the one it is asked for, one row at a time.
const (
	MaxJPEGScans   = 100
	MaxPNGMetadata = 16 << 20 // bytes, inflated
	MaxSide        = 65535    // pixels, JPEG's and WebP's own limit
)

// checkStructure refuses a source whose structure costs more than the
// limits on scans and metadata allow. It reads the bytes alone, so it
// runs before the header is read: libvips' PNG header read inflates the
// text chunks itself.
func checkStructure(buf []byte) error {
	switch {
	case bytes.HasPrefix(buf, []byte{0xFF, 0xD8, 0xFF}):
		if n := jpegScans(buf, MaxJPEGScans+1); n > MaxJPEGScans {
			return &Error{Kind: TooLarge, Msg: fmt.Sprintf("the JPEG has more than %d scans, over the limit", MaxJPEGScans)}
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

// jpegScans counts the start-of-scan markers of a JPEG, up to limit: it
// walks the marker segments and skips each scan's entropy-coded data to
// the next marker (a 0xFF not followed by a stuffed 0x00 or a restart
// marker). Bytes it cannot walk end the count: the decoder refuses them.
func jpegScans(b []byte, limit int) int {
	scans := 0
	i := 2 // past SOI
	for i+4 <= len(b) && scans < limit {
		if b[i] != 0xFF {
			return scans
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0xD9: // EOI
			return scans
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // no length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		i += 2 + n
		if m != 0xDA {
			continue
		}
		scans++
		// The entropy-coded data: to the next marker that is one.
		for i < len(b) {
			j := bytes.IndexByte(b[i:], 0xFF)
			if j < 0 || i+j+1 >= len(b) {
				return scans
			}
			i += j
			if next := b[i+1]; next != 0x00 && (next < 0xD0 || next > 0xD7) {
				break
			}
			i += 2
		}
	}
	return scans
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
