package transform

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Faces says how the faces detected in the source steer a request:
//
//   - imgix crop=faces (with fit=crop) and Cloudflare gravity=face (with
//     fit=cover or crop): the crop window is the largest of the output's
//     shape centred on the faces; Cloudflare's zoom (0..1) narrows it
//     towards them. No face found: the attention crop (Smart stays set).
//   - imgix fit=facearea: the window is one face (faceindex, 1-based, the
//     largest first; none: all of them) padded by facepad (1: the face's
//     own box), in the output's shape, enlarged if need be. No face found
//     (or no face of that index): the whole picture, fitted in the box.
//   - imgix faces=1: the faces' bounds in fm=json's description (like
//     imgix, it changes no other answer).
type Faces struct {
	Crop  bool    // crop=faces, gravity=face
	Area  bool    // fit=facearea
	Pad   float64 // facepad; 1 when Area
	Index int     // faceindex, 1-based; 0: every face
	Zoom  float64 // Cloudflare zoom, 0..1
	List  bool    // faces=1 with fm=json
}

// Detects reports whether the request needs the source's faces.
func (f Faces) Detects() bool { return f.Crop || f.Area || f.List }

// Face bounds: facepad, the most padding asked of a face; faceindex, the
// most faces one may count to.
const (
	MaxFacePad   = 10.0
	MaxFaceIndex = 100
)

// parseFaces reads the face parameters, once the fit, the gravity and
// the format are known; what it cannot honour it refuses by name.
func (o *Options) parseFaces(vals map[string]string) error {
	f := &o.Faces
	f.Area = strings.EqualFold(vals["fit"], "facearea")
	if g, ok := vals["g"]; ok && !strings.Contains(g, "x") {
		for tok := range strings.SplitSeq(strings.ToLower(g), ",") {
			if t := strings.TrimSpace(tok); t == "faces" || t == "face" {
				f.Crop = true
			}
		}
	}
	if f.Area {
		if o.Width == 0 || o.Height == 0 {
			return &Error{"fit", "fit=facearea needs both w and h"}
		}
		f.Crop, o.Smart, o.Anchor = false, false, Center
		f.Pad = 1
	}
	var err error
	if v, ok := vals["facepad"]; ok {
		if !f.Area {
			return &Error{"facepad", "applies with fit=facearea only (as imgix)"}
		}
		if f.Pad, err = parseFloat("facepad", v, 0, MaxFacePad); err != nil {
			return err
		}
		if f.Pad == 0 {
			return &Error{"facepad", "must be greater than 0"}
		}
	}
	if v, ok := vals["faceindex"]; ok {
		if !f.Area {
			return &Error{"faceindex", "applies with fit=facearea only (as imgix)"}
		}
		if f.Index, err = parseInt("faceindex", v, 1, MaxFaceIndex); err != nil {
			return err
		}
	}
	if v, ok := vals["zoom"]; ok {
		if !f.Crop {
			return &Error{"zoom", "applies with gravity=face only (as Cloudflare)"}
		}
		if f.Zoom, err = parseFloat("zoom", v, 0, 1); err != nil {
			return err
		}
	}
	if v, ok := vals["faces"]; ok {
		switch v {
		case "1", "true":
			f.List = true
		case "0", "false":
		default:
			return &Error{"faces", fmt.Sprintf("%q is not 1 or 0", v)}
		}
	}
	if (f.Crop || f.Area) && (o.Rect != nil || o.Trim != nil) {
		return &Error{"rect", "a region of the source cannot be combined with a crop to faces"}
	}
	if f.Crop && !o.Crops() {
		f.Crop, f.Zoom = false, 0 // nothing is cropped: the faces change nothing
	}
	return nil
}

// fitName is fit's name in a canonical form: facearea is a cover of its own.
func (f Faces) fitName(fit Fit) string {
	if f.Area {
		return "facearea"
	}
	return fit.String()
}

// canonical adds the face parameters to a canonical form (crop=faces is
// its gravity, facearea its fit).
func (f Faces) canonical(add func(k, v string)) {
	if f.Crop && f.Zoom > 0 {
		add("zoom", fmtFloat(f.Zoom))
	}
	if f.Area && f.Pad != 1 {
		add("facepad", fmtFloat(f.Pad))
	}
	if f.Index > 0 {
		add("faceindex", strconv.Itoa(f.Index))
	}
	if f.List {
		add("faces", "1")
	}
}

// FaceWindow is the region of a srcW x srcH source, of the output's shape
// (outW:outH), that a request aims at face (the faces' bounds): face
// grown by pad, centred on it and kept inside the source. zoom 0 is the
// largest such window the source holds (crop=faces), zoom 1 the one that
// just holds the padded face (facearea); between, in proportion.
func FaceWindow(face Rect, pad, zoom float64, outW, outH, srcW, srcH int) Rect {
	a := float64(outW) / float64(outH)
	// The largest window of that shape in the source.
	fullW := math.Min(float64(srcW), float64(srcH)*a)
	// The padded face, in that shape.
	tightW := math.Max(float64(face.W)*pad, float64(face.H)*pad*a)
	w := fullW + (tightW-fullW)*zoom
	h := w / a
	if w > float64(srcW) {
		w, h = float64(srcW), float64(srcW)/a
	}
	if h > float64(srcH) {
		w, h = float64(srcH)*a, float64(srcH)
	}
	ww, hh := max(1, int(math.Round(w))), max(1, int(math.Round(h)))
	cx, cy := float64(face.X)+float64(face.W)/2, float64(face.Y)+float64(face.H)/2
	place := func(c float64, win, size int) int {
		return max(0, min(int(math.Round(c-float64(win)/2)), size-win))
	}
	return Rect{place(cx, ww, srcW), place(cy, hh, srcH), min(ww, srcW), min(hh, srcH)}
}

// Union is the smallest rectangle holding every one of rs.
func Union(rs []Rect) Rect {
	if len(rs) == 0 {
		return Rect{}
	}
	x0, y0, x1, y1 := rs[0].X, rs[0].Y, rs[0].X+rs[0].W, rs[0].Y+rs[0].H
	for _, r := range rs[1:] {
		x0, y0 = min(x0, r.X), min(y0, r.Y)
		x1, y1 = max(x1, r.X+r.W), max(y1, r.Y+r.H)
	}
	return Rect{x0, y0, x1 - x0, y1 - y0}
}
