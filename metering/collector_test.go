package metering

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

const goodEvent = `{"specversion":"1.0","id":"%s","source":"imgedge/edge-1","type":"com.imgedge.usage.request",
	"time":"2026-03-01T10:15:00.5Z","subject":"acme","datacontenttype":"application/json","imgedgebatch":"b1",
	"data":{"tenant":"acme","status":200,"cache_status":"hit","source_bytes":1000,"output_bytes":100,
	"output_pixels":10,"cpu_ms":1.5,"wall_ms":2,"zone":"eu-1","node":"edge-1","forwarded":false}}`

func post(t *testing.T, h http.Handler, contentType, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/usage/api/v1/events", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer is not JSON: %q", rec.Body.String())
	}
	return rec, out
}

func newTestCollector(t *testing.T) (*Collector, Store) {
	s := openTestSQLite(t)
	return &Collector{Store: s, Logger: zaptest.NewLogger(t),
		Now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }}, s
}

func TestCollectorIngestsBatchesIdempotently(t *testing.T) {
	c, _ := newTestCollector(t)
	body := "[" + fmt.Sprintf(goodEvent, "e1") + "," + fmt.Sprintf(goodEvent, "e2") + "]"
	rec, out := post(t, c, BatchContentType+"; charset=utf-8", body)
	if rec.Code != http.StatusOK || out["received"] != 2.0 || out["new"] != 2.0 {
		t.Fatalf("first post: %d %v", rec.Code, out)
	}
	rec, out = post(t, c, BatchContentType, body)
	if rec.Code != http.StatusOK || out["received"] != 2.0 || out["new"] != 0.0 {
		t.Fatalf("replay: %d %v", rec.Code, out)
	}
}

func TestCollectorRefusesBadBatchesWhole(t *testing.T) {
	good := fmt.Sprintf(goodEvent, "g1")
	tests := []struct {
		name        string
		contentType string
		body        string
		msg         string
	}{
		{"a body that is not JSON", BatchContentType, `[{"id":`, "not JSON"},
		{"a body cut inside an event", BatchContentType, "[" + good + "," + good[:40], "not JSON"},
		{"a body with a syntax error after good events", BatchContentType, "[" + good + ",}" + good + "]", "not JSON"},
		{"data after the array", BatchContentType, "[" + good + "] []", "after the batch"},
		{"an empty body", BatchContentType, "", "not JSON"},
		{"a single event instead of an array", BatchContentType, good, "array"},
		{"the wrong content type", "application/json", "[" + good + "]", "Content-Type"},
		{"no content type", "", "[" + good + "]", "Content-Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := newTestCollector(t)
			rec, out := post(t, c, tt.contentType, tt.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %v", rec.Code, out)
			}
			if msg, _ := out["error"].(string); !strings.Contains(msg, tt.msg) {
				t.Errorf("error %q does not mention %q", msg, tt.msg)
			}
			if b := usage(t, s, Query{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Step: time.Hour}); len(b) != 0 {
				t.Errorf("a refused batch stored %+v", b)
			}
		})
	}
}

// badEvents are events the collector refuses one by one.
var badEvents = []struct {
	name, event, msg string
}{
	{"a missing id", with("x1", `"id":"x1",`, ""), "missing id"},
	{"a missing subject", with("x2", `"subject":"acme",`, ""), "missing subject"},
	{"a missing time", with("x3", `"time":"2026-03-01T10:15:00.5Z",`, ""), "missing time"},
	{"a missing specversion", with("x4", `"specversion":"1.0",`, ""), "missing specversion"},
	{"a missing type", with("x5", `"type":"com.imgedge.usage.request",`, ""), "missing type"},
	{"an unknown event type", with("x6", "usage.request", "usage.other"), "unknown event type"},
	{"a negative byte count", with("x7", `"output_bytes":100`, `"output_bytes":-1`), "negative"},
	{"a negative cpu time", with("x8", `"cpu_ms":1.5`, `"cpu_ms":-0.5`), "negative"},
	{"a time that is not RFC 3339", with("x9", `2026-03-01T10:15:00.5Z`, `yesterday`), "RFC 3339"},
	{"a tenant other than the subject", with("x10", `"tenant":"acme"`, `"tenant":"evil"`), "subject"},
	{"a tenant of 600 bytes", with("x11", `"acme"`, `"`+strings.Repeat("t", 600)+`"`), "longer than 512"},
	{"a rollup without requests", with("x12", "usage.request", "usage.rollup"), "requests"},
	{"an event without data", `{"specversion":"1.0","id":"a","source":"s","type":"com.imgedge.usage.request","time":"2026-03-01T10:15:00Z","subject":"acme"}`, "missing data"},
	{"a number instead of an event", `0`, "not a JSON object"},
	{"a string of bad data", strings.Replace(fmt.Sprintf(goodEvent, "x13"), `"data":{`, `"data":{"status":"`+strings.Repeat("x", 5000)+`",`, 1), "bad data"},
}

// with is goodEvent with id, the first old replaced by new (every one, for
// a subject and tenant both named old).
func with(id, old, new string) string {
	n := 1
	if old == `"acme"` {
		n = -1
	}
	return strings.Replace(fmt.Sprintf(goodEvent, id), old, new, n)
}

func TestCollectorRefusesBadEventsAlone(t *testing.T) {
	for _, tt := range badEvents {
		t.Run(tt.name+" among good events is refused, the rest stored", func(t *testing.T) {
			c, s := newTestCollector(t)
			body := "[" + fmt.Sprintf(goodEvent, "g1") + "," + tt.event + "," + fmt.Sprintf(goodEvent, "g2") + "]"
			rec, out := post(t, c, BatchContentType, body)
			if rec.Code != http.StatusOK || out["received"] != 3.0 || out["new"] != 2.0 {
				t.Fatalf("status %d %v, want 200 with 3 received and 2 new", rec.Code, out)
			}
			refused, _ := out["refused"].([]any)
			if len(refused) != 1 {
				t.Fatalf("refused %v, want one event", out["refused"])
			}
			r := refused[0].(map[string]any)
			if msg, _ := r["error"].(string); r["event"] != 1.0 || !strings.Contains(msg, tt.msg) || len(msg) > maxReason+4 {
				t.Errorf("refusal %v, want event 1 and an error of at most %d bytes mentioning %q", r, maxReason, tt.msg)
			}
			b := usage(t, s, Query{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Step: time.Hour})
			if len(b) != 1 || b[0].Requests != 2 {
				t.Errorf("stored %+v, want the 2 good requests", b)
			}

			// A replay stores nothing new and refuses the same event.
			rec, out = post(t, c, BatchContentType, body)
			if rec.Code != http.StatusOK || out["new"] != 0.0 || len(out["refused"].([]any)) != 1 {
				t.Errorf("replay: %d %v", rec.Code, out)
			}
			if b := usage(t, s, Query{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Step: time.Hour}); len(b) != 1 || b[0].Requests != 2 {
				t.Errorf("after a replay %+v, want the 2 requests counted once", b)
			}
		})
		t.Run(tt.name+" alone is a 400 naming it", func(t *testing.T) {
			c, s := newTestCollector(t)
			rec, out := post(t, c, BatchContentType, "["+tt.event+"]")
			if rec.Code != http.StatusBadRequest || out["event"] != 0.0 || len(out["refused"].([]any)) != 1 {
				t.Fatalf("status %d %v, want 400 naming event 0", rec.Code, out)
			}
			if msg, _ := out["error"].(string); !strings.Contains(msg, tt.msg) {
				t.Errorf("error %q does not mention %q", msg, tt.msg)
			}
			if b := usage(t, s, Query{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Step: time.Hour}); len(b) != 0 {
				t.Errorf("stored %+v", b)
			}
		})
	}
}

func TestCollectorRefusesLargeBodies(t *testing.T) {
	c, _ := newTestCollector(t)
	c.MaxBodyBytes = 100
	rec, out := post(t, c, BatchContentType, "["+fmt.Sprintf(goodEvent, "big")+"]")
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413: %v", rec.Code, out)
	}

	// A declared length over the limit is refused before the body is read.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/events", failingReader{t})
	req.Header.Set("Content-Type", BatchContentType)
	req.ContentLength = 101
	w := httptest.NewRecorder()
	c.ServeHTTP(w, req)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), `"error"`) {
		t.Errorf("Content-Length over the limit: %d %s", w.Code, w.Body)
	}
}

// failingReader fails the test when read.
type failingReader struct{ t *testing.T }

func (f failingReader) Read([]byte) (int, error) {
	f.t.Error("the body was read")
	return 0, io.EOF
}

func TestCollectorBoundsEventsPerBatch(t *testing.T) {
	c, s := newTestCollector(t)
	c.MaxEvents = 3
	events := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, goodEvent, fmt.Sprint("m", i))
		}
		return "[" + b.String() + "]"
	}
	if rec, out := post(t, c, BatchContentType, events(3)); rec.Code != http.StatusOK || out["new"] != 3.0 {
		t.Fatalf("3 events: %d %v", rec.Code, out)
	}
	rec, out := post(t, c, BatchContentType, events(4))
	if msg, _ := out["error"].(string); rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "more than 3 events") {
		t.Fatalf("4 events: %d %v, want 413", rec.Code, out)
	}
	if b := usage(t, s, Query{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Step: time.Hour}); len(b) != 1 || b[0].Requests != 3 {
		t.Errorf("stored %+v, want only the first batch's 3", b)
	}
}

// TestCollectorStreamsHugeArrays posts 10 MiB of [0,0,0,...]: the batch is
// refused (413 for too many events or bytes, 400 for too many bad events)
// without the memory a decoded array would take.
func TestCollectorStreamsHugeArrays(t *testing.T) {
	c, _ := newTestCollector(t)
	zeros := "[" + strings.Repeat("0,", 5<<20-1) + "0]"
	for _, tt := range []struct {
		name      string
		body      string
		maxEvents int
		maxBody   int64
		msg       string
	}{
		{"with the default bounds", zeros, 0, 0, "more than 1000 bad events"},
		{"with a bound on events below the bad ones", zeros, 10, 0, "more than 10 events"},
		{"with a body limit below the body", "[" + strings.Repeat(" ", 10<<20) + "0]", 0, 1 << 20, "larger than 1048576 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c.MaxEvents, c.MaxBodyBytes = tt.maxEvents, tt.maxBody
			req := httptest.NewRequest(http.MethodPost, "/api/v1/events", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", BatchContentType)
			req.ContentLength = -1 // unknown, as with chunked encoding
			rec := httptest.NewRecorder()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			c.ServeHTTP(rec, req)
			runtime.ReadMemStats(&after)
			if rec.Code/100 != 4 || !strings.Contains(rec.Body.String(), tt.msg) {
				t.Fatalf("status %d %s, want 400 or 413 mentioning %q", rec.Code, rec.Body, tt.msg)
			}
			// Decoding the array whole would take hundreds of MiB.
			const bound = 16 << 20
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
				t.Errorf("allocated %d MiB answering it, want under %d MiB", alloc>>20, bound>>20)
			}
		})
	}
}

func TestCollectorAnswersUsage(t *testing.T) {
	c, s := newTestCollector(t)
	if _, err := s.Insert(context.Background(), []Event{
		reqEvent("q1", "acme", t0.Add(15*time.Minute), "hit"),
		reqEvent("q2", "acme", t0.Add(20*time.Minute), "miss"),
		reqEvent("q3", "beta", t0.Add(70*time.Minute), "hit"),
	}); err != nil {
		t.Fatal(err)
	}
	get := func(query string) (int, string) {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/usage"+query, nil))
		return rec.Code, rec.Body.String()
	}

	code, body := get("?tenant=acme&from=2026-03-01T10:00:00Z&to=2026-03-01T11:00:00Z&step=30m")
	want := `{"buckets":[{"tenant":"acme","start":"2026-03-01T10:00:00Z","requests":2,"hits":1,"bytes_in":2000,` +
		`"bytes_out":200,"pixels":20,"cpu_ms":2.5,"hit_ratio":0.5}]}` + "\n"
	if code != http.StatusOK || body != want {
		t.Fatalf("usage: %d\n got %s\nwant %s", code, body, want)
	}

	code, body = get("") // the last 24h (the clock says 12:00), hourly, all tenants
	var out struct{ Buckets []Bucket }
	if err := json.Unmarshal([]byte(body), &out); err != nil || code != http.StatusOK {
		t.Fatalf("default usage: %d %s", code, body)
	}
	if len(out.Buckets) != 2 || out.Buckets[0].Tenant != "acme" || out.Buckets[1].Tenant != "beta" ||
		!out.Buckets[1].Start.Equal(t0.Add(time.Hour)) {
		t.Fatalf("default usage buckets %+v", out.Buckets)
	}

	code, body = get("?tenant=nobody")
	if code != http.StatusOK || body != `{"buckets":[]}`+"\n" {
		t.Fatalf("empty usage: %d %s", code, body)
	}

	for _, q := range []string{"?step=0s", "?step=fortnight", "?from=yesterday", "?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "?step=1ns"} {
		if code, body := get(q); code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("usage%s: %d %s, want a 400 problem", q, code, body)
		}
	}
}

func TestCollectorAnswersUnknownPathsWithJSON404(t *testing.T) {
	c, _ := newTestCollector(t)
	for _, tt := range []struct{ method, path string }{{"GET", "/"}, {"GET", "/api/v1/eventsx"}, {"POST", "/api/v2/events"}} {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/json" ||
			!strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("%s %s: %d %q", tt.method, tt.path, rec.Code, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/events", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET events: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

// TestMeterToCollector runs the edge and the collector together: a batch is
// delivered, the edge crashes before acknowledging another, and after the
// restart the collector still counts every request exactly once.
func TestMeterToCollector(t *testing.T) {
	c, s := newTestCollector(t)
	var dropAcks bool
	var mu = make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu <- struct{}{}
		drop := dropAcks
		<-mu
		if drop { // store the batch, then lose the answer
			c.ServeHTTP(httptest.NewRecorder(), r)
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		c.ServeHTTP(w, r)
	}))
	defer srv.Close()

	clock := newFakeClock()
	cfg := testConfig(t, clock)
	cfg.Collector = srv.URL + "/api/v1/events"
	cfg.BatchRecords = 3
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r := sampleRecord("acme", clock)
		r.CacheStatus = []string{"hit", "miss", "hit"}[i]
		m.Record(r)
	}
	waitFor(t, "the first batch", func() bool { return m.Stats().ShippedBatches == 1 })

	mu <- struct{}{}
	dropAcks = true
	<-mu
	for range 4 {
		m.Record(sampleRecord("beta", clock))
	}
	waitFor(t, "a lost acknowledgement", func() bool { return m.Stats().Retries > 0 })
	crash(m)

	mu <- struct{}{}
	dropAcks = false
	<-mu
	m2 := openMeter(t, cfg)
	waitFor(t, "everything shipped", func() bool { return m2.Stats().ShippedRequests == 4 })

	b := usage(t, s, Query{From: clock.Now().Add(-time.Hour), To: clock.Now().Add(time.Hour), Step: 2 * time.Hour})
	if len(b) != 2 || b[0].Tenant != "acme" || b[0].Requests != 3 || b[0].Hits != 2 || b[1].Tenant != "beta" || b[1].Requests != 4 {
		t.Fatalf("buckets %+v", b)
	}
}
