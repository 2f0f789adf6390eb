package imaging

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
)

func TestJPEGScansAreCountedFromTheBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		buf  []byte
		want int
	}{
		{"a baseline JPEG", testimages.JPEG(testimages.Gradient(64, 48)), 1},
		{"a progressive JPEG of 7 scans", testimages.EndlessScansJPEG(64, 48, 6), 7},
		{"a JPEG whose data holds FF 00 and restart-like bytes", testimages.EndlessScansJPEG(4096, 8, 3), 4},
		{"a JPEG cut in its first scan", testimages.Truncated(testimages.JPEG(testimages.Gradient(64, 48)), 0.7), 1},
		{"no JPEG", []byte{0xFF, 0xD8, 0xFF}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := jpegStructure(c.buf, 1000).scans; got != c.want {
				t.Errorf("%d scans, want %d", got, c.want)
			}
		})
	}
	// What libjpeg skips between segments does not hide the scans after it.
	scans := testimages.EndlessScansJPEG(64, 48, 6)
	sof := bytes.Index(scans, []byte{0xFF, 0xC2})
	for name, stray := range map[string][]byte{
		"a stray byte":          {0x00},
		"stuffed zeros":         {0xFF, 0x00},
		"fill bytes":            {0xFF, 0xFF, 0xFF},
		"garbage":               {0x12, 0x34, 0xFF, 0x00, 0x56},
		"a lone FF before data": {0xFF, 0x00, 0x00},
	} {
		buf := append(append(bytes.Clone(scans[:sof]), stray...), scans[sof:]...)
		if got := jpegStructure(buf, 1000).scans; got != 7 {
			t.Errorf("%s before the frame: %d scans, want 7", name, got)
		}
	}
	if got := jpegStructure(testimages.EndlessScansJPEG(64, 48, 500), 10).scans; got != 10 {
		t.Errorf("counting stopped at %d, want the limit 10", got)
	}
}

func TestPNGMetadataIsCountedInflatedAndUpToTheLimit(t *testing.T) {
	plain := testimages.PNG(testimages.Gradient(16, 16))
	if got := pngMetadata(plain, 1<<30); got != 0 {
		t.Errorf("a PNG without metadata: %d bytes", got)
	}
	bomb := testimages.TextBombPNG(16, 16, 8, 45<<20)
	if got := pngMetadata(bomb, 1<<20); got < 1<<20 || got > 1<<20+64 {
		t.Errorf("eight chunks of 45 MB, counted to 1 MiB: %d (want the count to stop there)", got)
	}
	if got := pngMetadata(testimages.TextBombPNG(16, 16, 3, 1000), 1<<30); got < 3000 || got > 3100 {
		t.Errorf("three chunks of 1000 bytes: %d", got)
	}
}

func TestInspectRefusesCostlyStructureBeforeAnyDecoder(t *testing.T) {
	cfg := DefaultConfig()
	for _, c := range []struct {
		name, refusal string
		buf           []byte
	}{
		{"scans past the cap", "scans", testimages.EndlessScansJPEG(64, 48, MaxJPEGScans)},
		{"text past the cap", "metadata", testimages.TextBombPNG(16, 16, 2, MaxPNGMetadata)},
		{"a side past the cap", "side", testimages.StripPNG(2, MaxSide+1)},
		{"a progressive 36 MP JPEG, 4:4:4", "progressive", testimages.EndlessScansJPEG(6000, 6000, 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Inspect(c.buf, cfg)
			var e *Error
			if !errors.As(err, &e) || e.Kind != TooLarge || !strings.Contains(e.Msg, c.refusal) {
				t.Errorf("got %v, want a TooLarge refusal naming %q", err, c.refusal)
			}
		})
	}
	for _, buf := range [][]byte{
		testimages.EndlessScansJPEG(64, 48, MaxJPEGScans-1),
		testimages.TextBombPNG(16, 16, 2, 1<<20),
		testimages.StripPNG(2, MaxSide),
		testimages.EndlessScansJPEG(5000, 5000, 1),       // 150 MB of coefficients
		testimages.JPEG(testimages.Gradient(6000, 6000)), // baseline: no coefficients held
	} {
		if _, err := Inspect(buf, cfg); err != nil {
			t.Errorf("a source at the limits: %v", err)
		}
	}
}
