package transform

import (
	"net/url"
	"testing"
)

func TestClientHints(t *testing.T) {
	headers := map[string]string{"Sec-CH-DPR": "2", "Sec-CH-Width": "640", "Save-Data": "on", "Sec-CH-Viewport-Width": "1280"}
	get := func(n string) string { return headers[n] }
	lim := Limits{MaxWidth: 4096, MaxHeight: 4096, MaxDPR: 5} // image_resize's defaults
	tests := []struct {
		query, want string
		vary        int // how many hint headers the answer varies on
	}{
		{"w=400", "w=400", 0},                                         // no ch: nothing read
		{"w=400&ch=DPR", "ch=DPR&dpr=2&w=400", 2},                     // the DPR hint
		{"w=400&dpr=1&ch=DPR", "ch=DPR&dpr=1&w=400", 0},               // an explicit dpr wins
		{"ch=Width", "ch=Width&dpr=2&w=320", 4},                       // Width counts device pixels: 640 at DPR 2 is w=320
		{"ch=Width,DPR", "ch=Width%2CDPR&dpr=2&w=320", 4},             // the same
		{"h=300&ch=Width,DPR", "ch=Width%2CDPR&dpr=2&h=300&w=320", 4}, // h stays in CSS pixels
		{"dpr=4&ch=Width", "ch=Width&dpr=4&w=160", 2},                 // an explicit dpr converts the hint
		{"w=300&ch=Save-Data", "ch=Save-Data&q=45&w=300", 1},          // Save-Data lowers a missing q
		{"width=auto", "dpr=2&w=320", 6},                              // Cloudflare's width=auto
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		got, vary := ClientHints(q, get, lim)
		if got.Encode() != tt.want || len(vary) != tt.vary {
			t.Errorf("%s: %s, vary %v; want %s and %d hints", tt.query, got.Encode(), vary, tt.want, tt.vary)
		}
	}
	only := func(h map[string]string) func(string) string { return func(n string) string { return h[n] } }
	q, _ := url.ParseQuery("width=auto")
	// Without a Width hint, the viewport (CSS pixels), then the source's
	// own width.
	if got, _ := ClientHints(q, only(map[string]string{"Sec-CH-Viewport-Width": "1280"}), DefaultLimits); got.Encode() != "w=1280" {
		t.Errorf("width=auto with only a viewport width: %s", got.Encode())
	}
	if got, _ := ClientHints(q, only(nil), DefaultLimits); got.Encode() != "" {
		t.Errorf("width=auto without hints: %s, want no width", got.Encode())
	}
	// A hint beyond the limit is the limit, not a refusal.
	if got, _ := ClientHints(q, only(map[string]string{"Sec-CH-Width": "100000"}), DefaultLimits); got.Encode() != "w=4096" {
		t.Errorf("a huge Width hint: %s", got.Encode())
	}
	// A DPR hint over the limit is the limit, here as in Parse: a Width
	// hint of 900 at DPR 9 (clamped to 3) is 300 CSS pixels.
	if got, _ := ClientHints(q, only(map[string]string{"Sec-CH-Width": "900", "Sec-CH-DPR": "9"}), DefaultLimits); got.Encode() != "dpr=3&w=300" {
		t.Errorf("a DPR hint over the limit: %s", got.Encode())
	}
}

func TestSemicolonParam(t *testing.T) {
	for raw, want := range map[string]string{
		"w=100&trim=10;20;10;0": "trim",
		"w=100&trim=10%3B20":    "",
		"a=1;2&w=3":             "", // the origin's parameter: its business
		"":                      "",
	} {
		if got := SemicolonParam(raw); got != want {
			t.Errorf("SemicolonParam(%q) = %q, want %q", raw, got, want)
		}
	}
}
