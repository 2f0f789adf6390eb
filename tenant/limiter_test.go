package tenant

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock                   { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }
func newTestLimiter(t *testing.T, cfg LimiterConfig) *Limiter {
	t.Helper()
	l, err := NewLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLimiterAllow(t *testing.T) {
	type step struct {
		after     time.Duration // clock advance before the request
		tenant    string
		limit     RateLimit
		wantOK    bool
		wantRetry time.Duration
	}
	perSecond := RateLimit{Rate: 1, Burst: 3}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a burst is allowed at once, then the next waits for one token", []step{
			{0, "a", perSecond, true, 0},
			{0, "a", perSecond, true, 0},
			{0, "a", perSecond, true, 0},
			{0, "a", perSecond, false, time.Second},
		}},
		{"the bucket refills at the rate and Retry-After counts down", []step{
			{0, "a", perSecond, true, 0},
			{0, "a", perSecond, true, 0},
			{0, "a", perSecond, true, 0},
			{300 * time.Millisecond, "a", perSecond, false, 700 * time.Millisecond},
			{700 * time.Millisecond, "a", perSecond, true, 0},
			{0, "a", perSecond, false, time.Second},
			{10 * time.Second, "a", perSecond, true, 0},
			{0, "a", perSecond, true, 0},
			{0, "a", perSecond, true, 0},
			{0, "a", perSecond, false, time.Second},
		}},
		{"a slow rate gives a long Retry-After", []step{
			{0, "a", RateLimit{Rate: 0.1}, true, 0},
			{0, "a", RateLimit{Rate: 0.1}, false, 10 * time.Second},
		}},
		{"the burst defaults to the rate rounded up", []step{
			{0, "a", RateLimit{Rate: 1.5}, true, 0},
			{0, "a", RateLimit{Rate: 1.5}, true, 0},
			{0, "a", RateLimit{Rate: 1.5}, false, 666666667 * time.Nanosecond},
		}},
		{"tenants have their own buckets", []step{
			{0, "a", RateLimit{Rate: 1}, true, 0},
			{0, "a", RateLimit{Rate: 1}, false, time.Second},
			{0, "b", RateLimit{Rate: 1}, true, 0},
		}},
		{"a zero rate is unlimited", []step{
			{0, "a", RateLimit{}, true, 0},
			{0, "a", RateLimit{}, true, 0},
			{0, "a", RateLimit{Burst: 1}, true, 0},
		}},
		{"a changed limit applies from the next request", []step{
			{0, "a", RateLimit{Rate: 1}, true, 0},
			{0, "a", RateLimit{Rate: 1}, false, time.Second},
			{0, "a", RateLimit{Rate: 4, Burst: 4}, false, 250 * time.Millisecond},
			{250 * time.Millisecond, "a", RateLimit{Rate: 4, Burst: 4}, true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			l := newTestLimiter(t, LimiterConfig{Now: clock.now})
			for i, s := range tt.steps {
				clock.advance(s.after)
				ok, retry := l.Allow(s.tenant, s.limit)
				if ok != s.wantOK || retry != s.wantRetry {
					t.Fatalf("step %d (%s at +%v): Allow = %v, %v; want %v, %v", i, s.tenant, s.after, ok, retry, s.wantOK, s.wantRetry)
				}
			}
		})
	}
}

func TestLimiterForgetsIdleTenants(t *testing.T) {
	clock := newClock()
	l := newTestLimiter(t, LimiterConfig{Now: clock.now, Idle: time.Minute})
	fast, slow := RateLimit{Rate: 1, Burst: 2}, RateLimit{Rate: 1.0 / 3600}
	l.Allow("fast", fast)
	l.Allow("fast", fast)
	l.Allow("slow", slow) // needs an hour to refill
	clock.advance(59 * time.Second)
	l.Allow("other", fast)
	if n := l.Len(); n != 3 {
		t.Fatalf("before the idle time: %d buckets, want 3", n)
	}
	clock.advance(2 * time.Second)
	l.Allow("other", fast)
	if n := l.Len(); n != 2 {
		t.Fatalf("after the idle time: %d buckets, want 2 (fast forgotten, slow kept until refilled)", n)
	}
	if ok, _ := l.Allow("slow", slow); ok {
		t.Fatal("the slow tenant's bucket was forgotten before it refilled")
	}
	clock.advance(2 * time.Hour)
	l.Allow("other", fast)
	if n := l.Len(); n != 1 {
		t.Fatalf("after the slow bucket refilled: %d buckets, want 1", n)
	}
}

func TestLimiterHoldsAtMostMaxTenants(t *testing.T) {
	clock := newClock()
	l := newTestLimiter(t, LimiterConfig{Now: clock.now, MaxTenants: 2})
	one := RateLimit{Rate: 1}
	l.Allow("a", one)
	l.Allow("b", one)
	l.Allow("a", one) // a is now the most recently seen
	l.Allow("c", one) // b goes
	if n := l.Len(); n != 2 {
		t.Fatalf("%d buckets, want 2", n)
	}
	if ok, _ := l.Allow("a", one); ok {
		t.Error("a's bucket was dropped although b was older")
	}
	if ok, _ := l.Allow("b", one); !ok {
		t.Error("b's bucket was kept although it was the oldest")
	}
}

func TestLimiterIsSafeForConcurrentUse(t *testing.T) {
	l := newTestLimiter(t, LimiterConfig{MaxTenants: 8})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				l.Allow(string(rune('a'+(g+i)%12)), RateLimit{Rate: 100, Burst: 10})
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n > 8 {
		t.Errorf("%d buckets, want at most 8", n)
	}
}

func TestNilLimiterAllowsEverything(t *testing.T) {
	var l *Limiter
	if ok, _ := l.Allow("a", RateLimit{Rate: 1}); !ok {
		t.Error("a nil Limiter refused")
	}
}

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                       "1",
		time.Millisecond:        "1",
		time.Second:             "1",
		1200 * time.Millisecond: "2",
		10 * time.Second:        "10",
	} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}
