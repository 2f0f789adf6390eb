package transform

import (
	"errors"
	"net/url"
	"reflect"
	"slices"
	"testing"
)

// query parses a raw query string; '#' must be written %23.
func query(t *testing.T, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("bad test query %q: %v", raw, err)
	}
	return q
}

// mustParse parses raw with DefaultLimits and fails the test on error.
func mustParse(t *testing.T, raw string) Options {
	t.Helper()
	o, err := Parse(query(t, raw), DefaultLimits)
	if err != nil {
		t.Fatalf("Parse(%q) = %v, want no error", raw, err)
	}
	return o
}

func rgba(r, g, b, a uint8) *RGBA { return &RGBA{r, g, b, a} }

func TestParseAcceptsEveryParameterAndAlias(t *testing.T) {
	strict := DefaultLimits
	strict.Strict = true
	small := Limits{MaxWidth: 1000, MaxHeight: 500, MaxDPR: 2}

	tests := []struct {
		name  string
		query string
		lim   Limits
		want  Options
	}{
		{"an empty query asks for the original, anchored at the centre", "", DefaultLimits,
			Options{Anchor: Center}},
		{"w sets the width", "w=400", DefaultLimits,
			Options{Width: 400, Anchor: Center}},
		{"width is an alias of w", "width=400", DefaultLimits,
			Options{Width: 400, Anchor: Center}},
		{"h sets the height", "h=300", DefaultLimits,
			Options{Height: 300, Anchor: Center}},
		{"height is an alias of h", "height=300", DefaultLimits,
			Options{Height: 300, Anchor: Center}},
		{"keys are case-insensitive", "WIDTH=400&H=300&Quality=80&FM=webp", DefaultLimits,
			Options{Width: 400, Height: 300, Quality: 80, Format: WEBP, Anchor: Center}},
		{"surrounding spaces in a value are ignored", "w=+400+", DefaultLimits,
			Options{Width: 400, Anchor: Center}},
		{"the largest width and height are accepted", "w=4096&h=4096", DefaultLimits,
			Options{Width: 4096, Height: 4096, Anchor: Center}},
		{"the width is checked against the configured limit", "w=1000&h=500", small,
			Options{Width: 1000, Height: 500, Anchor: Center}},

		{"q sets the quality", "q=80", DefaultLimits,
			Options{Quality: 80, Anchor: Center}},
		{"quality is an alias of q", "quality=80", DefaultLimits,
			Options{Quality: 80, Anchor: Center}},
		{"quality 1 is the lowest accepted", "q=1", DefaultLimits,
			Options{Quality: 1, Anchor: Center}},
		{"quality 100 is the highest accepted", "q=100", DefaultLimits,
			Options{Quality: 100, Anchor: Center}},

		{"f=webp asks for WebP", "f=webp", DefaultLimits,
			Options{Format: WEBP, Anchor: Center}},
		{"fm is an alias of f", "fm=png", DefaultLimits,
			Options{Format: PNG, Anchor: Center}},
		{"format is an alias of f", "format=gif", DefaultLimits,
			Options{Format: GIF, Anchor: Center}},
		{"f=avif asks for AVIF", "f=avif", DefaultLimits,
			Options{Format: AVIF, Anchor: Center}},
		{"f=jpeg asks for JPEG", "f=jpeg", DefaultLimits,
			Options{Format: JPEG, Anchor: Center}},
		{"f=jpg means JPEG", "f=jpg", DefaultLimits,
			Options{Format: JPEG, Anchor: Center}},
		{"f=pjpg means a progressive JPEG", "fm=pjpg", DefaultLimits,
			Options{Format: JPEG, Progressive: true, Anchor: Center}},
		{"Cloudflare's baseline-jpeg is a JPEG", "format=baseline-jpeg", DefaultLimits,
			Options{Format: JPEG, Anchor: Center}},
		{"format values are case-insensitive", "f=WebP", DefaultLimits,
			Options{Format: WEBP, Anchor: Center}},
		{"f=auto negotiates the format", "f=auto", DefaultLimits,
			Options{Format: FormatAuto, Anchor: Center}},
		{"auto=format means f=auto", "auto=format", DefaultLimits,
			Options{Format: FormatAuto, Anchor: Center}},
		{"auto=format,compress means f=auto at imgix's quality of 45", "auto=format,compress", DefaultLimits,
			Options{Format: FormatAuto, Quality: 45, Anchor: Center}},
		{"auto=compress,format means the same", "auto=compress,format", DefaultLimits,
			Options{Format: FormatAuto, Quality: 45, Anchor: Center}},
		{"auto given twice adds up, as imgix reiterates it", "auto=compress&auto=format", DefaultLimits,
			Options{Format: FormatAuto, Quality: 45, Anchor: Center}},
		{"a q wins over auto=compress", "auto=compress&q=70", DefaultLimits,
			Options{Quality: 70, Anchor: Center}},
		{"Cloudflare's quality names", "quality=medium-high", DefaultLimits,
			Options{Quality: 80, Anchor: Center}},
		{"auto values are case-insensitive", "auto=FORMAT", DefaultLimits,
			Options{Format: FormatAuto, Anchor: Center}},
		{"auto=compress alone keeps the source format", "auto=compress", DefaultLimits,
			Options{Quality: 45, Anchor: Center}},
		{"an explicit f wins over auto=format", "f=png&auto=format", DefaultLimits,
			Options{Format: PNG, Anchor: Center}},

		{"fit=scale-down is the default made explicit", "fit=scale-down", DefaultLimits,
			Options{Fit: FitScaleDown, Anchor: Center}},
		{"fit=max is an alias of scale-down", "fit=max", DefaultLimits,
			Options{Fit: FitScaleDown, Anchor: Center}},
		{"fit=contain fits enlarging", "fit=contain", DefaultLimits,
			Options{Fit: FitContain, Anchor: Center}},
		{"fit=clip is an alias of contain", "fit=clip", DefaultLimits,
			Options{Fit: FitContain, Anchor: Center}},
		{"fit=cover fills the box", "fit=cover", DefaultLimits,
			Options{Fit: FitCover, Anchor: Center}},
		{"fit=crop fills without enlarging", "fit=crop", DefaultLimits,
			Options{Fit: FitCrop, Anchor: Center}},
		{"fit=pad pads the box", "fit=pad", DefaultLimits,
			Options{Fit: FitPad, Anchor: Center}},
		{"fit=fill is an alias of pad", "fit=fill", DefaultLimits,
			Options{Fit: FitPad, Anchor: Center}},
		{"fit=squeeze stretches", "fit=squeeze", DefaultLimits,
			Options{Fit: FitSqueeze, Anchor: Center}},
		{"fit=scale is an alias of squeeze", "fit=scale", DefaultLimits,
			Options{Fit: FitSqueeze, Anchor: Center}},
		{"fit values are case-insensitive", "fit=COVER", DefaultLimits,
			Options{Fit: FitCover, Anchor: Center}},

		{"g=top keeps the top edge", "g=top", DefaultLimits,
			Options{Anchor: Anchor{0.5, 0}}},
		{"gravity is an alias of g", "gravity=bottom", DefaultLimits,
			Options{Anchor: Anchor{0.5, 1}}},
		{"crop is an alias of g", "crop=left", DefaultLimits,
			Options{Anchor: Anchor{0, 0.5}}},
		{"g=right keeps the right edge", "g=right", DefaultLimits,
			Options{Anchor: Anchor{1, 0.5}}},
		{"compass names are accepted", "g=north", DefaultLimits,
			Options{Anchor: Anchor{0.5, 0}}},
		{"g=center is the centre", "g=center", DefaultLimits,
			Options{Anchor: Center}},
		{"g=centre is the centre", "g=centre", DefaultLimits,
			Options{Anchor: Center}},
		{"gravity values are case-insensitive", "g=TOP", DefaultLimits,
			Options{Anchor: Anchor{0.5, 0}}},
		{"crop=top,left combines two edges", "crop=top,left", DefaultLimits,
			Options{Anchor: Anchor{0, 0}}},
		{"crop=bottom,right combines two edges", "crop=bottom,right", DefaultLimits,
			Options{Anchor: Anchor{1, 1}}},
		{"a point XxY is a gravity", "g=0.25x0.75", DefaultLimits,
			Options{Anchor: Anchor{0.25, 0.75}}},
		{"g=auto asks for a smart crop", "g=auto", DefaultLimits,
			Options{Smart: true, Anchor: Center}},
		{"g=smart asks for a smart crop", "g=smart", DefaultLimits,
			Options{Smart: true, Anchor: Center}},
		{"crop=faces asks for a smart crop", "crop=faces", DefaultLimits,
			Options{Smart: true, Anchor: Center}},
		{"crop=entropy asks for a smart crop", "crop=entropy", DefaultLimits,
			Options{Smart: true, Anchor: Center}},
		{"fp-x and fp-y set a focal point", "fp-x=0.2&fp-y=0.8", DefaultLimits,
			Options{Anchor: Anchor{0.2, 0.8}}},
		{"g=focalpoint takes the point from fp-x and fp-y", "crop=focalpoint&fp-x=0.2&fp-y=0.8", DefaultLimits,
			Options{Anchor: Anchor{0.2, 0.8}}},
		{"fp-x alone keeps the centre's y", "fp-x=0", DefaultLimits,
			Options{Anchor: Anchor{0, 0.5}}},
		{"fp-y alone keeps the centre's x", "fp-y=1", DefaultLimits,
			Options{Anchor: Anchor{0.5, 1}}},

		{"blur sets the sigma", "blur=2.5", DefaultLimits,
			Options{Blur: 2.5, Anchor: Center}},
		{"blur 250 is the largest accepted", "blur=250", DefaultLimits,
			Options{Blur: 250, Anchor: Center}},
		{"sharpen sets the sigma", "sharpen=1.5", DefaultLimits,
			Options{Sharpen: 1.5, Anchor: Center}},
		{"sharpen 10 is the largest accepted", "sharpen=10", DefaultLimits,
			Options{Sharpen: 10, Anchor: Center}},

		{"bg takes a hex colour, its alpha first as imgix writes it", "bg=%2380ff0000", DefaultLimits,
			Options{Background: rgba(255, 0, 0, 128), Anchor: Center}},
		{"bg takes a four-digit hex colour, its alpha first", "bg=8f00", DefaultLimits,
			Options{Background: rgba(255, 0, 0, 136), Anchor: Center}},
		{"fill-color is imgix's too: alpha first", "fill-color=80ff0000", DefaultLimits,
			Options{Background: rgba(255, 0, 0, 128), Anchor: Center}},
		{"background (Cloudflare's) is CSS: alpha last", "background=%23ff000080", DefaultLimits,
			Options{Background: rgba(255, 0, 0, 128), Anchor: Center}},
		{"background is an alias of bg", "background=000", DefaultLimits,
			Options{Background: rgba(0, 0, 0, 255), Anchor: Center}},
		{"bg takes colour names in any case", "bg=Transparent", DefaultLimits,
			Options{Background: rgba(0, 0, 0, 0), Anchor: Center}},

		{"metadata=none strips everything", "metadata=none", DefaultLimits,
			Options{Metadata: MetadataNone, Anchor: Center}},
		{"metadata=copyright keeps the copyright", "metadata=copyright", DefaultLimits,
			Options{Metadata: MetadataCopyright, Anchor: Center}},
		{"metadata=keep keeps everything", "metadata=KEEP", DefaultLimits,
			Options{Metadata: MetadataKeep, Anchor: Center}},

		{"s is kept as the signature", "w=400&s=abc123", DefaultLimits,
			Options{Width: 400, Anchor: Center, Signature: "abc123"}},

		{"unknown parameters are ignored by default", "w=400&v=3&token=abc", DefaultLimits,
			Options{Width: 400, Anchor: Center}},
		{"strict mode accepts every known parameter", "width=400&fm=webp&crop=top", strict,
			Options{Width: 400, Format: WEBP, Anchor: Anchor{0.5, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(query(t, tt.query), tt.lim)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want no error", tt.query, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) =\n %+v\nwant\n %+v", tt.query, got, tt.want)
			}
		})
	}
}

func TestParseAppliesDPR(t *testing.T) {
	lowDPR := DefaultLimits
	lowDPR.MaxDPR = 2
	narrow := Limits{MaxWidth: 1000, MaxHeight: 500, MaxDPR: 3}

	tests := []struct {
		name  string
		query string
		lim   Limits
		w, h  int
	}{
		{"dpr 2 doubles the width", "w=400&dpr=2", DefaultLimits, 800, 0},
		{"dpr 2 doubles both sides", "w=400&h=300&dpr=2", DefaultLimits, 800, 600},
		{"dpr 1 changes nothing", "w=400&h=300&dpr=1", DefaultLimits, 400, 300},
		{"a fractional dpr rounds to whole pixels", "w=333&dpr=1.5", DefaultLimits, 500, 0},
		{"a dpr below 1 shrinks the box", "w=400&h=300&dpr=0.5", DefaultLimits, 200, 150},
		{"dpr alone asks for no size", "dpr=2", DefaultLimits, 0, 0},
		{"dpr above the maximum is clamped to 3", "w=400&dpr=5", DefaultLimits, 1200, 0},
		{"an infinite dpr is clamped to 3", "w=100&dpr=Inf", DefaultLimits, 300, 0},
		{"dpr is clamped at the configured maximum", "w=400&dpr=3", lowDPR, 800, 0},
		{"a wide box enlarged past the width limit shrinks to it", "w=2000&dpr=3", DefaultLimits, 4096, 0},
		{"a box enlarged past the width limit keeps its aspect ratio", "w=2000&h=1000&dpr=3", DefaultLimits, 4096, 2048},
		{"a box enlarged past the height limit keeps its aspect ratio", "w=1000&h=3000&dpr=2", DefaultLimits, 1365, 4096},
		{"a box past both limits fits the tighter one", "w=3000&h=1000&dpr=2", DefaultLimits, 4096, 1365},
		{"a box past unequal limits fits the tighter one", "w=400&h=400&dpr=2", narrow, 500, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(query(t, tt.query), tt.lim)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want no error", tt.query, err)
			}
			if got.Width != tt.w || got.Height != tt.h {
				t.Errorf("Parse(%q) box = %dx%d, want %dx%d", tt.query, got.Width, got.Height, tt.w, tt.h)
			}
			if got.Width > tt.lim.MaxWidth || got.Height > tt.lim.MaxHeight {
				t.Errorf("Parse(%q) box %dx%d exceeds the limits %dx%d", tt.query, got.Width, got.Height, tt.lim.MaxWidth, tt.lim.MaxHeight)
			}
		})
	}
}

func TestParseRefusesBadValues(t *testing.T) {
	strict := DefaultLimits
	strict.Strict = true
	small := Limits{MaxWidth: 1000, MaxHeight: 500, MaxDPR: 3}

	tests := []struct {
		name  string
		query string
		lim   Limits
		param []string // the error must name one of these
	}{
		{"a width that is not a number is refused", "w=abc", DefaultLimits, []string{"w"}},
		{"a width with a unit is refused", "w=400px", DefaultLimits, []string{"w"}},
		{"an empty width is refused", "w=", DefaultLimits, []string{"w"}},
		{"a zero width is refused", "w=0", DefaultLimits, []string{"w"}},
		{"a negative width is refused", "w=-400", DefaultLimits, []string{"w"}},
		{"a width above MaxWidth is refused", "w=4097", DefaultLimits, []string{"w"}},
		{"a width above a configured MaxWidth is refused", "w=1001", small, []string{"w"}},
		{"a bad width given as width names the width", "width=abc", DefaultLimits, []string{"w", "width"}},
		{"a height that is not a number is refused", "h=tall", DefaultLimits, []string{"h"}},
		{"a zero height is refused", "h=0", DefaultLimits, []string{"h"}},
		{"a negative height is refused", "h=-1", DefaultLimits, []string{"h"}},
		{"a height above MaxHeight is refused", "h=4097", DefaultLimits, []string{"h"}},
		{"a height above a configured MaxHeight is refused", "h=501", small, []string{"h"}},
		{"a bad height given as height names the height", "height=0", DefaultLimits, []string{"h", "height"}},

		{"quality 0 is refused", "q=0", DefaultLimits, []string{"q"}},
		{"quality 101 is refused", "q=101", DefaultLimits, []string{"q"}},
		{"a negative quality is refused", "q=-5", DefaultLimits, []string{"q"}},
		{"a quality that is not a number is refused", "quality=best", DefaultLimits, []string{"q", "quality"}},

		{"dpr 0 is refused", "w=400&dpr=0", DefaultLimits, []string{"dpr"}},
		{"a negative dpr is refused", "w=400&dpr=-1", DefaultLimits, []string{"dpr"}},
		{"a NaN dpr is refused", "w=400&dpr=NaN", DefaultLimits, []string{"dpr"}},
		{"a lower-case nan dpr is refused", "w=400&dpr=nan", DefaultLimits, []string{"dpr"}},
		{"a dpr that is not a number is refused", "w=400&dpr=2x", DefaultLimits, []string{"dpr"}},

		{"a negative blur is refused", "blur=-1", DefaultLimits, []string{"blur"}},
		{"a blur above 250 is refused", "blur=251", DefaultLimits, []string{"blur"}},
		{"a NaN blur is refused", "blur=NaN", DefaultLimits, []string{"blur"}},
		{"a blur that is not a number is refused", "blur=soft", DefaultLimits, []string{"blur"}},
		{"a negative sharpen is refused", "sharpen=-0.5", DefaultLimits, []string{"sharpen"}},
		{"a sharpen above 10 is refused", "sharpen=11", DefaultLimits, []string{"sharpen"}},
		{"a sharpen that is not a number is refused", "sharpen=lots", DefaultLimits, []string{"sharpen"}},

		{"an unknown fit is refused", "fit=stretch", DefaultLimits, []string{"fit"}},
		{"an empty fit is refused", "fit=", DefaultLimits, []string{"fit"}},
		{"an unknown format is refused", "f=bmp", DefaultLimits, []string{"f"}},
		{"a read-only format is refused as output", "f=tiff", DefaultLimits, []string{"f"}},
		{"an unknown format under fm is refused", "fm=heic", DefaultLimits, []string{"f", "fm"}},
		{"an unknown metadata policy is refused", "metadata=all", DefaultLimits, []string{"metadata"}},
		{"an unknown gravity is refused", "g=middle", DefaultLimits, []string{"g"}},
		{"an unknown gravity under crop is refused", "crop=top,middle", DefaultLimits, []string{"g", "crop"}},
		{"a gravity point outside the image is refused", "g=1.5x0.5", DefaultLimits, []string{"g"}},
		{"a gravity point missing a coordinate is refused", "g=0.5x", DefaultLimits, []string{"g"}},
		{"a focal x above 1 is refused", "fp-x=1.5", DefaultLimits, []string{"fp-x"}},
		{"a negative focal x is refused", "fp-x=-0.1", DefaultLimits, []string{"fp-x"}},
		{"a focal y that is not a number is refused", "fp-y=top", DefaultLimits, []string{"fp-y"}},
		{"a focal y above 1 is refused", "fp-y=2", DefaultLimits, []string{"fp-y"}},
		{"a focal x combined with a smart crop is refused", "g=auto&fp-x=0.5", DefaultLimits, []string{"fp-x", "g"}},
		{"a focal y combined with a smart crop is refused naming a parameter the request has", "g=auto&fp-y=0.5", DefaultLimits, []string{"fp-y", "g"}},

		{"a colour name bg does not know is refused", "bg=red", DefaultLimits, []string{"bg"}},
		{"a five-digit hex bg is refused", "bg=%2312345", DefaultLimits, []string{"bg"}},
		{"a non-hex bg is refused", "background=%23ggg", DefaultLimits, []string{"bg", "background"}},
		{"an empty bg is refused", "bg=", DefaultLimits, []string{"bg"}},

		{"a width given twice is refused", "w=400&w=500", DefaultLimits, []string{"w"}},
		{"the same value given twice is still refused", "q=80&q=80", DefaultLimits, []string{"q"}},
		{"a quality given twice under its alias is refused", "quality=80&quality=90", DefaultLimits, []string{"q", "quality"}},
		{"a width under two aliases is refused", "w=400&width=500", DefaultLimits, []string{"w", "width"}},
		{"a width under two spellings of the same key is refused", "W=400&w=400", DefaultLimits, []string{"w", "W"}},
		{"a quality under two aliases is refused", "q=80&quality=80", DefaultLimits, []string{"q", "quality"}},
		{"a format under two aliases is refused", "f=webp&fm=png", DefaultLimits, []string{"f", "fm"}},
		{"a gravity under two aliases is refused", "g=top&crop=left", DefaultLimits, []string{"g", "crop"}},
		{"a background under two aliases is refused", "bg=fff&background=000", DefaultLimits, []string{"bg", "background"}},

		{"an unknown parameter is refused in strict mode", "w=400&v=3", strict, []string{"v"}},
		{"an unknown parameter is named as sent in strict mode", "Token=abc", strict, []string{"Token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Go randomises map order: repeat so that an error naming a
			// parameter by chance shows up.
			for range 20 {
				_, err := Parse(query(t, tt.query), tt.lim)
				if err == nil {
					t.Fatalf("Parse(%q) = no error, want an error naming %v", tt.query, tt.param)
				}
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("Parse(%q) error %v (%T) is not a *transform.Error", tt.query, err, err)
				}
				if !slices.Contains(tt.param, pe.Param) {
					t.Fatalf("Parse(%q) error names %q, want one of %v (error: %v)", tt.query, pe.Param, tt.param, err)
				}
				if pe.Msg == "" {
					t.Fatalf("Parse(%q) error has no message", tt.query)
				}
			}
		})
	}
}

func TestHasImageParams(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  bool
	}{
		{"an empty query asks for nothing", "", false},
		{"a cache-busting version asks for nothing", "v=3", false},
		{"origin parameters ask for nothing", "v=3&token=abc", false},
		{"a width asks for image work", "w=400", true},
		{"an alias asks for image work", "width=400", true},
		{"an upper-case key asks for image work", "WIDTH=400", true},
		{"a format asks for image work", "fm=webp", true},
		{"auto=format asks for image work", "auto=format", true},
		{"crop= asks for image work", "crop=top", true},
		{"an image parameter among others asks for image work", "v=3&q=80&token=abc", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasImageParams(query(t, tt.query)); got != tt.want {
				t.Errorf("HasImageParams(%q) = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

func TestSourceQuery(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  url.Values
	}{
		{"an empty query stays empty", "", url.Values{}},
		{"image parameters are removed", "w=400&h=300&fit=cover&q=80&f=auto&s=sig", url.Values{}},
		{"aliases and upper-case keys are removed", "Width=400&QUALITY=80&fm=webp&crop=top&auto=format&bg=fff", url.Values{}},
		{"other parameters are kept", "w=400&v=3&token=abc",
			url.Values{"v": {"3"}, "token": {"abc"}}},
		{"repeated other parameters keep every value in order", "tag=b&w=400&tag=a",
			url.Values{"tag": {"b", "a"}}},
		{"other parameters keep their case and encoding", "Token=a%2Bb%20c&dpr=2",
			url.Values{"Token": {"a+b c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := query(t, tt.query)
			before := query(t, tt.query)
			got := SourceQuery(in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SourceQuery(%q) = %v, want %v", tt.query, got, tt.want)
			}
			if !reflect.DeepEqual(in, before) {
				t.Errorf("SourceQuery(%q) changed its input to %v", tt.query, in)
			}
		})
	}
}

func TestCanonicalCollapsesEquivalentRequests(t *testing.T) {
	tests := []struct {
		name    string
		queries []string
	}{
		{"parameter order, aliases and dpr give one key",
			[]string{"w=400&q=80", "q=80&w=400", "quality=80&width=400", "Q=80&WIDTH=400", "w=200&dpr=2&q=80", "w=400&dpr=1&q=80"}},
		{"height aliases and dpr give one key",
			[]string{"h=600", "height=600", "h=300&dpr=2", "h=200&dpr=3"}},
		{"a dpr above the maximum is the maximum",
			[]string{"w=400&dpr=5", "w=400&dpr=3", "w=1200"}},
		{"fit=scale-down is the default",
			[]string{"w=400&h=300", "w=400&h=300&fit=scale-down", "w=400&h=300&fit=max", "w=400&h=300&fit=SCALE-DOWN"}},
		{"fit=clip is contain",
			[]string{"w=400&h=300&fit=contain", "w=400&h=300&fit=clip"}},
		{"fit=fill is pad",
			[]string{"w=400&h=300&fit=pad", "w=400&h=300&fit=fill"}},
		{"fit=scale is squeeze",
			[]string{"w=400&h=300&fit=squeeze", "w=400&h=300&fit=scale"}},
		{"with one side free cover, pad and squeeze are contain",
			[]string{"w=400&fit=contain", "w=400&fit=cover", "w=400&fit=pad", "w=400&fit=squeeze"}},
		{"with one side free crop is scale-down",
			[]string{"h=300", "h=300&fit=crop"}},
		{"with no size every fit is the original",
			[]string{"", "fit=cover", "fit=contain", "fit=pad", "fit=squeeze", "fit=crop"}},
		{"centre gravity is the default under cover",
			[]string{"w=400&h=400&fit=cover", "w=400&h=400&fit=cover&g=center", "w=400&h=400&fit=cover&gravity=centre",
				"w=400&h=400&fit=cover&crop=CENTER", "w=400&h=400&fit=cover&g=0.5x0.5", "w=400&h=400&fit=cover&fp-x=0.5&fp-y=0.5"}},
		{"centre gravity is the default under pad",
			[]string{"w=400&h=400&fit=pad", "w=400&h=400&fit=pad&g=center"}},
		{"gravity is irrelevant when one side is free",
			[]string{"w=400&fit=cover", "w=400&fit=cover&g=top", "w=400&fit=cover&g=auto", "w=400&fit=cover&fp-x=0.1&fp-y=0.9"}},
		{"gravity is irrelevant when scaling down",
			[]string{"w=400&h=400", "w=400&h=400&g=top", "w=400&h=400&g=auto", "w=400&h=400&fp-x=0.1"}},
		{"gravity is irrelevant when containing",
			[]string{"w=400&h=400&fit=contain", "w=400&h=400&fit=contain&g=bottom"}},
		{"gravity is irrelevant when squeezing",
			[]string{"w=400&h=400&fit=squeeze", "w=400&h=400&fit=squeeze&g=left"}},
		{"smart-crop spellings give one key",
			[]string{"w=400&h=400&fit=cover&g=auto", "w=400&h=400&fit=cover&g=smart", "w=400&h=400&fit=cover&gravity=attention"}},
		{"a crop to faces is one key however it is written",
			[]string{"w=400&h=400&fit=cover&crop=faces", "w=400&h=400&fit=cover&gravity=face", "w=400&h=400&fit=cover&crop=faces,entropy", "w=400&h=400&fit=cover&crop=faces&zoom=0"}},
		{"facearea's default pad is one key",
			[]string{"w=120&h=120&fit=facearea", "w=120&h=120&fit=facearea&facepad=1", "w=120&h=120&fit=facearea&facepad=1.0&crop=faces"}},
		{"a focal point is one key however it is written",
			[]string{"w=400&h=400&fit=cover&g=0.2x0.7", "w=400&h=400&fit=cover&fp-x=0.2&fp-y=0.7", "w=400&h=400&fit=cover&crop=focalpoint&fp-y=0.7&fp-x=0.2"}},
		{"edge names are one key with their points",
			[]string{"w=400&h=400&fit=cover&crop=top,left", "w=400&h=400&fit=cover&g=0x0", "w=400&h=400&fit=cover&fp-x=0&fp-y=0"}},
		{"a white background is the default",
			[]string{"w=400&h=400&fit=pad", "w=400&h=400&fit=pad&bg=white", "w=400&h=400&fit=pad&bg=fff",
				"w=400&h=400&fit=pad&bg=%23FFFFFF", "w=400&h=400&fit=pad&background=ffffffff", "w=400&h=400&fit=pad&bg=ffffffff"}},
		{"a colour is one key however it is written",
			[]string{"w=400&h=400&fit=pad&bg=black", "w=400&h=400&fit=pad&bg=000", "w=400&h=400&fit=pad&bg=%23ff000000", "w=400&h=400&fit=pad&background=%23000000ff"}},
		{"metadata=none is the default",
			[]string{"w=400", "w=400&metadata=none", "w=400&metadata=NONE"}},
		{"blur values that are the same number give one key",
			[]string{"w=400&blur=5", "w=400&blur=5.0", "w=400&blur=05"}},
		{"the signature is not part of the key",
			[]string{"w=400", "w=400&s=abc", "w=400&s=def"}},
		{"the output format is not part of the key",
			[]string{"w=400", "w=400&f=webp", "w=400&auto=format"}},
		{"unknown parameters are not part of the key",
			[]string{"w=400", "w=400&v=3&token=abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := mustParse(t, tt.queries[0]).Canonical()
			for _, q := range tt.queries[1:] {
				if got := mustParse(t, q).Canonical(); got != first {
					t.Errorf("Canonical(%q) = %q, want %q as for %q", q, got, first, tt.queries[0])
				}
			}
		})
	}
}

func TestCanonicalSeparatesDifferentRequests(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{"a different quality is a different key", "w=400&q=80", "w=400&q=81"},
		{"a quality is a different key from the default", "w=400&q=80", "w=400"},
		{"a different width is a different key", "w=400", "w=401"},
		{"a width is not a height", "w=400", "h=400"},
		{"a box is not a width", "w=400&h=300", "w=400"},
		{"a dpr is a different key", "w=400&dpr=2", "w=400"},
		{"cover is not contain", "w=400&h=400&fit=cover", "w=400&h=400&fit=contain"},
		{"cover is not crop", "w=400&h=400&fit=cover", "w=400&h=400&fit=crop"},
		{"contain is not scale-down", "w=400&h=400&fit=contain", "w=400&h=400"},
		{"pad is not contain", "w=400&h=400&fit=pad", "w=400&h=400&fit=contain"},
		{"squeeze is not contain", "w=400&h=400&fit=squeeze", "w=400&h=400&fit=contain"},
		{"a different focal point under cover is a different key",
			"w=400&h=400&fit=cover&fp-x=0.2&fp-y=0.5", "w=400&h=400&fit=cover&fp-x=0.8&fp-y=0.5"},
		{"top gravity under cover is not the centre", "w=400&h=400&fit=cover&g=top", "w=400&h=400&fit=cover"},
		{"top gravity under crop is not bottom", "w=400&h=400&fit=crop&g=top", "w=400&h=400&fit=crop&g=bottom"},
		{"a smart crop is not a centred crop", "w=400&h=400&fit=cover&g=auto", "w=400&h=400&fit=cover"},
		{"a crop to faces is not an attention crop", "w=400&h=400&fit=cover&crop=faces", "w=400&h=400&fit=cover&g=auto"},
		{"a zoom towards the faces is a different key", "w=400&h=400&fit=cover&gravity=face&zoom=0.5", "w=400&h=400&fit=cover&gravity=face"},
		{"facearea is not cover", "w=120&h=120&fit=facearea", "w=120&h=120&fit=cover"},
		{"a face pad is a different key", "w=120&h=120&fit=facearea&facepad=1.2", "w=120&h=120&fit=facearea"},
		{"a face index is a different key", "w=120&h=120&fit=facearea&faceindex=2", "w=120&h=120&fit=facearea"},
		{"faces=1 is a different key", "fm=json&faces=1", "fm=json"},
		{"top gravity under pad is not the centre", "w=400&h=400&fit=pad&g=top", "w=400&h=400&fit=pad"},
		{"a background colour is not white", "w=400&h=400&fit=pad&bg=black", "w=400&h=400&fit=pad"},
		{"a transparent background is not black", "w=400&h=400&fit=pad&bg=transparent", "w=400&h=400&fit=pad&bg=black"},
		{"a blur is a different key", "w=400&blur=5", "w=400"},
		{"a different blur is a different key", "w=400&blur=5", "w=400&blur=6"},
		{"a sharpen is a different key", "w=400&sharpen=1", "w=400"},
		{"keeping metadata is a different key", "w=400&metadata=keep", "w=400"},
		{"keeping the copyright is not keeping everything", "w=400&metadata=copyright", "w=400&metadata=keep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := mustParse(t, tt.a).Canonical(), mustParse(t, tt.b).Canonical()
			if ka == kb {
				t.Errorf("Canonical(%q) = Canonical(%q) = %q, want different keys", tt.a, tt.b, ka)
			}
		})
	}
}

func TestParseColor(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want RGBA
	}{
		{"#rgb doubles each digit", "#f80", RGBA{0xff, 0x88, 0x00, 0xff}},
		{"#rgba doubles each digit including alpha", "#f808", RGBA{0xff, 0x88, 0x00, 0x88}},
		{"#rrggbb is opaque", "#12ab34", RGBA{0x12, 0xab, 0x34, 0xff}},
		{"#rrggbbaa carries alpha", "#12ab3480", RGBA{0x12, 0xab, 0x34, 0x80}},
		{"rgb without '#' is accepted", "f80", RGBA{0xff, 0x88, 0x00, 0xff}},
		{"rrggbb without '#' is accepted", "12ab34", RGBA{0x12, 0xab, 0x34, 0xff}},
		{"rrggbbaa without '#' is accepted", "12ab3400", RGBA{0x12, 0xab, 0x34, 0x00}},
		{"upper-case hex is accepted", "#ABCDEF", RGBA{0xab, 0xcd, 0xef, 0xff}},
		{"white is opaque white", "white", RGBA{255, 255, 255, 255}},
		{"black is opaque black", "black", RGBA{0, 0, 0, 255}},
		{"transparent has zero alpha", "transparent", RGBA{0, 0, 0, 0}},
		{"colour names are case-insensitive", "WHITE", RGBA{255, 255, 255, 255}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseColor(tt.in)
			if err != nil {
				t.Fatalf("ParseColor(%q) = %v, want %v", tt.in, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("ParseColor(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}

	bad := []struct {
		name string
		in   string
	}{
		{"an empty string is refused", ""},
		{"a lone '#' is refused", "#"},
		{"two digits are refused", "#12"},
		{"five digits are refused", "#12345"},
		{"seven digits are refused", "#1234567"},
		{"nine digits are refused", "#123456789"},
		{"non-hex digits are refused", "#ggg"},
		{"a sign is refused", "+fffff"},
		{"a 0x prefix is refused", "0xfff"},
		{"an unknown colour name is refused", "red"},
		{"a CSS function is refused", "rgb(0,0,0)"},
		{"a doubled '#' is refused", "##fff"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := ParseColor(tt.in); err == nil {
				t.Errorf("ParseColor(%q) = %v, want an error", tt.in, got)
			}
		})
	}
}
