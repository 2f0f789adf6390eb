package transform

import (
	"math"
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
//     missing w comes from Sec-CH-Width (or Width), which counts device
//     pixels: it is divided by the dpr (given, or from the DPR hint) so
//     that w, h and the rest stay CSS pixels; w=auto falls back to
//     Sec-CH-Viewport-Width (or Viewport-Width), in CSS pixels, and
//     without any hint means the source's own width;
//   - with ch listing Save-Data, Save-Data: on lowers a missing q to 45.
//
// A width is kept within 1..lim.MaxWidth CSS pixels and a DPR within
// lim.MaxDPR, as Parse keeps them. A hint that is absent or
// not a positive number changes nothing. Every hint that could change the
// answer is named for Vary, sent or not: which ones depends on the URL
// alone.
func ClientHints(q url.Values, header func(string) string, lim Limits) (url.Values, []string) {
	var ch map[string]bool
	widthKey, autoWidth := "", false
	has := map[string]string{} // canonical name: the value given
	for k, vs := range q {
		name, _ := ParamName(k)
		if len(vs) > 0 {
			has[name] = vs[0]
		}
		switch {
		case strings.EqualFold(k, "ch") && len(vs) > 0:
			ch, _ = parseHints(vs[0]) // Parse refuses a list it cannot read
			if ch == nil {
				return q, nil
			}
		case name == "w":
			widthKey = k
			autoWidth = len(vs) == 1 && strings.EqualFold(vs[0], "auto")
		}
	}
	if ch == nil && !autoWidth {
		return q, nil
	}
	_, explicitW := has["w"]
	explicitW = explicitW && !autoWidth
	dprGiven, explicitDPR := has["dpr"]
	_, explicitQ := has["q"]

	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = v
	}
	var vary []string
	read := func(names []string) (float64, bool) {
		vary = append(vary, names...)
		for _, n := range names {
			if f, err := strconv.ParseFloat(strings.TrimSpace(header(n)), 64); err == nil && f > 0 && !math.IsInf(f, 0) {
				return f, true
			}
		}
		return 0, false
	}
	needW := ch["width"] && !explicitW || autoWidth
	dpr := 1.0
	if d, err := strconv.ParseFloat(dprGiven, 64); explicitDPR && err == nil && d > 0 {
		dpr = min(d, lim.MaxDPR)
	}
	if (ch["dpr"] || needW) && !explicitDPR {
		if d, ok := read(dprHints); ok {
			dpr = min(d, lim.MaxDPR)
			out.Set("dpr", strconv.FormatFloat(dpr, 'f', -1, 64))
		}
	}
	if needW {
		if widthKey != "" {
			delete(out, widthKey)
		}
		w, ok := read(widthHints)
		if ok {
			w /= dpr // device pixels to CSS pixels
		}
		if autoWidth {
			if v, vok := read(viewportHints); !ok {
				w, ok = v, vok
			}
		}
		if ok {
			out.Set("w", strconv.Itoa(max(1, min(lim.MaxWidth, int(math.Round(w))))))
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

// SemicolonParam is the image parameter of a raw query written with a raw
// ';' (Cloudflare's trim=top;right;bottom;left), which Go's query parser
// drops with its pair: that parameter must be refused, not ignored. It is
// "" when there is none.
func SemicolonParam(rawQuery string) string {
	for pair := range strings.SplitSeq(rawQuery, "&") {
		if !strings.Contains(pair, ";") {
			continue
		}
		k, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(k); err == nil && IsImageParam(k) {
			return k
		}
	}
	return ""
}
