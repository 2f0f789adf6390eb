package metering

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func eventFrameSize(t *testing.T, tenant string, clock *fakeClock) int {
	t.Helper()
	r := sampleRecord(tenant, clock)
	ev := requestEvent("imgedge/test", &r)
	f, err := encodeEventFrame(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	return len(f)
}

func segmentCounts(t *testing.T, dir string) []int {
	t.Helper()
	var counts []int
	for _, p := range segments(t, dir) {
		ids, batch := segmentContent(t, p)
		if batch == "" {
			t.Fatalf("%s is not sealed", p)
		}
		counts = append(counts, len(ids))
	}
	return counts
}

func TestSealingByRecordCount(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(t, clock)
	cfg.BatchRecords = 3
	m := openMeter(t, cfg)
	for i := 0; i < 7; i++ {
		m.Record(sampleRecord("acme", clock))
	}
	waitFor(t, "two sealed batches", func() bool { return m.Stats().Sealed == 2 })
	if st := m.Stats(); st.Unsealed != 1 || st.Pending != 2 || st.Recorded != 7 {
		t.Fatalf("stats %+v", st)
	}
	m.sealDue(false)
	if st := m.Stats(); st.Sealed != 2 {
		t.Fatalf("sealed before the interval: %+v", st)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := segmentCounts(t, cfg.Dir); len(got) != 3 || got[0] != 3 || got[1] != 3 || got[2] != 1 {
		t.Fatalf("batch sizes %v, want [3 3 1]", got)
	}
}

func TestSealingByBytes(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(t, clock)
	size := eventFrameSize(t, "acme", clock)
	cfg.BatchBytes = 2*size + size/2
	m := openMeter(t, cfg)
	for i := 0; i < 5; i++ {
		m.Record(sampleRecord("acme", clock))
	}
	waitFor(t, "two sealed batches", func() bool { return m.Stats().Sealed == 2 })
	if st := m.Stats(); st.Unsealed != 1 {
		t.Fatalf("stats %+v", st)
	}
	m.sealDue(true)
	for _, p := range segments(t, cfg.Dir) {
		evs, err := readBatch(p)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, e := range evs {
			total += frameHeader + 1 + len(e)
		}
		if total > cfg.BatchBytes {
			t.Errorf("%s holds %d bytes of events, over BatchBytes %d", p, total, cfg.BatchBytes)
		}
	}
	if got := segmentCounts(t, cfg.Dir); len(got) != 3 || got[0] != 2 || got[1] != 2 || got[2] != 1 {
		t.Fatalf("batch sizes %v, want [2 2 1]", got)
	}
}

func TestSealingByTime(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(t, clock)
	cfg.BatchInterval = 2 * time.Second
	m := openMeter(t, cfg)

	m.sealDue(false)
	if st := m.Stats(); st.Sealed != 0 {
		t.Fatalf("sealed with nothing pending: %+v", st)
	}
	m.Record(sampleRecord("acme", clock))
	clock.Advance(time.Second)
	m.Record(sampleRecord("acme", clock))
	m.sealDue(false)
	if st := m.Stats(); st.Sealed != 0 || st.Unsealed != 2 {
		t.Fatalf("sealed after 1s of 2s: %+v", st)
	}
	clock.Advance(time.Second) // 2s since the first record
	m.sealDue(false)
	if st := m.Stats(); st.Sealed != 1 || st.Unsealed != 0 || st.Pending != 1 {
		t.Fatalf("not sealed after 2s: %+v", st)
	}
	// The interval counts from the first record of the new batch.
	clock.Advance(time.Hour)
	m.Record(sampleRecord("acme", clock))
	m.sealDue(false)
	if st := m.Stats(); st.Sealed != 1 {
		t.Fatalf("a fresh record was sealed at once: %+v", st)
	}
}

func TestShipperAcknowledgesAndDeletes(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.BatchRecords = 5
	m := openMeter(t, cfg)
	for i := 0; i < 10; i++ {
		m.Record(sampleRecord("acme", clock))
	}
	waitFor(t, "two shipped batches", func() bool { return m.Stats().ShippedBatches == 2 })
	st := m.Stats()
	if st.ShippedEvents != 10 || st.Pending != 0 || st.SpoolBytes != 0 || st.Retries != 0 {
		t.Fatalf("stats %+v", st)
	}
	if segs := segments(t, cfg.Dir); len(segs) != 0 {
		t.Fatalf("shipped segments left on disk: %v", segs)
	}
	if n, _ := col.check(); n != 10 {
		t.Fatalf("collector has %d events, want 10", n)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.batches) != 2 {
		t.Fatalf("batches %v, want 2 of 5", col.batches)
	}
	for _, e := range col.events {
		if e.Source != "imgedge/test" || e.Subject != "acme" || e.Type != TypeRequest || e.Data.CPUMillis != 1.5 ||
			e.Data.OutputPixels != 120000 || !e.Time.Equal(clock.Now()) {
			t.Fatalf("event %+v", e)
		}
	}
}

func TestShipperRetriesServerErrorsAndDeliversOnce(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t, http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusBadGateway)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.BatchRecords = 4
	m := openMeter(t, cfg)
	for i := 0; i < 4; i++ {
		m.Record(sampleRecord("acme", clock))
	}
	waitFor(t, "a shipped batch", func() bool { return m.Stats().ShippedBatches == 1 })
	if st := m.Stats(); st.Retries != 4 || st.Rejected != 0 {
		t.Fatalf("stats %+v", st)
	}
	if n, _ := col.check(); n != 4 {
		t.Fatalf("collector has %d events, want 4", n)
	}
}

func TestShipperRetriesNetworkErrors(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.BatchRecords = 2
	var failures int
	cfg.Client = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if failures < 3 {
			failures++
			return nil, os.ErrDeadlineExceeded
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	m := openMeter(t, cfg)
	m.Record(sampleRecord("acme", clock))
	m.Record(sampleRecord("acme", clock))
	waitFor(t, "a shipped batch", func() bool { return m.Stats().ShippedBatches == 1 })
	if st := m.Stats(); st.Retries != 3 {
		t.Fatalf("stats %+v", st)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestShipperMovesRefusedBatchesAside(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t, http.StatusBadRequest)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.BatchRecords = 2
	m := openMeter(t, cfg)
	for i := 0; i < 4; i++ {
		m.Record(sampleRecord("acme", clock))
	}
	waitFor(t, "one rejected and one shipped batch", func() bool {
		st := m.Stats()
		return st.Rejected == 1 && st.ShippedBatches == 1
	})
	if st := m.Stats(); st.Retries != 0 || st.SpoolBytes != 0 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
	rejected, _ := filepath.Glob(filepath.Join(cfg.Dir, rejectedDir, segPrefix+"*"))
	if len(rejected) != 1 {
		t.Fatalf("rejected files %v, want 1", rejected)
	}
	if ids, batch := segmentContent(t, rejected[0]); len(ids) != 2 || batch == "" {
		t.Fatalf("rejected batch holds %v (%q)", ids, batch)
	}
	if segs := segments(t, cfg.Dir); len(segs) != 0 {
		t.Fatalf("segments left: %v", segs)
	}
}

func TestFullSpoolDegradesToRollupsShippedLater(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t)
	col.setFallback(http.StatusServiceUnavailable)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.BatchRecords = 3
	size := eventFrameSize(t, "acme", clock)
	cfg.SpoolMaxBytes = int64(3*size + 100) // three records and a seal frame
	m := openMeter(t, cfg)

	for i := 0; i < 10; i++ {
		tenant := "acme"
		if i%2 == 1 {
			tenant = "acmf" // same length, so the same frame size
		}
		r := sampleRecord(tenant, clock)
		if i == 9 {
			r.CacheStatus = "hit"
		}
		m.Record(r)
	}
	st := m.Stats()
	if st.Recorded != 10 || st.Degraded != 7 || st.DegradedPending != 7 {
		t.Fatalf("stats while full %+v", st)
	}
	waitFor(t, "retries against the failing collector", func() bool { return m.Stats().Retries > 0 })

	col.setFallback(http.StatusOK)
	waitFor(t, "the spooled batch shipped", func() bool { return m.Stats().ShippedBatches == 1 })
	m.sealDue(false) // room again: rollups go into the journal
	if st := m.Stats(); st.DegradedPending != 0 || st.Unsealed != 2 {
		t.Fatalf("stats after flushing rollups %+v", st)
	}
	clock.Advance(cfg.BatchInterval)
	m.sealDue(false)
	waitFor(t, "the rollup batch shipped", func() bool { return m.Stats().ShippedBatches == 2 })

	events, requests := col.check()
	if events != 5 || requests != 10 {
		t.Fatalf("collector got %d events standing for %d requests, want 5 and 10", events, requests)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	var hits int64
	for _, e := range col.events {
		if e.Type == TypeRollup {
			if e.Data.SourceBytes != 1000*e.Data.Requests || e.Data.CPUMillis != 1.5*float64(e.Data.Requests) {
				t.Errorf("rollup sums %+v", e.Data)
			}
			hits += e.Data.Hits
		}
	}
	if hits != 1 {
		t.Errorf("rollup hits %d, want 1", hits)
	}
}

func TestReopenShipsOnlyWhatWasNotAcknowledged(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.BatchRecords = 2

	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		m.Record(sampleRecord("acme", clock))
	}
	waitFor(t, "two shipped batches", func() bool { return m.Stats().ShippedBatches == 2 })
	col.setFallback(http.StatusServiceUnavailable)
	for i := 0; i < 3; i++ {
		m.Record(sampleRecord("acme", clock))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := segmentCounts(t, cfg.Dir); len(got) != 2 || got[0]+got[1] != 3 {
		t.Fatalf("left on disk %v, want 3 records in 2 batches", got)
	}
	m.Record(sampleRecord("acme", clock))
	if st := m.Stats(); st.Dropped != 1 {
		t.Fatalf("record after Close: %+v", st)
	}

	// A fresh collector, so that a request cut off by Close cannot count
	// twice: it must get exactly the three events never acknowledged.
	col2 := newFakeCollector(t)
	cfg.Collector = col2.URL()
	m2 := openMeter(t, cfg)
	waitFor(t, "the rest shipped", func() bool { return m2.Stats().ShippedBatches == 2 })
	if n, _ := col2.check(); n != 3 {
		t.Fatalf("the restarted meter shipped %d events, want 3", n)
	}
	col.mu.Lock()
	for id := range col2.accepted {
		if col.accepted[id] > 0 {
			t.Errorf("event %s acknowledged before Close was shipped again", id)
		}
	}
	col.mu.Unlock()
	if segs := segments(t, cfg.Dir); len(segs) != 0 {
		t.Fatalf("segments left: %v", segs)
	}
}

func TestRecordsSurviveACrash(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.BatchRecords = 4

	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	col.setFallback(http.StatusServiceUnavailable)
	for i := 0; i < 6; i++ { // one full batch, two records unsealed
		m.Record(sampleRecord("acme", clock))
	}
	waitFor(t, "the first batch sealed", func() bool { return m.Stats().Sealed == 1 })
	crash(m)

	col2 := newFakeCollector(t) // see TestReopenShipsOnlyWhatWasNotAcknowledged
	cfg.Collector = col2.URL()
	m2 := openMeter(t, cfg)
	waitFor(t, "both batches shipped", func() bool { return m2.Stats().ShippedEvents == 6 })
	if n, _ := col2.check(); n != 6 {
		t.Fatalf("collector has %d events, want 6", n)
	}
}

func BenchmarkRecord(b *testing.B) {
	clock := newFakeClock()
	m, err := New(Config{Dir: b.TempDir(), Now: clock.Now, BatchInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	r := sampleRecord("acme", clock)
	b.ReportAllocs()
	for b.Loop() {
		m.Record(r)
	}
}

func TestCloseWithoutDeadlineDoesNotWaitForADownCollector(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t)
	col.setFallback(http.StatusServiceUnavailable)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Record(sampleRecord("acme", clock))
	done := make(chan error)
	go func() { done <- m.Close(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close without a deadline kept retrying")
	}
	if got := segmentCounts(t, cfg.Dir); len(got) != 1 || got[0] != 1 {
		t.Fatalf("left on disk %v, want one batch of 1", got)
	}
}
