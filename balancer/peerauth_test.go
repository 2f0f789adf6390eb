package balancer

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// testPeering is a node's peering with its own nonce record and clock.
func testPeering(secret []byte, self string, now *time.Time) *Peering {
	p := NewPeering(PeeringConfig{Secret: secret, Self: self})
	p.nonces = newNonceSet(2*peerAuthSkew, 1000)
	p.now = func() time.Time { return *now }
	return p
}

// onTheWire is a request node-a signs for node-b as the hop chain hops,
// as node-b's server reads it.
func onTheWire(t *testing.T, from *Peering, hops Hops, header string) *http.Request {
	t.Helper()
	in, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /p.jpg?w=100 HTTP/1.1\r\nHost: img.example.com\r\n" + header + "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	req, err := peerRequest(t.Context(), Peer{ID: "node-b", URL: "http://10.0.0.2:8080"}, in)
	if err != nil {
		t.Fatal(err)
	}
	from.sign(req, "node-b", hops)
	var raw strings.Builder
	if err := req.Write(&raw); err != nil {
		t.Fatal(err)
	}
	got, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw.String())))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAPeerProofIsAcceptedOnceByTheNodeItNames(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, b := testPeering(testSecret, "node-a", &now), testPeering(testSecret, "node-b", &now)
	r := onTheWire(t, a, Hops{HopOwner}, "Accept: image/avif\r\n")
	hops, _, err := b.Verify(r)
	if err != nil || hops.String() != "owner" {
		t.Fatalf("node-b: hops %q, err %v; want owner", hops, err)
	}
	if _, _, err := b.Verify(r); !errors.Is(err, ErrProofReplayed) {
		t.Errorf("the same proof a second time: err %v, want ErrProofReplayed", err)
	}
	c := testPeering(testSecret, "node-c", &now)
	if _, _, err := c.Verify(onTheWire(t, a, Hops{HopOwner}, "")); !errors.Is(err, ErrProofInvalid) {
		t.Errorf("a proof for node-b at node-c: err %v, want ErrProofInvalid", err)
	}
}

func TestAPeerProofCoversWhatChangesTheAnswer(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := map[string]func(r *http.Request){
		"another path":        func(r *http.Request) { r.URL.Path = "/q.jpg" },
		"another query":       func(r *http.Request) { r.URL.RawQuery = "w=2000" },
		"another host":        func(r *http.Request) { r.Host = "other.example.com" },
		"another method":      func(r *http.Request) { r.Method = "POST" },
		"another Accept":      func(r *http.Request) { r.Header.Set("Accept", "image/jpeg") },
		"a client hint added": func(r *http.Request) { r.Header.Set("Sec-CH-DPR", "3") },
		"Save-Data added":     func(r *http.Request) { r.Header.Set("Save-Data", "on") },
		"a conditional added": func(r *http.Request) { r.Header.Set("If-None-Match", `"x"`) },
		"a cookie added":      func(r *http.Request) { r.Header.Set("Cookie", "session=admin") },
		"other credentials":   func(r *http.Request) { r.Header.Set("Authorization", "Basic eDp5") },
		"another hop chain":   func(r *http.Request) { r.Header.Set(HopHeader, "shield") },
		"a longer hop chain":  func(r *http.Request) { r.Header.Set(HopHeader, "forward,owner") },
		"another time": func(r *http.Request) {
			r.Header.Set(PeerAuthHeader, strings.Replace(r.Header.Get(PeerAuthHeader), "t=1800000000", "t=1800000001", 1))
		},
		"another nonce": func(r *http.Request) {
			v := r.Header.Get(PeerAuthHeader)
			i := strings.Index(v, "n=") + 2
			c := byte('A')
			if v[i] == 'A' {
				c = 'B'
			}
			r.Header.Set(PeerAuthHeader, v[:i]+string(c)+v[i+1:])
		},
		"no proof nonce": func(r *http.Request) {
			r.Header.Set(PeerAuthHeader, strings.Split(r.Header.Get(PeerAuthHeader), ", n=")[0]+", sig=x")
		},
		"a proof without time": func(r *http.Request) { r.Header.Set(PeerAuthHeader, "sig=abc") },
		"an unknown hop kind":  func(r *http.Request) { r.Header.Set(HopHeader, "owner,elsewhere") },
		"no hop header":        func(r *http.Request) { r.Header.Del(HopHeader) },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			a, b := testPeering(testSecret, "node-a", &now), testPeering(testSecret, "node-b", &now)
			r := onTheWire(t, a, Hops{HopOwner}, "Accept: image/avif\r\nAuthorization: Basic YTpi\r\n")
			change(r)
			if hops, _, err := b.Verify(r); !errors.Is(err, ErrProofInvalid) || hops != nil {
				t.Errorf("hops %q, err %v: want ErrProofInvalid and no hops", hops, err)
			}
		})
	}
}

func TestAPeerProofOutsideTheSkewOrUnderAnotherSecretIsRefused(t *testing.T) {
	signedAt := time.Unix(1_800_000_000, 0)
	now := signedAt
	a := testPeering(testSecret, "node-a", &signedAt)
	for _, c := range []struct {
		name   string
		secret []byte
		at     time.Time
		want   error
	}{
		{"too old", testSecret, signedAt.Add(61 * time.Second), ErrProofExpired},
		{"from the future", testSecret, signedAt.Add(-61 * time.Second), ErrProofExpired},
		{"another secret", []byte("another-secret-another-secret-xx"), signedAt, ErrProofInvalid},
		{"no secret configured", nil, signedAt, ErrProofInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			now = c.at
			b := testPeering(c.secret, "node-b", &now)
			if _, _, err := b.Verify(onTheWire(t, a, Hops{HopShield}, "")); !errors.Is(err, c.want) {
				t.Errorf("err %v, want %v", err, c.want)
			}
		})
	}
	now = signedAt.Add(59 * time.Second)
	if _, _, err := testPeering(testSecret, "node-b", &now).Verify(onTheWire(t, a, Hops{HopShield}, "")); err != nil {
		t.Errorf("59 s late: %v, want accepted", err)
	}
}

func TestAClientsHopHeaderWithoutAProofIsNoHop(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	in, _ := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /p.jpg HTTP/1.1\r\nHost: x\r\n" + HopHeader + ": shield\r\nCDN-Loop: imgedge; hop=shield\r\n\r\n")))
	hops, _, err := testPeering(testSecret, "node-b", &now).Verify(in)
	if hops != nil || err != nil {
		t.Errorf("hops %q, err %v: want a client's request", hops, err)
	}
	StripPeerHeaders(in.Header)
	if in.Header.Get(HopHeader) != "" {
		t.Error("the client's hop header was kept")
	}
}

func TestAReplayedProofIsRefusedUntilItsWindowHasPassed(t *testing.T) {
	s := newNonceSet(2*peerAuthSkew, 1000)
	t0 := time.Unix(1_800_000_000, 0)
	n := Nonce{1}
	if s.use(n, t0) != nonceFresh {
		t.Fatal("a new nonce is not fresh")
	}
	// A proof is good for 60 s either side of its time: 120 s at most
	// from its first use to its last.
	for _, d := range []time.Duration{time.Second, 119 * time.Second, 121 * time.Second, 239 * time.Second} {
		if got := s.use(n, t0.Add(d)); got != nonceReplayed {
			t.Errorf("%v after its first use: %d, want replayed", d, got)
		}
		s.use(Nonce{byte(d / time.Second), 2}, t0.Add(d)) // other traffic turning the generations
	}
	if got := s.use(Nonce{9}, t0.Add(241*time.Second)); got != nonceFresh {
		t.Errorf("another nonce: %d, want fresh", got)
	}
}

func TestTheNonceRecordIsBounded(t *testing.T) {
	s := newNonceSet(time.Minute, 3)
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 3 {
		if s.use(Nonce{byte(i)}, t0) != nonceFresh {
			t.Fatal("refused within the bound")
		}
	}
	if s.use(Nonce{99}, t0) != nonceFull {
		t.Error("a fourth nonce in one window was remembered past the bound")
	}
	if s.use(Nonce{99}, t0.Add(time.Minute)) != nonceFresh {
		t.Error("the next window does not take new nonces")
	}
}

func TestHopsNeverForwardTwiceNorGrowPastTheLimit(t *testing.T) {
	for _, c := range []struct {
		hops Hops
		kind string
		ok   bool
	}{
		{nil, HopForward, true},
		{nil, HopOwner, true},
		{Hops{HopOwner}, HopForward, true},
		{Hops{HopForward}, HopForward, false},
		{Hops{HopOwner, HopForward, HopOwner}, HopForward, false},
		{Hops{HopOwner, HopForward, HopOwner}, HopShield, true},
		{Hops{HopOwner, HopForward, HopOwner, HopShield}, HopShield, false},
		{Hops{HopOwner, HopOwner, HopOwner, HopOwner}, HopOwner, false},
	} {
		next, ok := c.hops.Then(c.kind)
		if ok != c.ok || (ok && (len(next) != len(c.hops)+1 || next.Last() != c.kind)) {
			t.Errorf("%q then %s: %q, %v; want ok %v", c.hops, c.kind, next, ok, c.ok)
		}
	}
	if _, ok := parseHops("owner,owner,owner,owner,owner"); ok {
		t.Error("a chain longer than MaxHops parses")
	}
}

func TestAnAnswerCountsAsAPeersOnlyWithItsMark(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, b := testPeering(testSecret, "node-a", &now), testPeering(testSecret, "node-b", &now)
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter, n Nonce)
		kind   string
		marked bool
		intact bool // the body, read whole, is what was marked
	}{
		{"marked by the owner", func(w http.ResponseWriter, n Nonce) { markAs(b, w, n, HopOwner, "v1") }, HopOwner, true, true},
		{"marked for another kind of hop", func(w http.ResponseWriter, n Nonce) { markAs(b, w, n, HopOwner, "") }, HopShield, false, false},
		{"marked under another secret", func(w http.ResponseWriter, n Nonce) {
			markAs(testPeering([]byte("another-secret-another-secret-xx"), "node-b", &now), w, n, HopOwner, "v1")
		}, HopOwner, false, false},
		{"a variant header an origin set", func(w http.ResponseWriter, _ Nonce) {
			w.Header().Set(VariantHeader, "v1")
			w.Write([]byte("pixels"))
		}, HopOwner, false, false},
		{"a body changed on the way", func(w http.ResponseWriter, n Nonce) {
			w.Header().Set("Content-Type", "image/jpeg")
			w.Header().Set("Content-Length", "6")
			b.MarkAnswer(w.Header(), http.StatusOK, n, HopOwner, "v1", []byte("pixels"))
			w.Write([]byte("PIXELS"))
		}, HopOwner, true, false},
		{"a longer Cache-Control set on the way", func(w http.ResponseWriter, n Nonce) {
			w.Header().Set("Content-Type", "image/jpeg")
			w.Header().Set("Cache-Control", "max-age=60")
			b.MarkAnswer(w.Header(), http.StatusOK, n, HopOwner, "v1", []byte("pixels"))
			w.Header().Set("Cache-Control", "max-age=31536000")
			w.Write([]byte("pixels"))
		}, HopOwner, false, false},
		{"a mark made for another request", func(w http.ResponseWriter, _ Nonce) {
			w.Header().Set("Content-Type", "image/jpeg")
			w.Header().Set("Content-Length", "6")
			b.MarkAnswer(w.Header(), 200, Nonce{7}, HopOwner, "v1", []byte("pixels"))
			w.Write([]byte("pixels"))
		}, HopOwner, false, false},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, n, err := b.Verify(r)
				if err != nil {
					t.Errorf("the owner refused the proof: %v", err)
				}
				c.answer(w, n)
			}))
			defer srv.Close()
			in := httptest.NewRequest("GET", "/p.jpg?w=100", nil)
			ans, err := a.Ask(t.Context(), Peer{ID: "node-b", URL: srv.URL}, in, Hops{c.kind}, time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer Discard(ans.Response)
			if ans.Marked != c.marked {
				t.Errorf("marked %v, want %v", ans.Marked, c.marked)
			}
			if c.marked && ans.Variant != "v1" {
				t.Errorf("variant %q, want v1", ans.Variant)
			}
			if !c.marked && ans.Variant != "" {
				t.Errorf("an unmarked answer gives variant %q", ans.Variant)
			}
			if ans.Header.Get(VariantHeader) != "" || ans.Header.Get(AnswerHeader) != "" {
				t.Errorf("the mark headers stay on the answer: %v", ans.Header)
			}
			body, _ := io.ReadAll(ans.Body)
			if ans.Intact(body) != c.intact {
				t.Errorf("the body read whole is intact: %v, want %v", ans.Intact(body), c.intact)
			}
		})
	}
}

// markAs answers a peer request with nonce n as a hop of kind.
func markAs(p *Peering, w http.ResponseWriter, n Nonce, kind, variant string) {
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", "6")
	p.MarkAnswer(w.Header(), http.StatusOK, n, kind, variant, []byte("pixels"))
	w.Write([]byte("pixels"))
}
