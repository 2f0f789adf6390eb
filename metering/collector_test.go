package metering

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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
	with := func(old, new string) string { return strings.Replace(fmt.Sprintf(goodEvent, "x1"), old, new, 1) }
	tests := []struct {
		name        string
		contentType string
		body        string
		event       any // index in the answer, nil for none
		msg         string
	}{
		{"a body that is not JSON", BatchContentType, `[{"id":`, nil, "not JSON"},
		{"a single event instead of an array", BatchContentType, good, nil, "array"},
		{"the wrong content type", "application/json", "[" + good + "]", nil, "Content-Type"},
		{"no content type", "", "[" + good + "]", nil, "Content-Type"},
		{"a missing id", BatchContentType, "[" + good + "," + with(`"id":"x1",`, "") + "]", 1.0, "missing id"},
		{"a missing subject", BatchContentType, "[" + with(`"subject":"acme",`, "") + "]", 0.0, "missing subject"},
		{"a missing time", BatchContentType, "[" + with(`"time":"2026-03-01T10:15:00.5Z",`, "") + "]", 0.0, "missing time"},
		{"a missing specversion", BatchContentType, "[" + with(`"specversion":"1.0",`, "") + "]", 0.0, "missing specversion"},
		{"a missing type", BatchContentType, "[" + with(`"type":"com.imgedge.usage.request",`, "") + "]", 0.0, "missing type"},
		{"an unknown event type", BatchContentType, "[" + good + "," + good + "," + with("usage.request", "usage.other") + "]", 2.0, "unknown event type"},
		{"a negative byte count", BatchContentType, "[" + with(`"output_bytes":100`, `"output_bytes":-1`) + "]", 0.0, "negative"},
		{"a negative cpu time", BatchContentType, "[" + with(`"cpu_ms":1.5`, `"cpu_ms":-0.5`) + "]", 0.0, "negative"},
		{"a time that is not RFC 3339", BatchContentType, "[" + with(`2026-03-01T10:15:00.5Z`, `yesterday`) + "]", 0.0, "RFC 3339"},
		{"a tenant other than the subject", BatchContentType, "[" + with(`"tenant":"acme"`, `"tenant":"evil"`) + "]", 0.0, "subject"},
		{"a rollup without requests", BatchContentType, "[" + with("usage.request", "usage.rollup") + "]", 0.0, "requests"},
		{"an event without data", BatchContentType, `[{"specversion":"1.0","id":"a","source":"s","type":"com.imgedge.usage.request","time":"2026-03-01T10:15:00Z","subject":"acme"}]`, 0.0, "missing data"},
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
			if out["event"] != tt.event {
				t.Errorf("event index %v, want %v", out["event"], tt.event)
			}
			b := usage(t, s, Query{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Step: time.Hour})
			if len(b) != 0 {
				t.Errorf("a refused batch stored %+v", b)
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
