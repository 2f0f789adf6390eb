package transform

import (
	"net/url"
	"testing"
)

func TestClientHints(t *testing.T) {
	headers := map[string]string{"Sec-CH-DPR": "2", "Sec-CH-Width": "640", "Save-Data": "on", "Sec-CH-Viewport-Width": "1280"}
	get := func(n string) string { return headers[n] }
	tests := []struct {
		query, want string
		vary        int // how many hint headers the answer varies on
	}{
		{"w=400", "w=400", 0},                                // no ch: nothing read
		{"w=400&ch=DPR", "ch=DPR&dpr=2&w=400", 2},            // the DPR hint
		{"w=400&dpr=1&ch=DPR", "ch=DPR&dpr=1&w=400", 0},      // an explicit dpr wins
		{"ch=Width", "ch=Width&dpr=1&w=640", 2},              // Width is in device pixels
		{"ch=Width,DPR", "ch=Width%2CDPR&dpr=1&w=640", 4},    // and includes the DPR, which counts without it
		{"w=300&ch=Save-Data", "ch=Save-Data&q=45&w=300", 1}, // Save-Data lowers a missing q
		{"width=auto", "dpr=1&w=640", 4},                     // Cloudflare's width=auto: the width, else the viewport
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		got, vary := ClientHints(q, get)
		if got.Encode() != tt.want || len(vary) != tt.vary {
			t.Errorf("%s: %s, vary %v; want %s and %d hints", tt.query, got.Encode(), vary, tt.want, tt.vary)
		}
	}
	// width=auto without a Width hint falls back to the viewport, then to
	// the source's own width.
	q, _ := url.ParseQuery("width=auto")
	if got, _ := ClientHints(q, func(n string) string { return map[string]string{"Sec-CH-Viewport-Width": "1280"}[n] }); got.Encode() != "dpr=1&w=1280" {
		t.Errorf("width=auto with only a viewport width: %s", got.Encode())
	}
	if got, _ := ClientHints(q, func(string) string { return "" }); got.Encode() != "" {
		t.Errorf("width=auto without hints: %s, want no width", got.Encode())
	}
}
