package transform

import (
	"net/url"
	"strconv"
	"strings"
)

// Client hints a request's image parameters may defer to: imgix's
// ch=Width,DPR,Save-Data, and Cloudflare's width=auto.
var (
	dprHints      = []string{"Sec-CH-DPR", "DPR"}
	widthHints    = []string{"Sec-CH-Width", "Width"}
	viewportHints = []string{"Sec-CH-Viewport-Width", "Viewport-Width"}
	saveDataHints = []string{"Save-Data"}
)

// AcceptCH is what a page's Accept-CH names to have browsers send the
// hints imgedge reads.
const AcceptCH = "Sec-CH-DPR, Sec-CH-Width, Sec-CH-Viewport-Width, Save-Data"

// ClientHints fills in the parameters a request leaves to its client
// hints, read with header, and returns the query to parse and the hint
// headers the answer depends on (for Vary):
//   - with ch listing DPR, a missing dpr comes from Sec-CH-DPR (or DPR);
//   - with ch listing Width, or w=auto (Cloudflare's width=auto), a
//     missing w comes from Sec-CH-Width (or Width), which is in device
//     pixels already, so dpr is then 1; w=auto falls back to
//     Sec-CH-Viewport-Width (or Viewport-Width), and without any hint
//     means the source's own width;
//   - with ch listing Save-Data, Save-Data: on lowers a missing q to 45.
//
// A hint that is absent or not a positive number changes nothing. Every
// hint that could change the answer is named for Vary, sent or not.
func ClientHints(q url.Values, header func(string) string) (url.Values, []string) {
	var ch map[string]bool
	for k, vs := range q {
		if strings.EqualFold(k, "ch") && len(vs) > 0 {
			ch = map[string]bool{}
			for tok := range strings.SplitSeq(strings.ToLower(vs[0]), ",") {
				ch[strings.TrimSpace(tok)] = true
			}
		}
	}
	widthKey, autoWidth := "", false
	for k, vs := range q {
		if n, _ := ParamName(k); n == "w" {
			widthKey = k
			autoWidth = len(vs) == 1 && strings.EqualFold(vs[0], "auto")
		}
	}
	if ch == nil && !autoWidth {
		return q, nil
	}
	// What the URL sets itself, hints never change; which hints may
	// change the rest depends on the URL alone, so Vary names them
	// whether they were sent or not.
	has := func(name string) bool {
		for k := range q {
			if n, _ := ParamName(k); n == name {
				return true
			}
		}
		return false
	}
	explicitW, explicitDPR, explicitQ := has("w") && !autoWidth, has("dpr"), has("q")
	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = v
	}
	var vary []string
	read := func(names []string) (float64, bool) {
		vary = append(vary, names...)
		for _, n := range names {
			if f, err := strconv.ParseFloat(strings.TrimSpace(header(n)), 64); err == nil && f > 0 {
				return f, true
			}
		}
		return 0, false
	}
	widthSet := false
	if ch["width"] && !explicitW || autoWidth {
		w, ok := read(widthHints)
		if autoWidth {
			if v, vok := read(viewportHints); !ok {
				w, ok = v, vok
			}
		}
		if widthKey != "" {
			delete(out, widthKey)
		}
		if ok {
			out.Set("w", strconv.Itoa(int(w+0.5)))
			widthSet = true
		}
	}
	if (ch["dpr"] || widthSet) && !explicitDPR {
		d, ok := 1.0, true // a Width hint counts device pixels, DPR included
		if ch["dpr"] {
			if hd, hok := read(dprHints); !widthSet {
				d, ok = hd, hok
			}
		}
		if ok {
			out.Set("dpr", strconv.FormatFloat(d, 'f', -1, 64))
		}
	}
	if ch["save-data"] && !explicitQ {
		vary = append(vary, saveDataHints...)
		if strings.EqualFold(strings.TrimSpace(header("Save-Data")), "on") {
			out.Set("q", "45")
		}
	}
	return out, vary
}
