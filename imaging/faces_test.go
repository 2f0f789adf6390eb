package imaging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// portraitPath is a real portrait photo: scikit-image's "astronaut"
// (Eileen Collins, NASA, public domain), 512x512, from Debian's
// python3-skimage, which `make deps` installs.
const portraitPath = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

// In the portrait, by eye: the middle of the face (between the eyes and
// the mouth) and the face's side, in source pixels.
var portraitFaceCentre = image.Pt(222, 118)

func portrait(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(portraitPath)
	if err != nil {
		t.Fatalf("the portrait fixture is missing (make deps installs python3-skimage): %v", err)
	}
	return b
}

func inspect(t testing.TB, b []byte) *imaging.Source {
	t.Helper()
	s, err := imaging.Inspect(b, imaging.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func facesOf(t testing.TB, b []byte) []transform.Rect {
	t.Helper()
	faces, err := inspect(t, b).Faces(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return faces
}

func holds(r transform.Rect, p image.Point) bool {
	return p.In(image.Rect(r.X, r.Y, r.X+r.W, r.Y+r.H))
}

func TestTheFaceInAPortraitIsFound(t *testing.T) {
	faces := facesOf(t, portrait(t))
	if len(faces) != 1 {
		t.Fatalf("found %d faces (%v), want the one", len(faces), faces)
	}
	f := faces[0]
	if !holds(f, portraitFaceCentre) || f.W < 80 || f.W > 180 || f.H < 80 || f.H > 180 {
		t.Fatalf("face %+v: want a box of 80..180 px around %v", f, portraitFaceCentre)
	}
}

// fit=facearea&facepad=1.2 is the face found, grown by 1.2 around its
// centre, resized to the box: the same pixels as that region cut out with
// rect and resized, and not the centre crop of the photo.
func TestFaceAreaCropsToTheFace(t *testing.T) {
	src := portrait(t)
	f := facesOf(t, src)[0]
	side := int(math.Round(1.2 * float64(max(f.W, f.H))))
	x := int(math.Round(float64(f.X) + float64(f.W)/2 - float64(side)/2))
	y := int(math.Round(float64(f.Y) + float64(f.H)/2 - float64(side)/2))
	got := render(t, src, "fit=facearea&facepad=1.2&w=120&h=120")
	if b := got.Bounds(); b.Dx() != 120 || b.Dy() != 120 {
		t.Fatalf("%dx%d, want 120x120", b.Dx(), b.Dy())
	}
	face := render(t, src, fmt.Sprintf("rect=%d,%d,%d,%d&w=120&h=120&fit=crop", x, y, side, side))
	whole := render(t, src, "w=120&h=120&fit=crop")
	if d := channelDiff(got, face); d > 4 {
		t.Fatalf("differs from the padded face %d,%d %dx%d by %.1f per channel, want at most 4", x, y, side, side, d)
	}
	if d := channelDiff(got, whole); d < 20 {
		t.Fatalf("differs from the whole photo by only %.1f per channel: not a crop to the face", d)
	}
	// The face found in the output fills it, as padded.
	out := facesOf(t, pngBytes(t, got))
	if len(out) != 1 || out[0].W < 80 {
		t.Fatalf("faces in the output: %v, want one of about 100 px", out)
	}
}

// A face area with no face to aim at (none in the picture, or fewer than
// faceindex) is the whole picture fitted in the box.
func TestFaceAreaWithoutAFaceIsTheWholePicture(t *testing.T) {
	gradient := testimages.PNG(testimages.Gradient(400, 200))
	for _, tt := range []struct {
		name  string
		src   []byte
		query string
		w, h  int
	}{
		{"no face in the picture", gradient, "fit=facearea&w=120&h=120", 120, 60},
		{"faceindex past the faces found", portrait(t), "fit=facearea&faceindex=2&w=120&h=60", 60, 60},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := process(t, tt.src, tt.query, transform.PNG)
			if res.Width != tt.w || res.Height != tt.h {
				t.Fatalf("%dx%d, want %dx%d (the whole picture)", res.Width, res.Height, tt.w, tt.h)
			}
		})
	}
}

// smallFaceBesideNoise is a 1000x500 grey canvas with the portrait,
// shrunk to 256x256 (a face of about 57 px), in the bottom-left corner and
// a 400 px wide block of saturated 20 px tiles on the right: what libvips'
// attention crop (saturation, skin tones, edges) is drawn to.
func smallFaceBesideNoise(t testing.TB) (src []byte, faceCentre image.Point) {
	t.Helper()
	small, err := png.Decode(bytes.NewReader(process(t, portrait(t), "w=256&h=256", transform.PNG).Body))
	if err != nil {
		t.Fatal(err)
	}
	canvas := image.NewNRGBA(image.Rect(0, 0, 1000, 500))
	draw.Draw(canvas, canvas.Bounds(), image.NewUniform(color.NRGBA{128, 128, 128, 255}), image.Point{}, draw.Src)
	at := image.Pt(0, 500-256)
	draw.Draw(canvas, small.Bounds().Add(at), small, image.Point{}, draw.Src)
	rng := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < 500; y += 20 {
		for x := 600; x < 1000; x += 20 {
			c := [][3]uint8{{255, 0, 0}, {0, 255, 0}, {255, 0, 255}, {255, 255, 0}, {255, 128, 0}}[rng.IntN(5)]
			draw.Draw(canvas, image.Rect(x, y, x+20, y+20), image.NewUniform(color.NRGBA{c[0], c[1], c[2], 255}), image.Point{}, draw.Src)
		}
	}
	return pngBytes(t, canvas), at.Add(image.Pt(portraitFaceCentre.X/2, portraitFaceCentre.Y/2))
}

// noisePixels counts the output's pixels of the tiles' pure colours (the
// portrait has next to none).
func noisePixels(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			hi, lo := max(r, g, bl)>>8, min(r, g, bl)>>8
			if hi >= 250 && lo <= 5 {
				n++
			}
		}
	}
	return n
}

// crop=faces keeps a small face that the attention crop misses beside a
// louder region; Cloudflare's gravity=face crops the same; faces=1 lists
// its bounds.
func TestACropToFacesKeepsASmallFaceAttentionMisses(t *testing.T) {
	src, centre := smallFaceBesideNoise(t)
	faces := facesOf(t, src)
	if len(faces) != 1 || !holds(faces[0], centre) {
		t.Fatalf("faces %v, want one around %v", faces, centre)
	}

	attention := render(t, src, "w=300&h=300&fit=crop&crop=entropy")
	if noisePixels(attention) < 300*300/4 || len(facesOf(t, pngBytes(t, attention))) != 0 {
		t.Fatalf("the attention crop has %d noise pixels and keeps the face: the test image does not test anything", noisePixels(attention))
	}
	imgix := render(t, src, "w=300&h=300&fit=crop&crop=faces")
	if n := noisePixels(imgix); n > 0 {
		t.Fatalf("crop=faces has %d noise pixels: it cropped towards the noise", n)
	}
	if kept := facesOf(t, pngBytes(t, imgix)); len(kept) != 1 {
		t.Fatalf("crop=faces output holds %d faces, want the one", len(kept))
	}
	cf := render(t, src, "width=300&height=300&fit=cover&gravity=face")
	if d := channelDiff(imgix, cf); d > 1 {
		t.Fatalf("Cloudflare gravity=face differs from imgix crop=faces by %.1f per channel", d)
	}

	// fm=json&faces=1: the bounds around the face, in source pixels.
	var info struct {
		Faces []struct {
			Bounds struct{ X, Y, Width, Height int } `json:"bounds"`
		}
	}
	if err := json.Unmarshal(process(t, src, "fm=json&faces=1", transform.InfoImgix).Body, &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Faces) != 1 {
		t.Fatalf("fm=json lists %d faces, want 1", len(info.Faces))
	}
	b := info.Faces[0].Bounds
	if !holds(transform.Rect{X: b.X, Y: b.Y, W: b.Width, H: b.Height}, centre) || b.Width < 30 || b.Width > 100 {
		t.Fatalf("face bounds %+v, want a box of 30..100 px around %v", b, centre)
	}
}

// Cloudflare's zoom narrows the crop towards the face: at 1 the face fills
// the output much more than at 0.
func TestZoomNarrowsTheCropTowardsTheFace(t *testing.T) {
	src, _ := smallFaceBesideNoise(t)
	side := func(q string) int {
		f := facesOf(t, pngBytes(t, render(t, src, q)))
		if len(f) != 1 {
			t.Fatalf("%s: %d faces in the output, want 1", q, len(f))
		}
		return f[0].W
	}
	wide, close := side("width=300&height=300&fit=cover&gravity=face&zoom=0"), side("width=300&height=300&fit=cover&gravity=face&zoom=1")
	if close < 2*wide {
		t.Fatalf("the face is %d px at zoom=0 and %d px at zoom=1, want at least twice", wide, close)
	}
}

// No face: crop=faces is the attention crop.
func TestACropToFacesWithoutAFaceIsTheAttentionCrop(t *testing.T) {
	src, _ := smallFaceBesideNoise(t)
	src = pngBytes(t, render(t, src, "rect=500,0,500,500")) // the noise and grey only
	got, want := process(t, src, "w=200&h=200&fit=crop&crop=faces", transform.PNG), process(t, src, "w=200&h=200&fit=crop&crop=entropy", transform.PNG)
	if !bytes.Equal(got.Body, want.Body) {
		t.Fatal("crop=faces without a face differs from the attention crop")
	}
}

// A source's faces are found once: the second variant reuses them.
func TestFacesAreFoundOncePerSource(t *testing.T) {
	cfg := imaging.DefaultConfig()
	s := inspect(t, portrait(t))
	if s.FacesFound() {
		t.Fatal("faces found before any request asked for them")
	}
	for _, q := range []string{"w=100&h=100&fit=facearea", "w=200&h=100&fit=crop&crop=faces"} {
		vals, _ := url.ParseQuery(q)
		o, err := transform.Parse(vals, cfg.Limits)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := imaging.Process(s, o, transform.JPEG, cfg); err != nil {
			t.Fatal(err)
		}
		if !s.FacesFound() {
			t.Fatalf("%s: the faces were not kept", q)
		}
	}
}

// Finding faces is bounded by the job's deadline: a timeout too short to
// decode the source is refused as too slow, not waited out.
func TestFindingFacesKeepsToTheDeadline(t *testing.T) {
	cfg := imaging.DefaultConfig()
	cfg.Timeout = time.Nanosecond
	s, err := imaging.Inspect(testimages.JPEG(testimages.Gradient(6000, 4000)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	vals, _ := url.ParseQuery("w=100&h=100&fit=facearea")
	o, err := transform.Parse(vals, cfg.Limits)
	if err != nil {
		t.Fatal(err)
	}
	_, err = imaging.Process(s, o, transform.JPEG, cfg)
	var ie *imaging.Error
	if !errors.As(err, &ie) || ie.Kind != imaging.TooSlow {
		t.Fatalf("got %v, want a TooSlow refusal", err)
	}
	if s.FacesFound() {
		t.Fatal("a search that ran out of time was kept: the next request could not search again")
	}
}

func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// channelDiff is the mean absolute difference of two images' RGB
// channels, 0..255, over the area they share.
func channelDiff(a, b image.Image) float64 {
	var sum, n float64
	r := a.Bounds().Intersect(b.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ca, cb := color.NRGBAModel.Convert(a.At(x, y)).(color.NRGBA), color.NRGBAModel.Convert(b.At(x, y)).(color.NRGBA)
			for _, d := range [3]int{int(ca.R) - int(cb.R), int(ca.G) - int(cb.G), int(ca.B) - int(cb.B)} {
				sum += float64(max(d, -d))
				n++
			}
		}
	}
	return sum / n
}

// A turned output aims at the same face: rot=90 of a 60x120 face area is
// the 120x60 face area turned a quarter clockwise (w and h are of the
// turned image).
func TestFaceAreaTurnsWithTheOutput(t *testing.T) {
	src := portrait(t)
	flat := render(t, src, "fit=facearea&facepad=1.5&w=120&h=60")
	turned := render(t, src, "fit=facearea&facepad=1.5&w=60&h=120&rot=90")
	if b := turned.Bounds(); b.Dx() != 60 || b.Dy() != 120 {
		t.Fatalf("%dx%d, want 60x120", b.Dx(), b.Dy())
	}
	want := image.NewNRGBA(image.Rect(0, 0, 60, 120))
	for y := range 60 {
		for x := range 120 {
			want.Set(59-y, x, flat.At(x, y)) // a quarter turn clockwise
		}
	}
	if d := channelDiff(turned, want); d > 3 {
		t.Fatalf("differs from the flat face area turned by %.1f per channel", d)
	}
}
