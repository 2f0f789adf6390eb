package metering

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Frame kinds: the first byte of every frame payload.
const (
	kindEvent byte = 'E' // a CloudEvent, JSON, without the batch id
	kindSeal  byte = 'S' // seals a segment: {"batch":..., "count":...}
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

// appendFrame appends one frame holding kind and body to dst.
func appendFrame(dst []byte, kind byte, body []byte) []byte {
	n := 1 + len(body)
	var hdr [frameHeader]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(n))
	crc := crc32.Update(0, castagnoli, []byte{kind})
	crc = crc32.Update(crc, castagnoli, body)
	binary.LittleEndian.PutUint32(hdr[4:8], crc)
	dst = append(dst, hdr[:]...)
	dst = append(dst, kind)
	return append(dst, body...)
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
// length of the valid prefix. It stops at the first invalid frame.
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
