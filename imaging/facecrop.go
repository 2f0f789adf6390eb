package imaging

import (
	"github.com/imgedge/imgedge/transform"
)

// aimAtFaces turns a crop to faces (crop=faces, gravity=face) or a face
// area (fit=facearea) into a region of the source around the faces, and
// plans the rest of the job on it: the region, in the output's shape, is
// then resized to the box. No face found: a crop to faces stays the
// attention crop it was planned as; a face area is the whole picture,
// fitted in the box.
func (j *job) aimAtFaces() error {
	f := j.opts.Faces
	if !f.Crop && !f.Area {
		return nil
	}
	faces, err := j.src.Faces(j.ctx, j.timeLeft())
	if err != nil {
		return err
	}
	if f.Area && f.Index > 0 {
		if f.Index > len(faces) {
			faces = nil
		} else {
			faces = faces[f.Index-1 : f.Index]
		}
	}
	o := j.opts
	if len(faces) == 0 {
		if f.Area {
			o.Fit = transform.FitContain
			j.plan = j.replan(o, j.src.Header.OrientedSize)
		}
		return nil
	}
	outW, outH := j.plan.CropW, j.plan.CropH
	if j.plan.SmartCrop {
		outW, outH = j.plan.BoxW, j.plan.BoxH
	}
	if outW <= 0 || outH <= 0 {
		return nil // nothing is cropped
	}
	if o.Rotate == 90 || o.Rotate == 270 {
		outW, outH = outH, outW // the window is of the source, before the turn
	}
	srcW, srcH := j.src.Header.OrientedSize()
	pad, zoom := 1.0, f.Zoom
	if f.Area {
		pad, zoom = f.Pad, 1
	}
	r := transform.FaceWindow(transform.Union(faces), pad, zoom, outW, outH, srcW, srcH)
	j.region = &r
	o.Smart, o.Anchor = false, transform.Center
	j.plan = j.replan(o, func() (int, int) { return r.W, r.H })
	return nil
}

// replan plans o on the part of the source size gives (before the turn).
func (j *job) replan(o transform.Options, size func() (int, int)) transform.Plan {
	w, h := size()
	if o.Rotate == 90 || o.Rotate == 270 {
		w, h = h, w
	}
	return transform.NewPlan(o, w, h, j.cfg.Limits)
}
