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

func TestForwardPassesEndToEndHeadersOnly(t *testing.T) {
	var got http.Header
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Connection", "X-Peer-Private")
		w.Header().Set("X-Peer-Private", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Content-Type", "image/webp")
		w.Header().Set(VariantHeader, "set by an origin")
		w.Header().Set(AnswerHeader, "set by an origin")
		w.Write([]byte("webp bytes"))
	}))
	defer peer.Close()
	in, _ := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /p.jpg?w=100 HTTP/1.1\r\nHost: img.example.com\r\n" +
		"Connection: X-Client-Private\r\nX-Client-Private: 1\r\nAccept: image/webp\r\n\r\n")))
	in.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	p := NewPeering(PeeringConfig{Secret: []byte("0123456789abcdef0123456789abcdef"), Self: "node-a"})
	if err := p.Forward(t.Context(), Peer{ID: "node-b", URL: peer.URL}, in, Hops{HopForward}, "node-a", time.Second, nil, rec); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-Client-Private") != "" || got.Get("Accept") != "image/webp" || got.Get(PeerAuthHeader) == "" ||
		got.Get(HopHeader) != "forward" || got.Get("X-Forwarded-For") != "192.0.2.1" {
		t.Errorf("the peer got %v", got)
	}
	h := rec.Header()
	if h.Get("X-Peer-Private") != "" || h.Get("Keep-Alive") != "" || h.Get("Connection") != "" ||
		h.Get(VariantHeader) != "" || h.Get(AnswerHeader) != "" {
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
	p := NewPeering(PeeringConfig{})
	for range 3 {
		in, _ := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /p.jpg?w=100 HTTP/1.1\r\nHost: img.example.com\r\n\r\n")))
		rec := httptest.NewRecorder()
		err := p.Forward(t.Context(), Peer{URL: peer.URL}, in, Hops{HopForward}, "node-a", time.Second, nil, rec)
		if !errors.Is(err, ErrPeerFailed) || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
			t.Fatalf("err %v, wrote %d bytes and %v", err, rec.Body.Len(), rec.Header())
		}
	}
	time.Sleep(10 * time.Millisecond)
	if conns != 1 {
		t.Errorf("three forwards that got a 5xx opened %d connections, want 1 (drained and reused)", conns)
	}
}

func TestAForwardWaitsAsLongAsThePeerThatTookItSays(t *testing.T) {
	const within = 200 * time.Millisecond
	for _, c := range []struct {
		name   string
		accept time.Duration // the bound the peer's 102 states; 0: no 102
		wantOK bool
	}{
		{"a peer that took the request and answers after the wait for a first answer", 2 * time.Second, true},
		{"a peer that says nothing for longer than the wait for a first answer", 0, false},
		{"a peer that takes longer than it said", 300 * time.Millisecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.accept > 0 {
					Accepted(w, c.accept)
				}
				select {
				case <-time.After(3 * within):
				case <-r.Context().Done():
					return
				}
				if w.Header().Get(WorkBoundHeader) != "" {
					t.Error("the work bound stays on the final answer")
				}
				w.Write([]byte("done"))
			}))
			defer peer.Close()
			in := httptest.NewRequest("GET", "/p.jpg?w=100", nil)
			rec := httptest.NewRecorder()
			accepted := 0
			err := NewPeering(PeeringConfig{}).Forward(t.Context(), Peer{URL: peer.URL}, in, Hops{HopForward}, "node-a", within, func(time.Duration) { accepted++ }, rec)
			if ok := err == nil && rec.Body.String() == "done"; ok != c.wantOK {
				t.Errorf("err %v, body %q; want answered %v", err, rec.Body.String(), c.wantOK)
			}
			if want := min(1, int(c.accept)); accepted != want {
				t.Errorf("the peer's 102 was relayed %d times, want %d", accepted, want)
			}
		})
	}
}

func TestAWorkBoundPastTheCapIsCapped(t *testing.T) {
	for _, bound := range []string{"Inf", "1e300", "-5", "NaN", "x"} {
		t.Run(bound, func(t *testing.T) {
			peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(WorkBoundHeader, bound)
				w.WriteHeader(http.StatusProcessing)
				w.Header().Del(WorkBoundHeader)
				time.Sleep(100 * time.Millisecond)
				w.Write([]byte("done"))
			}))
			defer peer.Close()
			in := httptest.NewRequest("GET", "/p.jpg", nil)
			rec := httptest.NewRecorder()
			// A bound that is no bound leaves the first deadline; a huge
			// one is capped, never negative.
			err := NewPeering(PeeringConfig{}).Forward(t.Context(), Peer{URL: peer.URL}, in, Hops{HopForward}, "a", time.Second, nil, rec)
			if err != nil || rec.Body.String() != "done" {
				t.Errorf("err %v, body %q", err, rec.Body.String())
			}
		})
	}
}

func TestFieldsTheConnectionHeaderNamesAreDropped(t *testing.T) {
	h := http.Header{}
	h.Set("Connection", "Sec-CH-Width, keep-alive, DPR")
	h.Set("Sec-CH-Width", "100")
	h.Set("DPR", "2")
	h.Set("Accept", "image/avif")
	DropConnectionFields(h)
	if h.Get("Sec-CH-Width") != "" || h.Get("DPR") != "" || h.Get("Accept") != "image/avif" {
		t.Errorf("after: %v", h)
	}
}

func TestALoopDetectedIsThePeersAnswerNotItsFailure(t *testing.T) {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusLoopDetected)
	}))
	defer peer.Close()
	rec := httptest.NewRecorder()
	err := NewPeering(PeeringConfig{}).Forward(t.Context(), Peer{URL: peer.URL}, httptest.NewRequest("GET", "/p.jpg", nil), Hops{HopForward}, "a", time.Second, nil, rec)
	if err != nil || rec.Code != http.StatusLoopDetected {
		t.Errorf("err %v, status %d; want the 508 relayed", err, rec.Code)
	}
}

func TestAPeerThatDiesInTheMiddleOfItsAnswerIsAFailedForwardNotACutAnswer(t *testing.T) {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/webp")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("only the start"))
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // the connection dropped, as by a kill
	}))
	defer peer.Close()
	rec := httptest.NewRecorder()
	err := NewPeering(PeeringConfig{}).Forward(t.Context(), Peer{URL: peer.URL}, httptest.NewRequest("GET", "/p.jpg", nil), Hops{HopForward}, "a", time.Second, nil, rec)
	if !errors.Is(err, ErrPeerFailed) || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Errorf("err %v, wrote %d bytes and %v: want a failed forward, nothing written", err, rec.Body.Len(), rec.Header())
	}
}
