package balancer

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
		u, err := PeerURL(peer, req.URL)
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

func TestPeerAuthentication(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	signedReq := func() *http.Request {
		r, _ := http.NewRequest("GET", "http://10.0.0.2:8080/p.jpg?w=100", nil)
		r.Host = "img.example.com"
		SignPeerRequest(r, secret, now)
		// As the receiving server sees it.
		in, _ := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /p.jpg?w=100 HTTP/1.1\r\nHost: img.example.com\r\n" +
			PeerAuthHeader + ": " + r.Header.Get(PeerAuthHeader) + "\r\n\r\n")))
		return in
	}
	if !PeerAuthenticated(signedReq(), secret, now.Add(time.Second)) {
		t.Fatal("a peer's request is not authenticated")
	}
	tests := map[string]func(r *http.Request) ([]byte, time.Time){
		"another secret":          func(r *http.Request) ([]byte, time.Time) { return []byte("another-secret-another-secret-xx"), now },
		"no secret configured":    func(r *http.Request) ([]byte, time.Time) { return nil, now },
		"too old":                 func(r *http.Request) ([]byte, time.Time) { return secret, now.Add(2 * time.Minute) },
		"another path":            func(r *http.Request) ([]byte, time.Time) { r.URL.Path = "/q.jpg"; return secret, now },
		"another query":           func(r *http.Request) ([]byte, time.Time) { r.URL.RawQuery = "w=2000"; return secret, now },
		"another host":            func(r *http.Request) ([]byte, time.Time) { r.Host = "other.example.com"; return secret, now },
		"no header":               func(r *http.Request) ([]byte, time.Time) { r.Header.Del(PeerAuthHeader); return secret, now },
		"a header without a time": func(r *http.Request) ([]byte, time.Time) { r.Header.Set(PeerAuthHeader, "sig=abc"); return secret, now },
	}
	for name, change := range tests {
		r := signedReq()
		s, at := change(r)
		if PeerAuthenticated(r, s, at) {
			t.Errorf("%s: authenticated", name)
		}
	}
}

func TestForwardPassesEndToEndHeadersOnly(t *testing.T) {
	var got http.Header
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Connection", "X-Peer-Private")
		w.Header().Set("X-Peer-Private", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Content-Type", "image/webp")
		w.Write([]byte("webp bytes"))
	}))
	defer peer.Close()
	in, _ := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /p.jpg?w=100 HTTP/1.1\r\nHost: img.example.com\r\n" +
		"Connection: X-Client-Private\r\nX-Client-Private: 1\r\nAccept: image/webp\r\n\r\n")))
	in.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	if err := Forward(t.Context(), Peer{URL: peer.URL}, in, []byte("0123456789abcdef0123456789abcdef"), "node-a", rec); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-Client-Private") != "" || got.Get("Accept") != "image/webp" || got.Get(PeerAuthHeader) == "" || got.Get("X-Forwarded-For") != "192.0.2.1" {
		t.Errorf("the peer got %v", got)
	}
	h := rec.Header()
	if h.Get("X-Peer-Private") != "" || h.Get("Keep-Alive") != "" || h.Get("Connection") != "" {
		t.Errorf("hop-by-hop headers of the peer's answer reached the client: %v", h)
	}
	if h.Get("Imgedge-Forwarded-By") != "node-a" || rec.Body.String() != "webp bytes" {
		t.Errorf("answer %v %q", h, rec.Body.String())
	}
}

func TestAPeers5xxWritesNothingAndKeepsTheConnection(t *testing.T) {
	conns := 0
	peer := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, strings.Repeat("busy ", 1000))
	}))
	peer.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns++
		}
	}
	peer.Start()
	defer peer.Close()
	for range 3 {
		in, _ := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /p.jpg?w=100 HTTP/1.1\r\nHost: img.example.com\r\n\r\n")))
		rec := httptest.NewRecorder()
		err := Forward(t.Context(), Peer{URL: peer.URL}, in, nil, "node-a", rec)
		if !errors.Is(err, ErrPeerFailed) || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
			t.Fatalf("err %v, wrote %d bytes and %v", err, rec.Body.Len(), rec.Header())
		}
	}
	time.Sleep(10 * time.Millisecond)
	if conns != 1 {
		t.Errorf("three forwards that got a 5xx opened %d connections, want 1 (drained and reused)", conns)
	}
}
