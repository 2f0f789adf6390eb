package imaging_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// The cost of faces, on a 2048x2048 JPEG of the portrait (quality 90):
//
//	go test ./imaging -run '^$' -bench Faces -benchtime 20x
//
// Detect is the search alone, once per source (a fresh Source each
// time); Variant/* make a 120x120 JPEG: centre crop, fit=facearea on a
// source whose faces were found (what every variant after the first
// costs) and on a fresh source (the first variant of an original).
func BenchmarkFaces(b *testing.B) {
	cfg := imaging.DefaultConfig()
	src := testimages.JPEG(render(b, portrait(b), "w=2048&h=2048&fit=scale"))
	b.Run("Detect", func(b *testing.B) {
		for b.Loop() {
			s := inspect(b, src)
			if _, err := s.Faces(context.Background(), 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	variant := func(q string, fresh bool) func(*testing.B) {
		return func(b *testing.B) {
			vals, _ := url.ParseQuery(q)
			o, err := transform.Parse(vals, cfg.Limits)
			if err != nil {
				b.Fatal(err)
			}
			s := inspect(b, src)
			for b.Loop() {
				if fresh {
					s = inspect(b, src)
				}
				if _, err := imaging.Process(s, o, transform.JPEG, cfg); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("Variant/centre-crop", variant("w=120&h=120&fit=crop", false))
	b.Run("Variant/facearea-faces-kept", variant("w=120&h=120&fit=facearea", false))
	b.Run("Variant/facearea-first", variant("w=120&h=120&fit=facearea", true))
}
