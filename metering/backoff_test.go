package metering

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

func TestBackoffFullJitterBounds(t *testing.T) {
	const lo, hi = 500 * time.Millisecond, time.Minute
	ceilings := []time.Duration{
		500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, time.Minute, time.Minute,
	}
	top := func(n int64) int64 { return n - 1 }
	bottom := func(int64) int64 { return 0 }
	for attempt, want := range ceilings {
		if got := backoffDelay(attempt, lo, hi, 0, false, top); got != want {
			t.Errorf("attempt %d: largest delay %s, want %s", attempt, got, want)
		}
		if got := backoffDelay(attempt, lo, hi, 0, false, bottom); got != 0 {
			t.Errorf("attempt %d: smallest delay %s, want 0 (full jitter)", attempt, got)
		}
		for range 200 {
			if got := backoffDelay(attempt, lo, hi, 0, false, rand.Int64N); got < 0 || got > want {
				t.Fatalf("attempt %d: delay %s outside [0, %s]", attempt, got, want)
			}
		}
	}
	if got := backoffDelay(1000, lo, hi, 0, false, top); got != hi {
		t.Errorf("attempt 1000: %s, want the cap %s", got, hi)
	}
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	top := func(n int64) int64 { return n - 1 }
	if got := backoffDelay(0, time.Second, time.Minute, 90*time.Second, true, top); got != 90*time.Second {
		t.Errorf("Retry-After 90s gave %s", got)
	}
	if got := backoffDelay(5, time.Second, time.Minute, 0, true, top); got != 0 {
		t.Errorf("Retry-After 0 gave %s", got)
	}
	if got := backoffDelay(0, time.Second, time.Minute, 48*time.Hour, true, top); got != maxRetryAfter {
		t.Errorf("Retry-After 48h gave %s, want the cap %s", got, maxRetryAfter)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		want   time.Duration
		ok     bool
	}{
		{"delay seconds", "120", 2 * time.Minute, true},
		{"zero seconds", "0", 0, true},
		{"an HTTP date in the future", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{"an HTTP date in the past means now", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"an RFC 850 date", now.Add(time.Minute).Format(time.RFC850), time.Minute, true},
		{"huge seconds are capped", "99999999999999", maxRetryAfter, true},
		{"no header", "", 0, false},
		{"negative seconds", "-5", 0, false},
		{"garbage", "soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.header, now)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("parseRetryAfter(%q) = %s, %v; want %s, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestShipperWaitsForRetryAfter(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t, http.StatusTooManyRequests)
	col.header = http.Header{"Retry-After": {"3600"}}
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.BatchRecords = 1
	m := openMeter(t, cfg)
	m.Record(sampleRecord("acme", clock))
	waitFor(t, "a retry", func() bool { return m.Stats().Retries == 1 })
	// With a 1ms..5ms backoff the batch would have gone long ago; the
	// collector asked for an hour.
	time.Sleep(50 * time.Millisecond)
	if st := m.Stats(); st.ShippedBatches != 0 || st.Retries != 1 {
		t.Fatalf("shipper ignored Retry-After: %+v", st)
	}
}
