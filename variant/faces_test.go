package variant

import (
	"context"
	"testing"

	"github.com/imgedge/imgedge/imaging"
)

// A source's faces are found once and kept with the original in the
// originals cache: a second variant that needs them uses the same
// inspected source, its faces already found, without fetching again.
func TestFacesAreKeptWithTheOriginal(t *testing.T) {
	o := newOrigin("public, max-age=60")
	e := newEngine(t, true, 2)
	kept := func(req *Request) *imaging.Source {
		c, ok := e.Store.Cache.GetOriginal(originalKey(req.Site, req.Source))
		if !ok {
			t.Fatal("the original was not kept")
		}
		p, ok := c.Parsed.(inspected)
		if !ok {
			t.Fatal("the kept original was not inspected")
		}
		return p.original.src
	}
	first := request(o, "w=100&h=100&fit=facearea")
	res, err := e.Get(context.Background(), first)
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	src := kept(first)
	if !src.FacesFound() {
		t.Fatal("the kept original's faces were not kept")
	}
	second := request(o, "w=200&h=100&fit=crop&crop=faces")
	if res, err = e.Get(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	res.Release()
	if kept(second) != src || o.fetches.Load() != 1 {
		t.Fatalf("the second variant used another source (%d fetches)", o.fetches.Load())
	}
}
