package cache

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable Config.Now that only moves when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func newTestCache(t *testing.T, cfg Config) *Cache {
	t.Helper()
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 8 << 20
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(c.Close)
	return c
}

func entry(size int, tags ...string) *Entry {
	return &Entry{
		Body: bytes.Repeat([]byte{'x'}, size),
		Header: http.Header{
			"Content-Type": {"image/webp"},
			"Etag":         {`"abc"`},
		},
		Width:  400,
		Height: 300,
		Tags:   tags,
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty means valid
	}{
		{"the zero config is valid", Config{}, ""},
		{"a negative MaxBytes is refused", Config{MaxBytes: -1}, "MaxBytes"},
		{"a negative OriginalsMaxBytes is refused", Config{OriginalsMaxBytes: -1}, "OriginalsMaxBytes"},
		{"a negative MinTTL is refused", Config{MinTTL: -time.Second}, "MinTTL"},
		{"a negative MaxTTL is refused", Config{MaxTTL: -time.Second}, "MaxTTL"},
		{"a negative DefaultTTL is refused", Config{DefaultTTL: -time.Second}, "DefaultTTL"},
		{"MinTTL above MaxTTL is refused", Config{MinTTL: time.Hour, MaxTTL: time.Minute}, "MinTTL (1h0m0s) is greater than MaxTTL (1m0s)"},
		{"MinTTL above the default MaxTTL is refused", Config{MinTTL: 30 * 24 * time.Hour}, "greater than MaxTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if c != nil {
				defer c.Close()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: unexpected error %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("New: no error, want one containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("New: error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewFillsDefaults(t *testing.T) {
	c := newTestCache(t, Config{MaxBytes: 4 << 20, DefaultTTL: 10 * 24 * time.Hour})
	want := Config{
		MaxBytes:          4 << 20,
		OriginalsMaxBytes: 1 << 20,
		MinTTL:            time.Minute,
		MaxTTL:            7 * 24 * time.Hour,
		DefaultTTL:        7 * 24 * time.Hour, // clamped to MaxTTL
	}
	got := c.cfg
	got.Now = nil
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("config with defaults = %+v, want %+v", got, want)
	}
	if c.cfg.Now == nil {
		t.Fatal("Now was not defaulted")
	}
	if st := c.Stats(); st.MaxBytes != 4<<20 || st.OriginalsMaxBytes != 1<<20 {
		t.Fatalf("Stats budgets = %d, %d", st.MaxBytes, st.OriginalsMaxBytes)
	}
}

func TestSetThenGet(t *testing.T) {
	for _, original := range []bool{false, true} {
		name := "a variant comes back with identical bytes and headers"
		get, set := (*Cache).Get, (*Cache).Set
		if original {
			name = "an original comes back with identical bytes and headers"
			get, set = (*Cache).GetOriginal, (*Cache).SetOriginal
		}
		t.Run(name, func(t *testing.T) {
			c := newTestCache(t, Config{})
			in := entry(10_000, "src:t|/a.jpg", "tenant:t")
			in.Header.Set("Cache-Control", "public, max-age=3600")
			if !set(c, "k", in) {
				t.Fatal("Set refused a small entry")
			}
			out, ok := get(c, "k")
			if !ok {
				t.Fatal("Get missed right after Set")
			}
			if !bytes.Equal(out.Body, in.Body) {
				t.Error("body differs")
			}
			if fmt.Sprint(out.Header) != fmt.Sprint(in.Header) {
				t.Errorf("header = %v, want %v", out.Header, in.Header)
			}
			if out.Width != 400 || out.Height != 300 || fmt.Sprint(out.Tags) != fmt.Sprint(in.Tags) {
				t.Errorf("metadata = %dx%d %v", out.Width, out.Height, out.Tags)
			}
			if _, ok := get(c, "other"); ok {
				t.Error("Get of an unknown key hit")
			}
		})
	}

	t.Run("changing headers after Set or after Get does not change the cached entry", func(t *testing.T) {
		c := newTestCache(t, Config{})
		in := entry(100)
		c.Set("k", in)
		in.Header.Set("Content-Type", "text/plain")
		out, _ := c.Get("k")
		out.Header.Set("Cache-Status", "imgedge; hit")
		out.Header["Etag"][0] = "mutated"
		again, _ := c.Get("k")
		if got := again.Header.Get("Content-Type"); got != "image/webp" {
			t.Errorf("Content-Type = %q after the caller changed its copy", got)
		}
		if again.Header.Get("Cache-Status") != "" || again.Header.Get("Etag") != `"abc"` {
			t.Errorf("header = %v after a reader changed its copy", again.Header)
		}
	})

	t.Run("a second Set replaces the first", func(t *testing.T) {
		c := newTestCache(t, Config{})
		c.Set("k", entry(10))
		c.Set("k", entry(20))
		out, ok := c.Get("k")
		if !ok || len(out.Body) != 20 {
			t.Fatalf("Get after replace = %v, %v", out, ok)
		}
		if st := c.Stats(); st.Entries != 1 {
			t.Errorf("Entries = %d, want 1", st.Entries)
		}
	})

	t.Run("hits and misses are counted per budget", func(t *testing.T) {
		c := newTestCache(t, Config{})
		c.Set("k", entry(10))
		c.Get("k")
		c.Get("k")
		c.Get("nope")
		c.GetOriginal("k")
		st := c.Stats()
		if st.Hits != 2 || st.Misses != 1 || st.OriginalHits != 0 || st.OriginalMisses != 1 {
			t.Errorf("stats = %+v", st)
		}
		if st.Entries != 1 || st.BytesHeld <= 10 {
			t.Errorf("Entries = %d, BytesHeld = %d", st.Entries, st.BytesHeld)
		}
	})
}

func TestSetRejectsEntriesOverBudget(t *testing.T) {
	tests := []struct {
		name     string
		original bool
	}{
		{"a variant larger than the variant budget is refused and counted", false},
		{"an original larger than the originals budget is refused and counted", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(t, Config{MaxBytes: 64 << 10, OriginalsMaxBytes: 16 << 10})
			size := 80 << 10
			if tt.original {
				size = 20 << 10
			}
			var stored bool
			if tt.original {
				stored = c.SetOriginal("big", entry(size, "tenant:t"))
			} else {
				stored = c.Set("big", entry(size, "tenant:t"))
			}
			if stored {
				t.Fatal("Set accepted an entry larger than its budget")
			}
			st := c.Stats()
			rejections, entries := st.Rejections, st.Entries
			if tt.original {
				rejections, entries = st.OriginalRejections, st.OriginalEntries
			}
			if rejections != 1 || entries != 0 {
				t.Errorf("rejections = %d, entries = %d, want 1, 0", rejections, entries)
			}
			if _, ok := c.Get("big"); ok {
				t.Error("the refused entry is served")
			}
			if n := c.variants.indexSize() + c.originals.indexSize(); n != 0 {
				t.Errorf("index holds %d records for a refused entry", n)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn time.Duration // 0: leave Expires zero
		advance   time.Duration
		wantHit   bool
	}{
		{"an entry is fresh just before Expires", 10 * time.Minute, 10*time.Minute - time.Nanosecond, true},
		{"an entry misses at Expires", 10 * time.Minute, 10 * time.Minute, false},
		{"a zero Expires lasts DefaultTTL", 0, 2*time.Hour - time.Second, true},
		{"a zero Expires ends after DefaultTTL", 0, 2 * time.Hour, false},
		{"an Expires beyond MaxTTL is capped", 48 * time.Hour, 24 * time.Hour, false},
		{"an Expires within MaxTTL is kept", 23 * time.Hour, 22 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			c := newTestCache(t, Config{DefaultTTL: 2 * time.Hour, MaxTTL: 24 * time.Hour, Now: clock.Now})
			e := entry(100, "tenant:t")
			if tt.expiresIn != 0 {
				e.Expires = clock.Now().Add(tt.expiresIn)
			}
			if !c.Set("k", e) {
				t.Fatal("Set refused the entry")
			}
			clock.Advance(tt.advance)
			_, hit := c.Get("k")
			if hit != tt.wantHit {
				t.Fatalf("Get hit = %v, want %v", hit, tt.wantHit)
			}
			if !hit {
				st := c.Stats()
				if st.Expired != 1 || st.Misses != 1 || st.Entries != 0 {
					t.Errorf("Expired = %d, Misses = %d, Entries = %d; want 1, 1, 0", st.Expired, st.Misses, st.Entries)
				}
				if n := c.variants.indexSize(); n != 0 {
					t.Errorf("index holds %d records after expiry", n)
				}
			}
		})
	}

	t.Run("an entry that has already expired is not stored", func(t *testing.T) {
		clock := newFakeClock()
		c := newTestCache(t, Config{Now: clock.Now})
		e := entry(100)
		e.Expires = clock.Now().Add(-time.Second)
		if c.Set("k", e) {
			t.Fatal("Set stored an expired entry")
		}
		if c.Stats().Entries != 0 {
			t.Fatal("expired entry is held")
		}
	})
}

func TestTTL(t *testing.T) {
	c := newTestCache(t, Config{MinTTL: time.Minute, MaxTTL: 24 * time.Hour, DefaultTTL: time.Hour})
	tests := []struct {
		name         string
		cacheControl string
		wantTTL      time.Duration
		wantStore    bool
	}{
		{"max-age gives the TTL", "public, max-age=600", 10 * time.Minute, true},
		{"directive names are case-insensitive", "Public, MAX-AGE=600", 10 * time.Minute, true},
		{"quoted values are accepted", `max-age="600"`, 10 * time.Minute, true},
		{"s-maxage wins over max-age", "max-age=60, s-maxage=7200", 2 * time.Hour, true},
		{"s-maxage wins even when written first", "s-maxage=120,max-age=7200", 2 * time.Minute, true},
		{"no-store is not stored", "no-store", 0, false},
		{"no-store wins over max-age", "max-age=600, no-store", 0, false},
		{"private is not stored", "private, max-age=600", 0, false},
		{"private with field names is not stored", `private="Set-Cookie", max-age=600`, 0, false},
		{"no-cache is not stored", "no-cache", 0, false},
		{"max-age=0 is not stored", "max-age=0", 0, false},
		{"s-maxage=0 is not stored even with max-age", "s-maxage=0, max-age=600", 0, false},
		{"a garbage max-age is ignored", "max-age=soon", time.Hour, true},
		{"a negative max-age is ignored", "max-age=-5", time.Hour, true},
		{"a garbage s-maxage falls back to max-age", "s-maxage=x, max-age=600", 10 * time.Minute, true},
		{"garbage directives are ignored", ";;;, ,=,foo=bar", time.Hour, true},
		{"a missing header gives DefaultTTL", "", time.Hour, true},
		{"only unrelated directives give DefaultTTL", "public, immutable", time.Hour, true},
		{"a short max-age is raised to MinTTL", "max-age=5", time.Minute, true},
		{"a long max-age is capped at MaxTTL", "max-age=31536000", 24 * time.Hour, true},
		{"a max-age beyond int64 is capped at MaxTTL", "max-age=99999999999999999999999", 24 * time.Hour, true},
		{"the first of repeated max-age directives counts", "max-age=600, max-age=60000", 10 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ttl, store := c.TTL(tt.cacheControl)
			if ttl != tt.wantTTL || store != tt.wantStore {
				t.Errorf("TTL(%q) = %v, %v; want %v, %v", tt.cacheControl, ttl, store, tt.wantTTL, tt.wantStore)
			}
		})
	}
}

func TestOriginalsUseTheirOwnBudget(t *testing.T) {
	c := newTestCache(t, Config{MaxBytes: 1 << 20, OriginalsMaxBytes: 128 << 10})
	for i := range 20 {
		if !c.Set(fmt.Sprintf("v%d", i), entry(10<<10)) {
			t.Fatalf("variant %d refused", i)
		}
	}
	before := c.Stats()
	for i := range 500 { // ~5 MiB of originals through a 128 KiB budget
		c.SetOriginal(fmt.Sprintf("o%d", i), entry(10<<10))
	}
	for i := range 20 {
		if _, ok := c.Get(fmt.Sprintf("v%d", i)); !ok {
			t.Errorf("variant %d was evicted by originals", i)
		}
	}
	st := c.Stats()
	if st.Evictions != 0 || st.BytesHeld != before.BytesHeld {
		t.Errorf("variants: Evictions = %d, BytesHeld %d -> %d", st.Evictions, before.BytesHeld, st.BytesHeld)
	}
	if st.OriginalBytesHeld > 128<<10 || st.OriginalBytesHeld == 0 {
		t.Errorf("OriginalBytesHeld = %d, want within (0, %d]", st.OriginalBytesHeld, 128<<10)
	}
	if st.OriginalEvictions+st.OriginalRejections == 0 {
		t.Error("filling the originals budget evicted and rejected nothing")
	}
}

func TestPurge(t *testing.T) {
	setup := func(t *testing.T) *Cache {
		c := newTestCache(t, Config{})
		for _, k := range []string{"a?w=100", "a?w=200"} {
			c.Set(k, entry(100, "src:t1|/a.jpg", "tenant:t1"))
		}
		c.Set("b?w=100", entry(100, "src:t1|/b.jpg", "tenant:t1"))
		c.Set("c?w=100", entry(100, "src:t2|/a.jpg", "tenant:t2"))
		c.SetOriginal("/a.jpg", entry(100, "src:t1|/a.jpg", "tenant:t1"))
		c.SetOriginal("/b.jpg", entry(100, "src:t1|/b.jpg", "tenant:t1"))
		return c
	}
	tests := []struct {
		name          string
		tag           string
		wantDropped   int
		wantVariants  []string // still served
		wantOriginals []string
		all           bool // PurgeAll
	}{
		{"purging a source drops its variants and original only", "src:t1|/a.jpg", 3,
			[]string{"b?w=100", "c?w=100"}, []string{"/b.jpg"}, false},
		{"purging a tenant drops everything of that tenant", "tenant:t1", 5,
			[]string{"c?w=100"}, nil, false},
		{"purging an unknown tag drops nothing", "src:t3|/a.jpg", 0,
			[]string{"a?w=100", "a?w=200", "b?w=100", "c?w=100"}, []string{"/a.jpg", "/b.jpg"}, false},
		{"purging all drops everything", "", 6, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := setup(t)
			purge := c.Purge
			if tt.all {
				purge = func(string) int { return c.PurgeAll() }
			}
			if got := purge(tt.tag); got != tt.wantDropped {
				t.Fatalf("Purge(%q) = %d, want %d", tt.tag, got, tt.wantDropped)
			}
			var variants, originals []string
			for _, k := range []string{"a?w=100", "a?w=200", "b?w=100", "c?w=100"} {
				if _, ok := c.Get(k); ok {
					variants = append(variants, k)
				}
			}
			for _, k := range []string{"/a.jpg", "/b.jpg"} {
				if _, ok := c.GetOriginal(k); ok {
					originals = append(originals, k)
				}
			}
			if fmt.Sprint(variants) != fmt.Sprint(tt.wantVariants) || fmt.Sprint(originals) != fmt.Sprint(tt.wantOriginals) {
				t.Errorf("still served: variants %v originals %v; want %v %v", variants, originals, tt.wantVariants, tt.wantOriginals)
			}
			if st := c.Stats(); st.Purged != uint64(tt.wantDropped) {
				t.Errorf("Purged = %d, want %d", st.Purged, tt.wantDropped)
			}
			if got := purge(tt.tag); got != 0 {
				t.Errorf("second Purge(%q) = %d, want 0", tt.tag, got)
			}
		})
	}

	t.Run("a key set again with other tags is purged by its new tags only", func(t *testing.T) {
		c := newTestCache(t, Config{})
		c.Set("k", entry(100, "old"))
		c.Set("k", entry(100, "new"))
		if got := c.Purge("old"); got != 0 {
			t.Fatalf("Purge(old) = %d, want 0", got)
		}
		if _, ok := c.Get("k"); !ok {
			t.Fatal("k was dropped by its old tag")
		}
		if got := c.Purge("new"); got != 1 {
			t.Fatalf("Purge(new) = %d, want 1", got)
		}
		if n := c.variants.indexSize(); n != 0 {
			t.Errorf("index holds %d records after purging everything", n)
		}
	})
}

// TestIndexStaysBounded pushes many entries through a tiny budget: every
// eviction and rejection must clean the index, and the index must still
// know every entry the cache serves.
func TestIndexStaysBounded(t *testing.T) {
	const budget = 64 << 10
	c := newTestCache(t, Config{MaxBytes: budget, OriginalsMaxBytes: budget})
	const n = 5000
	key := func(i int) string { return fmt.Sprintf("/img/%d.jpg?w=400", i) }
	for i := range n {
		tags := []string{fmt.Sprintf("src:t|/img/%d.jpg", i), "tenant:t"}
		c.Set(key(i), entry(2<<10, tags...))
		c.SetOriginal(key(i), entry(2<<10, tags...))
	}
	st := c.Stats()
	if st.Evictions+st.Rejections < n/2 {
		t.Fatalf("Evictions %d + Rejections %d: the budget did not fill", st.Evictions, st.Rejections)
	}
	minCost := newStored(key(0), entry(2<<10, "src:t|/img/0.jpg", "tenant:t"), time.Now()).cost
	maxEntries := int(budget / minCost)
	for _, seg := range []*segment{c.variants, c.originals} {
		// One byKey record and two tag records per entry held.
		if size := seg.indexSize(); size > 3*maxEntries {
			t.Errorf("%s index holds %d records, want at most %d", seg.name, size, 3*maxEntries)
		}
	}
	hits, originalHits := 0, 0
	for i := range n {
		if _, ok := c.Get(key(i)); ok {
			hits++
		}
		if _, ok := c.GetOriginal(key(i)); ok {
			originalHits++
		}
	}
	st = c.Stats()
	if hits != st.Entries || originalHits != st.OriginalEntries {
		t.Errorf("served %d variants and %d originals, index knows %d and %d", hits, originalHits, st.Entries, st.OriginalEntries)
	}
	if got := c.Purge("tenant:t"); got != hits+originalHits {
		t.Errorf("Purge(tenant) = %d, want %d", got, hits+originalHits)
	}
}

// TestConcurrentUse runs Sets, Gets and Purges on overlapping keys from many
// goroutines (meant for -race), then checks the index agrees with the cache.
func TestConcurrentUse(t *testing.T) {
	c := newTestCache(t, Config{MaxBytes: 256 << 10})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				k := fmt.Sprintf("k%d", (g*7+i)%40)
				tag := fmt.Sprintf("src:%d", i%5)
				switch i % 4 {
				case 0, 1:
					c.Set(k, entry(1<<10, tag, "tenant:t"))
				case 2:
					if e, ok := c.Get(k); ok && len(e.Body) != 1<<10 {
						t.Errorf("body of %d bytes", len(e.Body))
					}
				case 3:
					if i%20 == 3 {
						c.Purge(tag)
					}
					c.SetOriginal(k, entry(1<<10, tag))
				}
			}
		})
	}
	wg.Wait()
	c.variants.rc.Wait()
	hits := 0
	for i := range 40 {
		if _, ok := c.Get(fmt.Sprintf("k%d", i)); ok {
			hits++
		}
	}
	if st := c.Stats(); hits != st.Entries {
		t.Errorf("served %d entries, index knows %d", hits, st.Entries)
	}
	if got := c.Purge("tenant:t"); got != hits {
		t.Errorf("Purge(tenant) = %d, want %d", got, hits)
	}
}

func TestNilAndClosedCache(t *testing.T) {
	check := func(t *testing.T, c *Cache) {
		t.Helper()
		if _, ok := c.Get("k"); ok {
			t.Error("Get hit")
		}
		if _, ok := c.GetOriginal("k"); ok {
			t.Error("GetOriginal hit")
		}
		if c.Set("k", entry(10)) || c.SetOriginal("k", entry(10)) {
			t.Error("Set stored")
		}
		if n := c.Purge("tag"); n != 0 {
			t.Errorf("Purge = %d", n)
		}
		if st := c.Stats(); st.Entries != 0 || st.BytesHeld != 0 {
			t.Errorf("Stats = %+v", st)
		}
		if ttl, store := c.TTL("max-age=600"); ttl != 10*time.Minute || !store {
			t.Errorf("TTL = %v, %v", ttl, store)
		}
		c.Close()
		c.Close()
	}
	t.Run("a nil cache always misses and never panics", func(t *testing.T) {
		check(t, nil)
	})
	t.Run("a zero Cache always misses and never panics", func(t *testing.T) {
		check(t, &Cache{})
	})
	t.Run("a closed cache always misses and closing twice is fine", func(t *testing.T) {
		c, err := New(Config{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		c.Set("k", entry(10))
		c.Close()
		check(t, c)
	})
	t.Run("Set with a nil entry stores nothing", func(t *testing.T) {
		c := newTestCache(t, Config{})
		if c.Set("k", nil) {
			t.Error("Set(nil) stored")
		}
	})
	t.Run("closing while others use the cache does not panic", func(t *testing.T) {
		c, err := New(Config{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				<-start
				for i := range 200 {
					k := fmt.Sprintf("k%d", (g+i)%10)
					c.Set(k, entry(100, "t"))
					c.Get(k)
					c.Purge("t")
					c.Stats()
				}
			})
		}
		close(start)
		c.Close()
		wg.Wait()
		c.Close()
	})
}

func TestPrivateAndNoStoreAnswersAreOneClients(t *testing.T) {
	for cc, want := range map[string]bool{
		"private":                      true,
		"no-store":                     true,
		"Private, max-age=60":          true,
		`private="Set-Cookie"`:         true,
		"public, max-age=3600":         false,
		"no-cache":                     false, // shared, after revalidation
		"max-age=0":                    false,
		"":                             false,
		"s-maxage=60, must-revalidate": false,
	} {
		if got := !Shareable(false, http.Header{"Cache-Control": {cc}}); got != want {
			t.Errorf("Cache-Control %q: one client's answer %v, want %v", cc, got, want)
		}
	}
}

func TestShareableFollowsRFC9111ForSharedCaches(t *testing.T) {
	tests := []struct {
		name        string
		credentials bool
		header      http.Header
		want        bool
	}{
		{"an anonymous answer without Cache-Control is shared", false, http.Header{}, true},
		{"an answer to a request with credentials and no Cache-Control is not", true, http.Header{}, false},
		{"with credentials, max-age alone is not enough", true, http.Header{"Cache-Control": {"max-age=3600"}}, false},
		{"with credentials, public allows sharing", true, http.Header{"Cache-Control": {"public, max-age=60"}}, true},
		{"with credentials, s-maxage allows sharing", true, http.Header{"Cache-Control": {"s-maxage=60"}}, true},
		{"with credentials, must-revalidate allows sharing", true, http.Header{"Cache-Control": {"max-age=60, must-revalidate"}}, true},
		{"private is never shared", false, http.Header{"Cache-Control": {"private"}}, false},
		{"no-store in a second header line is never shared", false, http.Header{"Cache-Control": {"max-age=60", "no-store"}}, false},
		{"Vary on Cookie is not shared", false, http.Header{"Vary": {"Cookie"}}, false},
		{"Vary: * is not shared", false, http.Header{"Vary": {"*"}}, false},
		{"Vary on Accept-Encoding alone is shared", false, http.Header{"Vary": {"accept-encoding"}}, true},
		{"Vary on Origin next to Accept-Encoding is not shared", false, http.Header{"Vary": {"Accept-Encoding, Origin"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Shareable(tt.credentials, tt.header); got != tt.want {
				t.Fatalf("Shareable(%v, %v) = %v, want %v", tt.credentials, tt.header, got, tt.want)
			}
		})
	}
}
