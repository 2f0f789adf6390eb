package imgedge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// site writes files into a fresh directory and starts caddy serving it
// with image_resize in front of file_server.
func site(t *testing.T, files map[string][]byte, options string) *testenv.Caddy {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	return testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	auto_https off
}
http://127.0.0.1:{{PORT}} {
	root * %s
	image_resize {
		node test-node
		%s
	}
	file_server
}
`, root, options))
}

func writeFiles(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func get(t *testing.T, url string, header ...string) answer {
	t.Helper()
	return do(t, http.MethodGet, url, nil, header...)
}

// do is get by any method, with a body (nil: none).
func do(t *testing.T, method, url string, body io.Reader, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, got}
}

// decoded is what libvips makes of an answer's body: it must decode fully.
type decoded struct {
	format        transform.Format
	width, height int
	frames        int
}

func decode(t *testing.T, body []byte) decoded {
	t.Helper()
	cfg := imaging.DefaultConfig()
	cfg.MaxPixels = 1 << 40
	src, err := imaging.Inspect(body, cfg)
	if err != nil {
		t.Fatalf("answer does not decode: %v", err)
	}
	// A full decode, not just the header: re-encode every pixel as PNG.
	if _, err := imaging.Process(src, transform.Options{Anchor: transform.Center}, transform.PNG, cfg); err != nil {
		t.Fatalf("answer's pixels do not decode: %v", err)
	}
	h := src.Header
	w, ht := h.OrientedSize()
	return decoded{h.Format, w, ht, h.Pages}
}

func TestEveryFitModeGivesTheExactOutputSize(t *testing.T) {
	c := site(t, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(800, 600))}, "")
	cases := []struct {
		query string
		w, h  int
	}{
		{"w=400", 400, 300},
		{"width=400", 400, 300},
		{"h=300", 400, 300},
		{"w=200&dpr=2", 400, 300},
		{"w=1600", 800, 600}, // scale-down never enlarges
		{"w=400&h=400", 400, 300},
		{"w=1600&fit=contain", 1600, 1200},
		{"w=400&h=100&fit=contain", 133, 100},
		{"w=400&h=400&fit=cover", 400, 400},
		{"w=400&fit=cover", 400, 300}, // one side: nothing to crop
		{"w=400&fit=cover&g=smart", 400, 300},
		{"w=1600&h=400&fit=cover", 1600, 400},
		{"w=400&h=400&fit=crop", 400, 400},
		{"w=1600&h=400&fit=crop", 800, 400}, // never enlarged, cut to the box
		{"w=400&h=400&fit=pad", 400, 400},
		{"w=400&h=400&fit=fill", 400, 400},
		{"w=400&h=400&fit=squeeze", 400, 400},
		{"w=300&h=500&fit=scale", 300, 500},
		{"w=400&h=400&fit=cover&g=smart", 400, 400},
		{"w=400&h=400&fit=cover&g=top", 400, 400},
		{"w=400&h=400&fit=cover&fp-x=0.9&fp-y=0.1", 400, 400},
		{"w=400&h=400&fit=crop&crop=bottom,right", 400, 400},
		{"f=png", 800, 600},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			a := get(t, c.Base+"/p.jpg?"+tc.query)
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			d := decode(t, a.body)
			if d.width != tc.w || d.height != tc.h {
				t.Errorf("got %dx%d, want %dx%d", d.width, d.height, tc.w, tc.h)
			}
		})
	}
}

func TestEveryOutputFormatDecodes(t *testing.T) {
	c := site(t, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(640, 480))}, "")
	for _, f := range []struct {
		param string
		want  transform.Format
	}{{"jpeg", transform.JPEG}, {"jpg", transform.JPEG}, {"png", transform.PNG}, {"webp", transform.WEBP}, {"avif", transform.AVIF}, {"gif", transform.GIF}} {
		t.Run(f.param, func(t *testing.T) {
			a := get(t, c.Base+"/p.jpg?w=320&f="+f.param)
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != f.want.MIME() {
				t.Errorf("Content-Type %q, want %q", ct, f.want.MIME())
			}
			if cl := a.header.Get("Content-Length"); cl != fmt.Sprint(len(a.body)) {
				t.Errorf("Content-Length %q for %d bytes", cl, len(a.body))
			}
			d := decode(t, a.body)
			if d.format != f.want || d.width != 320 || d.height != 240 {
				t.Errorf("got %s %dx%d, want %s 320x240", d.format, d.width, d.height, f.want)
			}
		})
	}
}

func TestEverySourceFormatIsRead(t *testing.T) {
	photo := testimages.JPEG(testimages.Gradient(400, 300))
	files := map[string][]byte{
		"p.jpg":  photo,
		"a.png":  testimages.PNGWithAlpha(400, 300),
		"g.gif":  testimages.AnimatedGIF(400, 300, 1),
		"t.tiff": testimages.TIFF(testimages.Gradient(400, 300)),
		"v.svg":  []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"><rect width="400" height="300" fill="#3a6"/><circle cx="200" cy="150" r="100" fill="#fc0"/></svg>`),
	}
	c := site(t, files, "")
	// WebP and AVIF sources are made by imgedge itself.
	for _, f := range []string{"webp", "avif"} {
		a := get(t, c.Base+"/p.jpg?f="+f)
		if a.status != http.StatusOK {
			t.Fatalf("making a %s source: %d %s", f, a.status, a.body)
		}
		files["s."+f] = a.body
	}
	c = site(t, files, "")
	for name := range files {
		t.Run(name, func(t *testing.T) {
			a := get(t, c.Base+"/"+name+"?w=200")
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			if d := decode(t, a.body); d.width != 200 || d.height != 150 {
				t.Errorf("got %dx%d, want 200x150", d.width, d.height)
			}
		})
	}
}

func TestFormatAutoFollowsTheBrowsersAccept(t *testing.T) {
	c := site(t, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(400, 300)), "a.png": testimages.PNGWithAlpha(400, 300)}, "")
	chrome := "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
	oldSafari := "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
	cases := []struct {
		name, path, accept, want, vary string
	}{
		{"chrome gets AVIF", "/p.jpg?w=100&f=auto", chrome, "image/avif", "Accept"},
		{"webp-only browser gets WebP", "/p.jpg?w=100&auto=format", "image/webp,*/*", "image/webp", "Accept"},
		{"old Safari gets the source family", "/p.jpg?w=100&f=auto", oldSafari, "image/jpeg", "Accept"},
		{"alpha stays PNG without modern formats", "/a.png?w=100&f=auto", oldSafari, "image/png", "Accept"},
		{"an explicit format ignores Accept", "/p.jpg?w=100&f=webp", oldSafari, "image/webp", ""},
		{"no format keeps the source family", "/p.jpg?w=100", chrome, "image/jpeg", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, c.Base+tc.path, "Accept", tc.accept)
			if a.status != http.StatusOK || a.header.Get("Content-Type") != tc.want {
				t.Fatalf("status %d, Content-Type %q; want 200 %q", a.status, a.header.Get("Content-Type"), tc.want)
			}
			if got := a.header.Get("Vary"); got != tc.vary {
				t.Errorf("Vary %q, want %q", got, tc.vary)
			}
		})
	}
}

func TestEXIFOrientationsComeOutUpright(t *testing.T) {
	want := testimages.Upright(64, 32)
	files := map[string][]byte{}
	for o := 1; o <= 8; o++ {
		files[fmt.Sprintf("o%d.jpg", o)] = testimages.OrientedJPEG(want, o)
	}
	c := site(t, files, "")
	for o := 1; o <= 8; o++ {
		t.Run(fmt.Sprintf("orientation %d", o), func(t *testing.T) {
			a := get(t, fmt.Sprintf("%s/o%d.jpg?w=64&f=png", c.Base, o))
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			img, err := png.Decode(bytes.NewReader(a.body))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 32 {
				t.Fatalf("got %dx%d, want 64x32", b.Dx(), b.Dy())
			}
			if !reddish(img.At(12, 6)) || reddish(img.At(52, 6)) || reddish(img.At(12, 26)) || reddish(img.At(52, 26)) {
				t.Errorf("red quadrant is not at the top left: TL %v TR %v BL %v BR %v",
					img.At(12, 6), img.At(52, 6), img.At(12, 26), img.At(52, 26))
			}
		})
	}
}

func reddish(c interface{ RGBA() (r, g, b, a uint32) }) bool {
	r, _, b, _ := c.RGBA()
	return r > 2*b
}

func TestAnimationsAreKeptWhereTheFormatCanCarryThem(t *testing.T) {
	c := site(t, map[string][]byte{"anim.gif": testimages.AnimatedGIF(120, 90, 6)}, "")
	for _, tc := range []struct {
		query  string
		frames int
	}{{"w=60", 6}, {"w=60&f=webp", 6}, {"w=60&f=png", 1}, {"w=60&f=jpeg", 1}, {"w=60&h=60&fit=cover", 6}} {
		t.Run(tc.query, func(t *testing.T) {
			a := get(t, c.Base+"/anim.gif?"+tc.query)
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			d := decode(t, a.body)
			if d.frames != tc.frames || d.width != 60 {
				t.Errorf("got %d frames of width %d, want %d of width 60", d.frames, d.width, tc.frames)
			}
		})
	}
}

func TestRequestsWithoutImageWorkPassThroughByteForByte(t *testing.T) {
	photo := testimages.JPEG(testimages.Gradient(300, 200))
	c := site(t, map[string][]byte{"p.jpg": photo, "doc.txt": []byte("plain text, not an image\n")}, "")
	cases := []struct{ name, path string }{
		{"no query", "/p.jpg"},
		{"only unknown parameters", "/p.jpg?v=3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, c.Base+tc.path)
			if a.status != http.StatusOK || !bytes.Equal(a.body, photo) {
				t.Fatalf("status %d, %d bytes; want the original's %d bytes", a.status, len(a.body), len(photo))
			}
			if a.header.Get("Imgedge-Node") != "" || a.header.Get("Last-Modified") == "" || a.header.Get("Accept-Ranges") != "bytes" {
				t.Errorf("headers were touched: %v", a.header)
			}
		})
	}
	t.Run("a non-image answer to an image request", func(t *testing.T) {
		a := get(t, c.Base+"/doc.txt?w=400")
		if a.status != http.StatusOK || string(a.body) != "plain text, not an image\n" || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") {
			t.Fatalf("got %d %q %q", a.status, a.header.Get("Content-Type"), a.body)
		}
	})
	t.Run("a 404 for an image request", func(t *testing.T) {
		if a := get(t, c.Base+"/missing.jpg?w=400"); a.status != http.StatusNotFound {
			t.Fatalf("got %d, want 404", a.status)
		}
	})
}

func TestHostileSourcesAreRefusedWithA4xx(t *testing.T) {
	photo := testimages.JPEG(testimages.Gradient(1200, 900))
	files := map[string][]byte{
		"truncated.jpg":  testimages.Truncated(photo, 0.4),
		"garbage.jpg":    testimages.Garbage(4096),
		"empty.jpg":      {},
		"text.jpg":       []byte("this is not a JPEG, whatever its name says\n"),
		"bomb.png":       testimages.BombPNG(20000, 20000),
		"entity.svg":     []byte(`<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&x;</text></svg>`),
		"frames.gif":     testimages.AnimatedGIF(8, 8, 2000),
		"truncated.png":  testimages.Truncated(testimages.PNG(testimages.Gradient(600, 400)), 0.5),
		"mismatched.png": photo, // a JPEG named .png is still an image: answered
	}
	c := site(t, files, "")
	cases := []struct {
		file   string
		status int
	}{
		{"truncated.jpg", 422},
		{"truncated.png", 422},
		{"garbage.jpg", 415},
		{"empty.jpg", 415},
		{"text.jpg", 415},
		{"bomb.png", 422},
		{"entity.svg", 422},
		{"frames.gif", 422},
		{"mismatched.png", 200},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			a := get(t, c.Base+"/"+tc.file+"?w=100")
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status >= 400 {
				var p struct{ Error string }
				if err := json.Unmarshal(a.body, &p); err != nil || p.Error == "" || a.header.Get("Content-Type") != "application/json; charset=utf-8" {
					t.Errorf("want a JSON problem body, got %q (%v)", a.body, err)
				}
			}
		})
	}
	// Decoding the bomb would take 20000*20000*3 bytes, 1.2 GB.
	if rss := c.RSS(); rss > 300<<20 {
		t.Errorf("RSS %d MiB after hostile inputs, want under 300 MiB", rss>>20)
	}
	if !c.Alive() {
		t.Fatal("caddy died")
	}
}

func TestGoImageTestdataNeverGetsA5xx(t *testing.T) {
	files := map[string][]byte{}
	for _, dir := range []string{"image/testdata", "image/png/testdata/pngsuite", "image/png/testdata", "image/gif/testdata", "image/jpeg/testdata"} {
		entries, _ := os.ReadDir(filepath.Join(runtime.GOROOT(), "src", dir))
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[strings.ReplaceAll(dir, "/", "_")+"/"+e.Name()] = b
		}
	}
	if len(files) < 50 {
		t.Fatalf("found only %d files of Go's image testdata", len(files))
	}
	c := site(t, files, "")
	counts := map[int]int{}
	for name := range files {
		a := get(t, c.Base+"/"+name+"?w=50&f=webp")
		counts[a.status]++
		if a.status >= 500 || (a.status != 200 && a.status < 400) {
			t.Errorf("%s: status %d: %s", name, a.status, a.body)
		}
	}
	t.Logf("%d files: statuses %v", len(files), counts)
	if counts[200] < len(files)/2 {
		t.Errorf("only %d of %d files were answered with 200", counts[200], len(files))
	}
	if !c.Alive() {
		t.Fatal("caddy died")
	}
}

func TestBadParametersGetA400NamingTheParameter(t *testing.T) {
	c := site(t, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(100, 100))}, "")
	for query, param := range map[string]string{
		"w=abc": "w", "w=0": "w", "w=99999": "w", "h=-1": "h", "q=101": "q", "fit=round": "fit",
		"f=bmp": "f", "dpr=0": "dpr", "g=northwest": "g", "bg=zzz": "bg", "blur=999": "blur",
		"metadata=all": "metadata", "w=1&width=2": "width", "fp-x=2": "fp-x",
	} {
		t.Run(query, func(t *testing.T) {
			a := get(t, c.Base+"/p.jpg?"+query)
			var p struct{ Error, Param string }
			if err := json.Unmarshal(a.body, &p); err != nil {
				t.Fatalf("status %d, body %q is not JSON", a.status, a.body)
			}
			if a.status != 400 || (p.Param != param && !(query == "w=1&width=2" && p.Param == "w")) || p.Error == "" {
				t.Errorf("got %d %+v, want 400 naming %q", a.status, p, param)
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("a refusal must not be cached, Cache-Control %q", a.header.Get("Cache-Control"))
			}
		})
	}
}

func TestStrictModeRefusesUnknownParameters(t *testing.T) {
	c := site(t, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(100, 100))}, "strict")
	if a := get(t, c.Base+"/p.jpg?w=50&colour=red"); a.status != 400 || !bytes.Contains(a.body, []byte(`"param":"colour"`)) {
		t.Fatalf("got %d %s, want 400 naming colour", a.status, a.body)
	}
}

func TestResponseHeadersAndConditionalRequests(t *testing.T) {
	c := site(t, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(400, 300))}, `cache_control "public, max-age=600"`)
	a := get(t, c.Base+"/p.jpg?w=100&q=70")
	etag := a.header.Get("ETag")
	if a.status != 200 || etag == "" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("status %d, ETag %q", a.status, etag)
	}
	for h, want := range map[string]string{"Cache-Control": "public, max-age=600", "Imgedge-Node": "test-node", "X-Content-Type-Options": "nosniff"} {
		if got := a.header.Get(h); got != want {
			t.Errorf("%s %q, want %q", h, got, want)
		}
	}
	st := a.header.Get("Server-Timing")
	for _, m := range []string{"fetch;dur=", "resize;dur=", "total;dur="} {
		if !strings.Contains(st, m) {
			t.Errorf("Server-Timing %q lacks %s", st, m)
		}
	}
	if b := get(t, c.Base+"/p.jpg?quality=70&width=100"); b.header.Get("ETag") != etag || !bytes.Equal(a.body, b.body) {
		t.Errorf("the same variant asked differently has ETag %q, want %q", b.header.Get("ETag"), etag)
	}
	if b := get(t, c.Base+"/p.jpg?w=101&q=70"); b.header.Get("ETag") == etag {
		t.Error("a different variant has the same ETag")
	}
	nm := get(t, c.Base+"/p.jpg?w=100&q=70", "If-None-Match", etag)
	if nm.status != http.StatusNotModified || len(nm.body) != 0 || nm.header.Get("ETag") != etag {
		t.Errorf("If-None-Match: got %d with %d bytes, want 304", nm.status, len(nm.body))
	}
	req, _ := http.NewRequest(http.MethodHead, c.Base+"/p.jpg?w=100&q=70", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != fmt.Sprint(len(a.body)) {
		t.Errorf("HEAD: %d, Content-Length %q, want 200 and %d", resp.StatusCode, resp.Header.Get("Content-Length"), len(a.body))
	}
}

func TestOriginsThatFailOrStallGet502And504(t *testing.T) {
	big := testimages.Garbage(300 << 10)
	release := make(chan struct{})
	var mu sync.Mutex
	var queries []string // what /query was asked with
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow.jpg":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/chunked.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			for i := 0; i < len(big); i += 32 << 10 {
				w.Write(big[i:min(i+32<<10, len(big))])
				w.(http.Flusher).Flush()
			}
		case "/query":
			mu.Lock()
			queries = append(queries, r.URL.RawQuery)
			mu.Unlock()
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, r.URL.RawQuery)
		}
	}))
	defer origin.Close()
	defer close(release)
	dead := testenv.FreePort(t)
	c := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	image_resize {
		fetch_timeout 300ms
		max_source 100KiB
	}
	handle /dead/* {
		reverse_proxy 127.0.0.1:%d
	}
	reverse_proxy %s
}
`, dead, origin.URL))
	for _, tc := range []struct {
		path   string
		status int
	}{{"/dead/p.jpg?w=10", 502}, {"/slow.jpg?w=10", 504}, {"/chunked.jpg?w=10", 413}} {
		t.Run(tc.path, func(t *testing.T) {
			a := get(t, c.Base+tc.path)
			if a.status != tc.status || !bytes.Contains(a.body, []byte(`"error"`)) {
				t.Errorf("got %d %s, want %d with a JSON body", a.status, a.body, tc.status)
			}
		})
	}
	t.Run("the origin is asked without image parameters, and a text answer is the untouched request's", func(t *testing.T) {
		a := get(t, c.Base+"/query?v=3&w=10&fm=webp&token=abc")
		// The original is asked for without the image parameters; the
		// answer is not an image, so the client gets what the route
		// answers the request as it was sent.
		if string(a.body) != "v=3&w=10&fm=webp&token=abc" || a.status != 200 {
			t.Errorf("the client got %d %q, want the route's answer to the untouched query", a.status, a.body)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(queries) != 2 || queries[0] != "token=abc&v=3" || queries[1] != "v=3&w=10&fm=webp&token=abc" {
			t.Errorf("the origin was asked %q, want the original's query, then the untouched one", queries)
		}
	})
}

func TestABusyNodeAnswers503WithRetryAfter(t *testing.T) {
	c := site(t, map[string][]byte{"big.jpg": testimages.JPEG(testimages.Gradient(3000, 2000))}, "concurrency 1\nqueue 0")
	const n = 6
	var wg sync.WaitGroup
	start := make(chan struct{})
	answers := make([]answer, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = get(t, fmt.Sprintf("%s/big.jpg?w=%d&blur=5", c.Base, 1000+i))
		}()
	}
	close(start)
	wg.Wait()
	busy := 0
	for _, a := range answers {
		switch a.status {
		case 200:
		case 503:
			busy++
			if a.header.Get("Retry-After") == "" || !bytes.Contains(a.body, []byte(`"error"`)) {
				t.Errorf("503 without Retry-After or JSON body: %v %s", a.header, a.body)
			}
		default:
			t.Errorf("unexpected status %d: %s", a.status, a.body)
		}
	}
	if busy == 0 || busy == n {
		t.Errorf("%d of %d requests were refused as busy; want some, not all", busy, n)
	}
}

func TestMetricsAreExported(t *testing.T) {
	c := site(t, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(200, 100))}, "")
	get(t, c.Base+"/p.jpg?w=50")
	get(t, c.Base+"/p.jpg?w=abc")
	a := get(t, "http://"+c.Admin+"/metrics")
	for _, m := range []string{
		`imgedge_requests_total{outcome="resized"} 1`,
		`imgedge_requests_total{outcome="bad_request"} 1`,
		`imgedge_resize_total 1`,
		`imgedge_direct_decodes_total 1`, // a plain JPEG downscale
		`imgedge_resize_duration_seconds_count 1`,
		`imgedge_queue_depth 0`,
		`imgedge_source_bytes_total`,
		`imgedge_output_bytes_total`,
	} {
		if !bytes.Contains(a.body, []byte(m)) {
			t.Errorf("metrics lack %q", m)
		}
	}
}

func TestAPathologicallySlowJobIsStoppedAtTheProcessTimeout(t *testing.T) {
	c := site(t, map[string][]byte{"big.jpg": testimages.JPEG(testimages.Gradient(3000, 2000))}, "process_timeout 100ms")
	a := get(t, c.Base+"/big.jpg?w=3000&blur=100")
	if a.status != 422 || !bytes.Contains(a.body, []byte("longer than the limit of 100ms")) {
		t.Fatalf("got %d %s, want 422 naming the 100ms limit", a.status, a.body)
	}
	if m := metric(t, c, `imgedge_requests_total{outcome="too_slow"}`); m != 1 {
		t.Errorf(`imgedge_requests_total{outcome="too_slow"} = %v, want 1`, m)
	}
	if b := get(t, c.Base+"/big.jpg?w=300"); b.status != 200 {
		t.Errorf("the next, ordinary request got %d", b.status)
	}
}
