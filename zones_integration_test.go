package imgedge_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// zoneNode starts a caddy node in zone, registered in consul, serving the
// photos in root. advertise overrides the URL peers use (for a proxy in
// between); empty means the node's own port.
func zoneNode(t *testing.T, consul *testenv.Consul, zone, root, options, prefer string, port int, advertise string) *testenv.Caddy {
	t.Helper()
	if advertise == "" {
		advertise = "http://127.0.0.1:{{PORT}}"
	}
	preferLine := ""
	if prefer != "" {
		preferLine = "prefer " + prefer
	}
	cf := fmt.Sprintf(`{
	admin {{ADMIN}}
	imgedge {
		zone %s
		node node-%s
		consul %s
		advertise %s
		secret test-cluster-secret-0123456789abcdef
		%s
	}
}
http://:{{PORT}} {
	bind 127.0.0.1
	root * %s
	image_resize {
		%s
	}
	file_server
}
`, zone, zone, consul.Addr, advertise, preferLine, root, options)
	if port != 0 {
		return testenv.StartOnPort(t, cf, port)
	}
	return testenv.Start(t, cf)
}

// waitForPeers polls a node's metrics until it knows a healthy peer in
// each zone (bounded).
func waitForPeers(t *testing.T, c *testenv.Caddy, zones ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ok := true
		for _, z := range zones {
			if metric(t, c, fmt.Sprintf(`imgedge_zone_peers{zone=%q}`, z)) < 1 {
				ok = false
			}
		}
		if ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("node did not discover zones %v within 20s", zones)
}

// burst sends n distinct, CPU-heavy image requests to base, conc at a
// time, and counts who served them. onDone runs after each answer.
type burstResult struct {
	mu       sync.Mutex
	byZone   map[string]int
	failures []string
	firstAt  map[string]time.Time
}

func burst(t *testing.T, base string, n, conc int, onDone func(done int)) *burstResult {
	return burstOf(t, base, n, conc, 0, nil, onDone)
}

// burstWith is burst with header (name, value pairs) on every request.
func burstWith(t *testing.T, base string, n, conc int, header []string) *burstResult {
	return burstOf(t, base, n, conc, 0, header, nil)
}

// burstFrom is burst with widths from 600+offset, distinct from an
// earlier burst's.
func burstFrom(t *testing.T, base string, n, conc, offset int) *burstResult {
	return burstOf(t, base, n, conc, offset, nil, nil)
}

func burstOf(t *testing.T, base string, n, conc, offset int, header []string, onDone func(done int)) *burstResult {
	res := &burstResult{byZone: map[string]int{}, firstAt: map[string]time.Time{}}
	jobs := make(chan int)
	var wg sync.WaitGroup
	var done int
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				a := get(t, fmt.Sprintf("%s/big.jpg?w=%d&blur=3", base, 600+offset+i), header...)
				res.mu.Lock()
				if a.status == 200 {
					z := a.header.Get("Imgedge-Zone")
					res.byZone[z]++
					if _, seen := res.firstAt[z]; !seen {
						res.firstAt[z] = time.Now()
					}
				} else {
					res.failures = append(res.failures, fmt.Sprintf("%d %s", a.status, a.body))
				}
				done++
				d := done
				res.mu.Unlock()
				if onDone != nil {
					onDone(d)
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return res
}

func zoneSite(t *testing.T) string {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"big.jpg": testimages.JPEG(testimages.Gradient(2400, 1600))})
	return root
}

const busyNode = "concurrency 1\n\t\tqueue 1 20ms"

func TestABusyNodeForwardsToTheNearestZoneAndSurvivesItsDeath(t *testing.T) {
	consul := testenv.StartConsul(t)
	root := zoneSite(t)
	b := zoneNode(t, consul, "b", root, "", "", 0, "")
	c := zoneNode(t, consul, "c", root, "", "", 0, "")
	a := zoneNode(t, consul, "a", root, busyNode, "b c", 0, "")
	waitForPeers(t, a, "b", "c")

	t.Run("a burst is served partly by the nearest zone, none fail", func(t *testing.T) {
		res := burst(t, a.Base, 24, 6, nil)
		if len(res.failures) > 0 {
			t.Fatalf("%d requests failed: %v", len(res.failures), res.failures)
		}
		if res.byZone["a"] == 0 || res.byZone["b"] == 0 || res.byZone["c"] != 0 {
			t.Errorf("served by zone %v: want some by a, some by b (nearest), none by c", res.byZone)
		}
		if metric(t, a, `imgedge_forwards_total{result="ok"}`) == 0 {
			t.Error("imgedge_forwards_total{result=\"ok\"} is 0")
		}
	})

	t.Run("killing the nearest zone mid-burst moves traffic to the next", func(t *testing.T) {
		var killedAt time.Time
		var once sync.Once
		res := burst(t, a.Base, 60, 6, func(done int) {
			if done == 15 {
				once.Do(func() { killedAt = time.Now(); b.Kill() })
			}
		})
		total := 60
		if len(res.failures)*100 >= total {
			t.Errorf("%d of %d requests failed (want under 1%%): %v", len(res.failures), total, res.failures)
		}
		first, ok := res.firstAt["c"]
		if !ok {
			t.Fatalf("no request was served by zone c after b died: %v", res.byZone)
		}
		t.Logf("served by zone %v; failures %d of %d; zone c took over %v after the kill",
			res.byZone, len(res.failures), total, first.Sub(killedAt).Round(time.Millisecond))
		if first.Sub(killedAt) > 10*time.Second {
			t.Errorf("failover took %v, longer than the 10s TTL", first.Sub(killedAt))
		}
	})

	t.Run("with Consul stopped the node still serves locally", func(t *testing.T) {
		consul.Stop()
		got := get(t, a.Base+"/big.jpg?w=200")
		if got.status != 200 || got.header.Get("Imgedge-Zone") != "a" {
			t.Fatalf("status %d, zone %q: want 200 from zone a", got.status, got.header.Get("Imgedge-Zone"))
		}
		_ = c
	})
}

func TestForwardingNeverLoops(t *testing.T) {
	consul := testenv.StartConsul(t)
	root := zoneSite(t)
	// Two busy zones, each preferring the other.
	a := zoneNode(t, consul, "a", root, busyNode, "b", 0, "")
	b := zoneNode(t, consul, "b", root, busyNode, "a", 0, "")
	waitForPeers(t, a, "b")
	waitForPeers(t, b, "a")

	res := burst(t, a.Base, 16, 6, nil)
	for _, f := range res.failures {
		if !strings.HasPrefix(f, "503 ") {
			t.Errorf("unexpected failure %s", f)
		}
	}
	// b got requests forwarded by a; it must never have sent them on.
	if v := metric(t, b, `imgedge_forwards_total{result="ok"}`) + metric(t, b, `imgedge_forwards_total{result="failed"}`); v != 0 {
		t.Errorf("zone b forwarded %v requests it had received from a", v)
	}
	t.Logf("served by zone %v, %d refused with 503", res.byZone, len(res.failures))

	// Only a peer's request counts as forwarded: a client's own CDN-Loop
	// does not (TestAClientsCDNLoopDoesNotMarkARequestAsForwarded).

	t.Run("whatever hop headers a client sends, a request is forwarded once", func(t *testing.T) {
		forwards := func(c *testenv.Caddy) float64 {
			return metric(t, c, `imgedge_forwards_total{result="ok"}`) + metric(t, c, `imgedge_forwards_total{result="failed"}`)
		}
		beforeA, beforeB := forwards(a), forwards(b)
		headers := [][]string{
			{"CDN-Loop", hostileLoops[0]},
			{"CDN-Loop", hostileLoops[1]},
			{"CDN-Loop", hostileLoops[0], "Imgedge-Hop", "owner"},
			{"Imgedge-Hop", "forward", "Imgedge-Peer-Auth", "t=1, n=AAAAAAAAAAAAAAAAAAAAAA, sig=forged"},
		}
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ans := get(t, fmt.Sprintf("%s/big.jpg?w=%d&blur=3", a.Base, 900+i), headers[i%len(headers)]...)
				mu.Lock()
				statuses[ans.status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if statuses[200]+statuses[503] != n {
			t.Errorf("answers by status %v: want 200s and 503s only", statuses)
		}
		fwdA, fwdB := forwards(a)-beforeA, forwards(b)-beforeB
		if fwdB != 0 {
			t.Errorf("zone b forwarded %v requests it had been forwarded", fwdB)
		}
		// One forward a request, tried in at most two zones
		// (forwardAttempts); only one other zone exists here.
		if fwdA > n {
			t.Errorf("zone a made %v forwards for %d requests", fwdA, n)
		}
		t.Logf("answers by status %v; forwards by a %v, by b %v", statuses, fwdA, fwdB)
	})
}

func TestAPeerThatTimesOutIsEjected(t *testing.T) {
	consul := testenv.StartConsul(t)
	root := zoneSite(t)

	// b is reached through toxiproxy, which will swallow its answers.
	bPort := testenv.FreePort(t)
	proxyAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	proxy := toxiproxy.NewProxy(server, "to-b", proxyAddr, fmt.Sprintf("127.0.0.1:%d", bPort))
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)

	zoneNode(t, consul, "b", root, "", "", bPort, "http://"+proxyAddr)
	zoneNode(t, consul, "c", root, "", "", 0, "")
	a := zoneNode(t, consul, "a", root, busyNode+"\n\t\tfetch_timeout 1s", "b c", 0, "")
	waitForPeers(t, a, "b", "c")

	if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(
		`{"name": "blackhole", "type": "timeout", "stream": "downstream", "toxicity": 1, "attributes": {"timeout": 0}}`)); err != nil {
		t.Fatal(err)
	}
	res := burst(t, a.Base, 30, 6, nil)
	if len(res.failures) > 0 {
		t.Errorf("%d requests failed although zone c was healthy: %v", len(res.failures), res.failures)
	}
	if res.byZone["c"] == 0 {
		t.Errorf("served by zone %v: want zone c to take over from the unresponsive b", res.byZone)
	}
	if v := metric(t, a, "imgedge_zone_ejections_total"); v < 1 {
		t.Errorf("imgedge_zone_ejections_total %v: want b ejected after timing out", v)
	}
	t.Logf("served by zone %v", res.byZone)
}

// A zone's death costs no request while another zone has room: the
// requests a busy node forwards go to the survivor and wait there for a
// slot as its queue allows.
func TestAKilledZoneCostsNoRequestsWhileAnotherHasRoom(t *testing.T) {
	consul := testenv.StartConsul(t)
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"big.jpg": noisyJPEG(t, 5200, 3464)}) // 18 MP, as large as a camera's
	const roomy = "concurrency 2\n\t\tqueue 32 10s"
	bravo := zoneNode(t, consul, "bravo", root, roomy, "", 0, "")
	charlie := zoneNode(t, consul, "charlie", root, roomy, "", 0, "")
	alpha := zoneNode(t, consul, "alpha", root, "concurrency 1\n\t\tqueue 1 20ms\n\t\tfetch_timeout 2s", "bravo charlie", 0, "")
	waitForPeers(t, alpha, "bravo", "charlie")

	began := time.Now()
	first := burstFrom(t, alpha.Base, 16, 16, 2400)
	bravo.Kill()
	killed := time.Now()
	second := burstFrom(t, alpha.Base, 16, 16, 2500)
	t.Logf("first burst %v, second %v", killed.Sub(began).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	for name, res := range map[string]*burstResult{"before the kill": first, "after the kill": second} {
		for _, f := range res.failures {
			if !strings.HasPrefix(f, "503 ") {
				t.Errorf("%s: a failure other than 503: %s", name, f)
			}
		}
	}
	if ok := 16 - len(second.failures); ok < 15 {
		t.Errorf("after zone bravo died, %d of 16 requests were answered 200 (want 15 at least) while zone charlie had room: %v", ok, second.failures)
	}
	t.Logf("before the kill served by zone %v; after, by %v with %d refused; charlie's outcomes: canceled %v",
		first.byZone, second.byZone, len(second.failures), metric(t, charlie, `imgedge_requests_total{outcome="canceled"}`))
}
