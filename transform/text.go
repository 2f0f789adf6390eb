package transform

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text is an imgix text overlay (txt and its companions), drawn on the
// picture like a watermark.
type Text struct {
	Text  string // txt: plain text, never markup
	Size  int    // txt-size: pixels; 12 by default
	Color RGBA   // txt-color: black by default
	Font  string // txt-font: a Pango family and style, of Fonts ("DejaVu Sans Bold")
	// Anchor is txt-align: bottom right by default.
	Anchor Anchor
	Pad    int     // txt-pad: pixels from the edges it is aligned to; 10 by default
	Shadow float64 // txt-shad: the blur of a drop shadow, 0..10 pixels
	// FitMax is txt-fit=max: a line wider than its room is drawn smaller
	// to fit, instead of clipped.
	FitMax bool
	// Width is txt-width: the room for the text, in pixels; 0: the
	// picture's width less the padding.
	Width int
	// ClipStart is txt-clip=start: a line too wide loses its start
	// instead of its end (txt-clip=end, the default).
	ClipStart bool
}

// Text bounds: what one overlay may cost to draw. The text's length times
// its size bounds the width of the line drawn before it is clipped.
const (
	MaxTextLength = 500   // characters
	MaxTextSize   = 200   // pixels
	MaxTextShadow = 10    // pixels of blur
	MaxTextPad    = 1000  // pixels
	MaxTextCost   = 40000 // characters times pixels of size: 500 at 80 px, 200 at 200 px
)

// Fonts are the txt-font names imgedge draws with: Pango families of the
// fonts the Makefile installs (fonts-dejavu-core, fonts-liberation2). A
// name may add ",bold", ",italic" or both (imgix's style suffixes).
var Fonts = map[string]string{
	"sans-serif":       "DejaVu Sans",
	"serif":            "DejaVu Serif",
	"monospace":        "DejaVu Sans Mono",
	"dejavu sans":      "DejaVu Sans",
	"dejavu serif":     "DejaVu Serif",
	"dejavu sans mono": "DejaVu Sans Mono",
	"liberation sans":  "Liberation Sans",
	"liberation serif": "Liberation Serif",
	"liberation mono":  "Liberation Mono",
	"arial":            "Liberation Sans", // Liberation's are metric-compatible
	"helvetica":        "Liberation Sans",
	"times new roman":  "Liberation Serif",
	"courier new":      "Liberation Mono",
}

const (
	defaultTextSize = 12
	defaultTextPad  = 10
)

// textParams are the imgix text parameters imgedge implements; the others
// (txt-lead, txt-line, txt-line-color, txt-track, txt-x, txt-y) are
// refused by name.
var textParams = []string{"txt", "txt-size", "txt-color", "txt-font", "txt-align", "txt-pad", "txt-shad", "txt-fit", "txt-width", "txt-clip"}

// parseText reads imgix's text parameters.
func (o *Options) parseText(vals map[string]string, lim Limits) error {
	v, ok := vals["txt"]
	if !ok || v == "" {
		for _, name := range textParams[1:] {
			if _, given := vals[name]; given {
				return &Error{name, "applies with txt only"}
			}
		}
		return nil
	}
	if !utf8.ValidString(v) {
		return &Error{"txt", "is not UTF-8"}
	}
	if n := utf8.RuneCountInString(v); n > MaxTextLength {
		return &Error{"txt", fmt.Sprintf("is %d characters, over the limit of %d", n, MaxTextLength)}
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return &Error{"txt", "control characters are not drawn"}
	}
	if strings.IndexFunc(v, visible) < 0 {
		return &Error{"txt", "has no character to draw (only spaces or invisible ones)"}
	}
	t := &Text{Text: v, Size: defaultTextSize, Color: RGBA{0, 0, 0, 255}, Font: Fonts["sans-serif"], Anchor: Anchor{1, 1}, Pad: defaultTextPad}
	var err error
	if v, ok := vals["txt-size"]; ok {
		if t.Size, err = parseInt("txt-size", v, 1, MaxTextSize); err != nil {
			return err
		}
	}
	if n := utf8.RuneCountInString(t.Text); n*t.Size > MaxTextCost {
		return &Error{"txt", fmt.Sprintf("%d characters at %d px are over the limit of %d characters times pixels of size", n, t.Size, MaxTextCost)}
	}
	if v, ok := vals["txt-color"]; ok {
		if t.Color, err = ImgixColor(v); err != nil {
			return &Error{"txt-color", err.Error()}
		}
	}
	if v, ok := vals["txt-font"]; ok {
		if t.Font, err = parseFont(v); err != nil {
			return &Error{"txt-font", err.Error()}
		}
	}
	if v, ok := vals["txt-align"]; ok {
		if t.Anchor, err = parseAlign(v); err != nil {
			return &Error{"txt-align", err.Error()}
		}
	}
	if v, ok := vals["txt-pad"]; ok {
		if t.Pad, err = parseInt("txt-pad", v, 0, MaxTextPad); err != nil {
			return err
		}
	}
	if v, ok := vals["txt-shad"]; ok {
		if t.Shadow, err = parseFloat("txt-shad", v, 0, MaxTextShadow); err != nil {
			return err
		}
	}
	if v, ok := vals["txt-fit"]; ok {
		if !strings.EqualFold(v, "max") {
			return &Error{"txt-fit", fmt.Sprintf("txt-fit=%s is not implemented (max is)", v)}
		}
		t.FitMax = true
	}
	if v, ok := vals["txt-width"]; ok {
		if t.Width, err = parseInt("txt-width", v, 1, lim.MaxWidth); err != nil {
			return err
		}
	}
	if v, ok := vals["txt-clip"]; ok {
		switch strings.ToLower(v) {
		case "end":
		case "start":
			t.ClipStart = true
		default:
			return &Error{"txt-clip", fmt.Sprintf("txt-clip=%s is not implemented (start and end are)", v)}
		}
	}
	o.Text = t
	return nil
}

// parseFont reads txt-font: one of Fonts, with ",bold" and ",italic"
// suffixes; the value is the Pango family and style.
func parseFont(v string) (string, error) {
	parts := strings.Split(strings.ToLower(v), ",")
	family, ok := Fonts[strings.TrimSpace(parts[0])]
	if !ok {
		return "", fmt.Errorf("%q is not one of the installed fonts (sans-serif, serif, monospace, DejaVu Sans, DejaVu Serif, DejaVu Sans Mono, Liberation Sans, Liberation Serif, Liberation Mono, Arial, Helvetica, Times New Roman, Courier New; with ,bold or ,italic)", v)
	}
	var bold, italic bool
	for _, s := range parts[1:] {
		switch strings.TrimSpace(s) {
		case "bold":
			bold = true
		case "italic":
			italic = true
		default:
			return "", fmt.Errorf("%q: the style %q is not bold or italic", v, s)
		}
	}
	font := family
	if bold {
		font += " Bold"
	}
	if italic {
		font += " Italic"
	}
	return font, nil
}

// PangoFont is the font description to draw the text at size px.
func (t *Text) PangoFont(size int) string { return t.Font + " " + strconv.Itoa(size) }

// canonical adds the text overlay to a canonical form, every value
// written out (defaults included) so that spellings collapse.
func (t *Text) canonical(add func(k, v string)) {
	add("txt", url.QueryEscape(t.Text))
	add("txt-size", strconv.Itoa(t.Size))
	add("txt-color", fmt.Sprintf("%02x%02x%02x%02x", t.Color.A, t.Color.R, t.Color.G, t.Color.B)) // ARGB, as ImgixColor reads it
	add("txt-font", url.QueryEscape(t.fontName()))
	add("txt-align", alignName(t.Anchor))
	add("txt-pad", strconv.Itoa(t.Pad))
	if t.Shadow > 0 {
		add("txt-shad", fmtFloat(t.Shadow))
	}
	if t.FitMax {
		add("txt-fit", "max")
	}
	if t.Width > 0 {
		add("txt-width", strconv.Itoa(t.Width))
	}
	if t.ClipStart {
		add("txt-clip", "start")
	}
}

// fontName is the font as txt-font names it again: the family, as Fonts
// has it in lower case, and the style.
func (t *Text) fontName() string {
	f := t.Font
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(f, " Italic"), " Bold"))
	if strings.Contains(f, " Bold") {
		name += ",bold"
	}
	if strings.HasSuffix(f, " Italic") {
		name += ",italic"
	}
	return name
}

// alignName is an anchor as txt-align writes it.
func alignName(a Anchor) string {
	y := map[float64]string{0: "top", 0.5: "middle", 1: "bottom"}[a.Y]
	x := map[float64]string{0: "left", 0.5: "center", 1: "right"}[a.X]
	return y + "," + x
}

// visible says r draws something: a graphic character other than a
// space (zero-width and other format characters draw nothing).
func visible(r rune) bool {
	return unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r)
}
