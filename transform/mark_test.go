package transform

import (
	"net/url"
	"testing"
)

func TestMarkParametersAreReadOrRefusedByName(t *testing.T) {
	parse := func(query string) (Options, error) {
		q, _ := url.ParseQuery(query)
		return Parse(q, DefaultLimits)
	}
	o, err := parse("w=100&mark=/logo.png&mark-align=top,left&mark-alpha=60&mark-pad=0&mark-w=0.25")
	if err != nil {
		t.Fatal(err)
	}
	if m := o.Mark; m == nil || m.Path != "/logo.png" || m.Anchor != (Anchor{0, 0}) || m.Alpha != 60 || m.Pad != 0 || m.W != 0.25 {
		t.Fatalf("parsed %+v", o.Mark)
	}
	if o, _ := parse("mark=https://IMG.example.com/a/logo.png"); o.Mark == nil || o.Mark.Path != "/a/logo.png" || o.Mark.Host != "img.example.com" {
		t.Errorf("an absolute mark: %+v", o.Mark)
	}
	if a, b := canonicalOf(t, "w=100&mark=/a.png"), canonicalOf(t, "w=100&mark=/b.png"); a == b {
		t.Error("two marks share a key")
	}
	if a, b := canonicalOf(t, "w=100&mark=/a.png"), canonicalOf(t, "w=100&mark=http://img.example.com:8080/a.png"); a != b {
		t.Error("one mark spelled as a path and as a URL has two keys")
	}
	for query, param := range map[string]string{
		"mark=logo.png":                      "mark",
		"mark=/a/../logo.png":                "mark",
		"mark=ftp://x/logo.png":              "mark",
		"mark=/logo.png?w=10":                "mark",
		"mark=//evil.example/x.png":          "mark",
		"mark-align=top":                     "mark-align",
		"mark=/l.png&mark-align=up":          "mark-align",
		"mark=/l.png&mark-alpha=101":         "mark-alpha",
		"mark=/l.png&mark-w=0":               "mark-w",
		"mark=/l.png&mark-w=10&mark-scale=5": "mark-scale",
		"mark=/l.png&mark-x=10":              "mark-x",
		"mark=/l.png&mark-tile=grid":         "mark-tile",
	} {
		_, err := parse(query)
		pe, ok := err.(*Error)
		if !ok || pe.Param != param {
			t.Errorf("%s: %v, want a refusal naming %s", query, err, param)
		}
	}
}

func TestMarkSizeKeepsTheMarkInsideTheOutput(t *testing.T) {
	m := &Mark{Pad: 5, Alpha: 100}
	if w, h := m.MarkSize(1000, 500, 400, 300); w != 390 || h != 195 {
		t.Errorf("a mark larger than the output: %dx%d, want 390x195 (inside the padding)", w, h)
	}
	m.Scale = 0.5
	if w, h := m.MarkSize(100, 50, 400, 300); w != 200 || h != 100 {
		t.Errorf("mark-scale=50: %dx%d, want 200x100", w, h)
	}
	m = &Mark{H: 30}
	if w, h := m.MarkSize(100, 50, 400, 300); w != 60 || h != 30 {
		t.Errorf("mark-h=30: %dx%d, want 60x30", w, h)
	}
}
