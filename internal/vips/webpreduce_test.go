package vips_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/internal/vips"
	"github.com/imgedge/imgedge/transform"
)

// webpOf encodes an image source as a WebP at quality 80, whole.
func webpOf(t testing.TB, src []byte) []byte {
	t.Helper()
	h, err := vips.ReadHeader(src)
	if err != nil {
		t.Fatal(err)
	}
	img, err := vips.Thumbnail(src, vips.ThumbnailOptions{Width: h.Width, Height: h.Height, Resize: transform.ResizeDown})
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Save(context.Background(), vips.SaveOptions{Format: transform.WEBP, Quality: 80, Effort: 4})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A still WebP is decoded by libwebp at the scale vips_thumbnail asks of
// webpload, and what remains reduced as vips_resize would: libvips' size
// to the pixel and its pixels within the rounding allowed a JPEG.
func TestReduceMakesWhatThumbnailMakesOfAWebP(t *testing.T) {
	sources := []struct {
		name string
		buf  []byte
	}{
		{"1280x800", webpOf(t, photo(t, "kite.jpg", 1280, 800))},
		{"333x999", webpOf(t, photo(t, "kite.jpg", 333, 999))},
		{"1001x667 with alpha", webpOf(t, photoPNG(t, "cups.jpg", 1001, 667, true))},
	}
	boxes := []vips.ReduceOptions{
		{Width: 400, Height: transform.Unbounded, Resize: transform.ResizeDown},
		{Width: 699, Height: transform.Unbounded, Resize: transform.ResizeDown},
		{Width: 300, Height: 300, Resize: transform.ResizeDown},
		{Width: transform.Unbounded, Height: 123, Resize: transform.ResizeBoth},
		{Width: 640, Height: 200, Resize: transform.ResizeForce}, // a reduce after the scaled decode
		{Width: 300, Height: 150, Resize: transform.ResizeForce},
		{Width: 45, Height: 45, Resize: transform.ResizeDown},
	}
	made, reduced := 0, 0
	for _, s := range sources {
		h, err := vips.ReadHeader(s.buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range boxes {
			name := fmt.Sprintf("%s to %dx%d mode %d", s.name, o.Width, o.Height, o.Resize)
			got, err := vips.Reduce(context.Background(), s.buf, h, o)
			if errors.Is(err, vips.ErrDeclined) {
				t.Logf("%s: declined", name)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			made++
			if o.Resize == transform.ResizeForce {
				reduced++
			}
			want, err := vips.Thumbnail(s.buf, vips.ThumbnailOptions{Width: o.Width, Height: o.Height, Resize: o.Resize, Upright: true})
			if err != nil {
				t.Fatal(err)
			}
			if !sameShape(t, name, got, want) {
				continue
			}
			w, ht := want.Width(), want.Height()
			mean, most := difference(pixels(t, got), pixels(t, want)) // closes both
			t.Logf("%s: %dx%d, %.3f on average, %d at most", name, w, ht, mean, most)
			if mean > 0.6 || most > 8 {
				t.Errorf("%s: differs from libvips by %.2f on average, %d at most", name, mean, most)
			}
		}
	}
	if made < 16 || reduced < 2 {
		t.Errorf("made %d of the cases, %d with a reduce after the decode: the rest were declined", made, reduced)
	}
}

// A WebP decode stops on the kill flag between chunks of the source. (A
// truncated WebP does not get this far: libvips' header read refuses it.)
func TestReduceStopsAWebP(t *testing.T) {
	big := webpOf(t, testimages.JPEG(testimages.Gradient(4000, 3000)))
	h, err := vips.ReadHeader(big)
	if err != nil {
		t.Fatal(err)
	}
	stopsEarly(t, big, h, vips.ReduceOptions{Width: 3999, Height: transform.Unbounded, Resize: transform.ResizeDown},
		"the kill flag was not read between chunks")
}
