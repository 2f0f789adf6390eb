package main

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// source is one original of the corpus, served by file_server.
type source struct {
	Name   string `json:"name"` // file name under the site root
	About  string `json:"about"`
	Format string `json:"format"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Bytes  int    `json:"bytes"`
	data   []byte
}

// Corpus file names; the headline is the scenario workhorse.
const (
	headline = "kite.jpg"
	alphaPNG = "cups-alpha.png"
	bigWebP  = "kite.webp"
	largeJPG = "path-22mp.jpg"
	logoPNG  = "logo.png"
	// What phones and editors upload, each made from the headline photo.
	p3JPG     = "kite-p3.jpg"
	greyJPG   = "kite-grey.jpg"
	smallWebP = "kite-1mp.webp"
	heic      = "kite.heic"
)

// corpusStep makes one source from the example photographs.
type corpusStep struct {
	name, about string
	make        func(photos string) ([]byte, error)
}

var corpusSteps = []corpusStep{
	{headline, "headline: the example photograph as it is", func(photos string) ([]byte, error) {
		return os.ReadFile(filepath.Join(photos, "kite.jpg"))
	}},
	{alphaPNG, "cups.jpg with a diagonal alpha gradient, PNG", func(photos string) ([]byte, error) {
		return alphaGradient(filepath.Join(photos, "cups.jpg"))
	}},
	{bigWebP, "kite.jpg at full size as WebP (imaging, q=80)", func(photos string) ([]byte, error) {
		return convert(filepath.Join(photos, "kite.jpg"), "f=webp", imaging.DefaultConfig())
	}},
	{logoPNG, "a 240 px PNG of cups.jpg, the watermark of scenario 10", func(photos string) ([]byte, error) {
		return convert(filepath.Join(photos, "cups.jpg"), "w=240&f=png", imaging.DefaultConfig())
	}},
	{largeJPG, "path.jpg enlarged into 6000x4000 (fit=contain), JPEG q=85", func(photos string) ([]byte, error) {
		cfg := imaging.DefaultConfig()
		cfg.Limits.MaxWidth, cfg.Limits.MaxHeight = 6000, 4000
		return convert(filepath.Join(photos, "path.jpg"), "w=6000&h=4000&fit=contain&q=85", cfg)
	}},
	{p3JPG, "kite.jpg tagged with a Display P3 profile (ICC v4, made by lcms2), as phones save", func(photos string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(photos, "kite.jpg"))
		if err != nil {
			return nil, err
		}
		return testimages.JPEGWithProfile(b, testimages.DisplayP3.ICC()), nil
	}},
	{greyJPG, "kite.jpg in grey, one component, JPEG q=90", func(photos string) ([]byte, error) {
		return greyOf(filepath.Join(photos, "kite.jpg"))
	}},
	{smallWebP, "kite.jpg at 1280x800 (1 MP) as WebP (imaging, q=80)", func(photos string) ([]byte, error) {
		return convert(filepath.Join(photos, "kite.jpg"), "w=1280&f=webp", imaging.DefaultConfig())
	}},
	{heic, "kite.jpg as HEIC (HEVC, libvips' heifsave with x265, q=80), what iPhones store", func(photos string) ([]byte, error) {
		return heicOf(filepath.Join(photos, "kite.jpg"))
	}},
}

// buildCorpus writes every source into dir and describes them.
func buildCorpus(photos, dir string) (map[string]*source, []*source, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	byName := map[string]*source{}
	var list []*source
	for _, step := range corpusSteps {
		data, err := step.make(photos)
		if err != nil {
			return nil, nil, fmt.Errorf("corpus %s: %v", step.name, err)
		}
		src, err := imaging.Inspect(data, imaging.DefaultConfig())
		if err != nil {
			return nil, nil, fmt.Errorf("corpus %s: %v", step.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, step.name), data, 0o644); err != nil {
			return nil, nil, err
		}
		s := &source{
			Name: step.name, About: step.about, Format: src.Header.Format.String(),
			Width: src.Header.Width, Height: src.Header.Height, Bytes: len(data), data: data,
		}
		byName[s.Name] = s
		list = append(list, s)
	}
	return byName, list, nil
}

// decodeJPEG reads and decodes the JPEG at path.
func decodeJPEG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jpeg.Decode(f)
}

// alphaGradient decodes a JPEG and fades it out from the top-left corner
// to the bottom-right one, as a PNG with alpha.
func alphaGradient(path string) ([]byte, error) {
	img, err := decodeJPEG(path)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	out := image.NewNRGBA(b)
	draw.Draw(out, b, img, b.Min, draw.Src)
	span := b.Dx() + b.Dy()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Pix[out.PixOffset(x, y)+3] = uint8(255 - 255*((x-b.Min.X)+(y-b.Min.Y))/span)
		}
	}
	var buf bytes.Buffer
	err = png.Encode(&buf, out)
	return buf.Bytes(), err
}

// greyOf decodes a JPEG and encodes it grey, one component, at q=90.
func greyOf(path string) ([]byte, error) {
	img, err := decodeJPEG(path)
	if err != nil {
		return nil, err
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	err = jpeg.Encode(&buf, g, &jpeg.Options{Quality: 90})
	return buf.Bytes(), err
}

// heicOf encodes a photograph as HEIC with the vips command (libvips-tools,
// which make deps installs): imgedge encodes no HEVC itself.
func heicOf(path string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "bench-heic")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out.heic")
	if b, err := exec.Command("vips", "copy", path, out+"[Q=80,compression=hevc,strip]").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("vips copy: %v: %s", err, b)
	}
	return os.ReadFile(out)
}

// convert runs one photograph through the pipeline with the given query.
func convert(path, query string, cfg imaging.Config) ([]byte, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	op, err := pipelineOp(buf, query, cfg)
	if err != nil {
		return nil, err
	}
	return op()
}

// pipelineOp is one request's worth of in-process work, as the handler
// does it: inspect the bytes, pick the output format, process.
func pipelineOp(buf []byte, query string, cfg imaging.Config) (func() ([]byte, error), error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	opts, err := transform.Parse(q, cfg.Limits)
	if err != nil {
		return nil, err
	}
	return func() ([]byte, error) {
		src, err := imaging.Inspect(buf, cfg)
		if err != nil {
			return nil, err
		}
		out, _ := transform.OutputFormat(opts, "", src.Info())
		res, err := imaging.Process(src, opts, out, cfg)
		return res.Body, err
	}, nil
}
