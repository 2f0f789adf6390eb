package imgedge_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// metric reads one sample from caddy's admin /metrics.
func metric(t *testing.T, c *testenv.Caddy, name string) float64 {
	t.Helper()
	a := get(t, "http://"+c.Admin+"/metrics")
	sc := bufio.NewScanner(bytes.NewReader(a.body))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return v
		}
	}
	return 0
}

// countingOrigin serves one photo and counts the fetches per path.
type countingOrigin struct {
	*httptest.Server
	mu      sync.Mutex
	fetches map[string]int
}

func newCountingOrigin(t *testing.T, cacheControl string) *countingOrigin {
	photo := testimages.JPEG(testimages.Gradient(1200, 800))
	o := &countingOrigin{fetches: map[string]int{}}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.fetches[r.URL.Path]++
		o.mu.Unlock()
		w.Header().Set("Content-Type", "image/jpeg")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		w.Write(photo)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *countingOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fetches[path]
}

func proxyCaddyfile(origin, options string) string {
	return fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	image_resize {
		%s
	}
	reverse_proxy %s
}
`, options, origin)
}

func TestASecondIdenticalRequestIsAHitWithTheSameBytes(t *testing.T) {
	origin := newCountingOrigin(t, "public, max-age=3600")
	c := testenv.Start(t, proxyCaddyfile(origin.URL, ""))
	first := get(t, c.Base+"/p.jpg?w=400&q=70")
	second := get(t, c.Base+"/p.jpg?quality=70&width=400")
	if first.status != 200 || second.status != 200 {
		t.Fatalf("statuses %d, %d", first.status, second.status)
	}
	if cs := first.header.Get("Cache-Status"); !strings.HasPrefix(cs, "imgedge; fwd=uri-miss") {
		t.Errorf("first Cache-Status %q, want a uri-miss", cs)
	}
	if cs := second.header.Get("Cache-Status"); !strings.HasPrefix(cs, "imgedge; hit") {
		t.Errorf("second Cache-Status %q, want a hit", cs)
	}
	if !bytes.Equal(first.body, second.body) || first.header.Get("ETag") != second.header.Get("ETag") {
		t.Error("the hit differs from the miss in bytes or ETag")
	}
	if second.header.Get("Cache-Control") != "public, max-age=3600" || second.header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("hit headers: %v", second.header)
	}
	nm := get(t, c.Base+"/p.jpg?w=400&q=70", "If-None-Match", first.header.Get("ETag"))
	if nm.status != http.StatusNotModified || len(nm.body) != 0 {
		t.Errorf("If-None-Match on a hit: %d with %d bytes, want 304", nm.status, len(nm.body))
	}
	if n := origin.count("/p.jpg"); n != 1 {
		t.Errorf("origin fetched %d times, want 1", n)
	}
}

func TestConcurrentColdRequestsForOneVariantResizeOnce(t *testing.T) {
	origin := newCountingOrigin(t, "")
	c := testenv.Start(t, proxyCaddyfile(origin.URL, ""))
	before := metric(t, c, "imgedge_resize_total")
	const n = 20
	var wg sync.WaitGroup
	var ok atomic.Int32
	bodies := make([][]byte, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a := get(t, c.Base+"/cold.jpg?w=300&f=webp")
			if a.status == 200 {
				ok.Add(1)
			}
			bodies[i] = a.body
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != n {
		t.Fatalf("%d of %d requests succeeded", ok.Load(), n)
	}
	for i := 1; i < n; i++ {
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("request %d got different bytes", i)
		}
	}
	if got := metric(t, c, "imgedge_resize_total") - before; got != 1 {
		t.Errorf("imgedge_resize_total rose by %v, want exactly 1", got)
	}
	if got := origin.count("/cold.jpg"); got != 1 {
		t.Errorf("origin fetched %d times, want 1", got)
	}
}

func TestTwoWidthsOfOneSourceFetchTheOriginOnce(t *testing.T) {
	origin := newCountingOrigin(t, "")
	c := testenv.Start(t, proxyCaddyfile(origin.URL, ""))
	for _, w := range []int{200, 400, 800} {
		a := get(t, fmt.Sprintf("%s/two.jpg?w=%d", c.Base, w))
		if a.status != 200 {
			t.Fatalf("w=%d: %d %s", w, a.status, a.body)
		}
		if w > 200 && !strings.Contains(a.header.Get("Cache-Status"), "fwd=miss; detail=original") {
			t.Errorf("w=%d Cache-Status %q, want a miss served from the cached original", w, a.header.Get("Cache-Status"))
		}
	}
	if got := origin.count("/two.jpg"); got != 1 {
		t.Errorf("origin fetched %d times for three widths, want 1", got)
	}
}

func TestPurgeMakesTheNextRequestAMiss(t *testing.T) {
	origin := newCountingOrigin(t, "")
	c := testenv.Start(t, proxyCaddyfile(origin.URL, ""))
	url := c.Base + "/purge-me.jpg?w=120"
	get(t, url)
	get(t, c.Base+"/keep-me.jpg?w=120")
	if cs := get(t, url).header.Get("Cache-Status"); !strings.HasPrefix(cs, "imgedge; hit") {
		t.Fatalf("before purge: Cache-Status %q, want hit", cs)
	}
	resp, err := http.Post("http://"+c.Admin+"/imgedge/purge", "application/json",
		strings.NewReader(`{"tenant": "127.0.0.1", "source": "/purge-me.jpg"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(body.String(), `"purged":`) || strings.Contains(body.String(), `"purged":0`) {
		t.Fatalf("purge answered %d %s", resp.StatusCode, body.String())
	}
	if cs := get(t, url).header.Get("Cache-Status"); !strings.Contains(cs, "fwd=uri-miss") {
		t.Errorf("after purge: Cache-Status %q, want a uri-miss", cs)
	}
	if cs := get(t, c.Base+"/keep-me.jpg?w=120").header.Get("Cache-Status"); !strings.HasPrefix(cs, "imgedge; hit") {
		t.Errorf("another source was purged too: Cache-Status %q", cs)
	}
	if got := origin.count("/purge-me.jpg"); got != 2 {
		t.Errorf("origin fetched %d times, want 2 (once before, once after the purge)", got)
	}
	bad, err := http.Post("http://"+c.Admin+"/imgedge/purge", "application/json", strings.NewReader(`{"source": "/x.jpg"}`))
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusBadRequest {
		t.Errorf("purge without tenant answered %d, want 400", bad.StatusCode)
	}
}

func TestAReloadKeepsTheCacheWarm(t *testing.T) {
	origin := newCountingOrigin(t, "")
	c := testenv.Start(t, proxyCaddyfile(origin.URL, ""))
	first := get(t, c.Base+"/warm.jpg?w=150")
	c.Reload(proxyCaddyfile(origin.URL, "fetch_timeout 5s"))
	a := get(t, c.Base+"/warm.jpg?w=150")
	if cs := a.header.Get("Cache-Status"); !strings.HasPrefix(cs, "imgedge; hit") || !bytes.Equal(a.body, first.body) {
		t.Errorf("after reload: Cache-Status %q, want a hit with the same bytes", cs)
	}
	if got := origin.count("/warm.jpg"); got != 1 {
		t.Errorf("origin fetched %d times, want 1", got)
	}
}

func TestOriginsThatForbidCachingAreNotCached(t *testing.T) {
	origin := newCountingOrigin(t, "no-store")
	c := testenv.Start(t, proxyCaddyfile(origin.URL, ""))
	get(t, c.Base+"/private.jpg?w=100")
	a := get(t, c.Base+"/private.jpg?w=100")
	if cs := a.header.Get("Cache-Status"); strings.Contains(cs, "hit") {
		t.Errorf("Cache-Status %q for a no-store origin", cs)
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want the origin's no-store", a.header.Get("Cache-Control"))
	}
	if got := origin.count("/private.jpg"); got != 2 {
		t.Errorf("origin fetched %d times, want 2", got)
	}
}

func TestWithTheCacheOffEveryRequestResizes(t *testing.T) {
	origin := newCountingOrigin(t, "")
	c := testenv.Start(t, proxyCaddyfile(origin.URL, "cache off"))
	before := metric(t, c, "imgedge_resize_total")
	for range 3 {
		a := get(t, c.Base+"/off.jpg?w=100")
		if cs := a.header.Get("Cache-Status"); a.status != 200 || cs != "imgedge; fwd=bypass" {
			t.Errorf("status %d, Cache-Status %q, want 200 and a bypass", a.status, cs)
		}
	}
	if got := metric(t, c, "imgedge_resize_total") - before; got != 3 {
		t.Errorf("imgedge_resize_total rose by %v, want 3", got)
	}
}

func TestCacheMetricsAreExported(t *testing.T) {
	origin := newCountingOrigin(t, "")
	c := testenv.Start(t, proxyCaddyfile(origin.URL, ""))
	get(t, c.Base+"/m.jpg?w=100")
	get(t, c.Base+"/m.jpg?w=100")
	if v := metric(t, c, "imgedge_cache_hits_total"); v < 1 {
		t.Errorf("imgedge_cache_hits_total %v, want at least 1", v)
	}
	if v := metric(t, c, "imgedge_cache_bytes"); v <= 0 {
		t.Errorf("imgedge_cache_bytes %v, want > 0", v)
	}
	if v := metric(t, c, `imgedge_requests_total{outcome="hit"}`); v != 1 {
		t.Errorf(`imgedge_requests_total{outcome="hit"} %v, want 1`, v)
	}
}

func TestConcurrentRequestsForAPrivateOriginalAreNotShared(t *testing.T) {
	origin := newCountingOrigin(t, "private, max-age=60")
	c := testenv.Start(t, proxyCaddyfile(origin.URL, ""))
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if a := get(t, c.Base+"/mine.jpg?w=120"); a.status != 200 {
				t.Errorf("status %d", a.status)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := origin.count("/mine.jpg"); got != n {
		t.Errorf("origin fetched %d times for %d concurrent private requests, want %d (one each)", got, n, n)
	}
}

func TestAReloadThatChangesHowVariantsAreMadeServesNoStaleOnes(t *testing.T) {
	origin := newCountingOrigin(t, "")
	c := testenv.Start(t, proxyCaddyfile(origin.URL, "quality jpeg 90"))
	before := get(t, c.Base+"/q.jpg?w=300")
	c.Reload(proxyCaddyfile(origin.URL, "quality jpeg 40"))
	after := get(t, c.Base+"/q.jpg?w=300")
	if strings.HasPrefix(after.header.Get("Cache-Status"), "imgedge; hit") || after.header.Get("ETag") == before.header.Get("ETag") {
		t.Errorf("after changing the quality: Cache-Status %q, same ETag %v", after.header.Get("Cache-Status"), after.header.Get("ETag") == before.header.Get("ETag"))
	}
	if len(after.body) >= len(before.body) {
		t.Errorf("quality 40 gave %d bytes, quality 90 %d: the old variant was served", len(after.body), len(before.body))
	}
}

func TestAReloadThatChangesThePixelLimitServesNoStaleAnimation(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"a.gif": testimages.AnimatedGIF(100, 100, 10)})
	cf := func(pixels string) string {
		return fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	root * %s
	image_resize {
		max_source 25MiB %s
	}
	file_server
}
`, root, pixels)
	}
	c := testenv.Start(t, cf("50000"))
	first := get(t, c.Base+"/a.gif?w=50&f=gif")
	if first.status != 200 || decode(t, first.body).frames != 1 {
		t.Fatalf("under a 50000-pixel limit: %d, %d frames; want the first frame only", first.status, decode(t, first.body).frames)
	}
	c.Reload(cf("50MP"))
	second := get(t, c.Base+"/a.gif?w=50&f=gif")
	if second.status != 200 || decode(t, second.body).frames != 10 {
		t.Fatalf("after raising the limit: %d, %d frames (Cache-Status %q); want all 10",
			second.status, decode(t, second.body).frames, second.header.Get("Cache-Status"))
	}
	if first.header.Get("ETag") == second.header.Get("ETag") {
		t.Error("two different variants share an ETag")
	}
}
