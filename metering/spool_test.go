package metering

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeJournal writes a segment of n event frames for tenant, unsealed, and
// returns its path, the event ids and the length of each frame.
func writeJournal(t *testing.T, dir string, seq uint64, n int, clock *fakeClock) (path string, ids []string, data []byte) {
	t.Helper()
	for i := 0; i < n; i++ {
		r := sampleRecord("acme", clock)
		ev := requestEvent("imgedge/test", &r)
		ids = append(ids, ev.ID)
		var err error
		if data, err = encodeEventFrame(data, &ev); err != nil {
			t.Fatal(err)
		}
	}
	path = filepath.Join(dir, segName(seq))
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	return path, ids, data
}

func TestRecoveryCutsTornTailAndSealsTheRest(t *testing.T) {
	for _, tt := range []struct {
		name string
		tail func(frame []byte) []byte
	}{
		{"a frame cut in its payload", func(f []byte) []byte { return f[:len(f)-7] }},
		{"a frame cut in its header", func(f []byte) []byte { return f[:3] }},
		{"a whole frame with a bad checksum", func(f []byte) []byte { f[len(f)-1] ^= 1; return f }},
		{"zeroes after a crash", func(f []byte) []byte { return make([]byte, 64) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := testConfig(t, clock)
			path, ids, data := writeJournal(t, cfg.Dir, 7, 3, clock)
			r := sampleRecord("acme", clock)
			ev := requestEvent("imgedge/test", &r)
			torn, _ := encodeEventFrame(nil, &ev)
			if err := os.WriteFile(path, append(data, tt.tail(torn)...), 0o640); err != nil {
				t.Fatal(err)
			}

			m := openMeter(t, cfg)
			if st := m.Stats(); st.Pending != 1 || st.SpoolBytes <= int64(len(data)) {
				t.Fatalf("stats after recovery: %+v", st)
			}
			got, batch := segmentContent(t, path) // fails on bytes after the last valid frame
			if !slices.Equal(got, ids) || batch == "" {
				t.Fatalf("recovered ids %v batch %q, want %v and a batch id", got, batch, ids)
			}
			// The next segment continues after the recovered one.
			m.Record(sampleRecord("acme", clock))
			m.sealDue(true)
			if segs := segments(t, cfg.Dir); len(segs) != 2 || filepath.Base(segs[1]) != segName(8) {
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
	ids, batch := segmentContent(t, segs[0])
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(cfg.Dir, segName(9))
	if err := os.WriteFile(empty, []byte{1, 2}, 0o640); err != nil {
		t.Fatal(err)
	}

	m2 := openMeter(t, cfg)
	if st := m2.Stats(); st.Pending != 1 {
		t.Fatalf("pending %d, want 1", st.Pending)
	}
	ids2, batch2 := segmentContent(t, segs[0])
	if !slices.Equal(ids, ids2) || batch != batch2 {
		t.Fatalf("sealed batch changed on reopen: %v %s -> %v %s", ids, batch, ids2, batch2)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Fatalf("empty segment not removed: %v", err)
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
