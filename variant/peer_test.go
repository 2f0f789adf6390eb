package variant

import (
	"context"
	"testing"

	"github.com/imgedge/imgedge/transform"
)

func TestVariantInfoSurvivesItsHeader(t *testing.T) {
	in := VariantInfo{Format: transform.WEBP, Negotiated: true, Width: 400, Height: 300,
		Source: transform.Source{Format: transform.PNG, HasAlpha: true}}
	out, ok := ParseVariantInfo(in.String())
	if !ok || out != in {
		t.Fatalf("%q read back as %+v (%v), want %+v", in.String(), out, ok, in)
	}
	for _, bad := range []string{"", "f=x", "f=999&src=1&w=1&h=1", "f=1&src=1&w=-1&h=1"} {
		if _, ok := ParseVariantInfo(bad); ok {
			t.Errorf("ParseVariantInfo(%q) accepted", bad)
		}
	}
}

// An owner's variant, made by another engine (another node), is kept here
// once it is hot, answered from here after, and purged with its source.
func TestAHotVariantOfAPeerIsKeptAndPurgedLikeOurOwn(t *testing.T) {
	o := newOrigin("")
	owner, here := newEngine(t, true, 1), newEngine(t, true, 1)
	made, err := owner.Get(context.Background(), request(o, "w=200"))
	if err != nil {
		t.Fatal(err)
	}
	made.Release()
	req := request(o, "w=200")
	if _, ok := here.Cached(req); ok {
		t.Fatal("a variant made elsewhere is cached here before any copy")
	}
	kept := 0
	for range 3 {
		if here.KeepHot(req, made.Entry.Body, made.Entry.Header.Clone(), made.Variant, here.Store.Cache.Purges()) {
			kept++
		}
	}
	if kept != 1 {
		t.Fatalf("kept %d copies over three asks, want one, at the third", kept)
	}
	res, ok := here.Cached(request(o, "w=200"))
	if !ok || !res.Hot || res.CacheStatus != "hit" || string(res.Entry.Body) != string(made.Entry.Body) ||
		res.Entry.Header.Get("ETag") != made.Entry.Header.Get("ETag") || res.Entry.Width != 200 {
		t.Fatalf("after keeping it: ok %v %+v", ok, res)
	}
	if o.fetches.Load() != 1 {
		t.Errorf("%d origin fetches, want the owner's one", o.fetches.Load())
	}
	if n := here.Store.Cache.Purge(SourceTag("img.example.com", "/p.jpg")); n == 0 {
		t.Fatal("purging the source dropped nothing here")
	}
	if _, ok := here.Cached(request(o, "w=200")); ok {
		t.Error("the hot copy survived a purge of its source")
	}
}

func TestAPrivateAnswerOfAPeerIsNeverKept(t *testing.T) {
	o := newOrigin("private, max-age=60")
	owner, here := newEngine(t, true, 1), newEngine(t, true, 1)
	made, err := owner.Get(context.Background(), request(o, "w=200"))
	if err != nil {
		t.Fatal(err)
	}
	made.Release()
	for range 5 {
		if here.KeepHot(request(o, "w=200"), made.Entry.Body, made.Entry.Header.Clone(), made.Variant, here.Store.Cache.Purges()) {
			t.Fatal("kept a copy of an answer marked private")
		}
	}
}

func TestANegotiatedVariantOfAPeerIsKeptToo(t *testing.T) {
	o := newOrigin("")
	owner, here := newEngine(t, true, 1), newEngine(t, true, 1)
	req := request(o, "w=200&f=auto")
	req.Accept = "image/webp,*/*"
	made, err := owner.Get(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	made.Release()
	if made.Entry.Header.Get("Vary") != "Accept" || !made.Variant.Negotiated {
		t.Fatalf("the owner's answer: Vary %q, negotiated %v", made.Entry.Header.Get("Vary"), made.Variant.Negotiated)
	}
	kept := false
	for range 3 {
		kept = here.KeepHot(req, made.Entry.Body, made.Entry.Header.Clone(), made.Variant, here.Store.Cache.Purges()) || kept
	}
	again := request(o, "w=200&f=auto")
	again.Accept = "image/webp,*/*"
	if res, ok := here.Cached(again); !kept || !ok || !res.Hot {
		t.Errorf("a hot f=auto variant: kept %v, then cached %v", kept, ok)
	}
}

func TestAPeersAnswerFromBeforeAPurgeIsNotKept(t *testing.T) {
	o := newOrigin("")
	owner, here := newEngine(t, true, 1), newEngine(t, true, 1)
	made, err := owner.Get(context.Background(), request(o, "w=200"))
	if err != nil {
		t.Fatal(err)
	}
	made.Release()
	for range 2 {
		here.KeepHot(request(o, "w=200"), made.Entry.Body, made.Entry.Header.Clone(), made.Variant, here.Store.Cache.Purges())
	}
	asked := here.Store.Cache.Purges() // the third ask begins
	here.Store.Cache.Purge(SourceTag("img.example.com", "/p.jpg"))
	if here.KeepHot(request(o, "w=200"), made.Entry.Body, made.Entry.Header.Clone(), made.Variant, asked) {
		t.Error("kept a copy asked for before a purge that ran while it was on its way")
	}
}
