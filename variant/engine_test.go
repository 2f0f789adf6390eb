package variant

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/budget"
	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/transform"
)

// origin is a fake fetch function: it serves one photo and counts.
type origin struct {
	body    []byte
	header  http.Header
	fetches atomic.Int64
	delay   time.Duration
	budget  *budget.Budget
}

func newOrigin(cacheControl string) *origin {
	h := http.Header{"Content-Type": {"image/jpeg"}}
	if cacheControl != "" {
		h.Set("Cache-Control", cacheControl)
	}
	return &origin{body: testimages.JPEG(testimages.Gradient(800, 600)), header: h, budget: budget.New(64<<20, 64)}
}

func (o *origin) fetch(ctx context.Context, shared bool) (*Fetched, error) {
	o.fetches.Add(1)
	lease, err := o.budget.Acquire(ctx, int64(len(o.body)))
	if err != nil {
		return nil, err
	}
	select {
	case <-time.After(o.delay):
	case <-ctx.Done():
		lease.Release()
		return nil, ctx.Err()
	}
	return &Fetched{Body: o.body, Header: o.header.Clone(), Lease: lease}, nil
}

func newEngine(t *testing.T, withCache bool, slots int) *Engine {
	t.Helper()
	var c *cache.Cache
	if withCache {
		var err error
		if c, err = cache.New(cache.Config{MaxBytes: 64 << 20}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := NewSlots(slots, 64, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	st := NewStore(c)
	t.Cleanup(st.Close)
	return &Engine{Store: st, Slots: s, Pipeline: imaging.DefaultConfig(), CacheControl: "public, max-age=60"}
}

func request(o *origin, query string) *Request {
	opts, err := transform.Parse(mustQuery(query), transform.DefaultLimits)
	if err != nil {
		panic(err)
	}
	return &Request{
		Site: Site("img.example.com", "img.example.com", "443"), Source: Resource("/p.jpg", "/p.jpg", ""),
		Tags:    []string{SourceTag("img.example.com", "/p.jpg"), TenantTag("img.example.com")},
		Options: opts, Limits: transform.DefaultLimits, Header: http.Header{}, Fetch: o.fetch,
	}
}

func TestTheLoadPath(t *testing.T) {
	o := newOrigin("")
	e := newEngine(t, true, 2)
	ctx := context.Background()

	first, err := e.Get(ctx, request(o, "w=200"))
	if err != nil {
		t.Fatal(err)
	}
	first.Release()
	if first.CacheStatus != "miss" || first.Entry.Width != 200 || first.SourceBytes != int64(len(o.body)) {
		t.Fatalf("cold: status %s, width %d, source bytes %d", first.CacheStatus, first.Entry.Width, first.SourceBytes)
	}
	again, err := e.Get(ctx, request(o, "w=200"))
	if err != nil || again.CacheStatus != "hit" || again.Entry.Header.Get("ETag") != first.Entry.Header.Get("ETag") {
		t.Fatalf("warm: %v, status %s", err, again.CacheStatus)
	}
	other, err := e.Get(ctx, request(o, "w=100"))
	if err != nil || other.CacheStatus != "miss" || other.Entry.Width != 100 {
		t.Fatalf("another width: %v %+v", err, other)
	}
	if n := o.fetches.Load(); n != 1 {
		t.Errorf("%d fetches for two widths of one source, want 1 (the originals cache)", n)
	}
	conditional := request(o, "w=200")
	conditional.IfNoneMatch = first.Entry.Header.Get("ETag")
	if res, err := e.Get(ctx, conditional); err != nil || !res.NotModified || res.CacheStatus != "hit" {
		t.Errorf("a warm conditional request: %v, NotModified %v, %s; want a 304 from the cache", err, res.NotModified, res.CacheStatus)
	}
	if cc := first.Entry.Header.Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("Cache-Control %q, want the fallback for a shareable answer", cc)
	}
}

func TestAConditionalRequestForAVariantNotYetMadeIsNotModifiedAndBilled(t *testing.T) {
	o := newOrigin("")
	made, err := newEngine(t, false, 1).Get(context.Background(), request(o, "w=200"))
	if err != nil {
		t.Fatal(err)
	}
	made.Release()
	req := request(o, "w=200")
	req.IfNoneMatch = made.Entry.Header.Get("ETag")
	res, err := newEngine(t, false, 1).Get(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if !res.NotModified || res.SourceBytes != int64(len(o.body)) {
		t.Fatalf("NotModified %v, source bytes %d: want a 304 that bills the %d bytes fetched", res.NotModified, res.SourceBytes, len(o.body))
	}
}

func TestConcurrentRequestsForOneVariantShareOneFetchAndOneJob(t *testing.T) {
	o := newOrigin("")
	o.delay = 50 * time.Millisecond
	e := newEngine(t, false, 2)
	var jobs atomic.Int64
	e.Hooks.Done = func(time.Duration, imaging.Result) { jobs.Add(1) }
	var wg sync.WaitGroup
	statuses := make([]string, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.Get(context.Background(), request(o, "w=300"))
			if err != nil {
				t.Error(err)
				return
			}
			res.Release()
			statuses[i] = res.CacheStatus
		}()
	}
	wg.Wait()
	if o.fetches.Load() != 1 || jobs.Load() != 1 {
		t.Fatalf("%d fetches and %d jobs for 8 concurrent requests, want 1 and 1 (statuses %v)", o.fetches.Load(), jobs.Load(), statuses)
	}
}

func TestCredentialsKeepAnswersApart(t *testing.T) {
	o := newOrigin("") // no Cache-Control: not shareable with credentials
	e := newEngine(t, true, 2)
	alice := request(o, "w=200")
	alice.Header.Set("Authorization", "Basic YWxpY2U6cGFzcw==")
	res, err := e.Get(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	if cc := res.Entry.Header.Get("Cache-Control"); cc != "private" {
		t.Errorf("an answer to a request with credentials has Cache-Control %q, want private", cc)
	}
	anon, err := e.Get(context.Background(), request(o, "w=200"))
	if err != nil {
		t.Fatal(err)
	}
	anon.Release()
	if anon.CacheStatus == "hit" || o.fetches.Load() != 2 {
		t.Fatalf("an anonymous request after one with credentials: %s after %d fetches; want its own fetch", anon.CacheStatus, o.fetches.Load())
	}
}

func TestAnExpensiveEffectIsRefusedBeforeASlot(t *testing.T) {
	o := newOrigin("")
	o.body = testimages.JPEG(testimages.Gradient(4000, 3000))
	e := newEngine(t, false, 1)
	var jobs atomic.Int64
	e.Hooks.Job = func(d int) { jobs.Add(int64(max(d, 0))) }
	_, err := e.Get(context.Background(), request(o, "w=4000&sharpen=10"))
	var pe *transform.Error
	if !errors.As(err, &pe) || pe.Param != "sharpen" || jobs.Load() != 0 {
		t.Fatalf("err %v after %d jobs; want a refusal naming sharpen, no job", err, jobs.Load())
	}
}

func TestAResizeNobodyWaitsForStops(t *testing.T) {
	o := newOrigin("")
	o.body = testimages.JPEG(testimages.Gradient(3000, 2000))
	e := newEngine(t, false, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := e.Get(ctx, request(o, "w=3000&f=avif&q=90"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's", err)
	}
	// The slot is free again promptly: the job was cancelled.
	deadline := time.Now().Add(2 * time.Second)
	for {
		release, err := e.Slots.Acquire(context.Background())
		if err == nil {
			release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slot is still taken 2 s after its only client left")
		}
	}
	t.Logf("the slot was free %v after the request began", time.Since(began).Round(time.Millisecond))
}

func TestABusyEngineSaysSo(t *testing.T) {
	o := newOrigin("")
	o.body = testimages.JPEG(testimages.Gradient(3000, 2000))
	e := newEngine(t, false, 1)
	s, _ := NewSlots(1, 0, 0)
	e.Slots = s
	var busy atomic.Int64
	e.Hooks.Busy = func(b bool) {
		if b {
			busy.Add(1)
		}
	}
	release, _ := e.Slots.Acquire(context.Background())
	_, err := e.Get(context.Background(), request(o, "w=300"))
	release()
	if !errors.Is(err, ErrBusy) || busy.Load() != 1 {
		t.Fatalf("err %v, busy signalled %d times; want ErrBusy and one signal", err, busy.Load())
	}
}

func TestNewSlotsRefusesImpossibleSettings(t *testing.T) {
	for _, c := range [][3]int{{0, 1, 1}, {-1, 1, 1}, {1, -1, 1}} {
		if _, err := NewSlots(c[0], c[1], time.Duration(c[2])); err == nil {
			t.Errorf("NewSlots(%v) accepted", c)
		}
	}
}

func mustQuery(q string) url.Values {
	v, err := url.ParseQuery(q)
	if err != nil {
		panic(err)
	}
	return v
}

// An original in the cache is not inspected again by the engine that kept
// it, but an engine with other limits (a reload sharing the cache) checks
// it against its own.
func TestAKeptOriginalMeetsTheLimitsOfWhoeverUsesIt(t *testing.T) {
	o := newOrigin("public, max-age=60")
	e := newEngine(t, true, 1)
	e.Fingerprint = "old"
	if _, err := e.Get(context.Background(), request(o, "w=200")); err != nil {
		t.Fatal(err)
	}
	res, err := e.Get(context.Background(), request(o, "w=300"))
	if err != nil || res.Status != "fwd=miss; detail=original" || o.fetches.Load() != 1 {
		t.Fatalf("a second variant: %v, %q, %d fetches; want it made from the kept original", err, res.Status, o.fetches.Load())
	}
	reloaded := *e
	reloaded.Fingerprint = "new"
	reloaded.Pipeline.MaxPixels = 1000 // the 800x600 original is now too large
	_, err = reloaded.Get(context.Background(), request(o, "w=400"))
	var ie *imaging.Error
	if !errors.As(err, &ie) || ie.Kind != imaging.TooLarge {
		t.Fatalf("under a lower pixel limit: %v, want TooLarge", err)
	}
}

// A request whose options are refused learns whether its source is an
// image as Get would get it: repeated, it reaches the origin once.
func TestProbeGetsTheSourceOnce(t *testing.T) {
	o := newOrigin("public, max-age=60")
	e := newEngine(t, true, 1)
	for i := range 3 {
		res, err := e.Probe(context.Background(), request(o, ""))
		if err != nil {
			t.Fatal(err)
		}
		if billed := res.SourceBytes > 0; billed != (i == 0) {
			t.Errorf("probe %d: %d source bytes billed", i, res.SourceBytes)
		}
	}
	if n := o.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
	page := &Request{Site: "s", Source: "/page", Header: http.Header{}, Fetch: func(context.Context, bool) (*Fetched, error) { return nil, ErrNotImage }}
	if _, err := e.Probe(context.Background(), page); !errors.Is(err, ErrNotImage) {
		t.Errorf("a page: %v, want ErrNotImage", err)
	}
}
