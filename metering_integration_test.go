package imgedge_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// usageRig is an edge node with metering on, shipping to a collector with
// SQLite storage, both real caddy processes.
type usageRig struct {
	edge, collector *testenv.Caddy
	spool           string
	edgeConfig      string
}

func newUsageRig(t *testing.T) *usageRig {
	t.Helper()
	dir := t.TempDir()
	rig := &usageRig{spool: filepath.Join(dir, "spool")}
	rig.collector = startCollector(t, filepath.Join(dir, "usage.db"))
	root := filepath.Join(dir, "site")
	files := map[string][]byte{
		"a.jpg": testimages.JPEG(testimages.Gradient(600, 400)),
		"b.png": testimages.PNGWithAlpha(300, 300),
	}
	writeFiles(t, root, files)
	rig.edgeConfig = fmt.Sprintf(`{
	admin {{ADMIN}}
	imgedge {
		zone test-a
		node edge-t
		metering {
			collector %s/api/v1/events
			spool %s
			batch 200ms 25
		}
	}
}
http://127.0.0.1:{{PORT}} {
	root * %s
	image_resize
	file_server
}
`, rig.collector.Base, rig.spool, root)
	rig.edge = testenv.Start(t, rig.edgeConfig)
	return rig
}

// traffic is what the edge answered, as the client saw it.
type traffic struct {
	mu       sync.Mutex
	answered int64
	bytesOut int64
}

func (tr *traffic) add(a answer) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.answered++
	if a.status == http.StatusOK {
		tr.bytesOut += int64(len(a.body))
	}
}

// send makes n image requests: resizes, hits and refusals.
func (rig *usageRig) send(t *testing.T, tr *traffic, n, offset int) {
	t.Helper()
	for i := range n {
		var path string
		switch (i + offset) % 5 {
		case 0:
			path = "/a.jpg?w=100" // a hit after the first
		case 1:
			path = fmt.Sprintf("/a.jpg?w=%d", 50+(i+offset)%200)
		case 2:
			path = fmt.Sprintf("/b.png?w=%d&f=webp", 40+(i+offset)%100)
		case 3:
			path = "/a.jpg?w=abc" // 400
		case 4:
			path = "/missing.jpg?w=10" // the route's 404: not an image request answered by imgedge
			get(t, rig.edge.Base+path)
			continue
		}
		tr.add(get(t, rig.edge.Base+path))
	}
}

type totals struct{ requests, bytesOut, pixels, hits int64 }

func (rig *usageRig) totals(t *testing.T) totals {
	t.Helper()
	return usageTotals(t, rig.collector, "127.0.0.1")
}

// usageTotals is what the collector has counted for tenant.
func usageTotals(t *testing.T, collector *testenv.Caddy, tenant string) totals {
	t.Helper()
	q := url.Values{
		"tenant": {tenant},
		"from":   {time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)},
		"to":     {time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)},
		"step":   {"24h"},
	}
	a := get(t, collector.Base+"/api/v1/usage?"+q.Encode())
	if a.status != 200 {
		t.Fatalf("usage query: %d %s", a.status, a.body)
	}
	var out struct {
		Buckets []struct {
			Requests, BytesOut, Pixels, Hits int64
		}
	}
	if err := json.Unmarshal([]byte(strings.NewReplacer(`"bytes_out"`, `"BytesOut"`).Replace(string(a.body))), &out); err != nil {
		t.Fatal(err)
	}
	var sum totals
	for _, b := range out.Buckets {
		sum.requests += b.Requests
		sum.bytesOut += b.BytesOut
		sum.pixels += b.Pixels
		sum.hits += b.Hits
	}
	return sum
}

// waitForTotals polls the collector until it has counted want requests
// (bounded), then checks nothing more arrives.
func (rig *usageRig) waitForTotals(t *testing.T, want int64) totals {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got totals
	for time.Now().Before(deadline) {
		if got = rig.totals(t); got.requests >= want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(800 * time.Millisecond) // several batch intervals: late duplicates would show
	return rig.totals(t)
}

func TestEveryAnsweredRequestIsCountedOnceWithExactBytes(t *testing.T) {
	rig := newUsageRig(t)
	var tr traffic
	rig.send(t, &tr, 60, 0)
	got := rig.waitForTotals(t, tr.answered)
	if got.requests != tr.answered || got.bytesOut != tr.bytesOut {
		t.Errorf("collector counted %d requests and %d bytes out; the client got %d answers and %d bytes",
			got.requests, got.bytesOut, tr.answered, tr.bytesOut)
	}
	if got.hits == 0 || got.pixels == 0 {
		t.Errorf("hits %d, pixels %d: want both counted", got.hits, got.pixels)
	}
}

func TestUsageSurvivesACollectorOutage(t *testing.T) {
	rig := newUsageRig(t)
	var tr traffic
	rig.send(t, &tr, 20, 0)
	rig.collector.Stop()
	rig.send(t, &tr, 30, 20)
	time.Sleep(time.Second) // the edge retries against a dead collector meanwhile
	rig.collector.Restart()
	got := rig.waitForTotals(t, tr.answered)
	if got.requests != tr.answered || got.bytesOut != tr.bytesOut {
		t.Errorf("after the outage the collector has %d requests / %d bytes, want %d / %d",
			got.requests, got.bytesOut, tr.answered, tr.bytesOut)
	}
}

func TestUsageSurvivesKillingTheEdge(t *testing.T) {
	rig := newUsageRig(t)
	var tr traffic
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 400 { // bounded; the kill ends it early
			resp, err := http.Get(fmt.Sprintf("%s/a.jpg?w=%d", rig.edge.Base, 20+i))
			if err != nil {
				return
			}
			var a answer
			a.status = resp.StatusCode
			buf := make([]byte, 0, 8<<10)
			for {
				chunk := make([]byte, 4096)
				n, err := resp.Body.Read(chunk)
				buf = append(buf, chunk[:n]...)
				if err != nil {
					break
				}
			}
			resp.Body.Close()
			if fmt.Sprint(len(buf)) != resp.Header.Get("Content-Length") {
				return // cut off by the kill: no complete answer
			}
			a.body = buf
			tr.add(a)
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	rig.edge.Kill()
	<-done
	if tr.answered < 5 {
		t.Fatalf("only %d requests answered before the kill", tr.answered)
	}
	rig.edge.Restart()
	got := rig.waitForTotals(t, tr.answered)
	// One request may have been recorded and then cut off by the kill
	// before its answer arrived; none that was answered may be missing,
	// and nothing may be counted twice.
	if got.requests < tr.answered || got.requests > tr.answered+1 {
		t.Errorf("after kill -9 and restart the collector counted %d requests; the client got %d answers", got.requests, tr.answered)
	}
	if got.requests == tr.answered && got.bytesOut != tr.bytesOut {
		t.Errorf("bytes out %d, want %d", got.bytesOut, tr.bytesOut)
	}
}

func TestAReloadDuringTrafficLosesNothing(t *testing.T) {
	rig := newUsageRig(t)
	var tr traffic
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rig.send(t, &tr, 80, 0)
	}()
	time.Sleep(300 * time.Millisecond)
	rig.edge.Reload(strings.Replace(rig.edgeConfig, "image_resize", "image_resize {\n\t\tfetch_timeout 9s\n\t}", 1))
	wg.Wait()
	got := rig.waitForTotals(t, tr.answered)
	if got.requests != tr.answered || got.bytesOut != tr.bytesOut {
		t.Errorf("across a reload the collector counted %d requests / %d bytes, want %d / %d",
			got.requests, got.bytesOut, tr.answered, tr.bytesOut)
	}
}

func TestTheSameBatchPostedTwiceIsCountedOnce(t *testing.T) {
	rig := newUsageRig(t)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	batch := fmt.Sprintf(`[
		{"specversion":"1.0","id":"e-1","source":"imgedge/test","type":"com.imgedge.usage.request","time":%q,"subject":"127.0.0.1","datacontenttype":"application/json","imgedgebatch":"b-1","data":{"tenant":"127.0.0.1","status":200,"cache_status":"miss","source_bytes":1000,"output_bytes":123,"output_pixels":400,"cpu_ms":2.5,"wall_ms":3,"zone":"z","node":"n","forwarded":false}},
		{"specversion":"1.0","id":"e-2","source":"imgedge/test","type":"com.imgedge.usage.request","time":%q,"subject":"127.0.0.1","datacontenttype":"application/json","imgedgebatch":"b-1","data":{"tenant":"127.0.0.1","status":200,"cache_status":"hit","source_bytes":0,"output_bytes":77,"output_pixels":400,"cpu_ms":0,"wall_ms":1,"zone":"z","node":"n","forwarded":false}}
	]`, now, now)
	for range 2 {
		resp, err := http.Post(rig.collector.Base+"/api/v1/events", "application/cloudevents-batch+json", strings.NewReader(batch))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("collector answered %d", resp.StatusCode)
		}
	}
	if got := rig.totals(t); got.requests != 2 || got.bytesOut != 200 {
		t.Errorf("collector counted %d requests / %d bytes, want 2 / 200", got.requests, got.bytesOut)
	}
	resp, err := http.Post(rig.collector.Base+"/api/v1/events", "application/cloudevents-batch+json", strings.NewReader(`{"not": "a batch"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad batch got %d, want 400", resp.StatusCode)
	}
}

// startCollector runs a usage collector storing into the SQLite file db.
func startCollector(t *testing.T, db string) *testenv.Caddy {
	t.Helper()
	return testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	usage_collector {
		storage sqlite %s
	}
}
`, db))
}
