package imgedge_test

import (
	"encoding/json"
	"image"
	"os"
	"strings"
	"testing"

	_ "image/png"

	"github.com/imgedge/imgedge/internal/testenv"
)

// portraitSite serves scikit-image's astronaut portrait (python3-skimage,
// which `make deps` installs) through image_resize and cdn_cgi_image.
func portraitSite(t *testing.T) *testenv.Caddy {
	t.Helper()
	photo, err := os.ReadFile("/usr/lib/python3/dist-packages/skimage/data/astronaut.png")
	if err != nil {
		t.Fatalf("the portrait fixture is missing (make deps installs python3-skimage): %v", err)
	}
	return cdnSite(t, map[string][]byte{"portrait.png": photo})
}

// Through the server: the Cloudflare path form of gravity=face is the
// query form's variant, fm=json&faces=1 lists the face, and a face
// parameter out of range is refused naming it.
func TestFacesThroughTheServer(t *testing.T) {
	c := portraitSite(t)
	query := get(t, c.Base+"/portrait.png?width=120&height=120&fit=cover&gravity=face&zoom=1&f=png")
	if query.status != 200 {
		t.Fatalf("gravity=face: %d %s", query.status, query.body)
	}
	img, _, err := image.Decode(strings.NewReader(string(query.body)))
	if err != nil || img.Bounds().Dx() != 120 || img.Bounds().Dy() != 120 {
		t.Fatalf("gravity=face: %v, want a 120x120 image", err)
	}
	path := get(t, c.Base+"/cdn-cgi/image/width=120,height=120,fit=cover,gravity=face,zoom=1,f=png/portrait.png")
	if path.status != 200 || path.header.Get("ETag") != query.header.Get("ETag") {
		t.Fatalf("the path form: %d, ETag %s, want the query form's %s", path.status, path.header.Get("ETag"), query.header.Get("ETag"))
	}

	a := get(t, c.Base+"/portrait.png?fm=json&faces=1")
	var info struct {
		Faces []struct {
			Bounds struct{ X, Y, Width, Height int } `json:"bounds"`
		}
	}
	if a.status != 200 || json.Unmarshal(a.body, &info) != nil || len(info.Faces) != 1 {
		t.Fatalf("fm=json&faces=1: %d %s, want one face", a.status, a.body)
	}
	if b := info.Faces[0].Bounds; !image.Pt(222, 118).In(image.Rect(b.X, b.Y, b.X+b.Width, b.Y+b.Height)) {
		t.Fatalf("face bounds %+v do not hold the face's middle (222,118)", b)
	}

	for q, param := range map[string]string{
		"w=120&h=120&fit=facearea&faceindex=0":     "faceindex",
		"w=120&h=120&fit=facearea&facepad=100":     "facepad",
		"width=120&height=120&gravity=face&zoom=2": "zoom",
	} {
		a := get(t, c.Base+"/portrait.png?"+q)
		var p struct{ Param string }
		if a.status != 400 || json.Unmarshal(a.body, &p) != nil || p.Param != param {
			t.Errorf("%s: %d %s, want 400 naming %s", q, a.status, a.body, param)
		}
	}
}
