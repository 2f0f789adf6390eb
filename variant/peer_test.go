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

// peers are two nodes' engines over one origin: the owner has made the
// variant query asks for (with accept, for f=auto); here has not.
type peers struct {
	o     *origin
	here  *Engine
	made  *Result
	query string
}

func newPeers(t *testing.T, cacheControl, query string) *peers {
	t.Helper()
	p := &peers{o: newOrigin(cacheControl), here: newEngine(t, true, 1), query: query}
	made, err := newEngine(t, true, 1).Get(context.Background(), p.request())
	if err != nil {
		t.Fatal(err)
	}
	made.Release()
	p.made = made
	return p
}

func (p *peers) request() *Request {
	req := request(p.o, p.query)
	req.Accept = "image/webp,*/*"
	return req
}

// keep offers the owner's answer to here, asked for when the cache had
// seen purges purges, and tells whether it was kept.
func (p *peers) keep(purges uint64) bool {
	req, header := p.request(), p.made.Entry.Header.Clone()
	return p.here.WantHot(req, header, p.made.Variant, purges) &&
		p.here.KeepHot(req, p.made.Entry.Body, header, p.made.Variant, purges)
}

func (p *peers) purges() uint64 { return p.here.Store.Cache.Purges() }

// An owner's variant, made by another engine (another node), is kept here
// once it is hot, answered from here after, and purged with its source.
func TestAHotVariantOfAPeerIsKeptAndPurgedLikeOurOwn(t *testing.T) {
	p := newPeers(t, "", "w=200")
	if _, ok := p.here.Cached(p.request()); ok {
		t.Fatal("a variant made elsewhere is cached here before any copy")
	}
	kept := 0
	for range 3 {
		if p.keep(p.purges()) {
			kept++
		}
	}
	if kept != 1 {
		t.Fatalf("kept %d copies over three asks, want one, at the third", kept)
	}
	res, ok := p.here.Cached(p.request())
	if !ok || !res.Hot || res.CacheStatus != "hit" || string(res.Entry.Body) != string(p.made.Entry.Body) ||
		res.Entry.Header.Get("ETag") != p.made.Entry.Header.Get("ETag") || res.Entry.Width != 200 {
		t.Fatalf("after keeping it: ok %v %+v", ok, res)
	}
	if p.o.fetches.Load() != 1 {
		t.Errorf("%d origin fetches, want the owner's one", p.o.fetches.Load())
	}
	if n := p.here.Store.Cache.Purge(SourceTag("img.example.com", "/p.jpg")); n == 0 {
		t.Fatal("purging the source dropped nothing here")
	}
	if _, ok := p.here.Cached(p.request()); ok {
		t.Error("the hot copy survived a purge of its source")
	}
}

func TestAPrivateAnswerOfAPeerIsNeverKept(t *testing.T) {
	p := newPeers(t, "private, max-age=60", "w=200")
	for range 5 {
		if p.keep(p.purges()) {
			t.Fatal("kept a copy of an answer marked private")
		}
	}
}

func TestANegotiatedVariantOfAPeerIsKeptToo(t *testing.T) {
	p := newPeers(t, "", "w=200&f=auto")
	if p.made.Entry.Header.Get("Vary") != "Accept" || !p.made.Variant.Negotiated {
		t.Fatalf("the owner's answer: Vary %q, negotiated %v", p.made.Entry.Header.Get("Vary"), p.made.Variant.Negotiated)
	}
	kept := false
	for range 3 {
		kept = p.keep(p.purges()) || kept
	}
	if res, ok := p.here.Cached(p.request()); !kept || !ok || !res.Hot {
		t.Errorf("a hot f=auto variant: kept %v, then cached %v", kept, ok)
	}
}

func TestAPeersAnswerFromBeforeAPurgeIsNotKept(t *testing.T) {
	p := newPeers(t, "", "w=200")
	for range 2 {
		p.keep(p.purges())
	}
	asked := p.purges() // the third ask begins
	p.here.Store.Cache.Purge(SourceTag("img.example.com", "/p.jpg"))
	if p.keep(asked) {
		t.Error("kept a copy asked for before a purge that ran while it was on its way")
	}
}
