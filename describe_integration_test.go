package imgedge_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// describeSite serves a photo and a broken "JPEG" with image_resize and
// Cloudflare's path form in front.
func describeSite(t *testing.T) (*testenv.Caddy, []byte) {
	t.Helper()
	photo := testimages.JPEG(testimages.Gradient(1200, 800))
	return cdnSite(t, map[string][]byte{"photo.jpg": photo, "broken.jpg": testimages.Garbage(5000)}), photo
}

// cdnSite serves files with image_resize and Cloudflare's path form in
// front of file_server.
func cdnSite(t *testing.T, files map[string][]byte) *testenv.Caddy {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	return testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://:{{PORT}} {
	bind 127.0.0.1
	root * %s
	cdn_cgi_image
	image_resize
	file_server
}
`, root))
}

func TestDescriptionsAnswerThroughBothURLFormsAndAreCached(t *testing.T) {
	c, photo := describeSite(t)

	a := get(t, c.Base+"/photo.jpg?w=300&fm=json")
	var imgix map[string]any
	if err := json.Unmarshal(a.body, &imgix); err != nil || a.status != 200 || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("fm=json: %d %s %q %v", a.status, a.header.Get("Content-Type"), a.body, err)
	}
	if imgix["PixelWidth"] != 1200.0 || imgix["PixelHeight"] != 800.0 || imgix["Content-Length"] != strconv.Itoa(len(photo)) {
		t.Errorf("fm=json: %s, want the 1200x800 source of %d bytes", a.body, len(photo))
	}
	if again := get(t, c.Base+"/photo.jpg?w=300&fm=json"); !strings.HasPrefix(again.header.Get("Cache-Status"), "imgedge; hit") ||
		string(again.body) != string(a.body) {
		t.Errorf("fm=json again: Cache-Status %q, want a hit with the same body", again.header.Get("Cache-Status"))
	}

	for _, u := range []string{"/cdn-cgi/image/width=300,format=json/photo.jpg", "/photo.jpg?width=300&format=json"} {
		cf := get(t, c.Base+u)
		var info struct {
			Width, Height int
			Original      struct {
				FileSize int `json:"file_size"`
				Format   string
			}
		}
		if err := json.Unmarshal(cf.body, &info); err != nil || info.Width != 300 || info.Height != 200 ||
			info.Original.FileSize != len(photo) || info.Original.Format != "image/jpeg" {
			t.Errorf("%s: %d %s (%v), want width 300, height 200 and the original's size", u, cf.status, cf.body, err)
		}
	}

	bh := get(t, c.Base+"/photo.jpg?w=200&fm=blurhash")
	if bh.status != 200 || !strings.HasPrefix(bh.header.Get("Content-Type"), "text/plain") || len(bh.body) < 20 {
		t.Errorf("fm=blurhash: %d %q %q", bh.status, bh.header.Get("Content-Type"), bh.body)
	}
	css := get(t, c.Base+"/photo.jpg?w=200&palette=css&colors=3")
	if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || strings.Count(string(css.body), "{") != 6 {
		t.Errorf("palette=css: %d %q\n%s", css.status, css.header.Get("Content-Type"), css.body)
	}
}

func TestOnErrorRedirectSendsABrokenSourceToItself(t *testing.T) {
	c, _ := describeSite(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for u, want := range map[string]string{
		"/broken.jpg?w=100&onerror=redirect&v=2":               "/broken.jpg?v=2",
		"/cdn-cgi/image/width=100,onerror=redirect/broken.jpg": "/broken.jpg",
	} {
		resp, err := client.Get(c.Base + u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
			t.Errorf("%s: %d, Location %q; want 307 to %s", u, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	if a := get(t, c.Base+"/broken.jpg?w=100"); a.status != http.StatusUnsupportedMediaType {
		t.Errorf("without onerror: %d, want 415", a.status)
	}
	if a := get(t, c.Base+"/photo.jpg?w=abc&onerror=redirect"); a.status != http.StatusBadRequest {
		t.Errorf("a bad parameter with onerror=redirect: %d, want 400 still", a.status)
	}
	if a := get(t, c.Base+"/photo.jpg?w=100&onerror=maybe"); a.status != http.StatusBadRequest || !strings.Contains(string(a.body), "onerror") {
		t.Errorf("onerror=maybe: %d %s, want 400 naming onerror", a.status, a.body)
	}
}

func TestAdjustmentsThroughBothURLFormsShareOneVariant(t *testing.T) {
	c, _ := describeSite(t)
	query := get(t, c.Base+"/photo.jpg?w=100&sat=-100")
	path := get(t, c.Base+"/cdn-cgi/image/width=100,saturation=0/photo.jpg")
	if query.status != 200 || path.status != 200 || query.header.Get("ETag") != path.header.Get("ETag") {
		t.Errorf("sat=-100 %d %s, saturation=0 by path %d %s: want one variant", query.status, query.header.Get("ETag"), path.status, path.header.Get("ETag"))
	}
	if !strings.HasPrefix(path.header.Get("Cache-Status"), "imgedge; hit") {
		t.Errorf("the path form after the query form: %q, want a hit", path.header.Get("Cache-Status"))
	}
}
