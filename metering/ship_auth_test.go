package metering

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShipperAuthenticates: the edge sends the token, or the user and
// password of the collector URL, with every batch.
func TestShipperAuthenticates(t *testing.T) {
	tests := []struct {
		name  string
		user  string // user:password@ in the collector URL
		token string
		want  string // the Authorization header
	}{
		{"a bearer token", "", "s3cr3t-token", "Bearer s3cr3t-token"},
		{"a user and password in the URL", "edge:pa%3Ass", "", "Basic ZWRnZTpwYTpzcw=="}, // edge:pa:ss
		{"a token wins over the URL's user", "edge:pass", "tok", "Bearer tok"},
		{"nothing", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan string, 10)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Get("Authorization")
				w.WriteHeader(http.StatusOK)
			}))
			defer srv.Close()
			clock := newFakeClock()
			cfg := testConfig(t, clock)
			cfg.Collector = srv.URL + "/api/v1/events"
			if tt.user != "" {
				cfg.Collector = strings.Replace(cfg.Collector, "http://", "http://"+tt.user+"@", 1)
			}
			cfg.Token = tt.token
			cfg.BatchRecords = 1
			cfg.Client = &http.Client{Transport: http.DefaultTransport} // a client of the caller's own
			m := openMeter(t, cfg)
			m.Record(sampleRecord("acme", clock))
			select {
			case h := <-got:
				if h != tt.want {
					t.Errorf("Authorization %q, want %q", h, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no batch arrived")
			}
		})
	}
}

func TestConfigRefusesATokenOfTwoLines(t *testing.T) {
	cfg := testConfig(t, newFakeClock())
	cfg.Collector, cfg.Token = "http://127.0.0.1:1/api/v1/events", "a\r\nX-Evil: 1"
	if _, err := New(cfg); err == nil {
		t.Fatal("New accepted a token with a line break")
	}
}

func TestConfigErrorsDoNotShowTheCollectorPassword(t *testing.T) {
	cfg := testConfig(t, newFakeClock())
	cfg.Collector = "ftp://edge:hunter2@usage.example.net/api/v1/events"
	_, err := New(cfg)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("New = %v, want an error without the password", err)
	}
}

// TestCollectorRefusingOneEventKeepsTheRest: a tenant name too long for
// the collector spoils only its own rollup; the others are stored, the
// batch is acknowledged, and the refused event is kept aside.
func TestCollectorRefusingOneEventKeepsTheRest(t *testing.T) {
	c, s := newTestCollector(t)
	srv := httptest.NewServer(c)
	defer srv.Close()
	clock := newFakeClock()
	cfg := testConfig(t, clock)
	cfg.Collector = srv.URL + "/api/v1/events"
	cfg.BatchRecords = 3
	m := openMeter(t, cfg)
	long := strings.Repeat("t", 600)
	m.Record(sampleRecord("acme", clock))
	m.Record(sampleRecord(long, clock))
	m.Record(sampleRecord("beta", clock))
	waitFor(t, "the batch acknowledged", func() bool { return m.Stats().ShippedBatches == 1 })

	st := m.Stats()
	if st.RefusedEvents != 1 || st.Rejected != 0 {
		t.Errorf("stats %+v, want 1 refused event and no rejected batch", st)
	}
	b := usage(t, s, Query{From: clock.Now().Add(-time.Hour), To: clock.Now().Add(time.Hour), Step: 2 * time.Hour})
	if len(b) != 2 || b[0].Tenant != "acme" || b[1].Tenant != "beta" {
		t.Errorf("stored %+v, want acme and beta", b)
	}
	kept, _ := filepath.Glob(filepath.Join(cfg.Dir, rejectedDir, "*.refused.json"))
	if len(kept) != 1 {
		t.Fatalf("refused files %v, want 1", kept)
	}
	data, err := os.ReadFile(kept[0])
	if err != nil {
		t.Fatal(err)
	}
	var events []Event
	if err := json.Unmarshal(data, &events); err != nil || len(events) != 1 || events[0].Subject != long {
		t.Errorf("kept %d events (%v), want the one of the long tenant", len(events), err)
	}
	if segs, _ := filepath.Glob(filepath.Join(cfg.Dir, rejectedDir, segPrefix+"*.jnl")); len(segs) != 0 {
		t.Errorf("the batch was moved aside whole: %v", segs)
	}
}

// TestShipperRetriesWhileCredentialsAreRefused: a 401 or 403 is about the
// edge's credentials, not the batch: it is retried, not moved aside, and
// delivered once the collector takes it.
func TestShipperRetriesWhileCredentialsAreRefused(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			clock := newFakeClock()
			col := newFakeCollector(t, status, status)
			cfg := testConfig(t, clock)
			cfg.Collector = col.URL()
			cfg.BatchRecords = 1
			m := openMeter(t, cfg)
			m.Record(sampleRecord("acme", clock))
			waitFor(t, "the batch delivered", func() bool { return m.Stats().ShippedBatches == 1 })
			if st := m.Stats(); st.Rejected != 0 || st.Retries != 2 {
				t.Errorf("stats %+v, want 2 retries and nothing rejected", st)
			}
		})
	}
}
