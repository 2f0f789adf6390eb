package imgedge

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzPeerURL: whatever a client writes as its request target, a
// forwarded request goes to the peer's host and nowhere else.
func FuzzPeerURL(f *testing.F) {
	for _, target := range []string{
		"/p.jpg?w=100", "http:@127.0.0.1:9999/secret?w=100", "@evil:80/x", "//evil/x", "http://user@evil/x",
		"/a%2Fb.jpg", "/%40evil/x", "*", "/p.jpg?next=http://evil/", "http:%2F%2Fevil/x",
	} {
		f.Add(target)
	}
	const peer = "http://10.1.2.3:8080"
	f.Fuzz(func(t *testing.T, target string) {
		// Parse the target as the server does, from a request line.
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: img.example.com\r\n\r\n")))
		if err != nil {
			return
		}
		u, err := peerURL(peer, req.URL)
		if err != nil {
			return
		}
		got := u.String()
		if u.Scheme != "http" || u.Host != "10.1.2.3:8080" || u.User != nil || u.Opaque != "" {
			t.Fatalf("target %q is forwarded to %q: scheme %q host %q user %v", target, got, u.Scheme, u.Host, u.User)
		}
		if u.RequestURI() != req.URL.RequestURI() {
			t.Fatalf("target %q is forwarded as %q, want %q", target, u.RequestURI(), req.URL.RequestURI())
		}
	})
}

// FuzzCheckTarget: a target checkTarget lets through is a plain path on
// the site's host, spelt in its one canonical form.
func FuzzCheckTarget(f *testing.F) {
	for _, target := range []string{
		"/p.jpg?w=100", "http:@127.0.0.1:9999/secret", "/a/../b.jpg", "/a//b.jpg", "/a%2Fb.jpg", "/a%2Ejpg",
		"http://IMG.example.com/p.jpg", "http://other.example/p.jpg", "/caf%C3%A9.jpg", "/./p.jpg",
	} {
		f.Add(target)
	}
	f.Fuzz(func(t *testing.T, target string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: img.example.com\r\n\r\n")))
		if err != nil || checkTarget(req) != nil {
			return
		}
		p := req.URL.Path
		if req.URL.Opaque != "" || !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || hasDotSegment(p) {
			t.Fatalf("accepted target %q with path %q", target, p)
		}
		// An absolute-form target's host is the request's host (Go takes
		// it over the Host header, and Caddy routes on it).
		if req.URL.Host != "" && !sameHost(req.URL.Host, req.Host) {
			t.Fatalf("accepted target %q for host %q", target, req.Host)
		}
		if esc := req.URL.EscapedPath(); esc != (&url.URL{Path: p}).EscapedPath() {
			t.Fatalf("accepted target %q spelt %q, not canonically", target, esc)
		}
	})
}

func TestCheckTarget(t *testing.T) {
	for target, ok := range map[string]bool{
		"/photos/cat.jpg?w=100":               true,
		"/caf%C3%A9.jpg":                      true,
		"/with%20space.jpg":                   true,
		"http://IMG.Example.com./p.jpg?w=300": true, // absolute form, same host spelt otherwise
		"http:@127.0.0.1:9999/secret?w=100":   false,
		"http://other.example/p.jpg":          false,
		"/a/../secret.jpg":                    false,
		"/a//b.jpg":                           false,
		"/a%2Fb.jpg":                          false,
		"/p%2Ejpg":                            false,
		"/./p.jpg":                            false,
	} {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: img.example.com\r\n\r\n")))
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		// Go takes the host of an absolute-form target over the Host
		// header; Caddy routes on it. Put the header back for the check.
		if strings.HasPrefix(target, "http://") {
			req.Host = "img.example.com"
		}
		if err := checkTarget(req); (err == nil) != ok {
			t.Errorf("checkTarget(%q) = %v, want ok=%v", target, err, ok)
		}
	}
}

func TestPeerAuthentication(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	signedReq := func() *http.Request {
		r, _ := http.NewRequest("GET", "http://10.0.0.2:8080/p.jpg?w=100", nil)
		r.Host = "img.example.com"
		signPeerRequest(r, secret, now)
		// As the receiving server sees it.
		in, _ := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /p.jpg?w=100 HTTP/1.1\r\nHost: img.example.com\r\n" +
			peerAuthHeader + ": " + r.Header.Get(peerAuthHeader) + "\r\n\r\n")))
		return in
	}
	if !peerAuthenticated(signedReq(), secret, now.Add(time.Second)) {
		t.Fatal("a peer's request is not authenticated")
	}
	tests := map[string]func(r *http.Request) ([]byte, time.Time){
		"another secret":          func(r *http.Request) ([]byte, time.Time) { return []byte("another-secret-another-secret-xx"), now },
		"no secret configured":    func(r *http.Request) ([]byte, time.Time) { return nil, now },
		"too old":                 func(r *http.Request) ([]byte, time.Time) { return secret, now.Add(2 * time.Minute) },
		"another path":            func(r *http.Request) ([]byte, time.Time) { r.URL.Path = "/q.jpg"; return secret, now },
		"another query":           func(r *http.Request) ([]byte, time.Time) { r.URL.RawQuery = "w=2000"; return secret, now },
		"another host":            func(r *http.Request) ([]byte, time.Time) { r.Host = "other.example.com"; return secret, now },
		"no header":               func(r *http.Request) ([]byte, time.Time) { r.Header.Del(peerAuthHeader); return secret, now },
		"a header without a time": func(r *http.Request) ([]byte, time.Time) { r.Header.Set(peerAuthHeader, "sig=abc"); return secret, now },
	}
	for name, change := range tests {
		r := signedReq()
		s, at := change(r)
		if peerAuthenticated(r, s, at) {
			t.Errorf("%s: authenticated", name)
		}
	}
}
