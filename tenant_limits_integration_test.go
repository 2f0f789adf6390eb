package imgedge_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg"
	"net/http"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/tenant"
)

// limitsSite serves p.jpg (1600x1200) and logo.png (50x40, white) from
// files, /api/* answering its query as text, and /origin/* from origin, by
// whatever method; cdn_cgi_image and image_resize with the tenants given
// (and logo.png as a mark) in front of them all. Tenants are named by the Host. The routes are plain matchers,
// not handle blocks: Caddy runs one route of a handle group per request,
// and image_resize asks the route twice for an answer that is not an
// image (the second time it would fall through to file_server).
func limitsSite(t *testing.T, origin, tenants string) *testenv.Caddy {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{
		"p.jpg":    testimages.JPEG(testimages.Gradient(1600, 1200)),
		"logo.png": testimages.SolidPNG(50, 40, color.White),
	})
	return testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	auto_https off
}
http://:{{PORT}} {
	bind 127.0.0.1
	root * %s
	cdn_cgi_image
	image_resize {
		marks /logo.png
		tenants {
			%s
		}
	}
	header /api/* Content-Type text/plain
	respond /api/* "{http.request.uri.query}"
	reverse_proxy /origin/* %s
	file_server
}
`, root, tenants, origin))
}

// send is get by any method, to host, with a body for those that take
// one.
func send(t *testing.T, method, url, host string) answer {
	t.Helper()
	return do(t, method, url, strings.NewReader("role=admin"), "Host", host)
}

// problemOf reads a refusal's JSON body; it fails the test if the body is
// not one.
func problemOf(t *testing.T, a answer) (msg, param string) {
	t.Helper()
	var p struct {
		Error, Param string
		Status       int
	}
	if err := json.Unmarshal(a.body, &p); err != nil || p.Error == "" || p.Status != a.status {
		t.Fatalf("%d with a body that is no JSON problem: %q (%v)", a.status, a.body, err)
	}
	return p.Error, p.Param
}

// summary is an answer's status and, for a refusal, its body; the bytes
// of an image are only counted.
func summary(a answer) string {
	if strings.HasPrefix(a.header.Get("Content-Type"), "image/") {
		return fmt.Sprintf("%d (%s, %d bytes)", a.status, a.header.Get("Content-Type"), len(a.body))
	}
	return fmt.Sprintf("%d %q", a.status, a.body)
}

// A widths tenant answers every request whose parameters make the width,
// by any URL form and any combination, either in one of its widths or
// with a 400 naming the parameter that would take the width elsewhere.
func TestAWidthsTenantAnswersOnlyItsWidthsWhateverMakesTheWidth(t *testing.T) {
	c := limitsSite(t, "127.0.0.1:1", `widths.test {
				widths 320 640
				preset thumb "h=200&fit=cover"
			}`)
	allowed := map[int]bool{320: true, 640: true}
	for _, tc := range []struct {
		name, path string
		refused    string // the parameter a 400 names; "" for an image
	}{
		{"a width the preset leaves open", "/p.jpg?preset=thumb&w=1234", ""},
		{"a width the preset leaves open, with dpr", "/p.jpg?preset=thumb&w=100&dpr=2.5", ""},
		{"max-w alone", "/p.jpg?max-w=555", ""},
		{"max-w under a larger w", "/p.jpg?w=1000&max-w=401", ""},
		{"a region alone", "/p.jpg?rect=0,0,777,500", ""},
		{"a region narrower than w", "/p.jpg?rect=0,0,500,500&w=640", ""},
		{"ar with a height only", "/p.jpg?ar=1:1&h=777&fit=crop", ""},
		{"a fractional dpr", "/p.jpg?w=300&dpr=1.7", ""},
		{"a width scaled by dpr past the largest", "/p.jpg?w=600&dpr=3", ""},
		{"a height where the image fills the box", "/p.jpg?w=333&h=17&fit=cover", ""},
		{"trim where the image fills the box", "/p.jpg?w=500&h=300&fit=pad&trim=0%3B900%3B0%3B0", ""},
		{"Cloudflare's form", "/cdn-cgi/image/width=1234,fit=cover/p.jpg", ""},
		{"Cloudflare's form with dpr", "/cdn-cgi/image/width=450,dpr=1.3/p.jpg", ""},
		{"a height alone", "/p.jpg?h=333", "h"},
		{"a height alone in Cloudflare's form", "/cdn-cgi/image/height=333/p.jpg", "height"},
		{"a height that would narrow a fitted image", "/p.jpg?w=640&h=17", "h"},
		{"ar without w or h", "/p.jpg?ar=16:9&fit=crop", "ar"},
		{"ar that would narrow an image with fit=min", "/p.jpg?w=640&ar=1:6&fit=min", "ar"},
		{"a region narrower than every width", "/p.jpg?rect=0,0,100,100", "rect"},
		{"trim where the image is not enlarged", "/p.jpg?w=640&trim=0%3B900%3B0%3B0", "trim"},
		{"trim in Cloudflare's form", "/cdn-cgi/image/width=640,trim=0;900;0;0/p.jpg", "trim"},
		{"padding on the sides", "/p.jpg?w=640&pad=7", "pad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := getHost(t, c.Base+tc.path, "widths.test")
			if tc.refused != "" {
				if a.status != http.StatusBadRequest {
					t.Fatalf("%s, want 400 naming %s", summary(a), tc.refused)
				}
				if msg, param := problemOf(t, a); param != tc.refused || !strings.Contains(msg, "320, 640") {
					t.Errorf("refused naming %q: %q; want %q and the widths", param, msg, tc.refused)
				}
				return
			}
			if a.status != http.StatusOK {
				t.Fatalf("%s, want an image", summary(a))
			}
			if d := decode(t, a.body); !allowed[d.width] {
				t.Errorf("answered %dx%d: a width outside 320, 640", d.width, d.height)
			}
		})
	}
	// The preset alone is the operator's geometry, as written.
	if d := decode(t, getHost(t, c.Base+"/p.jpg?preset=thumb", "widths.test").body); d.width != 267 || d.height != 200 {
		t.Errorf("the preset alone: %dx%d, want its own 267x200", d.width, d.height)
	}
}

// A signature covers the pairs url.ParseQuery reads; a pair it drops (a
// raw ';', a bad escape) would reach the route unsigned. A signing tenant
// refuses such a query, for its images and the rest of its site alike.
func TestASigningTenantRefusesPairsItsSignatureDoesNotCover(t *testing.T) {
	c := limitsSite(t, "127.0.0.1:1", fmt.Sprintf(`signed.test {
				sign_key %s %s
				imgix_token tok-0123456789
				require_signature
			}`, newKey.ID, base64.StdEncoding.EncodeToString(newKey.Secret)))
	imgix := func(path, rawQuery string) string {
		return c.Base + path + "?" + rawQuery + "&s=" + tenant.SignImgix("tok-0123456789", path, rawQuery)
	}
	for _, tc := range []struct {
		name, url string
		image     bool
	}{
		{"an API answer", signed(t, c.Base+"/api/item?id=7", newKey), false},
		{"an image", signed(t, c.Base+"/p.jpg?w=320", newKey), true},
		{"an original", signed(t, c.Base+"/p.jpg", newKey), true},
		{"an API answer signed as imgix signs", imgix("/api/item", "id=7"), false},
		{"an image signed as imgix signs", imgix("/p.jpg", "w=320"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := getHost(t, tc.url, "signed.test")
			if a.status != http.StatusOK {
				t.Fatalf("the signed URL untouched: %s", summary(a))
			}
			if tc.image {
				decode(t, a.body)
			} else if !strings.HasPrefix(string(a.body), "id=7&s=") {
				t.Fatalf("the route got the query %q", a.body)
			}
			for _, extra := range []string{"&x;role=admin", "&id=8%zz", "&%zz=admin", ";role=admin"} {
				a := getHost(t, tc.url+extra, "signed.test")
				if a.status != http.StatusForbidden {
					t.Errorf("+ %s: %s, want 403", extra, summary(a))
					continue
				}
				if msg, param := problemOf(t, a); param != "s" || !strings.Contains(msg, "cannot cover") {
					t.Errorf("+ %s: refused naming %q: %q; want s and why", extra, param, msg)
				}
			}
		})
	}
}

// A watermark tenant's originals are not to be had unmarked: by GET they
// are marked, parameters or not, and no other method but HEAD and OPTIONS
// reaches the route, whose origin would answer it with the original.
func TestAWatermarkTenantsOriginalsAreNotToBeHadUnmarked(t *testing.T) {
	origin := newCountingOrigin(t, "") // answers every method with a photo
	c := limitsSite(t, origin.Listener.Addr().String(), `marked.test {
				watermark "mark=/logo.png&mark-align=top,left&mark-pad=0"
			}`)
	for _, path := range []string{"/origin/photo.jpg", "/api/item?id=7", "/p.jpg?w=100"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			a := send(t, method, c.Base+path, "marked.test")
			if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "GET, HEAD, OPTIONS" {
				t.Errorf("%s %s: %s, Allow %q; want 405, GET, HEAD, OPTIONS", method, path, summary(a), a.header.Get("Allow"))
				continue
			}
			problemOf(t, a)
		}
	}
	if n := origin.count("/origin/photo.jpg"); n != 0 {
		t.Fatalf("%d requests by other methods reached the origin", n)
	}
	for _, path := range []string{"/origin/photo.jpg", "/origin/photo.jpg?v=2", "/p.jpg"} {
		a := getHost(t, c.Base+path, "marked.test")
		if a.status != http.StatusOK {
			t.Fatalf("GET %s: %s", path, summary(a))
		}
		img, _, err := image.Decode(bytes.NewReader(a.body))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		// The photo is near black at the top left; the mark is white.
		if r, g, b, _ := img.At(10, 10).RGBA(); (r+g+b)/3>>8 < 240 {
			t.Errorf("GET %s: grey %d at the top left, want the white mark", path, (r+g+b)/3>>8)
		}
	}
	if origin.count("/origin/photo.jpg") == 0 {
		t.Error("the origin was never asked for the original")
	}
	// Another tenant of the same site is not protected: its POST reaches
	// the route.
	before := origin.count("/origin/photo.jpg")
	if a := send(t, http.MethodPost, c.Base+"/origin/photo.jpg", "plain.test"); a.status != http.StatusOK || origin.count("/origin/photo.jpg") != before+1 {
		t.Errorf("a POST of an unprotected tenant: %s; want it passed on to the origin", summary(a))
	}
}

// A request that names no valid tenant is the default tenant's (*), by
// any method: a protected default is not dodged by a broken Host.
func TestAProtectedDefaultTenantCannotBeDodgedByAnInvalidHost(t *testing.T) {
	origin := newCountingOrigin(t, "")
	c := limitsSite(t, origin.Listener.Addr().String(), `* {
				watermark "mark=/logo.png&mark-align=top,left&mark-pad=0"
			}`)
	for _, host := range []string{"bad_host!", "a..b", strings.Repeat("x", 300) + ".test"} {
		a := send(t, http.MethodPost, c.Base+"/origin/photo.jpg", host)
		if a.status == http.StatusOK {
			t.Errorf("POST with Host %q reached the route: %s", host, summary(a))
		}
	}
	if n := origin.count("/origin/photo.jpg"); n != 0 {
		t.Errorf("%d POSTs with an invalid Host reached the origin", n)
	}
}
