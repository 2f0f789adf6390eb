package transform

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary query strings to Parse, Canonical, NewPlan and
// OutputFormat. None may panic, and whatever Parse accepts must stay
// within the limits and canonicalise the same way every time.
//
//	go test -run XXX -fuzz FuzzParse -fuzztime 60s ./transform/
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"w=400",
		"w=400&h=300&fit=cover&g=auto",
		"width=400&height=300&fit=crop&crop=top,left",
		"w=200&dpr=2.5&q=80&f=auto",
		"w=4096&h=4096&dpr=3&fit=pad&bg=%23ff000080&g=0.25x0.75",
		"w=1&h=4096&fit=squeeze",
		"h=10&fit=contain&fp-x=0.3&fp-y=0.9&g=focalpoint",
		"w=100&fit=cover&h=100&g=smart&sharpen=2&blur=0.5&metadata=keep",
		"fm=webp&auto=format,compress&quality=60&s=k.abc",
		"w=abc", "w=-1", "w=1e9", "dpr=NaN", "dpr=0", "dpr=1e308", "blur=Inf",
		"w=1&W=2", "fit=scale", "g=0.5x", "bg=#ggg", "fp-x=-0", "q=0100",
		"w=%zz&h=1;2", "w=400&w=500", "unknown=1&w=5",
	} {
		f.Add(seed, uint16(800), uint16(600))
	}
	f.Add("w=4096&fit=contain", uint16(1), uint16(20000))
	f.Add("w=17&h=4000&fit=crop&g=0x1", uint16(20000), uint16(3))

	tight := Limits{MaxWidth: 640, MaxHeight: 480, MaxDPR: 2, Strict: true}
	f.Fuzz(func(t *testing.T, raw string, srcW, srcH uint16) {
		if len(raw) > 4096 {
			return
		}
		q, _ := url.ParseQuery(raw) // what the handler gets, errors or not
		for _, lim := range []Limits{DefaultLimits, tight} {
			o, err := Parse(q, lim)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Parse(%q) = %T %v, want a *Error", raw, err, err)
				}
				continue
			}
			checkOptions(t, raw, o, lim)
			canon := o.Canonical()
			if again, _ := Parse(q, lim); again.Canonical() != canon {
				t.Fatalf("Parse(%q) canonicalises as %q, then %q", raw, canon, again.Canonical())
			}
			// The canonical form means what it was made from.
			cq, err := url.ParseQuery(canon)
			if err != nil {
				t.Fatalf("Canonical of %q = %q, not a query: %v", raw, canon, err)
			}
			co, err := Parse(cq, lim)
			if err != nil {
				t.Fatalf("Canonical of %q = %q, which Parse refuses: %v", raw, canon, err)
			}
			if co.Canonical() != canon {
				t.Fatalf("Canonical of %q = %q, which canonicalises as %q", raw, canon, co.Canonical())
			}
			w, h := max(1, int(srcW)), max(1, int(srcH))
			p := NewPlan(o, w, h, lim)
			if got := render(p, w, h); got.W < 1 || got.H < 1 || got.W > lim.MaxWidth || got.H > lim.MaxHeight {
				t.Fatalf("%q on %dx%d (limits %dx%d) renders %v (plan %+v)", raw, w, h, lim.MaxWidth, lim.MaxHeight, got, p)
			}
			for _, src := range []Source{{Format: JPEG}, {Format: SVG}, {Format: WEBP, HasAlpha: true, Animated: true}} {
				if out, _ := OutputFormat(o, "image/avif,image/webp;q=0.5", src); !out.Writable() {
					t.Fatalf("OutputFormat(%q, %v) = %v, not writable", raw, src, out)
				}
			}
		}
	})
}

// checkOptions asserts what Parse promises about accepted options.
func checkOptions(t *testing.T, raw string, o Options, lim Limits) {
	t.Helper()
	switch {
	case o.Width < 0 || o.Width > lim.MaxWidth || o.Height < 0 || o.Height > lim.MaxHeight:
		t.Fatalf("Parse(%q) box %dx%d, limits %dx%d", raw, o.Width, o.Height, lim.MaxWidth, lim.MaxHeight)
	case o.Quality < 0 || o.Quality > 100:
		t.Fatalf("Parse(%q) quality %d", raw, o.Quality)
	case !(o.Anchor.X >= 0 && o.Anchor.X <= 1 && o.Anchor.Y >= 0 && o.Anchor.Y <= 1):
		t.Fatalf("Parse(%q) anchor %+v outside the image", raw, o.Anchor)
	case !(o.Blur >= 0 && o.Blur <= 250) || !(o.Sharpen >= 0 && o.Sharpen <= 10):
		t.Fatalf("Parse(%q) blur %g sharpen %g", raw, o.Blur, o.Sharpen)
	case o.Fit < FitScaleDown || o.Fit > FitMin:
		t.Fatalf("Parse(%q) fit %d", raw, o.Fit)
	case o.Format != FormatSource && o.Format != FormatAuto && !o.Format.Writable():
		t.Fatalf("Parse(%q) format %v", raw, o.Format)
	case strings.ContainsAny(o.Canonical(), " \n#?"):
		t.Fatalf("Parse(%q) canonical %q has characters a key must not", raw, o.Canonical())
	}
}
