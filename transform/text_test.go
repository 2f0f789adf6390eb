package transform

import (
	"net/url"
	"strings"
	"testing"
)

// Every text bound is attacked: each is refused with 400 naming its
// parameter, never drawn at any cost.
func TestTextOutOfBoundsIsRefusedByName(t *testing.T) {
	tests := map[string]string{
		"txt=" + strings.Repeat("a", MaxTextLength+1):       "txt",
		"txt=" + strings.Repeat("é", MaxTextLength+1):       "txt", // characters, not bytes
		"txt=" + strings.Repeat("a", 300) + "&txt-size=200": "txt", // length times size
		"txt=a%0Ab":                       "txt", // control characters
		"txt=%E2%80%8B":                   "txt", // a zero-width space: nothing to draw
		"txt=%20%EF%BB%BF%E2%81%A0":       "txt", // a space, a BOM, a word joiner
		"txt=%FF%FE":                      "txt", // not UTF-8
		"txt=Hello&txt-size=201":          "txt-size",
		"txt=Hello&txt-size=0":            "txt-size",
		"txt=Hello&txt-color=nope":        "txt-color",
		"txt=Hello&txt-font=Comic%20Sans": "txt-font",
		"txt=Hello&txt-font=serif,wide":   "txt-font",
		"txt=Hello&txt-align=upper":       "txt-align",
		"txt=Hello&txt-pad=1001":          "txt-pad",
		"txt=Hello&txt-shad=11":           "txt-shad",
		"txt=Hello&txt-fit=wrap":          "txt-fit",
		"txt=Hello&txt-width=5000":        "txt-width",
		"txt=Hello&txt-clip=ellipsis":     "txt-clip",
		"txt=Hello&txt-lead=2":            "txt-lead",
		"txt-size=20":                     "txt-size", // without txt
	}
	for q, param := range tests {
		t.Run(q[:min(len(q), 40)], func(t *testing.T) { wantRefusal(t, q, param) })
	}
	// At the bounds: taken.
	for _, q := range []string{"txt=" + strings.Repeat("a", MaxTextLength) + "&txt-size=80", "txt=" + strings.Repeat("a", 200) + "&txt-size=200"} {
		vals, _ := url.ParseQuery(q)
		if _, err := Parse(vals, DefaultLimits); err != nil {
			t.Errorf("Parse(%.30q...) = %v, want it taken", q, err)
		}
	}
}

func TestTextIsKeyedByAllOfIt(t *testing.T) {
	key := func(q string) string { return mustParse(t, q).Canonical() }
	same := [][]string{
		{"txt=Hello", "txt=Hello&txt-size=12&txt-color=000&txt-align=bottom,right&txt-pad=10&txt-font=sans-serif&txt-clip=end"},
		{"txt=Hello&txt-font=dejavu%20sans", "txt=Hello&txt-font=Sans-Serif"},
		{"txt=Hello&txt-font=arial,bold", "txt=Hello&txt-font=Liberation%20Sans,bold"},
	}
	for _, qs := range same {
		if key(qs[0]) != key(qs[1]) {
			t.Errorf("%s and %s: %q and %q, want one key", qs[0], qs[1], key(qs[0]), key(qs[1]))
		}
	}
	base := "txt=Hello"
	for _, q := range []string{"txt=Hello%21", "txt-size=13", "txt-color=fff", "txt-font=serif", "txt-font=sans-serif,italic", "txt-align=top",
		"txt-pad=11", "txt-shad=1", "txt-fit=max", "txt-width=100", "txt-clip=start"} {
		other := base + "&" + q
		if strings.HasPrefix(q, "txt=") {
			other = q
		}
		if key(base) == key(other) {
			t.Errorf("%s is keyed as %s", other, base)
		}
	}
	// The canonical form parses back to itself.
	c := key("txt=" + url.QueryEscape(`a&b=<c> "d"`) + "&txt-font=monospace,bold,italic&txt-shad=2.5")
	vals, err := url.ParseQuery(c)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Parse(vals, DefaultLimits)
	if err != nil || o.Canonical() != c || o.Text.Text != `a&b=<c> "d"` {
		t.Fatalf("canonical %q parses as %v, %q", c, err, o.Canonical())
	}
}

func TestTextColourIsReadAsImgixWritesIt(t *testing.T) {
	for q, want := range map[string]RGBA{
		"txt=a&txt-color=fff":      {255, 255, 255, 255},
		"txt=a&txt-color=ff0000":   {255, 0, 0, 255},
		"txt=a&txt-color=80ffffff": {255, 255, 255, 0x80}, // alpha first, as imgix
		"txt=a&txt-color=8f00":     {255, 0, 0, 0x88},
		"txt=a&txt-color=white":    {255, 255, 255, 255},
	} {
		if got := mustParse(t, q).Text.Color; got != want {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
}
