package vips_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/internal/vips"
	"github.com/imgedge/imgedge/transform"
)

// cut is a part of an example photograph, w x h: real detail, at sizes
// no power of two divides.
func cut(t testing.TB, name string, w, h int) *image.NRGBA {
	t.Helper()
	b, err := os.ReadFile("../../examples/site/photos/" + name)
	if err != nil {
		t.Fatal(err)
	}
	src, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Bounds(), src, src.Bounds().Min, draw.Src)
	return out
}

// photo is cut as a baseline 4:2:0 JPEG.
func photo(t testing.TB, name string, w, h int) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := jpeg.Encode(&out, cut(t, name, w, h), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// greyPhoto is cut as a baseline grey (one component) JPEG.
func greyPhoto(t testing.TB, name string, w, h int) []byte {
	t.Helper()
	c := cut(t, name, w, h)
	g := image.NewGray(c.Bounds())
	draw.Draw(g, g.Bounds(), c, c.Bounds().Min, draw.Src)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, g, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// photoPNG is cut as an RGB PNG, or an RGBA one with a diagonal alpha
// gradient from opaque to clear.
func photoPNG(t testing.TB, name string, w, h int, alpha bool) []byte {
	t.Helper()
	img := cut(t, name, w, h)
	if alpha {
		for y := range h {
			for x := range w {
				img.Pix[img.PixOffset(x, y)+3] = uint8(255 - 255*(x+y)/(w+h))
			}
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// pixels encodes img losslessly and decodes it again.
func pixels(t testing.TB, img *vips.Image) *image.NRGBA {
	t.Helper()
	b, err := img.Save(context.Background(), vips.SaveOptions{Format: transform.PNG, Effort: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewNRGBA(m.Bounds())
	draw.Draw(out, out.Bounds(), m, m.Bounds().Min, draw.Src)
	return out
}

// difference is the mean and the largest absolute difference of two
// images' colour samples.
func difference(a, b *image.NRGBA) (mean float64, most int) {
	var sum float64
	n := 0
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		sum += float64(d)
		most = max(most, d)
		n++
	}
	return sum / float64(n), most
}

func TestReduceMakesWhatThumbnailMakes(t *testing.T) {
	// Every box, mode and shrink on load over sources of awkward sizes:
	// the same size as libvips to the pixel, and the same pixels but for
	// rounding. A JPEG is reduced in fixed point (libvips keeps 12 bits of
	// weight, this 14; its vertical pass keeps no fraction between the
	// passes, this 6 bits); a PNG in float, as libvips does once it has
	// premultiplied the alpha.
	sources := []struct {
		w, h  int
		make  func(w, h int) []byte
		kind  string
		alpha bool
	}{
		{2560, 1600, func(w, h int) []byte { return photo(t, "kite.jpg", w, h) }, "jpeg", false},
		{1001, 667, func(w, h int) []byte { return photo(t, "kite.jpg", w, h) }, "jpeg", false},
		{333, 999, func(w, h int) []byte { return photo(t, "kite.jpg", w, h) }, "jpeg", false},
		{97, 61, func(w, h int) []byte { return photo(t, "kite.jpg", w, h) }, "jpeg", false},
		{13, 9, func(w, h int) []byte { return photo(t, "kite.jpg", w, h) }, "jpeg", false},
		{2560, 1600, func(w, h int) []byte { return greyPhoto(t, "kite.jpg", w, h) }, "grey jpeg", false},
		{333, 999, func(w, h int) []byte { return greyPhoto(t, "kite.jpg", w, h) }, "grey jpeg", false},
		{1600, 1000, func(w, h int) []byte { return photoPNG(t, "cups.jpg", w, h, true) }, "png", true},
		{1001, 667, func(w, h int) []byte { return photoPNG(t, "cups.jpg", w, h, true) }, "png", true},
		{333, 999, func(w, h int) []byte { return photoPNG(t, "cups.jpg", w, h, false) }, "png", false},
	}
	boxes := []struct {
		w, h   int
		resize transform.Resize
	}{
		{400, transform.Unbounded, transform.ResizeDown},
		{699, transform.Unbounded, transform.ResizeDown},
		{300, 300, transform.ResizeDown},
		{transform.Unbounded, 123, transform.ResizeBoth},
		{640, 200, transform.ResizeForce},
		{45, 45, transform.ResizeDown},
		{2, transform.Unbounded, transform.ResizeDown}, // more taps than pixels
	}
	reduced := map[string]int{}
	for _, s := range sources {
		buf := s.make(s.w, s.h)
		h, err := vips.ReadHeader(buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range boxes {
			plan := transform.Plan{BoxW: b.w, BoxH: b.h, Resize: b.resize}
			shrink := 0
			if strings.HasSuffix(s.kind, "jpeg") {
				shrink = plan.JPEGShrink(s.w, s.h)
			}
			name := fmt.Sprintf("%s %dx%d to %dx%d mode %d shrink %d", s.kind, s.w, s.h, b.w, b.h, b.resize, shrink)
			got, err := vips.Reduce(context.Background(), buf, h, vips.ReduceOptions{Width: b.w, Height: b.h, Resize: b.resize, JPEGShrink: shrink})
			if errors.Is(err, vips.ErrDeclined) {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			reduced[s.kind]++
			want, err := vips.Thumbnail(buf, vips.ThumbnailOptions{Width: b.w, Height: b.h, Resize: b.resize, JPEGShrink: shrink, Upright: true})
			if err != nil {
				t.Fatal(err)
			}
			if got.Width() != want.Width() || got.Height() != want.Height() {
				t.Errorf("%s: %dx%d, libvips makes %dx%d", name, got.Width(), got.Height(), want.Width(), want.Height())
				got.Close()
				want.Close()
				continue
			}
			w, ht := got.Width(), got.Height()
			if got.Bands() != want.Bands() {
				t.Errorf("%s: %d bands, libvips makes %d", name, got.Bands(), want.Bands())
			}
			mean, most := difference(pixels(t, got), pixels(t, want))
			t.Logf("%s: %dx%d, %.3f on average, %d at most", name, w, ht, mean, most)
			if mean > 0.6 || most > 8 {
				t.Errorf("%s: differs from libvips by %.2f on average, %d at most", name, mean, most)
			}
		}
	}
	if reduced["jpeg"] < 12 || reduced["png"] < 9 || reduced["grey jpeg"] < 6 {
		t.Errorf("only %v of the cases were reduced: the rest were declined", reduced)
	}
}

// sameShape says got has want's size and bands; if not, it says so and
// closes both.
func sameShape(t *testing.T, name string, got, want *vips.Image) bool {
	t.Helper()
	if got.Width() == want.Width() && got.Height() == want.Height() && got.Bands() == want.Bands() {
		return true
	}
	t.Errorf("%s: %dx%d, %d bands; libvips makes %dx%d, %d bands", name,
		got.Width(), got.Height(), got.Bands(), want.Width(), want.Height(), want.Bands())
	got.Close()
	want.Close()
	return false
}

// A source tagged with a wide-gamut profile is reduced in its own space
// and converted to sRGB after, by the transform vips_thumbnail ends with
// (relative colorimetric, no black point compensation): libvips' colours.
// The bound, a mean of 1.0 level of 255 per channel (measured: 0.09 to
// 0.21), is the reduce's own rounding (at most 0.6 on average in the
// source's space, as for sRGB sources) carried through a transform that
// stretches a wide gamut; the largest difference, 40 levels (measured: 7
// for P3, up to 33 for ProPhoto), is the 8 levels allowed for sRGB at a
// few pixels of sharp edges, times the slope of the transform there: near
// black, ProPhoto's gamma 1.8 into sRGB's curve turns 8 levels into
// about 18, and its primaries' matrix stretches a saturated channel more.
func TestReduceConvertsProfiledSourcesAsThumbnailDoes(t *testing.T) {
	profiles := []testimages.Profile{testimages.DisplayP3, testimages.AdobeRGB, testimages.ProPhoto}
	boxes := []vips.ReduceOptions{
		{Width: 400, Height: transform.Unbounded, Resize: transform.ResizeDown},
		{Width: 300, Height: 300, Resize: transform.ResizeDown},
		{Width: 640, Height: 200, Resize: transform.ResizeForce},
	}
	for _, p := range profiles {
		icc := p.ICC()
		for _, src := range []struct {
			kind string
			buf  []byte
		}{
			{"jpeg", testimages.JPEGWithProfile(photo(t, "kite.jpg", 1001, 667), icc)},
			{"png", testimages.PNGWithProfile(photoPNG(t, "cups.jpg", 800, 500, false), icc)},
		} {
			h, err := vips.ReadHeader(src.buf)
			if err != nil {
				t.Fatal(err)
			}
			if !h.HasICC {
				t.Fatalf("%s %s: libvips finds no profile", p.Name, src.kind)
			}
			for _, o := range boxes {
				name := fmt.Sprintf("%s %s to %dx%d mode %d", p.Name, src.kind, o.Width, o.Height, o.Resize)
				if src.kind == "jpeg" {
					o.JPEGShrink = transform.Plan{BoxW: o.Width, BoxH: o.Height, Resize: o.Resize}.JPEGShrink(h.Width, h.Height)
				}
				got, err := vips.Reduce(context.Background(), src.buf, h, o)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want, err := vips.Thumbnail(src.buf, vips.ThumbnailOptions{Width: o.Width, Height: o.Height, Resize: o.Resize,
					JPEGShrink: o.JPEGShrink, ToSRGB: true, Upright: true})
				if err != nil {
					t.Fatal(err)
				}
				if !sameShape(t, name, got, want) {
					continue
				}
				// Against the picture not converted: the test sees a conversion.
				plain, err := vips.Thumbnail(src.buf, vips.ThumbnailOptions{Width: o.Width, Height: o.Height, Resize: o.Resize,
					JPEGShrink: o.JPEGShrink, Upright: true})
				if err != nil {
					t.Fatal(err)
				}
				gotPx, wantPx := pixels(t, got), pixels(t, want)
				mean, most := difference(gotPx, wantPx)
				unconverted, _ := difference(pixels(t, plain), wantPx)
				t.Logf("%s: %.3f on average, %d at most (%.1f unconverted)", name, mean, most, unconverted)
				if mean > 1.0 || most > 40 {
					t.Errorf("%s: differs from libvips by %.2f on average, %d at most", name, mean, most)
				}
				if unconverted < 3 {
					t.Errorf("%s: the conversion changes the picture by %.2f on average only", name, unconverted)
				}
			}
		}
	}
}

func TestReduceDeclinesWhatItDoesNotMake(t *testing.T) {
	plain := photo(t, "kite.jpg", 800, 500)
	tests := []struct {
		name string
		buf  []byte
		o    vips.ReduceOptions
	}{
		{"an enlargement", plain, vips.ReduceOptions{Width: 1600, Height: transform.Unbounded, Resize: transform.ResizeBoth}},
		{"a reduce libvips starts with a box shrink", plain, vips.ReduceOptions{Width: 100, Height: transform.Unbounded, JPEGShrink: 1}},
		{"a source wider than the reduce holds", photoPNG(t, "cups.jpg", 16385, 2, false), vips.ReduceOptions{Width: 1000, Height: transform.Unbounded}},
		{"an output larger than the reduce holds", testimages.JPEG(testimages.Gradient(4200, 4000)), vips.ReduceOptions{Width: 4199, Height: transform.Unbounded}},
		{"a grey PNG", testimages.StripPNG(300, 200), vips.ReduceOptions{Width: 100, Height: transform.Unbounded}},
		{"a palette PNG", palette(t), vips.ReduceOptions{Width: 100, Height: transform.Unbounded}},
		{"an alpha PNG shrunk on one axis only", photoPNG(t, "cups.jpg", 400, 300, true), vips.ReduceOptions{Width: 200, Height: 300, Resize: transform.ResizeForce}},
		{"a GIF", testimages.AnimatedGIF(200, 100, 1), vips.ReduceOptions{Width: 100, Height: transform.Unbounded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := vips.ReadHeader(tt.buf)
			if err != nil {
				t.Fatal(err)
			}
			img, err := vips.Reduce(context.Background(), tt.buf, h, tt.o)
			if !errors.Is(err, vips.ErrDeclined) {
				img.Close()
				t.Fatalf("got %v, want ErrDeclined", err)
			}
		})
	}
}

// A source the decoder fails on past its first row is refused, as
// libvips (fail_on=truncated) would refuse it, without a second decode;
// one that only warns is made, as libvips would make it.
func TestReduceFollowsLibvipsRulesWithoutDecodingTwice(t *testing.T) {
	plain := photo(t, "kite.jpg", 800, 500)
	alpha := photoPNG(t, "cups.jpg", 400, 300, true)
	box := vips.ReduceOptions{Width: 300, Height: transform.Unbounded}
	for _, c := range []struct {
		name    string
		buf     []byte
		refused string // a word of the refusal; "": made
	}{
		{"a truncated JPEG", testimages.Truncated(plain, 0.6), "truncated"},
		{"a truncated PNG", testimages.Truncated(alpha, 0.6), "truncated"},
		{"a JPEG that warns near its end", testimages.LateWarningJPEG(testimages.Gradient(800, 500)), ""},
		{"a JPEG of 101 scans", testimages.EndlessScansJPEG(640, 480, 100), "scans"},
		{"a JPEG of 100 scans", testimages.EndlessScansJPEG(640, 480, 99), ""},
		{"a PNG with text chunks, not inflated", testimages.TextBombPNG(640, 480, 2, 1<<20), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := vips.ReadHeader(c.buf)
			if err != nil {
				t.Fatal(err)
			}
			img, err := vips.Reduce(context.Background(), c.buf, h, box)
			if c.refused == "" {
				if err != nil {
					t.Fatalf("got %v, want the image made", err)
				}
				if img.Width() != 300 {
					t.Errorf("%d px wide, want 300", img.Width())
				}
				img.Close()
				return
			}
			var verr *vips.Error
			if !errors.As(err, &verr) || !strings.Contains(verr.Error(), c.refused) {
				img.Close()
				t.Fatalf("got %v, want a refusal naming %q", err, c.refused)
			}
		})
	}
}

// A progressive JPEG's scans are all read before its first row: the kill
// flag stops the decode among them.
func TestReduceStopsAmongTheScansOfAProgressiveJPEG(t *testing.T) {
	buf := testimages.EndlessScansJPEG(16384, 3051, 99)
	h, err := vips.ReadHeader(buf)
	if err != nil {
		t.Fatal(err)
	}
	stopsEarly(t, buf, h, vips.ReduceOptions{Width: 5000, Height: transform.Unbounded},
		"the kill flag was not read among the scans") // between rows only, it would stop after every scan was read
}

// stopsEarly decodes buf whole, then with a twentieth of that as timeout:
// the second must stop with ErrTimeout within half the whole decode, or
// why is the likely cause.
func stopsEarly(t *testing.T, buf []byte, h vips.Header, o vips.ReduceOptions, why string) {
	t.Helper()
	began := time.Now()
	img, err := vips.Reduce(context.Background(), buf, h, o)
	if err != nil {
		t.Fatalf("the whole decode: %v", err)
	}
	img.Close()
	whole := time.Since(began)
	o.Timeout = whole / 20
	began = time.Now()
	_, err = vips.Reduce(context.Background(), buf, h, o)
	stopped := time.Since(began)
	if !errors.Is(err, vips.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	t.Logf("the whole decode %v; stopped after %v with a timeout of %v", whole, stopped, o.Timeout)
	if stopped > whole/2 {
		t.Errorf("stopped after %v, over half the whole decode (%v): %s", stopped, whole, why)
	}
}

func TestReduceTurnsUprightAsThumbnailDoes(t *testing.T) {
	// A source stored turned is reduced as stored, with the box turned
	// with it, then turned upright: libvips' size and pixels, for every
	// orientation.
	plain := photo(t, "kite.jpg", 1001, 667)
	for o := 2; o <= 8; o++ {
		buf := testimages.WithOrientation(plain, o)
		h, err := vips.ReadHeader(buf)
		if err != nil {
			t.Fatal(err)
		}
		opts := vips.ReduceOptions{Width: 300, Height: 250, Resize: transform.ResizeDown, JPEGShrink: 2}
		got, err := vips.Reduce(context.Background(), buf, h, opts)
		if err != nil {
			t.Fatalf("orientation %d: %v", o, err)
		}
		want, err := vips.Thumbnail(buf, vips.ThumbnailOptions{Width: 300, Height: 250, Resize: transform.ResizeDown, JPEGShrink: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got.Width() != want.Width() || got.Height() != want.Height() {
			t.Errorf("orientation %d: %dx%d, libvips makes %dx%d", o, got.Width(), got.Height(), want.Width(), want.Height())
			got.Close()
			want.Close()
			continue
		}
		if mean, most := difference(pixels(t, got), pixels(t, want)); mean > 0.6 || most > 8 {
			t.Errorf("orientation %d: differs from libvips by %.2f on average, %d at most", o, mean, most)
		}
	}
}

// palette is a 256-colour PNG.
func palette(t testing.TB) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 300, 200), color.Palette{color.Black, color.White})
	for i := range img.Pix {
		img.Pix[i] = uint8(i % 2)
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestReduceStops(t *testing.T) {
	// A 6000x4000 source decoded whole takes far longer than the timeout.
	buf := testimages.JPEG(testimages.Gradient(6000, 4000))
	h, err := vips.ReadHeader(buf)
	if err != nil {
		t.Fatal(err)
	}
	o := vips.ReduceOptions{Width: 5000, Height: transform.Unbounded, Timeout: time.Millisecond}
	if _, err := vips.Reduce(context.Background(), buf, h, o); !errors.Is(err, vips.ErrTimeout) {
		t.Errorf("past its timeout: got %v, want ErrTimeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Millisecond, cancel)
	o.Timeout = 0
	if _, err := vips.Reduce(ctx, buf, h, o); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}

// A profile is the uploader's to choose: a large one is converted with,
// but its transform is not kept, so sources with many distinct large
// profiles cannot pin memory for the life of the process.
func TestLargeProfilesAreUsedButNotKept(t *testing.T) {
	o := vips.ReduceOptions{Width: 200, Height: transform.Unbounded, Resize: transform.ResizeDown}
	reduce := func(icc []byte) {
		t.Helper()
		src := testimages.PNGWithProfile(photoPNG(t, "cups.jpg", 400, 250, false), icc)
		h, err := vips.ReadHeader(src)
		if err != nil || !h.HasICC {
			t.Fatalf("header %+v, %v: want the profile read", h, err)
		}
		img, err := vips.Reduce(context.Background(), src, h, o)
		if err != nil {
			t.Fatal(err)
		}
		img.Close()
	}
	padded := func(icc []byte, size int, mark byte) []byte {
		big := append(append([]byte(nil), icc...), make([]byte, size-len(icc))...)
		binary.BigEndian.PutUint32(big, uint32(size)) // the header's profile size
		big[size-1] = mark                            // distinct profiles, the same colours
		return big
	}
	icc := testimages.DisplayP3.ICC()
	before := vips.KeptProfileTransforms()
	for i := range 3 {
		reduce(padded(icc, 200<<10, byte(i+1)))
	}
	if n := vips.KeptProfileTransforms(); n != before {
		t.Errorf("%d transforms kept after three 200 KiB profiles, want %d as before", n, before)
	}
	if before < 32 {
		reduce(padded(icc, 4<<10, 0x5a))
		if n := vips.KeptProfileTransforms(); n != before+1 {
			t.Errorf("%d transforms kept after a 4 KiB profile, want %d", n, before+1)
		}
	}
}
