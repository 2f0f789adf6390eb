package imaging

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/buckket/go-blurhash"

	"github.com/imgedge/imgedge/internal/vips"
	"github.com/imgedge/imgedge/transform"
)

// Descriptions answer with what an image is instead of the image: the
// JSON ones from the header alone (no pixel is decoded), the BlurHash and
// the palette from the output's pixels, sampled down to at most
// sampleSide pixels a side, which is all a placeholder needs.
const sampleSide = 64

// BlurHash components, as imgix's: 4 across and 3 down for a landscape
// output, the other way round for a portrait one.
const blurHashLong, blurHashShort = 4, 3

// describe makes the description p.out asks for.
func (p *Prepared) describe(ctx context.Context) (Result, error) {
	res := Result{Format: p.out, Frames: 1}
	var err error
	switch p.out {
	case transform.InfoImgix:
		info := p.imgixInfo()
		if p.opts.Faces.List {
			info["Faces"], err = p.faceBounds(ctx)
		}
		if err == nil {
			res.Body, err = json.Marshal(info)
		}
	case transform.InfoCloudflare:
		res.Body, err = json.Marshal(p.cloudflareInfo())
	default:
		var img image.Image
		if img, res.Width, res.Height, err = p.sample(ctx); err != nil {
			return Result{}, err
		}
		switch p.out {
		case transform.BlurHash:
			x, y := blurHashLong, blurHashShort
			if res.Height > res.Width {
				x, y = y, x
			}
			var hash string
			if hash, err = blurhash.Encode(x, y, img); err == nil {
				res.Body = []byte(hash)
			}
		case transform.PaletteJSON:
			res.Body, err = json.Marshal(paletteJSON(dominant(img, p.opts.Colors), averageLuminance(img)))
		case transform.PaletteCSS:
			res.Body = paletteCSS(dominant(img, p.opts.Colors), p.opts.Prefix)
		}
	}
	var ie *Error
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &ie), ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return Result{}, err
	}
	return Result{}, &Error{Kind: Undecodable, Msg: "the image cannot be described", Err: err}
}

// imgixInfo is imgix's fm=json: the source's header, as imgix names it.
func (p *Prepared) imgixInfo() map[string]any {
	h := p.src.Header
	info := map[string]any{
		"PixelWidth":     h.Width,
		"PixelHeight":    h.Height,
		"Orientation":    max(1, h.Orientation),
		"ColorModel":     h.ColourModel,
		"Depth":          h.Depth,
		"HasAlpha":       h.HasAlpha,
		"Content-Type":   h.Format.MIME(),
		"Content-Length": strconv.Itoa(len(p.src.Bytes)),
	}
	if x, y := h.DPI(); x > 0 {
		info["DPIWidth"], info["DPIHeight"] = x, y
	}
	if h.Pages > 1 {
		info["Frames"] = h.Pages
	}
	return info
}

// cloudflareInfo is Cloudflare's format=json: the size of the output the
// options make, and of the original.
func (p *Prepared) cloudflareInfo() map[string]any {
	w, h := p.src.Header.OrientedSize()
	return map[string]any{
		"width":  p.Width,
		"height": p.Height,
		"original": map[string]any{
			"file_size": len(p.src.Bytes),
			"width":     w,
			"height":    h,
			"format":    p.src.Header.Format.MIME(),
		},
	}
}

// sample runs the job and samples its output down to at most
// sampleSide a side. It returns the sample and the output's size.
func (p *Prepared) sample(ctx context.Context) (image.Image, int, int, error) {
	q := *p
	q.Frames = 1
	j, err := q.run(ctx)
	defer func() { j.img.Close() }()
	if err != nil {
		return nil, 0, 0, err
	}
	w, h := j.img.Width(), j.img.Height()
	img, err := j.img.Sample(ctx, sampleSide, j.timeLeft())
	if errors.Is(err, vips.ErrTimeout) {
		return nil, 0, 0, j.refusal(err)
	}
	return img, w, h, err
}

// swatch is one dominant colour and the share of the pixels it stands for.
type swatch struct {
	c     [3]float64 // 0..255
	share float64
}

func (s swatch) hex() string {
	return fmt.Sprintf("#%02x%02x%02x", uint8(math.Round(s.c[0])), uint8(math.Round(s.c[1])), uint8(math.Round(s.c[2])))
}

// dominant finds up to n dominant colours of img by k-means, seeded with
// the most distant colours (deterministic: the same image always gives
// the same palette), most common first. Transparent pixels do not count.
func dominant(img image.Image, n int) []swatch {
	var px [][3]float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if c.A >= 128 {
				px = append(px, [3]float64{float64(c.R), float64(c.G), float64(c.B)})
			}
		}
	}
	if len(px) == 0 {
		return nil
	}
	centres := [][3]float64{px[0]}
	for len(centres) < n {
		far, farD := -1, 0.0
		for i, p := range px {
			d := math.Inf(1)
			for _, c := range centres {
				d = min(d, dist2(p, c))
			}
			if d > farD {
				far, farD = i, d
			}
		}
		if far < 0 || farD < 1 {
			break // fewer distinct colours than asked for
		}
		centres = append(centres, px[far])
	}
	counts := make([]int, len(centres))
	for range 12 {
		sums := make([][3]float64, len(centres))
		clear(counts)
		for _, p := range px {
			best := 0
			for i, c := range centres {
				if dist2(p, c) < dist2(p, centres[best]) {
					best = i
				}
			}
			counts[best]++
			for k := range 3 {
				sums[best][k] += p[k]
			}
		}
		for i := range centres {
			if counts[i] > 0 {
				for k := range 3 {
					centres[i][k] = sums[i][k] / float64(counts[i])
				}
			}
		}
	}
	var out []swatch
	for i, c := range centres {
		if counts[i] > 0 {
			out = append(out, swatch{c: c, share: float64(counts[i]) / float64(len(px))})
		}
	}
	// Most common first; ties by colour, so the order is stable.
	slices.SortStableFunc(out, func(a, b swatch) int {
		if c := cmp.Compare(b.share, a.share); c != 0 {
			return c
		}
		return strings.Compare(a.hex(), b.hex())
	})
	return out
}

func dist2(a, b [3]float64) float64 {
	return (a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2])
}

// averageLuminance is the mean relative luminance (Rec. 709 weights) of
// the opaque pixels, 0..1.
func averageLuminance(img image.Image) float64 {
	var sum float64
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if c.A >= 128 {
				sum += (0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)) / 255
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return math.Round(sum/float64(n)*1e4) / 1e4
}

// paletteJSON is imgix's palette=json: the colours as fractions and hex,
// and the average luminance.
func paletteJSON(colours []swatch, luminance float64) map[string]any {
	list := make([]map[string]any, 0, len(colours))
	for _, s := range colours {
		list = append(list, map[string]any{
			"red":   math.Round(s.c[0]/255*1e4) / 1e4,
			"green": math.Round(s.c[1]/255*1e4) / 1e4,
			"blue":  math.Round(s.c[2]/255*1e4) / 1e4,
			"hex":   s.hex(),
		})
	}
	return map[string]any{"colors": list, "average_luminance": luminance}
}

// paletteCSS is imgix's palette=css: a foreground and a background class
// per colour, most common first.
func paletteCSS(colours []swatch, prefix string) []byte {
	var b strings.Builder
	for i, s := range colours {
		fmt.Fprintf(&b, ".%s-fg-%d { color:%s !important; }\n", prefix, i+1, s.hex())
		fmt.Fprintf(&b, ".%s-bg-%d { background-color:%s !important; }\n", prefix, i+1, s.hex())
	}
	return []byte(b.String())
}
