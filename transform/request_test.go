package transform

import (
	"net/url"
	"testing"
)

func TestReadRequestReadsEachQueryOnce(t *testing.T) {
	t.Run("a URL no rewrite changed is one query, read once", func(t *testing.T) {
		u, _ := url.Parse("/a%21b.jpg?w=400&v=2&s=k1.sig")
		before := QueryReads()
		req := ReadRequest(u, u)
		if n := QueryReads() - before; n != 1 {
			t.Errorf("%d query reads, want 1", n)
		}
		if req.Path != "/a%21b.jpg" || req.RawQuery != "w=400&v=2&s=k1.sig" {
			t.Errorf("signature inputs %q %q, want the URL as spelt", req.Path, req.RawQuery)
		}
		if !req.Image || req.Query.Get("w") != "400" || req.Signed.Get("s") != "k1.sig" {
			t.Errorf("read %+v", req)
		}
		if got := req.SourceQuery(); got != "v=2" {
			t.Errorf("source query %q, want v=2 (image parameters and s removed)", got)
		}
	})
	t.Run("a rewritten URL keeps the client's query for the signature", func(t *testing.T) {
		client, _ := url.Parse("/cdn-cgi/image/width=300/p.jpg?s=k1.sig")
		route, _ := url.Parse("/p.jpg?s=k1.sig&w=300")
		req := ReadRequest(client, route)
		if req.Path != "/cdn-cgi/image/width=300/p.jpg" || req.Signed.Get("w") != "" || req.Query.Get("w") != "300" {
			t.Errorf("read %+v", req)
		}
	})
	t.Run("what the parser drops is kept as an error and a parameter to refuse", func(t *testing.T) {
		u, _ := url.Parse("/p.jpg?trim=1;2;3;4&w=10")
		req := ReadRequest(u, u)
		if req.Unreadable == nil || req.Semicolon != "trim" {
			t.Errorf("Unreadable %v, Semicolon %q; want an error and trim", req.Unreadable, req.Semicolon)
		}
	})
	t.Run("a query without image parameters is no image work", func(t *testing.T) {
		u, _ := url.Parse("/api?id=7&sort=new")
		if ReadRequest(u, u).Image {
			t.Error("?id=7&sort=new read as image work")
		}
	})
}

func TestWithHintsLeavesTheRequestAlone(t *testing.T) {
	u, _ := url.Parse("/p.jpg?ch=Width&h=100")
	req := ReadRequest(u, u)
	hinted := req.WithHints(func(h string) string {
		if h == "Sec-CH-Width" {
			return "640"
		}
		return ""
	}, DefaultLimits)
	if req.Query.Get("w") != "" || len(req.Hints) != 0 {
		t.Errorf("the request read was changed: %v %v", req.Query, req.Hints)
	}
	if hinted.Query.Get("w") != "640" || len(hinted.Hints) == 0 {
		t.Errorf("w=%q from Sec-CH-Width: 640, hints %v; want w=640 and the hints named for Vary", hinted.Query.Get("w"), hinted.Hints)
	}
}
