package imgedge_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/imgedge/imgedge/internal/testenv"
)

// browser starts Debian's headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run `make deps` (Debian package chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 1400),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// artefact saves a screenshot under test-artifacts/ (or $IMGEDGE_ARTIFACTS).
func artefact(t *testing.T, name string, png []byte) {
	dir := os.Getenv("IMGEDGE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(testenv.ModuleRoot(t), "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

func TestInARealBrowserTheDemoShowsModernImagesAndTheDashboardChartsThem(t *testing.T) {
	// Exactly the demo `make run` serves, on free ports.
	c := testenv.Start(t, exampleConfig(t, "Caddyfile", "localhost:2019", "{{ADMIN}}",
		"http://localhost:8080", "http://127.0.0.1:{{PORT}}"))

	ctx := browser(t)
	var mu sync.Mutex
	mimes := map[string]string{}
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && e.Type == network.ResourceTypeImage {
			mu.Lock()
			mimes[e.Response.URL] = e.Response.MimeType
			mu.Unlock()
		}
	})

	// The demo page: every image decodes, and came as AVIF or WebP.
	var images []struct {
		Src   string  `json:"src"`
		Width float64 `json:"width"`
	}
	var shot []byte
	err := chromedp.Run(ctx,
		network.Enable(),
		chromedp.Navigate(c.Base+"/"),
		chromedp.WaitReady("img", chromedp.ByQuery),
		chromedp.Poll(`Array.from(document.images).every(i => i.complete)`, nil, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Evaluate(`Array.from(document.images).map(i => ({src: i.currentSrc, width: i.naturalWidth}))`, &images),
		chromedp.FullScreenshot(&shot, 80),
	)
	if err != nil {
		t.Fatal(err)
	}
	artefact(t, "demo.jpg", shot)
	if len(images) < 8 {
		t.Fatalf("found %d images on the demo page", len(images))
	}
	mu.Lock()
	for _, img := range images {
		if img.Width <= 0 {
			t.Errorf("%s did not decode (naturalWidth %v)", img.Src, img.Width)
		}
		if m := mimes[img.Src]; m != "image/avif" && m != "image/webp" {
			t.Errorf("%s came as %q, want AVIF or WebP", img.Src, m)
		}
	}
	mu.Unlock()

	// The dashboard: once the usage arrives, the chart shows it.
	if err := chromedp.Run(ctx, network.SetExtraHTTPHeaders(network.Headers{"Authorization": exampleUsageAuth})); err != nil {
		t.Fatal(err)
	}
	dashboard := c.Base + "/usage/"
	deadline := time.Now().Add(30 * time.Second)
	var points string
	for time.Now().Before(deadline) {
		err := chromedp.Run(ctx,
			chromedp.Navigate(dashboard),
			chromedp.WaitVisible("#c-requests canvas", chromedp.ByQuery),
			chromedp.Poll(`document.body.dataset.points !== undefined`, nil, chromedp.WithPollingTimeout(10*time.Second)),
			chromedp.Evaluate(`document.body.dataset.points`, &points),
		)
		if err != nil {
			t.Fatal(err)
		}
		if points != "" && points != "0" && len(points) > 0 && atoi(points) >= len(images) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if atoi(points) < len(images) {
		t.Fatalf("the dashboard shows %s requests, want at least the %d images the browser loaded", points, len(images))
	}
	var legend string
	var dash []byte
	if err := chromedp.Run(ctx,
		chromedp.Text("#c-requests .u-legend", &legend, chromedp.ByQuery),
		chromedp.FullScreenshot(&dash, 80),
	); err != nil {
		t.Fatal(err)
	}
	artefact(t, "dashboard.jpg", dash)
	if !strings.Contains(legend, "localhost") && !strings.Contains(legend, "127.0.0.1") {
		t.Errorf("the chart's legend %q does not name the tenant", legend)
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscanf(s, "%d", &n)
	return n
}
