package imaging_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// maxFuzzInput caps an input, so one run stays in milliseconds.
const maxFuzzInput = 64 << 10

// fuzzConfig is the production pipeline with small limits: a hostile
// header is refused before decoding and a decode costs little.
func fuzzConfig() imaging.Config {
	cfg := imaging.DefaultConfig()
	cfg.MaxPixels = 1 << 20
	cfg.MaxFrames = 32
	cfg.Limits = transform.Limits{MaxWidth: 256, MaxHeight: 256, MaxDPR: 1}
	return cfg
}

// fuzzOutputs are the formats op picks from. AVIF is the slowest encoder
// and comes up least.
var fuzzOutputs = [...]transform.Format{transform.JPEG, transform.PNG, transform.WEBP, transform.GIF, transform.JPEG, transform.PNG, transform.WEBP, transform.AVIF}

// fuzzOptions turns op's bits into a request for a 32x24 box: fit (3
// bits), output format (3 bits), smart crop, blur and a pad colour, a
// quarter turn with a mirror, a region of the source, and a border.
func fuzzOptions(op uint16) (transform.Options, transform.Format) {
	o := transform.Options{
		Width:  32,
		Height: 24,
		Fit:    transform.Fit(int(op&7) % 8),
		Anchor: transform.Anchor{X: float64(op>>10&3) / 3, Y: float64(op>>12&3) / 3},
		Smart:  op&(1<<6) != 0,
	}
	if op&(1<<7) != 0 {
		o.Blur = 1.5
		o.Background = &transform.RGBA{R: 10, G: 20, B: 30, A: 128}
	}
	if op&(1<<14) != 0 {
		o.Height = 0 // one side free
	}
	if op&(1<<8) != 0 {
		o.Rotate, o.FlipH = 90, true
	}
	if op&(1<<9) != 0 {
		o.Rect = &transform.Rect{X: 2, Y: 3, W: 20, H: 15}
	}
	if op&(1<<15) != 0 {
		o.Border = transform.Edges{Top: 1, Right: 2, Bottom: 3, Left: 4}
	}
	return o, fuzzOutputs[op>>3&7]
}

// FuzzPipeline feeds arbitrary bytes through Inspect and Process, as the
// handler does with an original. Refusals are expected; a panic, a crash
// in libvips or an answer outside the box is a bug.
//
//	go test -run XXX -fuzz FuzzPipeline -fuzztime 60s ./imaging/
func FuzzPipeline(f *testing.F) {
	cfg := fuzzConfig()
	jpeg := testimages.JPEG(testimages.Gradient(48, 32))
	png := testimages.PNG(testimages.Gradient(40, 30))
	gif := testimages.AnimatedGIF(16, 12, 3)
	seeds := [][]byte{
		jpeg,
		png,
		gif,
		testimages.PNGWithAlpha(24, 16),
		testimages.OrientedJPEG(testimages.Upright(20, 12), 6),
		testimages.TIFF(testimages.Gradient(16, 8)),
		encode(f, png, transform.WEBP),
		encode(f, gif, transform.WEBP), // animated
		encode(f, png, transform.AVIF),
		[]byte(`<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10" fill="red"/></svg>`),
		[]byte(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="20" height="10">` +
			`<image xlink:href="file:///etc/passwd" width="20" height="10"/><image href="http://127.0.0.1:1/x.png" width="20" height="10"/></svg>`),
		[]byte(`<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><text>&x;</text></svg>`),
		testimages.BombPNG(20000, 20000),
		testimages.Garbage(256),
		{},
		// The hostile corpus, small: scans past the cap and within it, a
		// warning in the last rows, text chunks past the metadata cap and
		// within it, a strip past the side cap.
		testimages.EndlessScansJPEG(64, 48, imaging.MaxJPEGScans),
		testimages.EndlessScansJPEG(64, 48, 6),
		testimages.LateWarningJPEG(testimages.Gradient(64, 48)),
		testimages.TextBombPNG(16, 16, 2, imaging.MaxPNGMetadata),
		testimages.TextBombPNG(16, 16, 2, 1<<10),
		testimages.StripPNG(2, imaging.MaxSide+1),
		// What the direct reduce now takes too: profiled and grey JPEGs,
		// profiled PNGs (the profile goes to lcms2).
		testimages.JPEGWithProfile(jpeg, testimages.ProPhoto.ICC()),
		testimages.PNGWithProfile(png, testimages.DisplayP3.ICC()),
		greyJPEG(48, 32),
	}
	for i, s := range seeds {
		f.Add(s, uint16(i*37))
	}
	// Broken variants of the real images: cut short, and with bits flipped
	// in the header and in the data.
	for i, s := range seeds[:9] {
		f.Add(testimages.Truncated(s, 0.5), uint16(i*11))
		f.Add(s[:min(len(s), 40)], uint16(i*13))
		for _, at := range []int{len(s) / 16, len(s) / 3, len(s) - 8} {
			if at > 0 && at < len(s) {
				flipped := bytes.Clone(s)
				flipped[at] ^= 0x5a
				f.Add(flipped, uint16(i*17+at))
			}
		}
	}

	f.Fuzz(func(t *testing.T, data []byte, op uint16) {
		if len(data) > maxFuzzInput {
			return
		}
		src, err := imaging.Inspect(data, cfg)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		o, out := fuzzOptions(op)
		res, err := imaging.Process(src, o, out, cfg)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		bw, bh := o.Border.Left+o.Border.Right, o.Border.Top+o.Border.Bottom
		if res.Width < 1 || res.Width > o.Width+bw || res.Height < 1 || (o.Height > 0 && res.Height > o.Height+bh) || res.Height > cfg.Limits.MaxHeight+bh {
			t.Fatalf("%+v as %v of a %+v source gives %dx%d", o, out, src.Header, res.Width, res.Height)
		}
		if len(res.Body) == 0 || res.Format != out {
			t.Fatalf("%+v as %v gives %d bytes of %v", o, out, len(res.Body), res.Format)
		}
	})
}

// checkRefusal fails unless err is the pipeline's own refusal, which the
// handler maps to a status.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	var ie *imaging.Error
	var pe *transform.Error // a region the source does not have
	if errors.As(err, &pe) {
		return
	}
	if !errors.As(err, &ie) || ie.Kind < imaging.Unsupported || ie.Kind > imaging.TooLarge {
		t.Fatalf("refusal %T %v is not an *imaging.Error with a kind", err, err)
	}
}

// encode converts a seed to another format through the pipeline itself,
// for the formats the standard library cannot write.
func encode(f *testing.F, b []byte, out transform.Format) []byte {
	f.Helper()
	cfg := fuzzConfig()
	src, err := imaging.Inspect(b, cfg)
	if err != nil {
		f.Fatal(err)
	}
	res, err := imaging.Process(src, transform.Options{Anchor: transform.Center}, out, cfg)
	if err != nil {
		f.Fatal(err)
	}
	return res.Body
}
