package metering

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Frame kinds: the first byte of every frame payload.
const (
	kindRecord byte = 'R' // one answered request, binary (see record.go)
	kindSums   byte = 'A' // usage summed in memory while the spool was full

	// Written by versions before the binary journal; still read, so that a
	// spool left by one is shipped after an upgrade.
	kindEvent byte = 'E' // a request CloudEvent, JSON, without the batch id
	kindSeal  byte = 'S' // sealed a segment; ignored
)

const (
	frameHeader = 8       // uint32 length + uint32 crc32c
	maxFrame    = 1 << 24 // refuse absurd lengths when scanning
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	errShortFrame = errors.New("metering: short frame")
	errBadLength  = errors.New("metering: bad frame length")
	errChecksum   = errors.New("metering: frame checksum mismatch")
)

// startFrame appends the header of a frame of kind to dst, to be
// completed by endFrame once the rest of the payload is appended. start is
// where the frame begins.
func startFrame(dst []byte, kind byte) (_ []byte, start int) {
	start = len(dst)
	return append(dst, 0, 0, 0, 0, 0, 0, 0, 0, kind), start
}

// endFrame fills in the length and checksum of the frame at dst[start:].
func endFrame(dst []byte, start int) []byte {
	payload := dst[start+frameHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

// appendFrame appends one frame holding kind and body to dst.
func appendFrame(dst []byte, kind byte, body []byte) []byte {
	dst, start := startFrame(dst, kind)
	return endFrame(append(dst, body...), start)
}

// readFrame decodes the frame at the start of b. It returns the kind, the
// body (aliasing b) and the frame's total size.
func readFrame(b []byte) (kind byte, body []byte, size int, err error) {
	if len(b) < frameHeader {
		return 0, nil, 0, errShortFrame
	}
	n := int(binary.LittleEndian.Uint32(b[0:4]))
	if n < 1 || n > maxFrame {
		return 0, nil, 0, errBadLength
	}
	if len(b) < frameHeader+n {
		return 0, nil, 0, errShortFrame
	}
	payload := b[frameHeader : frameHeader+n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		return 0, nil, 0, errChecksum
	}
	return payload[0], payload[1:], frameHeader + n, nil
}

// scanFrames calls fn for each valid frame at the start of b and returns the
// length of the valid prefix. It stops at the first invalid frame: a zero
// length (the unused, preallocated rest of a segment), a cut frame or a
// checksum mismatch (a frame torn by a crash).
func scanFrames(b []byte, fn func(kind byte, body []byte)) int {
	off := 0
	for off < len(b) {
		kind, body, size, err := readFrame(b[off:])
		if err != nil {
			break
		}
		fn(kind, body)
		off += size
	}
	return off
}
