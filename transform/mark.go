package transform

import (
	"fmt"
	"math"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Mark is an imgix watermark: another image of the same site laid over
// the output.
type Mark struct {
	// Path is the mark's path on the site; Host, when the mark was given
	// as an absolute URL, the host it named, which the caller checks is
	// the request's own (it is not part of the key: no other is served).
	Path, Host string
	// Anchor is where it sits: imgix mark-align, bottom right by default.
	Anchor Anchor
	// W and H are its size: pixels when 1 or more, else a fraction of
	// the output's width or height; 0: free (its own size, or the other
	// side's scale). Scale, when set, is its width as a fraction of the
	// output's (imgix mark-scale, a percentage there).
	W, H, Scale float64
	// Alpha is its opacity, 0..100 (imgix mark-alpha, 100 by default).
	Alpha int
	// Pad is the room between it and the edges it is aligned to, in
	// pixels (imgix mark-pad, 5 by default).
	Pad int
}

// markParams are the imgix watermark parameters imgedge implements; the
// others (mark-base, mark-fit, mark-rot, mark-tile, mark-x, mark-y) are
// refused.
var markParams = []string{"mark", "mark-align", "mark-w", "mark-h", "mark-scale", "mark-alpha", "mark-pad"}

const defaultMarkPad = 5

// parseMark reads imgix's mark parameters.
func (o *Options) parseMark(vals map[string]string, lim Limits) error {
	v, ok := vals["mark"]
	if !ok {
		for _, name := range markParams[1:] {
			if _, given := vals[name]; given {
				return &Error{name, "applies with mark only"}
			}
		}
		return nil
	}
	host, p, err := markPath(v)
	if err != nil {
		return &Error{"mark", err.Error()}
	}
	m := &Mark{Host: host, Path: p, Anchor: Anchor{1, 1}, Alpha: 100, Pad: defaultMarkPad}
	if v, ok := vals["mark-align"]; ok {
		if m.Anchor, err = parseAlign(v); err != nil {
			return &Error{"mark-align", err.Error()}
		}
	}
	for _, side := range []struct {
		name string
		dst  *float64
		max  int
	}{{"mark-w", &m.W, lim.MaxWidth}, {"mark-h", &m.H, lim.MaxHeight}} {
		if v, ok := vals[side.name]; ok {
			if *side.dst, err = parseFloat(side.name, v, 0, float64(side.max)); err != nil {
				return err
			}
			if *side.dst == 0 {
				return &Error{side.name, "must be greater than 0: pixels, or a fraction of the image below 1"}
			}
			if *side.dst >= 1 {
				*side.dst = math.Round(*side.dst)
			}
		}
	}
	if v, ok := vals["mark-scale"]; ok {
		s, err := parseFloat("mark-scale", v, 0, 100)
		if err != nil {
			return err
		}
		if m.W > 0 || m.H > 0 {
			return &Error{"mark-scale", "give mark-scale or mark-w and mark-h, not both"}
		}
		m.Scale = s / 100
	}
	if v, ok := vals["mark-alpha"]; ok {
		if m.Alpha, err = parseInt("mark-alpha", v, 0, 100); err != nil {
			return err
		}
	}
	if v, ok := vals["mark-pad"]; ok {
		if m.Pad, err = parseInt("mark-pad", v, 0, max(lim.MaxWidth, lim.MaxHeight)); err != nil {
			return err
		}
	}
	o.Mark = m
	return nil
}

// markPath is the path of a mark on the site, given as a path or as an
// absolute http(s) URL, whose host it returns too (the caller checks it
// is the request's own).
func markPath(v string) (host, p string, err error) {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", "", fmt.Errorf("%q is not a path or URL", v)
	case u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https":
		return "", "", fmt.Errorf("%q: only a path of this site, or an http(s) URL of this site's host", v)
	case u.Scheme != "":
		if u.Host == "" || u.User != nil {
			return "", "", fmt.Errorf("%q is not an http(s) URL of this site", v)
		}
	case u.Host != "" || !strings.HasPrefix(u.Path, "/"):
		return "", "", fmt.Errorf("%q: give the mark's path on this site, starting with /", v)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%q: a mark is a plain image of this site, without a query", v)
	}
	if strings.ContainsFunc(u.Path, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", "", fmt.Errorf("%q: control characters in the path", v)
	}
	clean := path.Clean(u.Path)
	if clean != u.Path && clean+"/" != u.Path {
		return "", "", fmt.Errorf("%q: the path must be clean (no . or .. segments)", v)
	}
	return strings.ToLower(u.Host), clean, nil
}

// parseAlign reads imgix mark-align: a comma list of top, middle,
// bottom and left, center, right.
func parseAlign(v string) (Anchor, error) {
	a := Anchor{0.5, 0.5}
	for tok := range strings.SplitSeq(strings.ToLower(v), ",") {
		switch strings.TrimSpace(tok) {
		case "top":
			a.Y = 0
		case "middle":
			a.Y = 0.5
		case "bottom":
			a.Y = 1
		case "left":
			a.X = 0
		case "center":
			a.X = 0.5
		case "right":
			a.X = 1
		default:
			return a, fmt.Errorf("%q is not a list of top, middle, bottom, left, center, right", v)
		}
	}
	return a, nil
}

// canonical is the mark in the canonical form.
func (m *Mark) canonical() string {
	return url.QueryEscape(m.Path) + "," + fmtFloat(m.Anchor.X) + "x" + fmtFloat(m.Anchor.Y) + "," +
		fmtFloat(m.W) + "," + fmtFloat(m.H) + "," + fmtFloat(m.Scale) + "," + strconv.Itoa(m.Alpha) + "," + strconv.Itoa(m.Pad)
}

// MarkSize is the size to make a markW x markH mark over an outW x outH
// output: mark-w and mark-h (pixels or fractions), or mark-scale of the
// output's width, keeping the mark's aspect ratio when one side is free;
// by default its own size. It never exceeds the output less the padding.
func (m *Mark) MarkSize(markW, markH, outW, outH int) (w, h int) {
	side := func(v float64, of int) float64 {
		if v > 0 && v < 1 {
			return v * float64(of)
		}
		return v
	}
	fw, fh := side(m.W, outW), side(m.H, outH)
	if m.Scale > 0 {
		fw = m.Scale * float64(outW)
	}
	switch {
	case fw > 0 && fh == 0:
		fh = fw * float64(markH) / float64(markW)
	case fh > 0 && fw == 0:
		fw = fh * float64(markW) / float64(markH)
	case fw == 0 && fh == 0:
		fw, fh = float64(markW), float64(markH)
	}
	// Within the output, less the padding, aspect ratio kept.
	roomW, roomH := float64(max(1, outW-2*m.Pad)), float64(max(1, outH-2*m.Pad))
	if k := min(roomW/fw, roomH/fh); k < 1 {
		fw, fh = fw*k, fh*k
	}
	return max(1, int(math.Round(fw))), max(1, int(math.Round(fh)))
}

// MarkOffset is where a w x h mark goes on an outW x outH output: at its
// anchor, Pad pixels from the edges it is aligned to.
func (m *Mark) MarkOffset(w, h, outW, outH int) (left, top int) {
	return Place(m.Anchor, m.Pad, w, h, outW, outH)
}

// Place is where a w x h overlay (a mark, a text) goes on an outW x outH
// output: at anchor a, pad pixels from the edges it is aligned to.
func Place(a Anchor, pad, w, h, outW, outH int) (left, top int) {
	place := func(a float64, size, out int) int {
		switch a {
		case 0:
			return min(pad, max(0, out-size))
		case 1:
			return max(0, out-size-pad)
		}
		return max(0, int(math.Round(a*float64(out-size))))
	}
	return place(a.X, w, outW), place(a.Y, h, outH)
}

// MarkAllowed tells whether a request's mark may name path: it is listed
// in marks, or below a listed prefix ending in "/".
func MarkAllowed(marks []string, path string) bool {
	return slices.ContainsFunc(marks, func(p string) bool {
		return p == path || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p))
	})
}
