package imgedge_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/transform"
)

// dropinSite serves photo.jpg (1200x800) and notes.txt beside an API that
// answers its query as text, with image_resize in front of both, as a site
// that replaced imgix or Cloudflare has it.
func dropinSite(t *testing.T, tenants string) *testenv.Caddy {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{
		"photo.jpg":          testimages.JPEG(testimages.Gradient(1200, 800)),
		"notes.txt":          []byte("not an image"),
		"private/secret.jpg": testimages.JPEG(testimages.Gradient(300, 200)),
	})
	hash, err := bcrypt.GenerateFromPassword([]byte("wonderland"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	auto_https off
}
http://:{{PORT}} {
	bind 127.0.0.1
	root * %s
	cdn_cgi_image
	basic_auth /private/* {
		alice %s
	}
	image_resize {
		accept_ch
		%s
	}
	handle /api/* {
		header Content-Type text/plain
		respond "{http.request.uri.query}"
	}
	file_server
}
`, root, hash, tenants))
}

// A request is image work only when its answer is an image: the rest of
// the site gets what its route answers the request untouched.
func TestOnlyImagesAreImageWork(t *testing.T) {
	c := dropinSite(t, "")
	for _, tt := range []struct {
		path, want string
	}{
		{"/api/search?q=shoes", "q=shoes"},      // q is quality, and shoes no number
		{"/api/x?format=json", "format=json"},   // format is an image parameter
		{"/api/x?w=400&page=2", "w=400&page=2"}, // valid image parameters, on an API
		{"/api/x?hue=30&w=3", "hue=30&w=3"},     // an unimplemented one, on an API
		{"/notes.txt?w=10&v=1", "not an image"}, // a file that is not an image
	} {
		a := get(t, c.Base+tt.path)
		if a.status != 200 || string(a.body) != tt.want {
			t.Errorf("%s: %d %q, want 200 %q", tt.path, a.status, a.body, tt.want)
		}
	}
	// The same parameters on an image are refused, naming the parameter.
	for _, tt := range []struct{ query, param string }{
		{"q=shoes", "q"}, {"format=xml", "f"}, {"hue=30", "hue"}, {"sat=-101", "sat"}, {"fit=facearea&w=10", "fit"}, {"fit=facearea&w=10&h=10&facepad=0", "facepad"}, {"rot=45", "rot"},
		{"w=100&trim=10;20;10;0", "trim"},         // a raw ; would drop the pair: refused, not ignored
		{"w=4096&h=4096&fit=pad&pad=4096", "pad"}, // padding past the output limits

	} {
		a := get(t, c.Base+"/photo.jpg?"+tt.query)
		var p struct{ Error, Param string }
		if a.status != 400 || json.Unmarshal(a.body, &p) != nil || p.Param != tt.param {
			t.Errorf("photo.jpg?%s: %d %s, want 400 naming %s", tt.query, a.status, a.body, tt.param)
		}
	}
	// Pages get Accept-CH, so that browsers send the hints ch= reads.
	if a := get(t, c.Base+"/notes.txt"); a.header.Get("Accept-CH") != transform.AcceptCH {
		t.Errorf("Accept-CH on a page: %q", a.header.Get("Accept-CH"))
	}
}

func TestCloudflarePathsAreTheSameVariants(t *testing.T) {
	c := dropinSite(t, "")
	host := strings.TrimPrefix(c.Base, "http://")
	query := get(t, c.Base+"/photo.jpg?width=300&height=200&fit=cover")
	if query.status != 200 {
		t.Fatalf("the query form: %d %s", query.status, query.body)
	}
	for _, path := range []string{
		"/cdn-cgi/image/width=300,height=200,fit=cover/photo.jpg",
		"/cdn-cgi/image/fit=cover,height=200,width=300/photo.jpg",
		"/cdn-cgi/image/width=300,height=200,fit=cover/http://" + host + "/photo.jpg",
	} {
		a := get(t, c.Base+path)
		if a.status != 200 || a.header.Get("ETag") != query.header.Get("ETag") || !strings.HasPrefix(a.header.Get("Cache-Status"), "imgedge; hit") {
			t.Errorf("%s: %d, ETag %s (the query form's %s), %s; want the query form's cached variant",
				path, a.status, a.header.Get("ETag"), query.header.Get("ETag"), a.header.Get("Cache-Status"))
		}
		if d := decode(t, a.body); d.width != 300 || d.height != 200 {
			t.Errorf("%s: %dx%d", path, d.width, d.height)
		}
	}
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/cdn-cgi/image/width=300/https://elsewhere.example/photo.jpg", 400}, // no fetching from other hosts
		{"/cdn-cgi/image/width=300/notes.txt", 415},
		{"/cdn-cgi/image/width=300/missing.jpg", 404},
		{"/cdn-cgi/image/width=abc/photo.jpg", 400},
		{"/cdn-cgi/image/brightness=-2/photo.jpg", 400},
		{"/cdn-cgi/image/border=2/photo.jpg", 400},
		{"/cdn-cgi/image/width/photo.jpg", 400},
		{"/cdn-cgi/image/width=300/../etc/passwd", 400},
		{"/cdn-cgi/image/width=100/private/secret.jpg", 401}, // access control sees the source's path
		{"/private/secret.jpg?w=100", 401},
	} {
		if a := get(t, c.Base+tt.path); a.status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.path, a.status, a.body, tt.status)
		}
	}
	// rotate: width and height are of the turned image.
	if a := get(t, c.Base+"/cdn-cgi/image/rotate=90,width=200/photo.jpg"); a.status != 200 {
		t.Errorf("rotate: %d %s", a.status, a.body)
	} else if d := decode(t, a.body); d.width != 200 || d.height != 300 {
		t.Errorf("rotate=90,width=200 of 1200x800: %dx%d, want 200x300", d.width, d.height)
	}
}

func TestClientHintsSizeTheImage(t *testing.T) {
	c := dropinSite(t, "")
	a := get(t, c.Base+"/photo.jpg?ch=Width,DPR", "Sec-CH-Width", "360", "Sec-CH-DPR", "2")
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if d := decode(t, a.body); d.width != 360 {
		t.Errorf("Width hint 360 (device pixels): %d wide", d.width)
	}
	if v := a.header.Get("Vary"); !strings.Contains(v, "Sec-CH-Width") || !strings.Contains(v, "Sec-CH-DPR") {
		t.Errorf("Vary %q does not name the hints", v)
	}
	a = get(t, c.Base+"/photo.jpg?w=100&ch=DPR", "Sec-CH-DPR", "3")
	if d := decode(t, a.body); d.width != 300 {
		t.Errorf("w=100 with DPR 3: %d wide, want 300", d.width)
	}
	a = get(t, c.Base+"/cdn-cgi/image/width=auto/photo.jpg", "Sec-CH-Viewport-Width", "500")
	if d := decode(t, a.body); a.status != 200 || d.width != 500 {
		t.Errorf("width=auto with a viewport of 500: %d, %d wide", a.status, d.width)
	}
}

// clientLibURLs runs the real imgix and unpic libraries (make test installs
// them under testdata/clientlibs) and returns the URLs they make, on base.
func clientLibURLs(t *testing.T, base, token string) map[string]json.RawMessage {
	t.Helper()
	out, err := exec.Command("node", filepath.Join("testdata", "clientlibs", "generate.mjs"), token).Output()
	if err != nil {
		t.Fatalf("node testdata/clientlibs/generate.mjs (make test runs npm ci there): %v", err)
	}
	out = []byte(strings.NewReplacer("https://imgedge.test", base, "http://imgedge.test", base).Replace(string(out)))
	var urls map[string]json.RawMessage
	if err := json.Unmarshal(out, &urls); err != nil {
		t.Fatal(err)
	}
	return urls
}

func TestTheClientLibrariesURLsRenderAsDocumented(t *testing.T) {
	const token = "imgix-secure-url-token"
	c := dropinSite(t, fmt.Sprintf(`tenants {
			signed.test {
				require_signature
				imgix_token %s
			}
		}`, token))
	urls := clientLibURLs(t, c.Base, token)
	one := func(name string) string {
		var u string
		if err := json.Unmarshal(urls[name], &u); err != nil {
			t.Fatal(name, err)
		}
		return u
	}
	many := func(name string) []string {
		var u []string
		if err := json.Unmarshal(urls[name], &u); err != nil {
			t.Fatal(name, err)
		}
		return u
	}
	avif := "image/avif,image/webp,*/*"
	// imgix's library signs its URLs: the tenant requires signatures and
	// knows the token.
	signed := func(u string) answer { return get(t, u, "Host", "signed.test") }
	for _, tt := range []struct {
		url  string
		w, h int
	}{
		{one("imgixCrop"), 320, 180},       // ar=16:9&fit=crop, w=320
		{one("imgixFacesCrop"), 300, 300},  // crop=faces,center: no face in the gradient, an attention crop
		{many("imgixWidths")[0], 200, 113}, // the srcset's widths, each 16:9
		{many("imgixWidths")[1], 400, 225},
		{many("imgixWidths")[2], 600, 338},
	} {
		a := signed(tt.url)
		if a.status != 200 {
			t.Errorf("%s: %d %s", tt.url, a.status, a.body)
			continue
		}
		if d := decode(t, a.body); d.width != tt.w || d.height != tt.h {
			t.Errorf("%s: %dx%d, want %dx%d", tt.url, d.width, d.height, tt.w, tt.h)
		}
	}
	// The DPR srcset: 1x to 5x of w=100, each at its own quality.
	var sizes []int
	for _, u := range many("imgixDPR") {
		a := signed(u)
		if a.status != 200 {
			t.Fatalf("%s: %d %s", u, a.status, a.body)
		}
		sizes = append(sizes, decode(t, a.body).width)
	}
	if fmt.Sprint(sizes) != "[100 200 300 400 500]" {
		t.Errorf("the DPR srcset's widths: %v", sizes)
	}
	// A signature that does not match, or a parameter added, is refused.
	tampered := strings.Replace(one("imgixCrop"), "w=320", "w=321", 1)
	if a := signed(tampered); a.status != 403 {
		t.Errorf("a tampered imgix URL: %d", a.status)
	}
	u, _ := url.Parse(one("imgixCrop"))
	if a := signed(u.Scheme + "://" + u.Host + u.Path + "?w=320&ar=16%3A9&fit=crop&s=" + tenant.SignImgix("another token", u.Path, "w=320&ar=16%3A9&fit=crop")); a.status != 403 {
		t.Errorf("an imgix URL signed with another token: %d", a.status)
	}

	// unpic's imgix and Cloudflare providers, unsigned, on another host.
	for _, tt := range []struct {
		name string
		w, h int
	}{{"unpicImgix", 400, 300}, {"unpicCloudflare", 400, 300}, {"unpicCloudflarePath", 240, 240}} {
		a := get(t, one(tt.name), "Accept", avif)
		if a.status != 200 {
			t.Errorf("%s %s: %d %s", tt.name, one(tt.name), a.status, a.body)
			continue
		}
		if d := decode(t, a.body); d.width != tt.w || d.height != tt.h || d.format != transform.AVIF {
			t.Errorf("%s: %dx%d %v, want %dx%d AVIF (auto format)", tt.name, d.width, d.height, d.format, tt.w, tt.h)
		}
	}
}

// The tenant's HMAC keys sign Cloudflare's path form as it is sent.
func TestHMACSignaturesCoverThePathForm(t *testing.T) {
	c := dropinSite(t, "tenants {\n"+signingTenant("signed.test")+"\n}")
	path := "/cdn-cgi/image/width=100,fit=cover,height=100/photo.jpg"
	if a := get(t, c.Base+signed(t, path, newKey), "Host", "signed.test"); a.status != 200 {
		t.Fatalf("a signed path form: %d %s", a.status, a.body)
	} else if d := decode(t, a.body); d.width != 100 || d.height != 100 {
		t.Errorf("%dx%d", d.width, d.height)
	}
	// Unsigned, tampered, or a query form's signature on the path form:
	// the signature covers the URL as sent.
	queryForm, _ := url.Parse(signed(t, "/photo.jpg?width=100&fit=cover&height=100", newKey))
	for _, p := range []string{path, strings.Replace(signed(t, path, newKey), "width=100", "width=101", 1), path + "?s=" + url.QueryEscape(queryForm.Query().Get("s"))} {
		if a := get(t, c.Base+p, "Host", "signed.test"); a.status != 403 {
			t.Errorf("%s: %d, want 403", p, a.status)
		}
	}
}
