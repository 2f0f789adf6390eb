package imaging_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	_ "image/jpeg"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/buckket/go-blurhash"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

func TestImgixJSONIsTheSourcesHeader(t *testing.T) {
	src := testimages.JPEG(testimages.Gradient(640, 360))
	cfg, _, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	res := process(t, src, "w=100&fm=json", transform.InfoImgix)
	var info map[string]any
	if err := json.Unmarshal(res.Body, &info); err != nil {
		t.Fatalf("%s: %v", res.Body, err)
	}
	want := map[string]any{"PixelWidth": float64(cfg.Width), "PixelHeight": float64(cfg.Height), "Orientation": 1.0,
		"ColorModel": "RGB", "Depth": 8.0, "Content-Type": "image/jpeg", "Content-Length": strconv.Itoa(len(src))}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("%s = %v, want %v (the source's own header); all: %s", k, info[k], v, res.Body)
		}
	}
}

func TestCloudflareJSONIsTheOutputsSizeAndTheOriginals(t *testing.T) {
	src := testimages.PNG(testimages.Gradient(400, 200))
	res := process(t, src, "width=100&format=json", transform.InfoCloudflare)
	var info struct {
		Width, Height int
		Original      struct {
			FileSize      int `json:"file_size"`
			Width, Height int
			Format        string
		}
	}
	if err := json.Unmarshal(res.Body, &info); err != nil {
		t.Fatalf("%s: %v", res.Body, err)
	}
	if info.Width != 100 || info.Height != 50 || info.Original.FileSize != len(src) || info.Original.Width != 400 ||
		info.Original.Height != 200 || info.Original.Format != "image/png" {
		t.Errorf("%s: want the 100x50 output of a 400x200 PNG of %d bytes", res.Body, len(src))
	}
}

// meanColour is the mean R, G, B of img.
func meanColour(img image.Image) [3]float64 {
	var m [3]float64
	b := img.Bounds()
	n := float64(b.Dx() * b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			m[0] += float64(c.R) / n
			m[1] += float64(c.G) / n
			m[2] += float64(c.B) / n
		}
	}
	return m
}

func TestABlurHashDecodesToThePicturesColours(t *testing.T) {
	// A warm picture: orange over its left two thirds, blue on the right.
	pic := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for y := range 200 {
		for x := range 300 {
			c := color.RGBA{230, 120, 30, 255}
			if x >= 200 {
				c = color.RGBA{20, 60, 200, 255}
			}
			pic.Set(x, y, c)
		}
	}
	src := testimages.PNG(pic)
	res := process(t, src, "w=150&fm=blurhash", transform.BlurHash)
	hash := string(res.Body)
	x, y, err := blurhash.Components(hash)
	if err != nil || x != 4 || y != 3 {
		t.Fatalf("BlurHash %q: %v, %dx%d components, want 4x3 for a landscape output", hash, err, x, y)
	}
	back, err := blurhash.Decode(hash, 30, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	want, got := meanColour(pic), meanColour(back)
	for k := range 3 {
		if math.Abs(want[k]-got[k]) > 20 {
			t.Errorf("the BlurHash decodes to mean colour %.0f, the picture's is %.0f", got, want)
			break
		}
	}
	// The left of the decoded image is orange, the right blue.
	if l, r := back.At(2, 10).(color.NRGBA), back.At(28, 10).(color.NRGBA); l.R <= l.B || r.B <= r.R {
		t.Errorf("decoded left %v, right %v: want orange on the left, blue on the right", l, r)
	}
}

func TestThePaletteNamesTheDominantColours(t *testing.T) {
	src := quadrants() // red, green, blue, white quarters
	res := process(t, src, "w=200&palette=json&colors=4", transform.PaletteJSON)
	var pal struct {
		Colors []struct {
			Red, Green, Blue float64
			Hex              string
		}
		AverageLuminance float64 `json:"average_luminance"`
	}
	if err := json.Unmarshal(res.Body, &pal); err != nil {
		t.Fatalf("%s: %v", res.Body, err)
	}
	found := map[string]bool{}
	for _, c := range pal.Colors {
		switch {
		case c.Red > 0.9 && c.Green > 0.9 && c.Blue > 0.9:
			found["white"] = true
		case c.Red > 0.9 && c.Green < 0.1 && c.Blue < 0.1:
			found["red"] = true
		case c.Green > 0.9 && c.Red < 0.1 && c.Blue < 0.1:
			found["green"] = true
		case c.Blue > 0.9 && c.Red < 0.1 && c.Green < 0.1:
			found["blue"] = true
		}
	}
	if len(pal.Colors) != 4 || len(found) != 4 {
		t.Errorf("palette %s: want red, green, blue and white", res.Body)
	}
	// (0.2126 + 0.7152 + 0.0722 + 1) / 4
	if math.Abs(pal.AverageLuminance-0.5) > 0.02 {
		t.Errorf("average luminance %v, want 0.5", pal.AverageLuminance)
	}
	css := string(process(t, src, "w=200&palette=css&colors=2&prefix=hero", transform.PaletteCSS).Body)
	if strings.Count(css, "{") != 4 || !strings.Contains(css, ".hero-fg-1 { color:#") || !strings.Contains(css, ".hero-bg-2 { background-color:#") {
		t.Errorf("palette=css:\n%s", css)
	}
}
