package metering

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// An OpenMeter ingest endpoint (POST /api/v1/events) takes the edge's
// batches as they are: the exact batch content type it switches on, the
// bearer token, the CloudEvents attributes it requires, and, in every
// rollup, each value a SUM meter reads as a JSON number (OpenMeter refuses
// an event whose valueProperty is missing). It answers 204 with no body.
func TestShippedBatchesSuitOpenMeter(t *testing.T) {
	var (
		mu       sync.Mutex
		problems []string
		events   int
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/cloudevents-batch+json" {
			problem("Content-Type %q", ct)
		}
		if a := r.Header.Get("Authorization"); a != "Bearer om-token" {
			problem("Authorization %q", a)
		}
		var batch []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			problem("batch: %v", err)
		}
		for _, e := range batch {
			for _, attr := range []string{"specversion", "id", "source", "type", "subject", "time"} {
				if s, _ := e[attr].(string); s == "" {
					problem("event without %s: %v", attr, e)
				}
			}
			data, _ := e["data"].(map[string]any)
			for _, field := range []string{"requests", "hits", "source_bytes", "output_bytes", "output_pixels", "cpu_ms", "wall_ms"} {
				if _, ok := data[field].(float64); !ok {
					problem("data.%s is %v, not a number", field, data[field])
				}
			}
		}
		mu.Lock()
		events += len(batch)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	clock := newFakeClock()
	cfg := testConfig(t, clock)
	cfg.Collector, cfg.Token = srv.URL+"/api/v1/events", "om-token"
	m := openMeter(t, cfg)
	m.Record(sampleRecord("acme", clock)) // a miss: its rollup counts no hits
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := m.Stats(); s.ShippedBatches != 1 || s.Rejected != 0 {
		t.Errorf("after a 204: %d batches shipped, %d rejected; want 1 and 0", s.ShippedBatches, s.Rejected)
	}
	mu.Lock()
	defer mu.Unlock()
	if events != 1 {
		t.Errorf("%d events arrived, want 1", events)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
