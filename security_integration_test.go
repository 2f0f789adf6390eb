package imgedge_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// rawRequest sends a request line and headers as written, for targets Go's
// client will not send, and returns the status and body.
func rawRequest(t *testing.T, addr, requestLine string, headers ...string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	req := requestLine + "\r\n" + strings.Join(headers, "\r\n") + "\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	return resp.StatusCode, body.String()
}

// An internal service the edge must never be made to reach.
func internalService(t *testing.T) (addr string, hits *atomic.Int64) {
	hits = new(atomic.Int64)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(testimages.JPEG(testimages.Gradient(64, 64)))
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://"), hits
}

func TestACraftedRequestTargetOnABusyNodeReachesNoAddressButThePeers(t *testing.T) {
	consul := testenv.StartConsul(t)
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"big.jpg": testimages.JPEG(testimages.Gradient(3000, 2000))})
	a := zoneNode(t, consul, "a", root, "concurrency 1\nqueue 0", "b", 0, "")
	b := zoneNode(t, consul, "b", root, "", "a", 0, "")
	waitForPeers(t, a, "b")
	internal, hits := internalService(t)

	// Keep a busy while the crafted requests arrive.
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get(t, fmt.Sprintf("%s/big.jpg?w=%d&blur=8", a.Base, 1900+i))
		}()
	}
	host := fmt.Sprintf("Host: 127.0.0.1:%d", a.Port)
	for _, target := range []string{
		"http:@" + internal + "/secret?w=100",
		"http:" + internal + "/secret?w=100",
		"@" + internal + "/secret?w=100",
		"http://user@" + internal + "/secret?w=100",
	} {
		status, body := rawRequest(t, fmt.Sprintf("127.0.0.1:%d", a.Port), "GET "+target+" HTTP/1.1", host, "Authorization: Bearer client-secret")
		if status == 200 {
			t.Errorf("GET %s: 200, want a refusal: %s", target, body)
		}
	}
	wg.Wait()
	if n := hits.Load(); n != 0 {
		t.Fatalf("the internal service was reached %d times", n)
	}
	_ = b
}

func TestAClientsCDNLoopDoesNotMarkARequestAsForwarded(t *testing.T) {
	consul := testenv.StartConsul(t)
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"big.jpg": testimages.JPEG(testimages.Gradient(3000, 2000))})
	a := zoneNode(t, consul, "a", root, "concurrency 1\nqueue 0", "b", 0, "")
	zoneNode(t, consul, "b", root, "", "a", 0, "")
	waitForPeers(t, a, "b")

	// A busy node forwards a request whose CDN-Loop the client wrote
	// itself: only a peer's authenticated request counts as forwarded.
	const n = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	zones := map[string]int{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ans := get(t, fmt.Sprintf("%s/big.jpg?w=%d&blur=8", a.Base, 1500+i), "CDN-Loop", "imgedge")
			mu.Lock()
			defer mu.Unlock()
			if ans.status == 200 {
				zones[ans.header.Get("Imgedge-Zone")]++
			} else {
				zones[fmt.Sprint(ans.status)]++
			}
		}()
	}
	wg.Wait()
	if zones["b"] == 0 {
		t.Fatalf("answers by zone or status: %v; want the busy node to forward some to zone b", zones)
	}
}

func TestAnAnonymousRequestAfterAnAuthenticatedOneGetsTheOriginsOwnAnswer(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("wonderland"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(800, 600))})
	c := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	root * %s
	route {
		image_resize
		basic_auth {
			alice %s
		}
		file_server
	}
}
`, root, hash))
	auth := "Basic " + basicCredentials("alice", "wonderland")
	for _, url := range []string{c.Base + "/p.jpg?w=200", c.Base + "/p.jpg?w=300"} {
		first := get(t, url, "Authorization", auth)
		if first.status != 200 {
			t.Fatalf("authenticated: %d %s", first.status, first.body)
		}
		if cc := first.header.Get("Cache-Control"); strings.Contains(cc, "public") {
			t.Errorf("an answer to a request with credentials was marked %q", cc)
		}
		if anon := get(t, url); anon.status != 401 {
			t.Fatalf("anonymous after authenticated: %d (Cache-Status %q), want the origin's own 401",
				anon.status, anon.header.Get("Cache-Status"))
		}
	}
}

func basicCredentials(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestAnOriginsVaryIsHonoured(t *testing.T) {
	photo := testimages.JPEG(testimages.Gradient(800, 600))
	var fetches atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Vary", "X-Tier")
		w.Write(photo)
	}))
	t.Cleanup(origin.Close)
	c := testenv.Start(t, proxyCaddyfile(origin.URL, ""))
	first := get(t, c.Base+"/p.jpg?w=100", "X-Tier", "gold")
	second := get(t, c.Base+"/p.jpg?w=100", "X-Tier", "free")
	if first.status != 200 || second.status != 200 {
		t.Fatalf("statuses %d, %d", first.status, second.status)
	}
	if fetches.Load() != 2 {
		t.Errorf("%d origin fetches for two requests the origin varies on, want 2", fetches.Load())
	}
	if v := second.header.Get("Vary"); !strings.Contains(v, "X-Tier") {
		t.Errorf("Vary %q does not carry the origin's X-Tier", v)
	}
}

func TestTwoHandlePathRoutesWithOneFileNameAnswerTheirOwnImages(t *testing.T) {
	rootA, rootB := t.TempDir(), t.TempDir()
	writeFiles(t, rootA, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(800, 400))})
	writeFiles(t, rootB, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(400, 800))})
	c := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	handle_path /a/* {
		root * %s
		image_resize
		file_server
	}
	handle_path /b/* {
		root * %s
		image_resize
		file_server
	}
}
`, rootA, rootB))
	for range 2 { // cold, then warm
		a := get(t, c.Base+"/a/p.jpg?w=100")
		b := get(t, c.Base+"/b/p.jpg?w=100")
		if a.status != 200 || b.status != 200 {
			t.Fatalf("statuses %d, %d", a.status, b.status)
		}
		da, db := decode(t, a.body), decode(t, b.body)
		if da.width != 100 || da.height != 50 || db.width != 100 || db.height != 200 {
			t.Fatalf("/a/ gave %dx%d (want 100x50), /b/ gave %dx%d (want 100x200)", da.width, da.height, db.width, db.height)
		}
		if a.header.Get("ETag") == b.header.Get("ETag") {
			t.Fatalf("two different images share the ETag %s", a.header.Get("ETag"))
		}
	}
}

// An expensive effect is refused before it runs (400, naming it), or made,
// or stopped at process_timeout (422): never longer. The README's figures
// (w=2000&blur=250 in 150 ms) are the benchmark's to show.
func TestAnExpensiveBlurIsAnsweredOrRefusedWithinSeconds(t *testing.T) {
	const timeout = 2 * time.Second
	c := site(t, map[string][]byte{"big.jpg": testimages.JPEG(testimages.Gradient(3000, 2000))}, "process_timeout "+timeout.String())
	for _, q := range []string{"w=2000&blur=250", "w=2000&blur=40", "w=4000&h=4000&fit=pad&sharpen=10"} {
		began := time.Now()
		a := get(t, c.Base+"/big.jpg?"+q)
		took := time.Since(began)
		switch {
		case a.status == 400 && !bytes.Contains(a.body, []byte(`"param"`)):
			t.Errorf("%s: 400 without naming the parameter: %s", q, a.body)
		case a.status != 200 && a.status != 400 && a.status != 422:
			t.Errorf("%s: %d %s", q, a.status, a.body)
		}
		if took > timeout+2*time.Second {
			t.Errorf("%s took %v, past process_timeout %v and two seconds", q, took, timeout)
		}
		t.Logf("%s: %d in %v", q, a.status, took.Round(time.Millisecond))
	}
}

func TestAbandonedExpensiveRequestsFreeTheirSlotsAtOnce(t *testing.T) {
	c := site(t, map[string][]byte{
		"big.jpg": testimages.JPEG(testimages.Gradient(4000, 3000)),
		"p.jpg":   testimages.JPEG(testimages.Gradient(400, 300)),
	}, "concurrency 2\nprocess_timeout 60s\ncache off")
	// Four slow jobs (a large blurred AVIF each, seconds of work) whose
	// clients hang up at 0.3 s.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/big.jpg?w=%d&f=avif&q=90&blur=9", c.Base, 3900+i), nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				t.Errorf("an expensive request finished within 0.3 s (status %d): pick a slower one", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	// Had the jobs kept their two slots, the next request would wait out
	// its queue (2 s) and get 503.
	began := time.Now()
	a := get(t, c.Base+"/p.jpg?w=100")
	if a.status != 200 {
		t.Fatalf("the next ordinary request got %d %s: the abandoned jobs kept their slots", a.status, a.body)
	}
	t.Logf("the next ordinary request took %v", time.Since(began).Round(time.Millisecond))
	// The resizes were stopped because nobody waited for them any more
	// (how fast libvips stops is TestSaveStopsTheEvaluation's to show).
	if n := metric(t, c, "imgedge_resizes_abandoned_total"); n < 1 {
		t.Errorf("imgedge_resizes_abandoned_total = %v after four clients left their resizes", n)
	}
	deadline := time.Now().Add(2500 * time.Millisecond)
	for metric(t, c, "imgedge_jobs_in_progress") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%v jobs still running 2.5 s after their clients left", metric(t, c, "imgedge_jobs_in_progress"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noisyJPEG is a photo-like w x h JPEG: noise does not compress, so the
// file is as large as a camera's.
func noisyJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < len(img.Pix); i += 4 {
		v := r.Uint32()
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(v), uint8(v>>8), uint8(v>>16), 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestManyCacheBustingRequestsForALargeOriginalStayWithinTheMemoryBudget(t *testing.T) {
	rest, peak, counts := cacheBustingPeak(t, 60, "source_budget 128MiB", "queue 200 10s\n\t\tcache 64MiB")
	t.Logf("60 requests: statuses %v, RSS %d MB before, peak %d MB", counts, rest>>20, peak>>20)
	if counts[200]+counts[503] != 60 || counts[200] == 0 {
		t.Errorf("statuses %v: want 200s (and at most 503s for what did not fit)", counts)
	}
	// The budget holds 128 MiB of originals in flight and the cache 16 MiB
	// of them; Go's collector lets the heap reach twice what is live.
	if limit := rest + 400<<20; peak > limit {
		t.Errorf("peak RSS %d MB, over %d MB (128 MiB of originals in flight, twice over for the collector, plus decoding)", peak>>20, limit>>20)
	}
}

func TestAJunkBatchLeavesTheCollectorsMemoryWhereItWas(t *testing.T) {
	c := startCollector(t, filepath.Join(t.TempDir(), "usage.db"))
	// Warm the process up with one real batch, then measure.
	http.Post(c.Base+"/api/v1/events", "application/cloudevents-batch+json", strings.NewReader("[]"))
	before := c.RSS()
	junk := make([]byte, 0, 10<<20)
	junk = append(junk, '[')
	for len(junk) < 10<<20-16 {
		junk = append(junk, "0,"...)
	}
	junk = append(junk, "0]"...)
	for range 3 {
		resp, err := http.Post(c.Base+"/api/v1/events", "application/cloudevents-batch+json", bytes.NewReader(junk))
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || !strings.Contains(body.String(), `"error"`) {
			t.Fatalf("junk batch: %d %s, want a 4xx with a JSON error", resp.StatusCode, body.String())
		}
	}
	after := c.RSS()
	t.Logf("RSS %d MB before three 10 MiB junk batches, %d MB after", before>>20, after>>20)
	if after > before+40<<20 {
		t.Errorf("RSS grew from %d MB to %d MB", before>>20, after>>20)
	}
}
