package imaging

import (
	"errors"
	"image"

	"github.com/imgedge/imgedge/internal/vips"
	"github.com/imgedge/imgedge/transform"
)

// text draws the imgix text overlay (txt) on the picture, never on its
// padding: one line at txt-size, placed by txt-align txt-pad pixels from
// the edges it is aligned to. A line wider than its room (txt-width, or
// the picture less the padding) is drawn smaller to fit (txt-fit=max) or
// loses its end (txt-clip=end, the default) or its start (txt-clip=start).
func (j *job) text() error {
	t := j.opts.Text
	if t == nil {
		return nil
	}
	area := image.Rect(0, 0, j.img.Width(), j.img.Height())
	if j.content != nil {
		area = *j.content
	}
	room := area.Dx() - 2*t.Pad
	if t.Width > 0 {
		room = min(t.Width, room)
	}
	room = max(1, room)
	img, margin, err := renderText(t, t.Size)
	if err != nil {
		return err
	}
	defer func() { img.Close() }()
	w, h := img.Width()-2*margin, img.Height()-2*margin // the text's own box
	if w > room && t.FitMax {
		img.Close()
		if img, margin, err = renderText(t, max(1, t.Size*room/w)); err != nil {
			return err
		}
		w, h = img.Width()-2*margin, img.Height()-2*margin
	}
	// Where the text's box goes; then what of it, shadow included, the
	// room and the picture hold.
	left, top := transform.Place(t.Anchor, t.Pad, min(w, room), h, area.Dx(), area.Dy())
	from := 0
	if w > room && t.ClipStart {
		from = w - room
	}
	box := image.Rect(left-margin, top-margin, left+min(w, room)+margin, top+h+margin).Add(area.Min)
	visible := box.Intersect(area)
	if visible.Empty() {
		return nil
	}
	cut := visible.Sub(box.Min).Add(image.Pt(from, 0))
	if cut != image.Rect(0, 0, img.Width(), img.Height()) {
		part, err := img.Extract(cut.Min.X, cut.Min.Y, cut.Dx(), cut.Dy())
		if err != nil {
			return err
		}
		img = part
	}
	j.img, err = j.img.Composite(img, visible.Min.X, visible.Min.Y, 1)
	return err
}

// renderText draws t at size px; margin is the room its shadow takes on
// every side.
//
// Text the renderer cannot draw (wider than its surface of 32,767 px,
// or nothing it can shape) is the parameter's fault, refused naming txt,
// not the source's.
func renderText(t *transform.Text, size int) (*vips.Image, int, error) {
	img, margin, err := vips.Text(t.Text, vips.TextOptions{Font: t.PangoFont(size), Colour: vips.RGBA(t.Color), Shadow: t.Shadow})
	if err != nil && !errors.Is(err, vips.ErrTimeout) {
		return nil, 0, &transform.Error{Param: "txt", Msg: "cannot be drawn at this txt-size: make it shorter or smaller"}
	}
	return img, margin, err
}
