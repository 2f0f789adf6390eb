package imgedge_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// versionedOrigin serves a photo for every path, counting fetches per
// path; bump changes every photo's bytes, as a re-upload would.
type versionedOrigin struct {
	*httptest.Server
	mu      sync.Mutex
	fetches map[string]int
	version atomic.Int64
	photos  [2][]byte
}

func newVersionedOrigin(t *testing.T) *versionedOrigin {
	o := &versionedOrigin{fetches: map[string]int{}}
	o.photos[0] = testimages.JPEG(testimages.Gradient(1600, 1000))
	o.photos[1] = testimages.JPEG(testimages.Gradient(1000, 1600))
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.fetches[r.URL.Path]++
		o.mu.Unlock()
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(o.photos[o.version.Load()%2])
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *versionedOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fetches[path]
}

func (o *versionedOrigin) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.fetches {
		n += c
	}
	return n
}

// clusterNode starts a node of zone behind which the origin sits, its
// usage shipped to collector.
func clusterNode(t *testing.T, consul *testenv.Consul, zone, name, origin, collector, extra string) *testenv.Caddy {
	t.Helper()
	return testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	imgedge {
		zone %s
		node %s
		consul %s
		advertise http://127.0.0.1:{{PORT}}
		secret test-cluster-secret-0123456789abcdef
		%s
		metering {
			collector %s/api/v1/events
			spool %s
			batch 200ms
		}
	}
}
http://:{{PORT}} {
	bind 127.0.0.1
	image_resize
	reverse_proxy %s
}
`, zone, name, consul.Addr, extra, collector, filepath.Join(t.TempDir(), "spool"), strings.TrimPrefix(origin, "http://")))
}

// waitForZonePeers waits until node knows n other nodes in zone.
func waitForZonePeers(t *testing.T, node *testenv.Caddy, zone string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, node, fmt.Sprintf(`imgedge_zone_peers{zone=%q}`, zone)) < float64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("the node did not see %d peers in zone %s within 20s", n, zone)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sumMetric(t *testing.T, nodes []*testenv.Caddy, name string) float64 {
	var sum float64
	for _, n := range nodes {
		sum += metric(t, n, name)
	}
	return sum
}

// clientLedger is what the clients were answered: the collector must
// count exactly that.
type clientLedger struct {
	mu       sync.Mutex
	requests int64
	bytesOut int64
}

func (l *clientLedger) get(t *testing.T, url string, header ...string) answer {
	a := get(t, url, header...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	if a.status == http.StatusOK {
		l.bytesOut += int64(len(a.body))
	}
	return a
}

func (l *clientLedger) head(t *testing.T, url string) *http.Response {
	resp, err := http.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	l.mu.Lock()
	l.requests++
	l.mu.Unlock()
	return resp
}

func TestTheNodesOfAZoneAreOneCache(t *testing.T) {
	consul := testenv.StartConsul(t)
	origin := newVersionedOrigin(t)
	collector := startCollector(t, filepath.Join(t.TempDir(), "usage.db"))
	var nodes []*testenv.Caddy
	for i := range 3 {
		nodes = append(nodes, clusterNode(t, consul, "a", fmt.Sprintf("a%d", i+1), origin.URL, collector.Base, ""))
	}
	for _, n := range nodes {
		waitForZonePeers(t, n, "a", 2)
	}
	var ledger clientLedger
	sources := []string{"/p0.jpg", "/p1.jpg", "/p2.jpg", "/p3.jpg"}
	const widths = 10
	url := func(node int, src string, w int) string {
		return fmt.Sprintf("%s%s?w=%d", nodes[node%len(nodes)].Base, src, 200+10*w)
	}

	etags := map[string]string{}
	t.Run("N distinct variants, each asked of every node, cost N resizes and one origin fetch per source", func(t *testing.T) {
		type job struct {
			src string
			w   int
		}
		jobs := make(chan job)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failures []string
		next := atomic.Int64{}
		for range 6 {
			wg.Go(func() {
				for j := range jobs {
					a := ledger.get(t, url(int(next.Add(1)), j.src, j.w))
					mu.Lock()
					if a.status != 200 {
						failures = append(failures, fmt.Sprintf("%s w=%d: %d %s", j.src, j.w, a.status, a.body))
					}
					key := j.src + fmt.Sprint(j.w)
					if etag := a.header.Get("ETag"); etags[key] == "" {
						etags[key] = etag
					} else if etags[key] != etag {
						failures = append(failures, fmt.Sprintf("%s w=%d: ETag %s here, %s on another node", j.src, j.w, etag, etags[key]))
					}
					mu.Unlock()
				}
			})
		}
		for range nodes {
			for w := range widths {
				for _, src := range sources {
					jobs <- job{src, w}
				}
			}
		}
		close(jobs)
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("%d requests failed: %v", len(failures), failures)
		}
		want := float64(len(sources) * widths)
		if got := sumMetric(t, nodes, "imgedge_resize_total"); got != want {
			t.Errorf("the zone resized %v times for %v distinct variants, want exactly %v", got, want, want)
		}
		for _, src := range sources {
			if n := origin.count(src); n != 1 {
				t.Errorf("the origin was asked for %s %d times, want once for the zone", src, n)
			}
		}
	})

	t.Run("every node answers the same bytes and ETag, a peer's hit told from a local one", func(t *testing.T) {
		var first answer
		sawPeer := false
		for i := range nodes {
			a := ledger.get(t, url(i, "/p1.jpg", 3))
			if a.status != 200 || a.header.Get("ETag") != etags["/p1.jpg3"] {
				t.Fatalf("node %d: %d, ETag %q, want 200 and %q", i+1, a.status, a.header.Get("ETag"), etags["/p1.jpg3"])
			}
			if i == 0 {
				first = a
			} else if string(a.body) != string(first.body) {
				t.Errorf("node %d answered other bytes than node 1", i+1)
			}
			cs := a.header.Get("Cache-Status")
			if strings.Contains(cs, "detail=peer") {
				sawPeer = true
				if !strings.HasPrefix(cs, "imgedge; hit") || !strings.Contains(a.header.Get("Server-Timing"), "peer;dur=") {
					t.Errorf("a peer's answer: Cache-Status %q, Server-Timing %q; want the owner's hit, then this node's forward, and the hop timed",
						cs, a.header.Get("Server-Timing"))
				}
			} else if !strings.HasPrefix(cs, "imgedge; hit") {
				t.Errorf("the owner's own answer: Cache-Status %q, want a hit", cs)
			}
			if a.header.Get("Imgedge-Variant") != "" {
				t.Errorf("the peers' Imgedge-Variant header reached a client")
			}
		}
		if !sawPeer {
			t.Error("no node answered through the owner")
		}
		for i := range nodes {
			resp := ledger.head(t, url(i, "/p1.jpg", 3))
			if resp.StatusCode != 200 || resp.ContentLength != int64(len(first.body)) {
				t.Errorf("HEAD on node %d: %d, Content-Length %d, want 200 and %d", i+1, resp.StatusCode, resp.ContentLength, len(first.body))
			}
		}
		if got := sumMetric(t, nodes, "imgedge_resize_total"); got != float64(len(sources)*widths) {
			t.Errorf("asking every node again resized: %v resizes", got)
		}
	})

	t.Run("a client's own hop markers count for nothing", func(t *testing.T) {
		for i := range nodes {
			for _, loop := range []string{"imgedge; hop=shield", "imgedge; hop=owner", "imgedge"} {
				a := get(t, url(i, "/p2.jpg", 5), "CDN-Loop", loop, "Imgedge-Peer-Auth", "t=1, sig=forged")
				if a.status != 200 || a.header.Get("Imgedge-Variant") != "" {
					t.Fatalf("node %d with CDN-Loop %q: %d, Imgedge-Variant %q", i+1, loop, a.status, a.header.Get("Imgedge-Variant"))
				}
				ledger.mu.Lock()
				ledger.requests++
				ledger.bytesOut += int64(len(a.body))
				ledger.mu.Unlock()
				if d := decode(t, a.body); d.width != 250 {
					t.Errorf("node %d with CDN-Loop %q: %d px wide, want the 250 px variant, not the original", i+1, loop, d.width)
				}
			}
		}
	})

	t.Run("a hot variant is copied to the nodes that are asked for it", func(t *testing.T) {
		for range 4 {
			for i := range nodes {
				ledger.get(t, url(i, "/p0.jpg", 0))
			}
		}
		if hits := sumMetric(t, nodes, "imgedge_hot_copy_hits_total"); hits < 2 {
			t.Errorf("%v hot-copy hits after asking every node 4 times, want the non-owners to answer from their copies", hits)
		}
		for i := range nodes {
			cs := ledger.get(t, url(i, "/p0.jpg", 0)).header.Get("Cache-Status")
			if strings.Contains(cs, "detail=peer") {
				t.Errorf("node %d still asks the owner for a hot variant: %q", i+1, cs)
			}
		}
	})

	t.Run("a purge on one node reaches every node, hot copies included", func(t *testing.T) {
		before := origin.count("/p0.jpg")
		applied := make([]float64, len(nodes))
		for i, n := range nodes {
			applied[i] = metric(t, n, "imgedge_zone_purges_applied_total")
		}
		origin.version.Add(1) // the photo is replaced at the origin
		// The public listener cannot purge.
		if resp, err := http.Post(nodes[1].Base+"/imgedge/purge", "application/json",
			strings.NewReader(`{"tenant": "127.0.0.1", "source": "/p0.jpg"}`)); err == nil {
			resp.Body.Close()
		}
		if a := ledger.get(t, url(1, "/p0.jpg", 0)); a.header.Get("ETag") != etags["/p0.jpg0"] {
			t.Fatalf("a POST to the site's /imgedge/purge purged: ETag %q", a.header.Get("ETag"))
		}
		resp, err := http.Post("http://"+nodes[0].Admin+"/imgedge/purge", "application/json",
			strings.NewReader(`{"tenant": "127.0.0.1", "source": "/p0.jpg"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("purge: %d", resp.StatusCode)
		}
		began := time.Now()
		for i, n := range nodes[1:] {
			for metric(t, n, "imgedge_zone_purges_applied_total") <= applied[i+1] {
				if time.Since(began) > 2*time.Second {
					t.Fatalf("node %d had not applied the purge 2s after it was asked for", i+2)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		t.Logf("every node applied the purge within %v", time.Since(began).Round(time.Millisecond))
		for i := range nodes {
			a := ledger.get(t, url(i, "/p0.jpg", 0))
			if a.status != 200 || a.header.Get("ETag") == etags["/p0.jpg0"] {
				t.Errorf("node %d after the purge: %d, ETag %q: still the old image", i+1, a.status, a.header.Get("ETag"))
			}
		}
		if got := origin.count("/p0.jpg") - before; got != 1 {
			t.Errorf("the origin was asked for the purged photo %d more times, want once for the zone", got)
		}
	})

	var b *testenv.Caddy
	outer := t // b outlives its subtest
	t.Run("a zone shielded by this one fetches no original it already has", func(t *testing.T) {
		b = clusterNode(outer, consul, "b", "b1", origin.URL, collector.Base, "shield a")
		waitForZonePeers(t, b, "a", 3)
		before := origin.total()
		for w := range 5 {
			for _, src := range []string{"/p1.jpg", "/p2.jpg"} {
				a := ledger.get(t, fmt.Sprintf("%s%s?w=%d", b.Base, src, 700+w))
				if a.status != 200 || a.header.Get("Imgedge-Zone") != "b" {
					t.Fatalf("zone b: %d, made in zone %q: %s", a.status, a.header.Get("Imgedge-Zone"), a.body)
				}
			}
		}
		if got := origin.total() - before; got != 0 {
			t.Errorf("zone b cost %d origin fetches for new variants of sources zone a holds, want 0", got)
		}
		if ok := metric(t, b, `imgedge_shield_fetches_total{result="ok"}`); ok != 2 {
			t.Errorf("zone b fetched %v originals through its shield, want 2 (one per source)", ok)
		}
		// A source nobody has: one origin fetch, by the shield.
		ledger.get(t, b.Base+"/p9.jpg?w=100")
		ledger.get(t, nodes[0].Base+"/p9.jpg?w=120")
		if n := origin.count("/p9.jpg"); n != 1 {
			t.Errorf("a new source asked in both zones cost %d origin fetches, want 1", n)
		}
	})

	t.Run("the collector's totals equal what the clients got", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		var got totals
		for time.Now().Before(deadline) {
			if got = usageTotals(t, collector, "127.0.0.1"); got.requests >= ledger.requests {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(800 * time.Millisecond) // late duplicates would show
		got = usageTotals(t, collector, "127.0.0.1")
		if got.requests != ledger.requests || got.bytesOut != ledger.bytesOut {
			t.Errorf("the collector counted %d requests and %d bytes, the clients got %d answers and %d bytes",
				got.requests, got.bytesOut, ledger.requests, ledger.bytesOut)
		}
	})

	t.Run("kill -9 of an owner in the middle of traffic: every request is answered", func(t *testing.T) {
		// The owner of /p3.jpg: the node its answers name.
		owner := ledger.get(t, url(1, "/p3.jpg", 0)).header.Get("Imgedge-Node")
		victim := -1
		for i := range nodes {
			if fmt.Sprintf("a%d", i+1) == owner {
				victim = i
			}
		}
		if victim < 0 {
			t.Fatalf("the answer names owner %q, not one of the nodes", owner)
		}
		var survivors []*testenv.Caddy
		for i, n := range nodes {
			if i != victim {
				survivors = append(survivors, n)
			}
		}
		var failures []string
		for i := range 40 {
			if i == 10 {
				nodes[victim].Kill()
			}
			a := get(t, fmt.Sprintf("%s/p3.jpg?w=%d", survivors[i%2].Base, 300+i))
			if a.status != 200 {
				failures = append(failures, fmt.Sprintf("%d: %d %s", i, a.status, a.body))
			}
		}
		if len(failures) > 0 {
			t.Errorf("%d of 40 requests failed after the owner died: %v", len(failures), failures)
		}
		if fb := sumMetric(t, survivors, `imgedge_owner_fallbacks_total{to="self"}`) + sumMetric(t, survivors, `imgedge_owner_fallbacks_total{to="next"}`); fb == 0 {
			t.Error("no request fell back from the dead owner")
		}
	})

	t.Run("a shield that cannot be reached is skipped for the origin", func(t *testing.T) {
		c := clusterNode(t, consul, "c", "c1", origin.URL, collector.Base, "shield b")
		waitForZonePeers(t, c, "b", 1)
		b.Kill() // still passing in Consul for up to a TTL
		failedBefore := metric(t, c, `imgedge_shield_fetches_total{result="failed"}`)
		for i := range 3 {
			src := fmt.Sprintf("/q%d.jpg", i)
			if a := get(t, c.Base+src+"?w=150"); a.status != 200 || origin.count(src) != 1 {
				t.Errorf("%s with its shield dead: %d, %d origin fetches; want 200 from the origin: %s", src, a.status, origin.count(src), a.body)
			}
		}
		if metric(t, c, `imgedge_shield_fetches_total{result="failed"}`) == failedBefore {
			t.Error("no shield fetch failed: the dead shield was not tried")
		}
	})
}

// Overflow to other zones stays as it was: the owner, busy, is the one
// that overflows, and the node that asked it relays the answer.
func TestABusyOwnerOverflowsToAnotherZone(t *testing.T) {
	consul := testenv.StartConsul(t)
	root := zoneSite(t)
	zoneNode(t, consul, "b", root, "", "", 0, "")
	a1 := zoneNode(t, consul, "a", root, busyNode, "b", 0, "")
	a2 := zoneNode(t, consul, "a", root, busyNode, "b", 0, "")
	for _, n := range []*testenv.Caddy{a1, a2} {
		waitForZonePeers(t, n, "a", 1)
		waitForPeers(t, n, "b")
	}
	entry, owner := a1, a2
	if probe := get(t, a1.Base+"/big.jpg?w=100"); !strings.Contains(probe.header.Get("Cache-Status"), "detail=peer") {
		entry, owner = a2, a1 // a1 made it itself: a1 owns big.jpg
	}
	res := burst(t, entry.Base, 24, 6, nil)
	if len(res.failures) > 0 {
		t.Errorf("%d requests failed: %v", len(res.failures), res.failures)
	}
	if res.byZone["b"] == 0 {
		t.Errorf("served by zone %v: want the busy owner to pass some to zone b", res.byZone)
	}
	if n := metric(t, owner, `imgedge_forwards_total{result="ok"}`); n == 0 {
		t.Error("the owner forwarded nothing: someone else overflowed for it")
	}
	t.Logf("served by zone %v; forwards by the owner %v, by the entry node %v", res.byZone,
		metric(t, owner, `imgedge_forwards_total{result="ok"}`), metric(t, entry, `imgedge_forwards_total{result="ok"}`))
}
