package imgedge_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// peakRSS is the most memory the process has held, in bytes (VmHWM).
func peakRSS(t *testing.T, c *testenv.Caddy) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.PID()))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/<pid>/status")
	return 0
}

// The hostile-image corpus (internal/testimages) against the built binary:
// each answered within process_timeout and a second, none of them
// costing the node more memory than the bound.
func TestHostileImagesAreAnsweredWithinTheProcessTimeout(t *testing.T) {
	const timeout = 3 * time.Second
	root := t.TempDir()
	scans := testimages.EndlessScansJPEG(16384, 3051, 2000)
	sof := bytes.Index(scans, []byte{0xFF, 0xC2})
	writeFiles(t, root, map[string][]byte{
		"scans-hidden.jpg": append(append(bytes.Clone(scans[:sof]), 0x00), scans[sof:]...), // a byte libjpeg skips
		"uses.svg":         testimages.FilteredSVG(1000, 1000, 200),
		"big-blur.svg":     testimages.FilteredSVG(4000, 4000, 0),
		"scans.jpg":        testimages.EndlessScansJPEG(16384, 3051, 2000),
		"scans-few.jpg":    testimages.EndlessScansJPEG(4096, 2048, 60),
		"late.jpg":         testimages.LateWarningJPEG(testimages.Gradient(8000, 6000)),
		"text.png":         testimages.TextBombPNG(64, 64, 8, 45<<20),
		"strip.png":        testimages.StripPNG(16, 1_000_000),
		"strip-tall.png":   testimages.StripPNG(16, 60_000),
	})
	site := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://:{{PORT}} {
	bind 127.0.0.1
	root * %s
	image_resize {
		cache off
		process_timeout %s
	}
	file_server
}
`, root, timeout))
	for _, c := range []struct {
		name, url string
		status    int   // the answer: 200 or 422
		rssOver   int64 // the most the peak RSS may grow, in bytes (0: not measured)
		direct    bool  // made by the direct reduce, no second decode
	}{
		{"a JPEG of 2,000 scans, each cheap to store and dear to decode", "/scans.jpg?w=2000", 422, 0, false},
		{"the same behind a stray byte, on libvips' loader", "/scans-hidden.jpg?w=2000&metadata=keep", 422, 0, false},
		{"an SVG of 200 uses of a blurred rectangle", "/uses.svg?w=1000", 422, 0, false},
		{"an SVG of one blurred rectangle, 4000 px wide", "/big-blur.svg?w=4000", 422, 0, false},
		{"the same, read by libvips' own loader (metadata kept)", "/scans.jpg?w=2000&metadata=keep", 422, 0, false},
		{"a progressive JPEG of 61 scans, within the cap", "/scans-few.jpg?w=1000", 200, 0, true},
		{"a 48 MP JPEG that warns after its last row", "/late.jpg?w=1200", 200, 0, true},
		{"a PNG of eight zTXt chunks of 45 MB each", "/text.png?w=32", 422, 300 << 20, false},
		{"a grey PNG 16 x 1,000,000 cropped to one row", "/strip.png?w=14&h=1&fit=crop", 422, 0, false},
		{"a grey PNG 16 x 60,000 cropped to one row", "/strip-tall.png?w=14&h=1&fit=crop", 200, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := peakRSS(t, site)
			rest := site.RSS()
			direct := metric(t, site, "imgedge_direct_decodes_total")
			began := time.Now()
			a := get(t, site.Base+c.url)
			took := time.Since(began)
			t.Logf("%s: %d in %v, peak RSS %d MB (resting %d MB): %s", c.url, a.status, took.Round(time.Millisecond),
				peakRSS(t, site)>>20, rest>>20, strings.TrimSpace(string(a.body[:min(len(a.body), 160)])))
			if a.status != c.status {
				t.Errorf("status %d, want %d: %s", a.status, c.status, a.body)
			}
			if a.status >= 400 && !strings.Contains(a.header.Get("Content-Type"), "json") {
				t.Errorf("a refusal without a JSON body: %q", a.header.Get("Content-Type"))
			}
			if took > timeout+time.Second {
				t.Errorf("answered in %v, over process_timeout %v and a second", took, timeout)
			}
			if grew := peakRSS(t, site) - max(before, rest); c.rssOver > 0 && grew > c.rssOver {
				t.Errorf("the peak RSS grew by %d MB, over %d MB", grew>>20, c.rssOver>>20)
			}
			if got := metric(t, site, "imgedge_direct_decodes_total") - direct; c.direct && got != 1 {
				t.Errorf("%v direct decodes, want the answer made by one (no second decode by libvips)", got)
			}
		})
	}
}
