package imaging

import "github.com/imgedge/imgedge/transform"

// Frames is how many frames a variant of the source in format out has: all
// of an animation's when the format can carry them, the options keep them
// and decoding them all stays within cfg.MaxPixels, else 1 (the first
// frame).
func (s *Source) Frames(o transform.Options, out transform.Format, cfg Config) int {
	h := s.Header
	if h.Pages <= 1 || !out.CanAnimate() || !o.KeepsFrames(h.OrientedSize()) || int64(h.Width)*int64(h.Height)*int64(h.Pages) > cfg.MaxPixels {
		return 1
	}
	return h.Pages
}
