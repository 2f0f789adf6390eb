package metering

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/pgtest"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func reqEvent(id, tenant string, at time.Time, cache string) Event {
	return Event{
		SpecVersion: "1.0", ID: id, Source: "imgedge/test", Type: TypeRequest, Time: at,
		Subject: tenant, Batch: "b-" + id,
		Data: EventData{Tenant: tenant, Status: 200, CacheStatus: cache, SourceBytes: 1000,
			OutputBytes: 100, OutputPixels: 10, CPUMillis: 1.25, WallMillis: 2},
	}
}

// storeSuite runs the Store contract against one implementation.
func storeSuite(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("a replayed batch is counted once", func(t *testing.T) {
		s := open(t)
		batch := []Event{
			reqEvent("e1", "acme", t0, "hit"),
			reqEvent("e2", "acme", t0.Add(time.Minute), "miss"),
			reqEvent("e3", "beta", t0.Add(2*time.Minute), "hit"),
		}
		if n, err := s.Insert(ctx, batch); err != nil || n != 3 {
			t.Fatalf("first insert: %d, %v", n, err)
		}
		if n, err := s.Insert(ctx, batch); err != nil || n != 0 {
			t.Fatalf("replayed insert: %d, %v", n, err)
		}
		overlap := []Event{batch[1], batch[2], reqEvent("e4", "acme", t0.Add(3*time.Minute), "miss")}
		if n, err := s.Insert(ctx, overlap); err != nil || n != 1 {
			t.Fatalf("overlapping insert: %d, %v", n, err)
		}
		dup := []Event{reqEvent("e5", "acme", t0, "miss"), reqEvent("e5", "acme", t0, "miss")}
		if n, err := s.Insert(ctx, dup); err != nil || n != 1 {
			t.Fatalf("batch repeating an event: %d, %v", n, err)
		}
		b := usage(t, s, Query{From: t0, To: t0.Add(time.Hour), Step: time.Hour})
		if len(b) != 2 || b[0].Tenant != "acme" || b[0].Requests != 4 || b[1].Requests != 1 {
			t.Fatalf("buckets %+v", b)
		}
	})

	t.Run("the same id from another source is another event", func(t *testing.T) {
		s := open(t)
		a := reqEvent("same", "acme", t0, "miss")
		b := a
		b.Source = "imgedge/other"
		if n, err := s.Insert(ctx, []Event{a, b}); err != nil || n != 2 {
			t.Fatalf("insert: %d, %v", n, err)
		}
	})

	t.Run("concurrent replays of one batch are counted once", func(t *testing.T) {
		s := open(t)
		var batch []Event
		for i := range 50 {
			batch = append(batch, reqEvent(fmt.Sprintf("c%d", i), "acme", t0, "miss"))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for range 4 {
			wg.Go(func() {
				n, err := s.Insert(ctx, batch)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		if total != 50 {
			t.Fatalf("new events across replays %d, want 50", total)
		}
	})

	t.Run("usage sums buckets per tenant with the hit ratio", func(t *testing.T) {
		s := open(t)
		rollup := Event{SpecVersion: "1.0", ID: "r1", Source: "imgedge/test", Type: TypeRollup,
			Time: t0.Add(90 * time.Minute), Subject: "acme",
			Data: EventData{Tenant: "acme", Requests: 10, Hits: 4, SourceBytes: 5000, OutputBytes: 700,
				OutputPixels: 99, CPUMillis: 20.5}}
		events := []Event{
			reqEvent("u1", "acme", t0, "hit"),
			reqEvent("u2", "acme", t0.Add(59*time.Minute), "miss"),
			reqEvent("u3", "acme", t0.Add(60*time.Minute), "hit"),
			rollup,
			reqEvent("u4", "beta", t0.Add(30*time.Minute), "collapsed"),
			reqEvent("u5", "acme", t0.Add(-time.Nanosecond), "hit"), // before From
			reqEvent("u6", "acme", t0.Add(2*time.Hour), "hit"),      // at To: excluded
		}
		if _, err := s.Insert(ctx, events); err != nil {
			t.Fatal(err)
		}
		got := usage(t, s, Query{From: t0, To: t0.Add(2 * time.Hour), Step: time.Hour})
		want := []Bucket{
			{Tenant: "acme", Start: t0, Requests: 2, Hits: 1, BytesIn: 2000, BytesOut: 200, Pixels: 20, CPUMillis: 2.5, HitRatio: 0.5},
			{Tenant: "beta", Start: t0, Requests: 1, Hits: 0, BytesIn: 1000, BytesOut: 100, Pixels: 10, CPUMillis: 1.25, HitRatio: 0},
			{Tenant: "acme", Start: t0.Add(time.Hour), Requests: 11, Hits: 5, BytesIn: 6000, BytesOut: 800, Pixels: 109, CPUMillis: 21.75, HitRatio: 5.0 / 11},
		}
		if len(got) != len(want) {
			t.Fatalf("buckets %+v, want %+v", got, want)
		}
		for i := range want {
			if !got[i].Start.Equal(want[i].Start) {
				t.Errorf("bucket %d start %s, want %s", i, got[i].Start, want[i].Start)
			}
			got[i].Start = want[i].Start
			if got[i] != want[i] {
				t.Errorf("bucket %d\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}

		only := usage(t, s, Query{Tenant: "beta", From: t0, To: t0.Add(2 * time.Hour), Step: 10 * time.Minute})
		if len(only) != 1 || only[0].Tenant != "beta" || !only[0].Start.Equal(t0.Add(30*time.Minute)) {
			t.Fatalf("beta in 10m steps: %+v", only)
		}
		if _, err := s.Usage(ctx, Query{From: t0, To: t0, Step: time.Hour}); err == nil {
			t.Fatal("an empty range was accepted")
		}
	})

	boundsSuite(t, open)
}

func usage(t *testing.T, s Store, q Query) []Bucket {
	t.Helper()
	b, err := s.Usage(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openTestSQLite(t *testing.T) Store {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteStore(t *testing.T) {
	storeSuite(t, openTestSQLite)
}

func TestSQLiteStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(context.Background(), []Event{reqEvent("p1", "acme", t0, "hit")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Insert(context.Background(), []Event{reqEvent("p1", "acme", t0, "hit")}); err != nil || n != 0 {
		t.Fatalf("replay after reopen: %d, %v", n, err)
	}
}

func TestPostgresStore(t *testing.T) {
	server := pgtest.Server(t) // one server; a database per subtest
	storeSuite(t, func(t *testing.T) Store {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := OpenPostgres(ctx, pgtest.DatabaseOn(t, server))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
