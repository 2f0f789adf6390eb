package metering

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap/zaptest"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// waitFor polls cond for a goroutine to catch up, failing after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// testConfig is a spool-only config on a fresh directory with a fake clock.
func testConfig(t *testing.T, clock *fakeClock) Config {
	return Config{
		Dir:           t.TempDir(),
		Source:        "imgedge/test",
		BatchInterval: time.Hour,
		MinBackoff:    time.Millisecond,
		MaxBackoff:    5 * time.Millisecond,
		Logger:        zaptest.NewLogger(t),
		Now:           clock.Now,
	}
}

func openMeter(t *testing.T, cfg Config) *Meter {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// crash stops m like kill -9 would: no sealing, no shipping, files left as
// they are, the lock released.
func crash(m *Meter) {
	m.closeOnce.Do(func() {
		close(m.stop)
		<-m.sealerDone
		m.shipCancel()
		<-m.shipDone
		m.mu.Lock()
		m.closed = true
		open := m.full
		for _, s := range []*segment{m.cur, m.spare} {
			if s != nil {
				open = append(open, s)
			}
		}
		for _, s := range open {
			if s.mem != nil {
				unmapSegment(s.mem)
			}
			s.f.Close()
		}
		m.mu.Unlock()
		m.lock.Close()
	})
}

func sampleRecord(tenant string, clock *fakeClock) Record {
	return Record{
		Tenant:       tenant,
		Time:         clock.Now(),
		Status:       200,
		CacheStatus:  "miss",
		SourceBytes:  1000,
		OutputBytes:  200,
		OutputPixels: 400 * 300,
		CPU:          1500 * time.Microsecond,
		Wall:         3 * time.Millisecond,
		Zone:         "eu-1",
		Node:         "edge-1",
	}
}

// segments lists the journal segment files in dir, but for the spare one
// (preallocated: all zeros, or empty where segments are not mapped).
func segments(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, segPrefix+"*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimLeft(data, "\x00")) > 0 {
			segs = append(segs, p)
		}
	}
	return segs
}

// segmentRecords returns the number of records in a segment file, failing
// when anything but valid frames is in it: a sealed segment holds nothing
// else.
func segmentRecords(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if valid := scanFrames(data, func(byte, []byte) { n++ }); valid != len(data) {
		t.Fatalf("%s: %d bytes after the last valid frame", path, len(data)-valid)
	}
	return n
}

// requestEvent is the per-request CloudEvent of r, as an OpenMeter-style
// producer (or an older edge) sends it.
func requestEvent(source string, r *Record) Event {
	return Event{
		SpecVersion:     "1.0",
		ID:              uuid.NewString(),
		Source:          source,
		Type:            TypeRequest,
		Time:            r.Time.UTC(),
		Subject:         r.Tenant,
		DataContentType: "application/json",
		Data: EventData{
			Tenant:       r.Tenant,
			Status:       r.Status,
			CacheStatus:  r.CacheStatus,
			SourceBytes:  r.SourceBytes,
			OutputBytes:  r.OutputBytes,
			OutputPixels: r.OutputPixels,
			CPUMillis:    millis(r.CPU),
			WallMillis:   millis(r.Wall),
			Zone:         r.Zone,
			Node:         r.Node,
			Forwarded:    r.Forwarded,
		},
	}
}

// fakeCollector is an httptest collector that answers with scripted
// statuses and remembers every event it accepted.
type fakeCollector struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	script   []int // statuses for the next requests; then fallback
	fallback int
	header   http.Header // added to non-2xx answers
	requests int
	accepted map[string]int // event id -> times accepted
	events   []Event
	batches  map[string]int // batch id -> events accepted
}

func newFakeCollector(t *testing.T, script ...int) *fakeCollector {
	f := &fakeCollector{t: t, script: script, fallback: http.StatusOK,
		accepted: map[string]int{}, batches: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCollector) URL() string { return f.srv.URL + "/api/v1/events" }

func (f *fakeCollector) serve(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != BatchContentType {
		f.t.Errorf("Content-Type = %q", ct)
	}
	body, _ := io.ReadAll(r.Body)
	events, refused, err := decodeBatch(bytes.NewReader(body), math.MaxInt)
	idx := -1
	if err == nil && len(refused) > 0 {
		idx, err = refused[0].Event, errors.New(refused[0].Error)
	}
	if err != nil {
		f.t.Errorf("shipper sent a bad batch (event %d): %v", idx, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	status := f.fallback
	if len(f.script) > 0 {
		status, f.script = f.script[0], f.script[1:]
	}
	if status/100 != 2 {
		for k, v := range f.header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		return
	}
	for _, e := range events {
		f.accepted[e.ID]++
		f.events = append(f.events, e)
		f.batches[e.Batch]++
	}
	w.WriteHeader(status)
}

func (f *fakeCollector) setFallback(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fallback = status
}

// check fails when an event was accepted twice and returns the number of
// distinct events and the requests they stand for.
func (f *fakeCollector) check() (events int, requests int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, n := range f.accepted {
		if n != 1 {
			f.t.Errorf("event %s accepted %d times", id, n)
		}
	}
	for i := range f.events {
		requests += f.events[i].requests()
	}
	return len(f.accepted), requests
}
