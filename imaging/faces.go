package imaging

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"sync"
	"time"

	pigo "github.com/esimov/pigo/core"

	"github.com/imgedge/imgedge/internal/vips"
	"github.com/imgedge/imgedge/transform"
)

// Faces are found with pigo (github.com/esimov/pigo, pure Go; its
// facefinder cascade is embedded, see cascade/README.md) on a copy of the
// source's upright first page at most faceSide pixels a side, in grey.
// A source's faces are found once and kept with it (Source.Faces): every
// variant of an original kept in the originals cache reuses them.
const faceSide = 480

// Detection settings: the smallest face looked for, in pixels of the
// small copy; the windows' step and scale factors and the overlap that
// merges detections into one face, as pigo's own examples; the score a
// face must reach.
const (
	faceMinSide  = 20
	faceShift    = 0.1
	faceScale    = 1.1
	faceIoU      = 0.2
	faceMinScore = 5.0
)

//go:embed cascade/facefinder
var facefinder []byte

var classifier = sync.OnceValues(func() (*pigo.Pigo, error) {
	return pigo.NewPigo().Unpack(facefinder)
})

// faceMemo keeps a source's faces once found. A failed search (stopped by
// its request, out of time under load) is not kept: the next request
// searches again.
type faceMemo struct {
	mu    sync.Mutex
	done  bool
	faces []transform.Rect
}

// Faces are the faces in the source, in pixels of its upright first page,
// the largest first (ties: left to right, top to bottom). They are found
// on the first call, within timeout (0: none), and kept.
func (s *Source) Faces(ctx context.Context, timeout time.Duration) ([]transform.Rect, error) {
	m := &s.faces
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return m.faces, nil
	}
	faces, err := s.detectFaces(ctx, timeout)
	if err != nil {
		return nil, err
	}
	m.done, m.faces = true, faces
	return faces, nil
}

// FacesFound reports whether the source's faces were already found (and
// kept): a request for them then does no detection.
func (s *Source) FacesFound() bool {
	s.faces.mu.Lock()
	defer s.faces.mu.Unlock()
	return s.faces.done
}

func (s *Source) detectFaces(ctx context.Context, timeout time.Duration) ([]transform.Rect, error) {
	began := time.Now()
	img, err := vips.Thumbnail(s.Bytes, vips.ThumbnailOptions{Width: faceSide, Height: faceSide,
		Resize: transform.ResizeDown, ToSRGB: s.Header.HasICC})
	if err != nil {
		return nil, &Error{Kind: Undecodable, Msg: "source image cannot be decoded to find faces", Err: err}
	}
	defer img.Close()
	px, err := img.Sample(ctx, faceSide, timeout)
	if err != nil {
		if errors.Is(err, vips.ErrTimeout) {
			return nil, tooSlowToFindFaces(timeout)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Kind: Undecodable, Msg: "source image cannot be decoded to find faces", Err: err}
	}
	found, err := findFaces(px)
	if err != nil {
		return nil, err
	}
	if timeout > 0 && time.Since(began) > timeout {
		return nil, tooSlowToFindFaces(timeout)
	}
	// Back to the source's pixels.
	sw, sh := s.Header.OrientedSize()
	kx, ky := float64(sw)/float64(px.Rect.Dx()), float64(sh)/float64(px.Rect.Dy())
	faces := make([]transform.Rect, 0, len(found))
	for _, f := range found {
		x0, y0 := max(0, int(math.Round(float64(f.Min.X)*kx))), max(0, int(math.Round(float64(f.Min.Y)*ky)))
		x1, y1 := min(sw, int(math.Round(float64(f.Max.X)*kx))), min(sh, int(math.Round(float64(f.Max.Y)*ky)))
		if x1 > x0 && y1 > y0 {
			faces = append(faces, transform.Rect{X: x0, Y: y0, W: x1 - x0, H: y1 - y0})
		}
	}
	slices.SortFunc(faces, func(a, b transform.Rect) int {
		return cmp.Or(cmp.Compare(b.W*b.H, a.W*a.H), cmp.Compare(a.X, b.X), cmp.Compare(a.Y, b.Y))
	})
	return faces, nil
}

func tooSlowToFindFaces(timeout time.Duration) error {
	return &Error{Kind: TooSlow, Msg: fmt.Sprintf("finding faces in the source took longer than the limit of %s", timeout)}
}

// findFaces runs the cascade on img's luma and returns the faces' boxes
// in img's pixels.
func findFaces(img *image.NRGBA) ([]image.Rectangle, error) {
	pg, err := classifier()
	if err != nil {
		return nil, fmt.Errorf("the face cascade cannot be read: %w", err)
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	grey := make([]uint8, w*h)
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			p := row[4*x:]
			grey[y*w+x] = uint8((299*int(p[0]) + 587*int(p[1]) + 114*int(p[2])) / 1000)
		}
	}
	dets := pg.RunCascade(pigo.CascadeParams{
		MinSize: faceMinSide, MaxSize: max(w, h), ShiftFactor: faceShift, ScaleFactor: faceScale,
		ImageParams: pigo.ImageParams{Pixels: grey, Rows: h, Cols: w, Dim: w},
	}, 0)
	dets = pg.ClusterDetections(dets, faceIoU)
	var out []image.Rectangle
	for _, d := range dets {
		if d.Q < faceMinScore {
			continue
		}
		half := d.Scale / 2
		out = append(out, image.Rect(d.Col-half, d.Row-half, d.Col+half, d.Row+half).Intersect(img.Rect))
	}
	return out, nil
}

// faceBound is one face as imgix's fm=json&faces=1 lists it.
type faceBound struct {
	Bounds struct {
		X      int `json:"x"`
		Y      int `json:"y"`
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"bounds"`
}

// faceBounds are the source's faces as fm=json&faces=1 lists them (an
// empty list when there are none), in pixels of the upright source.
func (p *Prepared) faceBounds(ctx context.Context) ([]faceBound, error) {
	faces, err := p.src.Faces(ctx, p.cfg.Timeout)
	if err != nil {
		return nil, err
	}
	out := make([]faceBound, len(faces))
	for i, f := range faces {
		b := &out[i].Bounds
		b.X, b.Y, b.Width, b.Height = f.X, f.Y, f.W, f.H
	}
	return out, nil
}
