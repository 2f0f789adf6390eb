package metering

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// oldID is the id of a segment left by an earlier run, which sorts before
// the ids of a meter started now.
const oldID = "000000000001-0123456789abcdef-00000007"

// writeJournal writes a segment of n records for acme, as a crash would
// leave it, and returns its path and data.
func writeJournal(t *testing.T, dir, id string, n int, clock *fakeClock) (path string, data []byte) {
	t.Helper()
	for i := 0; i < n; i++ {
		r := sampleRecord("acme", clock)
		data = appendRecordFrame(data, &r, nil)
	}
	path = filepath.Join(dir, segName(id))
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestRecoveryCutsTornTailAndKeepsTheRest(t *testing.T) {
	for _, tt := range []struct {
		name string
		tail func(frame []byte) []byte
	}{
		{"a frame cut in its payload", func(f []byte) []byte { return f[:len(f)-7] }},
		{"a frame cut in its header", func(f []byte) []byte { return f[:3] }},
		{"a whole frame with a bad checksum", func(f []byte) []byte { f[len(f)-1] ^= 1; return f }},
		{"a torn frame in the preallocated rest", func(f []byte) []byte { return append(f[:len(f)-7], make([]byte, 4096)...) }},
		{"the preallocated rest never written", func(f []byte) []byte { return make([]byte, 1<<20) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := testConfig(t, clock)
			path, data := writeJournal(t, cfg.Dir, oldID, 3, clock)
			r := sampleRecord("acme", clock)
			torn := appendRecordFrame(nil, &r, nil)
			if err := os.WriteFile(path, append(bytes.Clone(data), tt.tail(torn)...), 0o640); err != nil {
				t.Fatal(err)
			}

			m := openMeter(t, cfg)
			if st := m.Stats(); st.Pending != 1 || st.SpoolBytes != int64(len(data)) {
				t.Fatalf("stats after recovery: %+v", st)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("recovered segment is %d bytes, want the %d bytes of its three records", len(got), len(data))
			}
			// The next segment sorts after the recovered one.
			m.Record(sampleRecord("acme", clock))
			m.sealDue(true)
			if segs := segments(t, cfg.Dir); len(segs) != 2 || segs[0] != path {
				t.Fatalf("segments %v", segs)
			}
		})
	}
}

func TestRecoveryKeepsSealedBatchesAndDropsEmptySegments(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(t, clock)
	m := openMeter(t, cfg)
	for i := 0; i < 3; i++ {
		m.Record(sampleRecord("acme", clock))
	}
	m.sealDue(true)
	segs := segments(t, cfg.Dir)
	sealed, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(cfg.Dir, segName(oldID))
	if err := os.WriteFile(empty, make([]byte, 4096), 0o640); err != nil {
		t.Fatal(err)
	}

	m2 := openMeter(t, cfg)
	if st := m2.Stats(); st.Pending != 1 {
		t.Fatalf("pending %d, want 1", st.Pending)
	}
	if got, err := os.ReadFile(segs[0]); err != nil || !bytes.Equal(got, sealed) || segmentRecords(t, segs[0]) != 3 {
		t.Fatalf("sealed batch changed on reopen (%v)", err)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Fatalf("empty segment not removed: %v", err)
	}
}

func TestSegmentNamesAreNeverReused(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(t, clock)
	seen := map[string]bool{}
	var last string
	for run := range 3 {
		m := openMeter(t, cfg)
		for range 3 {
			m.Record(sampleRecord("acme", clock))
			m.sealDue(true) // a segment per record
		}
		if err := m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		segs := segments(t, cfg.Dir)
		if len(segs) != 3 {
			t.Fatalf("run %d left %v, want 3 segments", run, segs)
		}
		for _, p := range segs {
			name := filepath.Base(p)
			if seen[name] {
				t.Fatalf("run %d used %s again", run, name)
			}
			seen[name] = true
			if name <= last {
				t.Fatalf("run %d: %s sorts before %s of an earlier run", run, name, last)
			}
			last = name
			// As if shipped: the next run starts on an empty spool.
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Millisecond)
	}
}

func TestSegmentsOfTheJSONJournalAreShipped(t *testing.T) {
	clock := newFakeClock()
	col := newFakeCollector(t)
	cfg := testConfig(t, clock)
	cfg.Collector = col.URL()
	// As the previous version left it: JSON request events, a seal frame,
	// and a second segment cut by a crash.
	var ids []string
	var sealed, torn []byte
	for i := range 3 {
		r := sampleRecord("acme", clock)
		ev := requestEvent("imgedge/test", &r)
		ids = append(ids, ev.ID)
		body, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			sealed = appendFrame(sealed, kindEvent, body)
		} else {
			torn = appendFrame(torn, kindEvent, body)
		}
	}
	sealed = appendFrame(sealed, kindSeal, []byte(`{"batch":"0190b3c5-0000-7000-8000-000000000000","count":2}`))
	torn = append(torn, 9, 0, 0)
	for name, data := range map[string][]byte{"0000000000000001": sealed, "0000000000000002": torn} {
		if err := os.WriteFile(filepath.Join(cfg.Dir, segName(name)), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}

	m := openMeter(t, cfg)
	waitFor(t, "both old segments shipped", func() bool { return m.Stats().ShippedBatches == 2 })
	if n, requests := col.check(); n != 3 || requests != 3 {
		t.Fatalf("collector has %d events for %d requests, want 3 for 3", n, requests)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, id := range ids {
		if col.accepted[id] != 1 {
			t.Errorf("event %s accepted %d times, want once", id, col.accepted[id])
		}
	}
	for _, e := range col.events {
		if e.Type != TypeRequest || e.Batch == "" || e.Data.SourceBytes != 1000 {
			t.Errorf("event %+v", e)
		}
	}
}

func TestSecondMeterOnTheSameDirectoryIsRefused(t *testing.T) {
	cfg := testConfig(t, newFakeClock())
	m := openMeter(t, cfg)
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("second New: %v, want an in-use error", err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	m2, err := New(cfg)
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	m2.Close(context.Background())
}

func TestNewValidatesConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"without a directory", Config{}},
		{"with a collector that is not a URL", Config{Dir: t.TempDir(), Collector: "usage.example.net"}},
		{"with a negative batch size", Config{Dir: t.TempDir(), BatchRecords: -1}},
		{"with max backoff below min", Config{Dir: t.TempDir(), MinBackoff: 1e9, MaxBackoff: 1e6}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := New(tt.cfg); err == nil {
				m.Close(context.Background())
				t.Fatal("New accepted a bad config")
			}
		})
	}
}

func TestNilMeterIsSafe(t *testing.T) {
	var m *Meter
	m.Record(Record{Tenant: "a"})
	if st := m.Stats(); st != (Stats{}) {
		t.Fatalf("stats %+v", st)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
