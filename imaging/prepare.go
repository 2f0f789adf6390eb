package imaging

import (
	"fmt"

	"github.com/imgedge/imgedge/transform"
)

// Prepared is one job laid out before any pixel is decoded: the region of
// the source it uses, its plan and what it makes. The engine prices the
// work on it and then runs it, so nothing is worked out twice.
type Prepared struct {
	src    *Source
	opts   transform.Options
	out    transform.Format
	cfg    Config
	plan   transform.Plan
	region *transform.Rect // the part of the source used; nil: all of it
	mark   *Source         // the watermark (Options.Mark), given with SetMark
	// Frames is how many frames the output has; Width and Height are the
	// size of one, an upper bound good enough to price the work.
	Frames, Width, Height int
}

// Prepare lays out the job that makes options o of the source in format
// out. A region the source does not have, or padding that takes the
// output past the limits, is a *transform.Error.
func Prepare(src *Source, o transform.Options, out transform.Format, cfg Config) (*Prepared, error) {
	sw, sh := src.Header.OrientedSize()
	r, cut, err := o.Region(sw, sh)
	if err != nil {
		return nil, err
	}
	p := &Prepared{src: src, opts: o, out: out, cfg: cfg, Frames: src.Frames(o, out, cfg)}
	w, h := sw, sh
	if cut {
		p.region, w, h = &r, r.W, r.H
	}
	if o.Rotate == 90 || o.Rotate == 270 {
		w, h = h, w // the plan is of the turned frame
	}
	p.plan = transform.NewPlan(o, w, h, cfg.Limits)
	p.Width, p.Height = p.plan.OutputSize(w, h)
	if o.Mark != nil && p.Frames > 1 {
		return nil, &transform.Error{Param: "mark", Msg: "a watermark on an animation is not implemented: add anim=false, or ask for a still format"}
	}
	if f := o.Faces; (f.Crop || f.Area) && p.Frames > 1 {
		return nil, &transform.Error{Param: "crop", Msg: "a crop to faces on an animation is not implemented: add anim=false, or ask for a still format"}
	}
	if o.Text != nil && p.Frames > 1 {
		return nil, &transform.Error{Param: "txt", Msg: "text on an animation is not implemented: add anim=false, or ask for a still format"}
	}
	if src.Header.Format == transform.SVG {
		// What librsvg renders: the output, or the box a crop is cut
		// from, in the source's shape.
		rw := max(p.Width, p.Height*sw/max(sh, 1))
		if err := checkSVG(src.svg, rw, rw*sh/max(sw, 1)); err != nil {
			return nil, err
		}
	}
	if lim := cfg.Limits; p.Width > lim.MaxWidth || p.Height > lim.MaxHeight {
		// Only padding (imgix pad) goes past the box.
		return nil, &transform.Error{Param: "pad", Msg: fmt.Sprintf("with its padding the output would be %dx%d, over the limit of %dx%d", p.Width, p.Height, lim.MaxWidth, lim.MaxHeight)}
	}
	return p, nil
}

// SetMark gives the job its watermark's source (Options.Mark), inspected
// under the same limits as any source.
func (p *Prepared) SetMark(m *Source) { p.mark = m }
