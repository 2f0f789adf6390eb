// Package imaging runs one image request: it inspects a source's header
// against the limits, then resizes, crops, pads, filters and encodes it with
// libvips in one pass. Each step is a small function over the request's
// state, listed once in pipeline.
package imaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/imgedge/imgedge/internal/vips"
	"github.com/imgedge/imgedge/tracing"
	"github.com/imgedge/imgedge/transform"
)

// Config bounds and tunes the pipeline.
type Config struct {
	// MaxPixels is the largest source accepted, in pixels of every frame
	// that would be decoded. Checked from the header, before decoding.
	MaxPixels int64
	// MaxFrames is the most frames an animation may have.
	MaxFrames int
	// Limits bound the output size.
	Limits transform.Limits
	// Quality is the default quality per output format (1..100).
	Quality map[transform.Format]int
	// Effort is the encoder effort per output format.
	Effort map[transform.Format]int
	// Timeout bounds decoding, processing and encoding one image; a
	// source that takes longer is refused. 0: no bound.
	Timeout time.Duration
}

// DefaultConfig is what a careful operator starts from.
func DefaultConfig() Config {
	return Config{
		MaxPixels: 50_000_000,
		MaxFrames: 500,
		Timeout:   10 * time.Second,
		Limits:    transform.DefaultLimits,
		Quality:   map[transform.Format]int{transform.JPEG: 80, transform.WEBP: 80, transform.AVIF: 60},
		Effort:    map[transform.Format]int{transform.PNG: 4, transform.WEBP: 4, transform.AVIF: 0, transform.GIF: 5},
	}
}

// Kind classifies a refusal, so the HTTP side can pick its status.
type Kind int

// Kinds of refusal.
const (
	Unsupported Kind = iota + 1 // not an image format imgedge reads (415)
	Undecodable                 // broken, truncated or hostile bytes (422)
	TooLarge                    // over the pixel or frame limit (422)
	TooSlow                     // took longer than Config.Timeout (422)
)

// Error is a refused source. Msg is safe to show users; Err, when set,
// carries libvips' own detail for the logs.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Source is an inspected original.
type Source struct {
	Bytes  []byte
	Header vips.Header
	svg    svgCost // an SVG's: what makes it dear to render
	faces  faceMemo
}

// Info is what format negotiation needs to know about the source.
func (s *Source) Info() transform.Source {
	w, h := s.Header.OrientedSize()
	return transform.Source{Format: s.Header.Format, HasAlpha: s.Header.HasAlpha, Animated: s.Header.Pages > 1, Width: w, Height: h}
}

// Inspect reads the source's header and checks it against the limits
// without decoding any pixels.
func Inspect(buf []byte, cfg Config) (*Source, error) {
	if err := checkStructure(buf); err != nil {
		return nil, err
	}
	h, err := vips.ReadHeader(buf)
	if errors.Is(err, vips.ErrUnsupported) {
		return nil, &Error{Kind: Unsupported, Msg: "source is not a supported image format (JPEG, PNG, WebP, GIF, AVIF, HEIF, TIFF, SVG)"}
	}
	if err != nil {
		return nil, &Error{Kind: Undecodable, Msg: "source image cannot be decoded", Err: err}
	}
	if h.Width <= 0 || h.Height <= 0 {
		return nil, &Error{Kind: Undecodable, Msg: "source image has no pixels"}
	}
	if h.Format == transform.SVG && hasEntities(buf) {
		return nil, &Error{Kind: Undecodable, Msg: "SVG sources with DOCTYPE or entity declarations are refused"}
	}
	if err := checkSides(h); err != nil {
		return nil, err
	}
	if px := int64(h.Width) * int64(h.Height); px > cfg.MaxPixels {
		return nil, &Error{Kind: TooLarge, Msg: fmt.Sprintf("source is %dx%d, over the limit of %d pixels", h.Width, h.Height, cfg.MaxPixels)}
	}
	if h.Pages > cfg.MaxFrames {
		return nil, &Error{Kind: TooLarge, Msg: fmt.Sprintf("source has %d frames, over the limit of %d", h.Pages, cfg.MaxFrames)}
	}
	src := &Source{Bytes: buf, Header: h}
	if h.Format == transform.SVG {
		src.svg = svgCostOf(buf)
	}
	return src, nil
}

// hasEntities spots the XML features behind entity expansion and external
// entity attacks; no legitimate web SVG needs them.
func hasEntities(buf []byte) bool {
	return bytes.Contains(buf, []byte("<!ENTITY")) || bytes.Contains(buf, []byte("<!DOCTYPE"))
}

// Result is an encoded output.
type Result struct {
	Body          []byte
	Format        transform.Format
	Width, Height int // of one frame
	Frames        int
	// Direct says the source was decoded and resized without a libvips
	// pipeline (vips.Reduce).
	Direct bool
}

// job is the state one pipeline run threads through its steps.
type job struct {
	*Prepared
	ctx      context.Context
	started  time.Time
	animated bool // every frame is kept
	direct   bool // thumbnail made by vips.Reduce
	img      *vips.Image
	// content is where the picture is on a padded canvas (fit=pad, imgix
	// pad); nil: all of it. A watermark belongs on the picture.
	content *image.Rectangle
}

// pipeline lists the steps in order. Each either leaves j.img as it is or
// replaces it.
var pipeline = []func(*job) error{
	(*job).thumbnail,
	(*job).turn,
	(*job).crop,
	(*job).pad,
	(*job).blur,
	(*job).sharpen,
	(*job).adjust,
	(*job).watermark,
	(*job).text,
	(*job).flatten,
}

// Process transforms the source into format out. The caller has checked the
// source with Inspect.
func Process(src *Source, o transform.Options, out transform.Format, cfg Config) (Result, error) {
	return ProcessContext(context.Background(), src, o, out, cfg)
}

// ProcessContext is Process that gives up when ctx is done: between steps,
// and during the evaluation, where libvips is stopped within about one
// tile's work. It then returns ctx.Err() itself, not an *Error: nobody
// is waiting for a refusal.
//
// libvips' per-thread buffers live on its own worker threads, which free
// them after every task; the calling goroutine holds none, so it is not
// locked to its thread (vips_thread_shutdown on it would free nothing).
func ProcessContext(ctx context.Context, src *Source, o transform.Options, out transform.Format, cfg Config) (Result, error) {
	p, err := Prepare(src, o, out, cfg)
	if err != nil {
		return Result{}, err
	}
	return p.Process(ctx)
}

// Process runs the job, as ProcessContext does.
func (p *Prepared) Process(ctx context.Context) (Result, error) {
	if p.out.Describes() {
		ctx, span := tracing.Start(ctx, "imgedge.describe")
		res, err := p.describe(ctx)
		traceDescribe(span, p.out, err)
		return res, err
	}
	out, cfg, o := p.out, p.cfg, p.opts
	j, err := p.run(ctx)
	defer func() { j.img.Close() }()
	if err != nil {
		return Result{}, err
	}
	res := Result{Format: out, Width: j.img.Width(), Height: j.img.Height(), Frames: 1, Direct: j.direct}
	if j.animated {
		if ph := j.img.PageHeight(); ph > 0 && ph < res.Height {
			res.Frames = res.Height / ph
			res.Height = ph
		}
	}
	_, span := tracing.Start(ctx, "imgedge.encode")
	body, err := j.img.Save(ctx, vips.SaveOptions{
		Format:    out,
		Quality:   j.quality(),
		Effort:    cfg.Effort[out],
		Metadata:  o.Metadata,
		Interlace: o.Progressive && out == transform.JPEG,
		Timeout:   j.timeLeft(),
	})
	j.img = nil // Save consumed it
	traceEncode(span, j.direct, out, len(body), err)
	if err != nil {
		return Result{}, j.refusal(err)
	}
	res.Body = body
	return res, nil
}

// refusal is what a failed step or encode means: ctx's own error when it
// was stopped, TooSlow past the timeout, else an undecodable source.
func (j *job) refusal(err error) error {
	if j.ctx.Err() != nil && errors.Is(err, j.ctx.Err()) {
		return err
	}
	if errors.Is(err, vips.ErrTimeout) {
		return &Error{Kind: TooSlow, Msg: fmt.Sprintf("processing the source took longer than the limit of %s", j.cfg.Timeout)}
	}
	if _, ok := errors.AsType[*transform.Error](err); ok {
		return err // a parameter's fault (text that cannot be drawn), not the source's
	}
	return &Error{Kind: Undecodable, Msg: "source image cannot be processed", Err: err}
}

// timeLeft is what remains of the job's timeout (0: none), for the step
// that evaluates it.
func (j *job) timeLeft() time.Duration {
	if j.cfg.Timeout <= 0 {
		return 0
	}
	return max(j.cfg.Timeout-time.Since(j.started), time.Millisecond)
}

// run runs the pipeline's steps; the job's image is the output, not yet
// encoded. The caller closes it.
func (p *Prepared) run(ctx context.Context) (*job, error) {
	j := &job{Prepared: p, ctx: ctx, started: time.Now(), animated: p.Frames > 1}
	if err := j.aimAtFaces(); err != nil {
		return j, err // a context's error or an *Error already
	}
	for _, step := range pipeline {
		if err := ctx.Err(); err != nil {
			return j, err
		}
		if err := step(j); err != nil {
			return j, j.refusal(err)
		}
	}
	return j, nil
}

func (j *job) quality() int {
	if j.opts.Quality > 0 {
		return j.opts.Quality
	}
	if q := j.cfg.Quality[j.out]; q > 0 {
		return q
	}
	return 80
}

func (j *job) thumbnail() (err error) {
	_, span := tracing.Start(j.ctx, "imgedge.decode+resize")
	defer func() { traceThumbnail(span, j.direct, err) }()
	p := j.plan
	smart := p.SmartCrop
	if smart && j.animated {
		// libvips' own crop would treat the frames as one tall image:
		// cover the box, then crop every frame by the anchor.
		p.BoxW, p.BoxH = boxToCover(j.src.Header, p)
		j.plan.CropW, j.plan.CropH = j.opts.Width, j.opts.Height
		smart = false
	}
	// The plan is of the turned frame; the thumbnail is made before the
	// turn.
	if j.opts.Rotate == 90 || j.opts.Rotate == 270 {
		p.BoxW, p.BoxH = p.BoxH, p.BoxW
	}
	srcW, srcH := j.src.Header.OrientedSize()
	if r := j.region; r != nil {
		srcW, srcH = r.W, r.H
	}
	jpegShrink := 0
	if j.src.Header.Format == transform.JPEG { // never animated: smart is p.SmartCrop
		jpegShrink = p.JPEGShrink(srcW, srcH)
	}
	if !smart && p.Resize != transform.ResizeForce && (j.region != nil || jpegShrink > 1) {
		// Fitted from what was decoded (a region rounded out to the
		// shrink's grid, a side libjpeg rounded up) the free side can
		// be a pixel off: give the size worked out from the full
		// resolution, exactly.
		p.BoxW, p.BoxH = p.FitSize(srcW, srcH)
		p.Resize = transform.ResizeForce
	}
	j.img, j.direct, err = j.resize(j.src, vips.ThumbnailOptions{
		Width:      p.BoxW,
		Height:     p.BoxH,
		Resize:     p.Resize,
		Smart:      smart,
		AllPages:   j.animated,
		ToSRGB:     j.src.Header.HasICC,
		JPEGShrink: jpegShrink,
		Region:     j.region,
		Upright:    j.src.Header.Orientation <= 1,
	}, j.opts.Metadata != transform.MetadataNone)
	return err
}

// resize makes what vips.Thumbnail makes of src for o, without a libvips
// pipeline where vips.Reduce can (a plain downscale, no smart crop, no
// region, one frame, no metadata to keep: the image it makes carries
// none); direct says it did.
func (j *job) resize(src *Source, o vips.ThumbnailOptions, keepsMetadata bool) (img *vips.Image, direct bool, err error) {
	if !o.Smart && o.Region == nil && !o.AllPages && !keepsMetadata {
		img, err = vips.Reduce(j.ctx, src.Bytes, src.Header, vips.ReduceOptions{
			Width: o.Width, Height: o.Height, Resize: o.Resize, JPEGShrink: o.JPEGShrink, Timeout: j.timeLeft(),
		})
		if !errors.Is(err, vips.ErrDeclined) {
			return img, err == nil, err
		}
	}
	img, err = vips.Thumbnail(src.Bytes, o)
	return img, false, err
}

func (j *job) crop() (err error) {
	p := j.plan
	if p.CropW == 0 || (p.SmartCrop && !j.animated) {
		return nil
	}
	height := j.img.Height()
	if j.animated {
		height = j.img.PageHeight()
	}
	left, top, w, h := transform.CropOffset(j.img.Width(), height, p.CropW, p.CropH, p.Anchor)
	switch {
	case left == 0 && top == 0 && w == j.img.Width() && h == height:
		return nil
	case j.animated:
		j.img, err = j.img.ExtractFrames(left, top, w, h)
	default:
		j.img, err = j.img.Extract(left, top, w, h)
	}
	return err
}

// boxToCover is the thumbnail box that makes one frame cover the crop
// box, for animations, where smart cropping falls back to the anchor.
func boxToCover(h vips.Header, p transform.Plan) (int, int) {
	w, ht := h.OrientedSize()
	if float64(p.BoxW)/float64(w) >= float64(p.BoxH)/float64(ht) {
		return p.BoxW, transform.Unbounded
	}
	return transform.Unbounded, p.BoxH
}

// pad places the image on the plan's canvas (fit=pad), and adds the
// border (imgix pad) around it, in one embed of the background.
func (j *job) pad() (err error) {
	p, b := j.plan, j.plan.Border
	w, h := j.img.Width(), j.img.Height()
	canvasW, canvasH, left, top := w, h, 0, 0
	if p.PadW > 0 && !j.animated {
		canvasW, canvasH = p.PadW, p.PadH
		left, top = transform.PadOffset(w, h, p.PadW, p.PadH, p.Anchor)
	}
	canvasW, canvasH = canvasW+b.Left+b.Right, canvasH+b.Top+b.Bottom
	if canvasW == w && canvasH == h {
		return nil
	}
	r := image.Rect(left+b.Left, top+b.Top, left+b.Left+w, top+b.Top+h)
	j.content = &r
	j.img, err = j.img.Embed(left+b.Left, top+b.Top, canvasW, canvasH, j.background())
	return err
}

// turn applies the rotation and the mirrors, after the resize: cheaper on
// fewer pixels, and the same picture.
func (j *job) turn() (err error) {
	if r := j.opts.Rotate; r != 0 {
		if j.img, err = j.img.Rotate(r); err != nil {
			return err
		}
	}
	if j.opts.FlipH {
		if j.img, err = j.img.Flip(true); err != nil {
			return err
		}
	}
	if j.opts.FlipV {
		j.img, err = j.img.Flip(false)
	}
	return err
}

func (j *job) blur() (err error) {
	if j.opts.Blur > 0 {
		// Wide blurs run at a reduced scale (transform.EffectiveBlur),
		// the scale CheckCost prices them at.
		height := j.img.Height()
		if j.animated {
			height = j.img.PageHeight()
		}
		sigma, shrink := transform.EffectiveBlur(j.opts.Blur, j.img.Width(), height)
		j.img, err = j.img.Blur(sigma, shrink)
	}
	return err
}

func (j *job) sharpen() (err error) {
	if j.opts.Sharpen > 0 {
		j.img, err = j.img.Sharpen(j.opts.Sharpen)
	}
	return err
}

// adjust makes the colour adjustment (brightness, contrast, gamma,
// saturation), on the output's pixels.
func (j *job) adjust() (err error) {
	a := j.opts.Adjust
	if a.None() {
		return nil
	}
	mul, add := a.Linear()
	// libvips takes exponents of 1e-6 to 1000 and silently uses its
	// default outside them: keep to a range it takes.
	gamma := min(max(1+a.Gamma, 1e-3), 1e3)
	j.img, err = j.img.Adjust(mul, add, gamma, 1+a.Saturation)
	return err
}

// watermark lays the mark over the output, sized and placed as the
// options say.
func (j *job) watermark() error {
	m := j.opts.Mark
	if m == nil {
		return nil
	}
	if j.mark == nil {
		return errors.New("the watermark was not given")
	}
	area := image.Rect(0, 0, j.img.Width(), j.img.Height())
	if j.content != nil {
		area = *j.content // on the picture, never on the padding
	}
	outW, outH := area.Dx(), area.Dy()
	mw, mh := j.mark.Header.OrientedSize()
	w, h := m.MarkSize(mw, mh, outW, outH)
	img, _, err := j.resize(j.mark, vips.ThumbnailOptions{Width: w, Height: h, Resize: transform.ResizeForce,
		ToSRGB: j.mark.Header.HasICC}, false)
	if err != nil {
		return err
	}
	defer img.Close()
	left, top := m.MarkOffset(img.Width(), img.Height(), outW, outH)
	j.img, err = j.img.Composite(img, area.Min.X+left, area.Min.Y+top, float64(m.Alpha)/100)
	return err
}

// flatten blends alpha onto the background for formats without alpha.
func (j *job) flatten() (err error) {
	if !j.out.CanAlpha() && j.img.HasAlpha() {
		j.img, err = j.img.Flatten(j.background())
	}
	return err
}

func (j *job) background() vips.RGBA {
	c := transform.White
	if j.opts.Background != nil {
		c = *j.opts.Background
	}
	return vips.RGBA(c)
}
