package imgedge

import (
	"bufio"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/tenant"
)

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
		if req.URL.Opaque != "" || !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || slices.Contains(strings.Split(p, "/"), ".") || slices.Contains(strings.Split(p, "/"), "..") {
			t.Fatalf("accepted target %q with path %q", target, p)
		}
		// An absolute-form target's host is the request's host (Go takes
		// it over the Host header, and Caddy routes on it).
		if req.URL.Host != "" && !tenant.SameHost(req.URL.Host, req.Host) {
			t.Fatalf("accepted target %q for host %q", target, req.Host)
		}
		if strings.Contains(strings.ToLower(req.URL.EscapedPath()), "%2f") || strings.ContainsAny(p, "\x00\r\n") {
			t.Fatalf("accepted target %q with path %q", target, p)
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
		"/p%2Ejpg":                            true, // another spelling, so another signature and key
		"/a%2fb.jpg":                          false,
		"/a/%2E%2E/secret.jpg":                false,
		"/a%00b.jpg":                          false,
		"/photo(1)!.jpg":                      true,
		"/photo%281%29%21.jpg":                true,
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
