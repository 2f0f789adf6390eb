package metering

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func recordFrameSize(tenant string, clock *fakeClock) int {
	r := sampleRecord(tenant, clock)
	return len(appendRecordFrame(nil, &r, nil))
}

// segmentCounts returns the number of records of each segment in dir,
// failing when one is not sealed (holds more than its frames).
func segmentCounts(t *testing.T, dir string) []int {
	t.Helper()
	var counts []int
	for _, p := range segments(t, dir) {
		counts = append(counts, segmentRecords(t, p))
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
	size := recordFrameSize("acme", clock)
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
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > int64(cfg.BatchBytes) {
			t.Errorf("%s holds %d bytes, over BatchBytes %d", p, fi.Size(), cfg.BatchBytes)
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
	if st.ShippedEvents != 2 || st.ShippedRequests != 10 || st.Pending != 0 || st.SpoolBytes != 0 || st.Retries != 0 {
		t.Fatalf("stats %+v", st)
	}
	if segs := segments(t, cfg.Dir); len(segs) != 0 {
		t.Fatalf("shipped segments left on disk: %v", segs)
	}
	if n, requests := col.check(); n != 2 || requests != 10 {
		t.Fatalf("collector has %d events for %d requests, want 2 for 10", n, requests)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.batches) != 2 {
		t.Fatalf("batches %v, want 2 of one rollup each", col.batches)
	}
	minute := clock.Now().Truncate(time.Minute)
	for _, e := range col.events {
		d := e.Data
		if e.Source != "imgedge/test" || e.Subject != "acme" || e.Type != TypeRollup || !e.Time.Equal(minute) ||
			!strings.HasPrefix(e.ID, e.Batch+"-") || d.Requests != 5 || d.Hits != 0 || d.Status != 200 ||
			d.CacheStatus != "miss" || d.SourceBytes != 5000 || d.OutputBytes != 1000 || d.OutputPixels != 600000 ||
			d.CPUMillis != 7.5 || d.WallMillis != 15 || d.Zone != "eu-1" || d.Node != "edge-1" || d.Forwarded {
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
	if _, requests := col.check(); requests != 4 {
		t.Fatalf("collector has %d requests, want 4", requests)
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
	if n := segmentRecords(t, rejected[0]); n != 2 {
		t.Fatalf("rejected batch holds %d records, want 2", n)
	}
	if segs := segments(t, cfg.Dir); len(segs) != 0 {
		t.Fatalf("segments left: %v", segs)
	}
}

func TestFullSpoolDegradesToSumsShippedLater(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t)
	col.setFallback(http.StatusServiceUnavailable)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.BatchRecords = 3
	size := recordFrameSize("acme", clock)
	cfg.SpoolMaxBytes = int64(3*size + size/2) // three records
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
	// Room again: the three groups summed in memory (acme, acmf, acmf's
	// hit) go into the journal, a full batch of three.
	m.sealDue(false)
	if st := m.Stats(); st.DegradedPending != 0 || st.Sealed != 2 {
		t.Fatalf("stats after writing the sums %+v", st)
	}
	waitFor(t, "the batch of sums shipped", func() bool { return m.Stats().ShippedBatches == 2 })

	events, requests := col.check()
	if events != 5 || requests != 10 {
		t.Fatalf("collector got %d events standing for %d requests, want 5 and 10", events, requests)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	var hits int64
	for _, e := range col.events {
		if e.Data.SourceBytes != 1000*e.Data.Requests || e.Data.CPUMillis != 1.5*float64(e.Data.Requests) {
			t.Errorf("rollup sums %+v", e.Data)
		}
		hits += e.Data.Hits
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
	if _, requests := col2.check(); requests != 3 {
		t.Fatalf("the restarted meter shipped %d requests, want 3", requests)
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
	waitFor(t, "both batches shipped", func() bool { return m2.Stats().ShippedRequests == 6 })
	if _, requests := col2.check(); requests != 6 {
		t.Fatalf("collector has %d requests, want 6", requests)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(t, clock)
	cfg.BatchBytes = 64 << 20 // no new segment during the run
	m := openMeter(t, cfg)
	r := sampleRecord("acme", clock)
	m.Record(r)
	if n := testing.AllocsPerRun(1000, func() { m.Record(r) }); n != 0 {
		t.Fatalf("Record allocates %v times per call", n)
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

// copyDir copies the files of dir as they are now, the way a process
// killed now leaves them to the next one: the page cache, with every record
// written through a mapping, is what the next process reads.
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// storeTotals sums the usage of all tenants in a store around t0.
func storeTotals(t *testing.T, s Store) Bucket {
	t.Helper()
	var sum Bucket
	for _, b := range usage(t, s, Query{From: t0.Add(-24 * time.Hour), To: t0.Add(24 * time.Hour), Step: time.Hour}) {
		sum.Requests += b.Requests
		sum.Hits += b.Hits
		sum.BytesIn += b.BytesIn
		sum.BytesOut += b.BytesOut
		sum.Pixels += b.Pixels
	}
	return sum
}

func TestAKilledMeterLosesNothingAndCountsNothingTwice(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mapped bool
	}{
		{"with mapped segments", true},
		{"with segments written by pwrite", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.mapped {
				mapped := mapSegmentFile
				mapSegmentFile = func(*os.File, int) ([]byte, error) { return nil, errors.New("no mapping in this test") }
				t.Cleanup(func() { mapSegmentFile = mapped })
			}
			store := openTestSQLite(t)
			srv := httptest.NewServer(&Collector{Store: store})
			defer srv.Close()

			clock := newFakeClock()
			cfg := testConfig(t, clock) // spool only: the killed process ships nothing
			cfg.BatchRecords = 4
			m, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close(context.Background()) })
			var want Bucket
			for i := range 10 {
				r := sampleRecord([]string{"acme", "beta"}[i%2], clock)
				r.OutputBytes += int64(i)
				if i%3 == 0 {
					r.CacheStatus = "hit"
					want.Hits++
				}
				m.Record(r)
				want.Requests++
				want.BytesIn += r.SourceBytes
				want.BytesOut += r.OutputBytes
				want.Pixels += r.OutputPixels
				clock.Advance(20 * time.Second) // across minutes
			}
			waitFor(t, "two full batches sealed", func() bool { return m.Stats().Sealed == 2 })
			if st := m.Stats(); st.Unsealed != 2 {
				t.Fatalf("stats %+v, want two records unsealed", st)
			}

			// kill -9 now: the next process finds the spool as it is.
			killed := cfg
			killed.Dir = copyDir(t, cfg.Dir)
			killed.Collector = srv.URL + "/api/v1/events"
			m2 := openMeter(t, killed)
			waitFor(t, "the killed meter's records shipped", func() bool { return m2.Stats().ShippedRequests == 10 })
			if got := storeTotals(t, store); got != want {
				t.Fatalf("after the kill the collector has %+v, want %+v", got, want)
			}

			// The same segments, sealed by the original meter and shipped
			// again, have the same event ids and change nothing.
			if err := m.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			again := cfg
			again.Collector = killed.Collector
			m3 := openMeter(t, again)
			waitFor(t, "the same records shipped again", func() bool { return m3.Stats().ShippedRequests == 10 })
			if got := storeTotals(t, store); got != want {
				t.Fatalf("after shipping the same segments again the collector has %+v, want %+v", got, want)
			}
		})
	}
}

func TestALargeBatchIsSentInPartsAndAcknowledgedWhole(t *testing.T) {
	defer func(n int) { maxPostBytes = n }(maxPostBytes)
	maxPostBytes = 2000 // a few rollup events per POST
	clock := newFakeClock()
	col := newFakeCollector(t, http.StatusOK, http.StatusServiceUnavailable)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	cfg.BatchRecords = 20
	m := openMeter(t, cfg)
	for i := range 20 {
		m.Record(sampleRecord(fmt.Sprintf("tenant-%02d", i), clock)) // a rollup each
	}
	waitFor(t, "the batch shipped", func() bool { return m.Stats().ShippedBatches == 1 })
	if st := m.Stats(); st.ShippedEvents != 20 || st.ShippedRequests != 20 || st.Retries != 1 {
		t.Fatalf("stats %+v", st)
	}
	if n, requests := col.check(); n != 20 || requests != 20 {
		t.Fatalf("collector has %d events for %d requests, want 20 for 20", n, requests)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.requests < 4 {
		t.Fatalf("%d POSTs, want the batch in several parts", col.requests)
	}
}
