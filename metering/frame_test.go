package metering

import (
	"bytes"
	"errors"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var b []byte
	b = appendFrame(b, kindEvent, []byte(`{"a":1}`))
	b = appendFrame(b, kindSeal, nil)
	b = appendFrame(b, kindEvent, bytes.Repeat([]byte("x"), 70000))

	var kinds []byte
	var sizes []int
	n := scanFrames(b, func(kind byte, body []byte) {
		kinds = append(kinds, kind)
		sizes = append(sizes, len(body))
	})
	if n != len(b) {
		t.Fatalf("valid prefix %d, want %d", n, len(b))
	}
	if string(kinds) != "ESE" || sizes[0] != 7 || sizes[1] != 0 || sizes[2] != 70000 {
		t.Fatalf("got kinds %q sizes %v", kinds, sizes)
	}
}

func TestReadFrameRefusesDamage(t *testing.T) {
	good := appendFrame(nil, kindEvent, []byte(`{"tenant":"a"}`))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"a flipped payload byte fails the checksum", flip(len(good) - 2), errChecksum},
		{"a flipped kind byte fails the checksum", flip(frameHeader), errChecksum},
		{"a flipped checksum byte fails the checksum", flip(5), errChecksum},
		{"a cut payload is short", good[:len(good)-1], errShortFrame},
		{"a cut header is short", good[:5], errShortFrame},
		{"a zero length is refused", append([]byte{0, 0, 0, 0}, good[4:]...), errBadLength},
		{"a huge length is refused", append([]byte{0xff, 0xff, 0xff, 0x7f}, good[4:]...), errBadLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := readFrame(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestScanFramesStopsAtFirstBadFrame(t *testing.T) {
	var b []byte
	b = appendFrame(b, kindEvent, []byte("one"))
	b = appendFrame(b, kindEvent, []byte("two"))
	prefix := len(b)
	b = appendFrame(b, kindEvent, []byte("three"))
	b[len(b)-1] ^= 1
	b = appendFrame(b, kindEvent, []byte("four"))
	count := 0
	if n := scanFrames(b, func(byte, []byte) { count++ }); n != prefix || count != 2 {
		t.Fatalf("valid prefix %d with %d frames, want %d with 2", n, count, prefix)
	}
}
