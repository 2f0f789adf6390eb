package imgedge_test

import (
	"context"
	"fmt"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/buckket/go-blurhash"
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
	type response struct {
		mime   string
		status int64
	}
	responses := map[string]response{}
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && e.Type == network.ResourceTypeImage {
			mu.Lock()
			responses[e.Response.URL] = response{e.Response.MimeType, e.Response.Status}
			mu.Unlock()
		}
	})

	// The demo page: its script says when every caption, placeholder and
	// table is filled in.
	var page demoPage
	var shot []byte
	err := chromedp.Run(ctx,
		network.Enable(),
		chromedp.Navigate(c.Base+"/"),
		chromedp.Poll(`document.body.dataset.ready === "true"`, nil, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Evaluate(demoPageJS, &page),
		chromedp.FullScreenshot(&shot, 80),
	)
	if err != nil {
		t.Fatal(err)
	}
	artefact(t, "demo.jpg", shot)
	if page.Errors != "" {
		t.Errorf("the page's script failed:\n%s", page.Errors)
	}

	// Every image decodes and came as AVIF or WebP, but the tampered
	// signed URL, which is refused.
	if len(page.Images) < 19 {
		t.Fatalf("found %d images on the demo page", len(page.Images))
	}
	mu.Lock()
	for _, img := range page.Images {
		r := responses[img.Src]
		if img.Tampered {
			if img.Width != 0 || r.status != 403 {
				t.Errorf("the tampered signed URL %s: %d wide, status %d; want refused with 403", img.Src, int(img.Width), r.status)
			}
			continue
		}
		if img.Width <= 0 {
			t.Errorf("%s did not decode (naturalWidth %v)", img.Src, img.Width)
		}
		if r.mime != "image/avif" && r.mime != "image/webp" {
			t.Errorf("%s came as %q, want AVIF or WebP", img.Src, r.mime)
		}
	}
	mu.Unlock()

	// Every caption names its URL and shows what the server said: the
	// Server-Timing of the picture's own load, the Cache-Status of asking
	// again (a hit, since the picture was just made).
	for _, f := range page.Captions {
		switch {
		case f.ID == "tampered":
			if !strings.HasPrefix(f.Timing, "403 Forbidden: the URL signature does not match") {
				t.Errorf("the tampered URL's caption %q, want its 403 and why", f.Timing)
			}
		case !strings.Contains(f.Timing, "this load: ") || !strings.Contains(f.Timing, "total") ||
			!strings.Contains(f.Timing, "again: imgedge; hit"):
			t.Errorf("%s: caption %q lacks the Server-Timing of its load or the Cache-Status of the next", f.URL, f.Timing)
		}
		if f.URL == "" {
			t.Errorf("a caption without its URL: %+v", f)
		}
	}
	if len(page.ETags) != 2 || page.ETags[0] != page.ETags[1] || page.ETags[0] == "" {
		t.Errorf("the imgix and Cloudflare URLs' ETags %q, want one and the same", page.ETags)
	}

	// The placeholders are painted before their pictures load, and the
	// BlurHash decodes to the picture's colours.
	for _, p := range page.Placeholders {
		if p.PaintedAt <= 0 || p.LoadedAt <= 0 || p.PaintedAt >= p.LoadedAt {
			t.Errorf("%s placeholder painted at %.1f ms, its picture loaded at %.1f ms: want painted first", p.ID, p.PaintedAt, p.LoadedAt)
		}
	}
	blurHashDecodes(t, page.BlurHash, page.BlurHashPixels)
	if page.BlurHashDistance > 24 {
		t.Errorf("the BlurHash's mean colour is %.0f levels from the picture's", page.BlurHashDistance)
	}
	if len(page.Swatches) != 5 {
		t.Errorf("palette swatches %q, want 5 colours", page.Swatches)
	}

	// fm=json: the original's own size.
	f, err := os.Open(filepath.Join(testenv.ModuleRoot(t), "examples", "site", "photos", "kite.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	kite, err := jpeg.DecodeConfig(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if page.JSON["PixelWidth"] != fmt.Sprint(kite.Width) || page.JSON["PixelHeight"] != fmt.Sprint(kite.Height) {
		t.Errorf("the fm=json table %v, want kite.jpg's %dx%d", page.JSON, kite.Width, kite.Height)
	}

	// The dashboard, through the page's link and with the demo's login:
	// once the usage arrives, the chart shows it.
	if err := chromedp.Run(ctx, network.SetExtraHTTPHeaders(network.Headers{"Authorization": exampleUsageAuth})); err != nil {
		t.Fatal(err)
	}
	if page.Dashboard != c.Base+"/usage/" {
		t.Fatalf("the page links to the dashboard at %q", page.Dashboard)
	}
	deadline := time.Now().Add(30 * time.Second)
	var points string
	for time.Now().Before(deadline) {
		err := chromedp.Run(ctx,
			chromedp.Navigate(page.Dashboard),
			chromedp.WaitVisible("#c-requests canvas", chromedp.ByQuery),
			chromedp.Poll(`document.body.dataset.points !== undefined`, nil, chromedp.WithPollingTimeout(10*time.Second)),
			chromedp.Evaluate(`document.body.dataset.points`, &points),
		)
		if err != nil {
			t.Fatal(err)
		}
		if atoi(points) >= len(page.Images) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if atoi(points) < len(page.Images) {
		t.Fatalf("the dashboard shows %s requests, want at least the %d images the browser loaded", points, len(page.Images))
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

// demoPage is what demoPageJS reads off the demo page once its script is
// done.
type demoPage struct {
	Errors string
	Images []struct {
		Src      string
		Width    float64
		Tampered bool
	}
	Captions []struct {
		ID, URL, Timing string
	}
	ETags        []string
	Placeholders []struct {
		ID                  string
		PaintedAt, LoadedAt float64
	}
	BlurHash         string
	BlurHashPixels   []int // the canvas, RGBA
	BlurHashDistance float64
	Swatches         []string
	JSON             map[string]string
	Dashboard        string
}

const demoPageJS = `(() => {
	// The mean colour of a picture, drawn small.
	const mean = (source, w, h) => {
		const c = document.createElement("canvas");
		c.width = w; c.height = h;
		const ctx = c.getContext("2d");
		ctx.drawImage(source, 0, 0, w, h);
		const px = ctx.getImageData(0, 0, w, h).data;
		const sum = [0, 0, 0];
		for (let i = 0; i < px.length; i += 4) for (let k = 0; k < 3; k++) sum[k] += px[i + k];
		return sum.map((s) => s / (w * h));
	};
	const bh = document.getElementById("blurhash");
	const hashMean = mean(bh.querySelector("canvas"), 32, 20), imgMean = mean(bh.querySelector("img"), 32, 20);
	return {
		Errors: document.body.dataset.errors,
		Images: Array.from(document.images).map((i) => ({Src: i.currentSrc, Width: i.naturalWidth, Tampered: i.classList.contains("tampered")})),
		Captions: Array.from(document.querySelectorAll(".timing")).map((e) => {
			const f = e.closest("figure");
			return {ID: f.id, URL: f.querySelector("code.url").textContent, Timing: e.textContent};
		}),
		ETags: Array.from(document.querySelectorAll("figure[data-etag] .timing")).map((e) => (e.textContent.match(/ETag (.*)/) || ["", ""])[1]),
		Placeholders: ["blurhash", "palette"].map((id) => {
			const f = document.getElementById(id);
			return {ID: id, PaintedAt: Number(f.dataset.placeholderAt || 0), LoadedAt: Number(f.dataset.loadedAt || 0)};
		}),
		BlurHash: bh.querySelector("code.hash").textContent,
		BlurHashPixels: Array.from(bh.querySelector("canvas").getContext("2d").getImageData(0, 0, 32, 20).data),
		BlurHashDistance: Math.max(...hashMean.map((v, k) => Math.abs(v - imgMean[k]))),
		Swatches: Array.from(document.querySelectorAll("#palette .swatches span")).map((s) => s.textContent).filter((s) => s),
		JSON: Object.fromEntries(Array.from(document.querySelectorAll("#json tr")).map((r) => [r.cells[0].textContent, r.cells[1].textContent])),
		Dashboard: document.querySelector('a[href="/usage/"]').href,
	};
})()`

// blurHashDecodes checks the page's BlurHash decoder (examples/site/
// blurhash.js) against go-blurhash's: the canvas it painted, 32x20, holds
// the same pixels, give or take rounding.
func blurHashDecodes(t *testing.T, hash string, canvas []int) {
	t.Helper()
	want, err := blurhash.Decode(hash, 32, 20, 1)
	if err != nil {
		t.Fatalf("the page's BlurHash %q: %v", hash, err)
	}
	if len(canvas) != 32*20*4 {
		t.Fatalf("the BlurHash canvas has %d values, want 32x20 RGBA", len(canvas))
	}
	for i := 0; i < len(canvas); i += 4 {
		x, y := i/4%32, i/4/32
		c := color.NRGBAModel.Convert(want.At(x, y)).(color.NRGBA)
		for k, v := range []uint8{c.R, c.G, c.B, c.A} {
			if d := canvas[i+k] - int(v); d < -2 || d > 2 {
				t.Fatalf("BlurHash %q at (%d,%d): the page painted %v, go-blurhash decodes %v", hash, x, y, canvas[i:i+4], c)
			}
		}
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscanf(s, "%d", &n)
	return n
}
