package imgedge_test

import (
	"bytes"
	"encoding/json"
	"image"
	"net/url"
	"strings"
	"testing"
)

// Through the server: a text overlay is drawn (its pixels differ from the
// plain variant's), and the text's bounds are 400 naming the parameter.
func TestTextThroughTheServer(t *testing.T) {
	c := portraitSite(t)
	plain := get(t, c.Base+"/portrait.png?w=300&fm=png")
	text := get(t, c.Base+"/portrait.png?w=300&fm=png&txt=Hello&txt-size=40&txt-color=fff&txt-align=bottom,center")
	if plain.status != 200 || text.status != 200 {
		t.Fatalf("statuses %d and %d: %s", plain.status, text.status, text.body)
	}
	if text.header.Get("ETag") == plain.header.Get("ETag") || bytes.Equal(text.body, plain.body) {
		t.Fatal("the text variant is the plain one")
	}
	if img, _, err := image.Decode(bytes.NewReader(text.body)); err != nil || img.Bounds().Dx() != 300 {
		t.Fatalf("the text variant: %v", err)
	}
	for q, param := range map[string]string{
		"txt=" + strings.Repeat("x", 501):             "txt",
		"txt=Hello&txt-size=500":                      "txt-size",
		"txt=Hello&txt-font=Papyrus":                  "txt-font",
		"txt=" + url.QueryEscape("<b>") + "&txt-x=10": "txt-x",
	} {
		a := get(t, c.Base+"/portrait.png?"+q)
		var p struct{ Param string }
		if a.status != 400 || json.Unmarshal(a.body, &p) != nil || p.Param != param {
			t.Errorf("%.40s: %d %s, want 400 naming %s", q, a.status, a.body, param)
		}
	}
}
