package imgedge_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/imgedge/imgedge/internal/testenv"
)

// hopNode starts a node of zone that fetches its originals from origin
// (an http URL), with extra lines in its imgedge option.
func hopNode(t *testing.T, consul *testenv.Consul, zone, name, origin, advertise, extra string) *testenv.Caddy {
	t.Helper()
	return hopNodeWith(t, consul, zone, name, origin, advertise, extra, "image_resize")
}

// hopNodeWith is hopNode with the site's handlers before its
// reverse_proxy given (image_resize and what goes with it).
func hopNodeWith(t *testing.T, consul *testenv.Consul, zone, name, origin, advertise, extra, handlers string) *testenv.Caddy {
	t.Helper()
	if advertise == "" {
		advertise = "http://127.0.0.1:{{PORT}}"
	}
	if !strings.Contains(extra, "secret ") {
		extra += "\n\t\tsecret test-cluster-secret-0123456789abcdef"
	}
	return testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	imgedge {
		zone %s
		node %s
		consul %s
		advertise %s
		%s
	}
}
http://:{{PORT}} {
	bind 127.0.0.1
	%s
	reverse_proxy %s
}
`, zone, name, consul.Addr, advertise, extra, handlers, strings.TrimPrefix(origin, "http://")))
}

// Malformed CDN-Loop entries as an attacker sends them: an unterminated
// quoted string, and a quoted string whose last quote is escaped away.
var hostileLoops = []string{`x; p="`, `foo; a="\`}

func TestAClientsHeadersCannotPoisonAZonesCacheThroughItsShield(t *testing.T) {
	consul := testenv.StartConsul(t)
	origin := newVersionedOrigin(t) // 1600x1000 photos
	s1 := hopNode(t, consul, "s", "s1", origin.URL, "", "")
	a1 := hopNode(t, consul, "a", "a1", origin.URL, "", "shield s")
	a2 := hopNode(t, consul, "a", "a2", origin.URL, "", "shield s")
	zone := []*testenv.Caddy{a1, a2}
	for _, n := range zone {
		waitForZonePeers(t, n, "s", 1)
		waitForZonePeers(t, n, "a", 1)
	}

	attacks := []struct{ src, query, loop string }{
		{"/photo.jpg", "w=16&blur=30", hostileLoops[0]},
		{"/dark.jpg", "w=16&bri=-100", hostileLoops[1]},
		{"/both.jpg", "w=16&blur=30", hostileLoops[0] + ", " + hostileLoops[1]},
	}
	for _, at := range attacks {
		for _, hdr := range [][]string{{"CDN-Loop", at.loop}, {"CDN-Loop", at.loop, "Imgedge-Hop", "shield"}} {
			if a := get(t, a1.Base+at.src+"?"+at.query, hdr...); a.status != 200 || decode(t, a.body).width != 16 {
				t.Fatalf("the attack request %s?%s itself: %d: %s", at.src, at.query, a.status, a.body)
			}
		}
	}
	for _, at := range attacks {
		for i, n := range zone {
			for _, fm := range []string{"jpg", "webp", "png"} {
				a := get(t, fmt.Sprintf("%s%s?w=800&fm=%s", n.Base, at.src, fm))
				if a.status != 200 {
					t.Fatalf("a%d %s?w=800&fm=%s: %d %s", i+1, at.src, fm, a.status, a.body)
				}
				if d := decode(t, a.body); d.width != 800 || d.height != 500 {
					t.Errorf("a%d %s?w=800&fm=%s after CDN-Loop %q: %dx%d, want 800x500 (the shield answered a variant as the original)",
						i+1, at.src, fm, at.loop, d.width, d.height)
				}
			}
		}
	}
	if n := metric(t, s1, `imgedge_requests_total{outcome="shield"}`); n < float64(len(attacks)) {
		t.Errorf("the shield answered %v originals, want one per source at least", n)
	}
}

func TestAShieldAnswerWithoutAValidMarkIsNotTakenForTheOriginal(t *testing.T) {
	consul := testenv.StartConsul(t)
	origin := newVersionedOrigin(t)
	// The shield holds another secret: whatever it answers, its mark does
	// not verify (nor does the proof of the requests it is sent, so it
	// answers them as a client's, with the variant asked for).
	hopNode(t, consul, "s", "s1", origin.URL, "", "secret another-secret-0123456789abcdefghijkl")
	c1 := hopNode(t, consul, "c", "c1", origin.URL, "", "shield s")
	waitForZonePeers(t, c1, "s", 1)

	if a := get(t, c1.Base+"/p.jpg?w=16&blur=30"); a.status != 200 || decode(t, a.body).width != 16 {
		t.Fatalf("w=16: %d %s", a.status, a.body)
	}
	if a := get(t, c1.Base+"/p.jpg?w=800"); a.status != 200 || decode(t, a.body).width != 800 {
		t.Errorf("w=800 after w=16: %d, %d px wide; want 800", a.status, decode(t, a.body).width)
	}
	if n := metric(t, c1, `imgedge_shield_fetches_total{result="unmarked"}`); n < 1 {
		t.Errorf("imgedge_shield_fetches_total{result=\"unmarked\"} = %v, want the shield's answer refused", n)
	}
	if n := metric(t, c1, `imgedge_shield_fetches_total{result="ok"}`); n != 0 {
		t.Errorf("%v shield answers were taken for originals", n)
	}
	if n := origin.count("/p.jpg"); n < 2 {
		t.Errorf("the origin was asked %d times for /p.jpg: the node did not fall back to it", n)
	}
}

// wiretap is a proxy between nodes that keeps a copy of every request
// that passes it, as someone on the network between them could.
type wiretap struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newWiretap(t *testing.T, to string) *wiretap {
	target, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	w := &wiretap{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.seen = append(w.seen, r.Clone(r.Context()))
		w.mu.Unlock()
		proxy.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.Close)
	return w
}

// hop returns a copy of the first request seen that is a hop of kind.
func (w *wiretap) hop(t *testing.T, kind string) *http.Request {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.seen {
		if r.Header.Get("Imgedge-Hop") == kind {
			return r
		}
	}
	t.Fatalf("no %s hop passed the wiretap (of %d requests)", kind, len(w.seen))
	return nil
}

// replay sends a request seen on the wire again to base, changed by
// change.
func replay(t *testing.T, seen *http.Request, base string, change func(h http.Header)) answer {
	t.Helper()
	req, err := http.NewRequest(seen.Method, base+seen.URL.RequestURI(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = seen.Header.Clone()
	req.Host = seen.Host
	if change != nil {
		change(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, body}
}

func TestAHopSeenOnTheWireCannotBeReplayed(t *testing.T) {
	consul := testenv.StartConsul(t)
	origin := newVersionedOrigin(t)
	sPort := testenv.FreePort(t)
	tap := newWiretap(t, fmt.Sprintf("http://127.0.0.1:%d", sPort))
	s1 := testenv.StartOnPort(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	imgedge {
		zone s
		node s1
		consul %s
		advertise %s
		secret test-cluster-secret-0123456789abcdef
	}
}
http://:{{PORT}} {
	bind 127.0.0.1
	image_resize
	reverse_proxy %s
}
`, consul.Addr, tap.URL, strings.TrimPrefix(origin.URL, "http://")), sPort)
	c1 := hopNode(t, consul, "c", "c1", origin.URL, "", "shield s")
	waitForZonePeers(t, c1, "s", 1)

	if a := get(t, c1.Base+"/p.jpg?w=300", "Accept", "image/webp"); a.status != 200 || decode(t, a.body).width != 300 {
		t.Fatalf("w=300 through the shield: %d %s", a.status, a.body)
	}
	seen := tap.hop(t, "shield")
	if seen.Header.Get("Imgedge-Peer-Auth") == "" {
		t.Fatal("the shield hop carries no proof")
	}

	for _, c := range []struct {
		name   string
		change func(h http.Header)
		reason string
	}{
		{"as it was", nil, "replayed"},
		{"with another Accept", func(h http.Header) { h.Set("Accept", "image/jpeg") }, "invalid"},
		{"with a cookie added", func(h http.Header) { h.Set("Cookie", "a=b") }, "invalid"},
		{"as an owner hop", func(h http.Header) { h.Set("Imgedge-Hop", "owner") }, "invalid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := fmt.Sprintf(`imgedge_peer_proofs_refused_total{reason=%q}`, c.reason)
			before := metric(t, s1, name)
			a := replay(t, seen, s1.Base, c.change)
			if a.status != 200 {
				t.Fatalf("the replay: %d %s", a.status, a.body)
			}
			if d := decode(t, a.body); d.width != 300 {
				t.Errorf("the replayed shield hop got a picture %d px wide: want the 300 px variant any client gets, not the original", d.width)
			}
			if a.header.Get("Imgedge-Peer-Answer") != "" || a.header.Get("Imgedge-Variant") != "" {
				t.Errorf("the replay got a peer's answer: %v", a.header)
			}
			if got := metric(t, s1, name); got != before+1 {
				t.Errorf("%s went from %v to %v, want one more", name, before, got)
			}
		})
	}
}

func TestAHeaderTheClientKeepsFromPeersCannotPoisonHotCopies(t *testing.T) {
	consul := testenv.StartConsul(t)
	origin := newVersionedOrigin(t) // 1600x1000 photos
	a1 := hopNode(t, consul, "a", "a1", origin.URL, "", "")
	a2 := hopNode(t, consul, "a", "a2", origin.URL, "", "")
	for _, n := range []*testenv.Caddy{a1, a2} {
		waitForZonePeers(t, n, "a", 1)
	}
	// A client hint the client names in Connection is for that hop alone:
	// the owner never gets it, so the node it reaches must not act on it
	// either, or it would keep the owner's answer for other options.
	for _, src := range []string{"/p0.jpg", "/p1.jpg", "/p2.jpg", "/p3.jpg"} {
		for i, n := range []*testenv.Caddy{a1, a2} {
			for range 5 {
				get(t, n.Base+src+"?w=auto", "Sec-CH-Width", "100", "Connection", "Sec-CH-Width")
			}
			v := get(t, n.Base+src+"?w=100")
			if d := decode(t, v.body); v.status != 200 || d.width != 100 {
				t.Errorf("a%d %s?w=100 after the attack: %d, %d px wide (Cache-Status %q): want 100", i+1, src, v.status, d.width, v.header.Get("Cache-Status"))
			}
		}
	}
}

func TestAClientsCDNLoopEntriesDoNotMakeABusyNodeEjectAHealthyZone(t *testing.T) {
	consul := testenv.StartConsul(t)
	root := zoneSite(t)
	a := zoneNode(t, consul, "a", root, busyNode, "b", 0, "")
	b := zoneNode(t, consul, "b", root, "", "", 0, "")
	waitForPeers(t, a, "b")

	res := burstWith(t, a.Base, 24, 6, []string{"CDN-Loop", "imgedge, imgedge, imgedge, imgedge"})
	for _, f := range res.failures {
		if !strings.HasPrefix(f, "503 ") {
			t.Errorf("unexpected failure %s", f)
		}
	}
	if n := metric(t, a, "imgedge_zone_ejections_total"); n != 0 {
		t.Errorf("zone b was ejected %v times for requests that could not be forwarded", n)
	}
	if n := metric(t, a, `imgedge_forwards_total{result="failed"}`); n != 0 {
		t.Errorf("%v forwards failed: a request already through imgedge four times was sent on", n)
	}
	if n := metric(t, b, `imgedge_requests_total{outcome="bad_request"}`); n != 0 {
		t.Errorf("zone b refused %v requests", n)
	}
	// Three entries leave room for one hop: those are forwarded.
	res = burstWith(t, a.Base, 24, 6, []string{"CDN-Loop", "other, imgedge, imgedge, imgedge"})
	if res.byZone["b"] == 0 {
		t.Errorf("served by zone %v: want zone b to take some", res.byZone)
	}
}
