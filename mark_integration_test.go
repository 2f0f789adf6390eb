package imgedge_test

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

func greyAt(t *testing.T, body []byte, x, y int) int {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("decoding the answer: %v", err)
	}
	c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
	return (int(c.R) + int(c.G) + int(c.B)) / 3
}

func TestWatermarksAreFetchedThroughTheRouteCachedAndPurgedWithTheirMark(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{
		"dark.png":  testimages.SolidPNG(400, 300, color.Black),
		"logo.png":  testimages.SolidPNG(50, 40, color.White),
		"bomb.png":  testimages.BombPNG(20000, 20000),
		"huge.svg":  []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="200000" height="200000"><rect width="200000" height="200000" fill="white"/></svg>`),
		"notes.txt": []byte("not an image"),
	})
	c := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://:{{PORT}} {
	bind 127.0.0.1
	root * %s
	image_resize {
		marks /logo.png /bomb.png /huge.svg /notes.txt /missing.png /marks/
		tenants {
			branded.test {
				watermark "mark=/logo.png&mark-align=top,left&mark-pad=0"
			}
		}
	}
	file_server
}
`, root))
	u := c.Base + "/dark.png?w=400&f=png&mark=/logo.png&mark-align=bottom,right"
	a := get(t, u)
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if g := greyAt(t, a.body, 400-5-25, 300-5-20); g < 250 {
		t.Errorf("grey %d inside the bottom-right mark, want white", g)
	}
	if g := greyAt(t, a.body, 20, 20); g > 5 {
		t.Errorf("grey %d at the top left, want black", g)
	}
	if again := get(t, u); !strings.HasPrefix(again.header.Get("Cache-Status"), "imgedge; hit") {
		t.Errorf("the marked variant again: %q, want a hit", again.header.Get("Cache-Status"))
	}
	if other := get(t, c.Base+"/dark.png?w=400&f=png"); other.header.Get("ETag") == a.header.Get("ETag") {
		t.Error("the variant with a mark has the ETag of the one without")
	}
	// A description from the header alone does not fetch the mark: one
	// that is missing changes nothing.
	if j := get(t, c.Base+"/dark.png?w=400&fm=json&mark=/missing.png"); j.status != 200 || !strings.Contains(string(j.body), `"PixelWidth"`) {
		t.Errorf("fm=json with a mark: %d %s, want the source's description", j.status, j.body)
	}

	// Replacing the logo and purging it purges the variants it marks.
	writeFiles(t, root, map[string][]byte{"logo.png": testimages.SolidPNG(50, 40, color.RGBA{255, 0, 0, 255})})
	resp, err := http.Post("http://"+c.Admin+"/imgedge/purge", "application/json",
		strings.NewReader(`{"tenant": "127.0.0.1", "source": "/logo.png"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	b := get(t, u)
	if strings.HasPrefix(b.header.Get("Cache-Status"), "imgedge; hit") || b.header.Get("ETag") == a.header.Get("ETag") {
		t.Errorf("after purging the mark: Cache-Status %q, ETag unchanged %v", b.header.Get("Cache-Status"), b.header.Get("ETag") == a.header.Get("ETag"))
	}

	// Even a plain request of a watermarked tenant gets the mark.
	plain := get(t, c.Base+"/dark.png", "Host", "branded.test")
	if plain.status != 200 || greyAt(t, plain.body, 10, 10) < 50 {
		t.Errorf("a plain request of the watermarked tenant: %d, want its image marked", plain.status)
	}

	// A tenant's watermark is laid over every variant, whatever is asked.
	forced := get(t, c.Base+"/dark.png?w=400&f=png&mark=/other.png", "Host", "branded.test")
	if forced.status != 200 {
		t.Fatalf("the tenant's watermark: %d %s", forced.status, forced.body)
	}
	if g := greyAt(t, forced.body, 10, 10); g < 50 {
		t.Errorf("the tenant's watermark: grey %d at the top left; want its mark there", g)
	}

	for query, want := range map[string]int{
		"mark=/bomb.png":                      http.StatusUnprocessableEntity, // over the pixel limit, as a source would be
		"mark=/huge.svg":                      http.StatusUnprocessableEntity,
		"mark=/notes.txt":                     http.StatusBadRequest,
		"mark=/missing.png":                   http.StatusBadRequest,
		"mark=http://elsewhere.test/logo.png": http.StatusBadRequest,
		"mark=/dark.png":                      http.StatusBadRequest, // not among the marks allowed
		"mark=/marks/../dark.png":             http.StatusBadRequest,
	} {
		a := get(t, c.Base+"/dark.png?w=100&"+query)
		if a.status != want || !strings.Contains(string(a.body), `"error"`) {
			t.Errorf("%s: %d %s, want %d with a JSON problem", query, a.status, a.body, want)
		}
	}
}
