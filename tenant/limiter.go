package tenant

import (
	"container/list"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LimiterConfig sizes a Limiter.
type LimiterConfig struct {
	// MaxTenants is the most tenants with a bucket in memory. Tenant names
	// can come from the Host header, so they are not a trusted, bounded
	// set; past this many, the least recently seen tenant's bucket is
	// dropped (it starts full again if the tenant returns). Each bucket
	// costs about 200 bytes. Default: 10000.
	MaxTenants int
	// Idle is how long a tenant may go without a request before its bucket
	// is dropped; a bucket is only dropped once it has refilled, so
	// dropping it changes nothing. Default: 10 minutes.
	Idle time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Limiter rate-limits requests per tenant with token buckets
// (golang.org/x/time/rate). Buckets are created on a tenant's first
// request and kept in least-recently-seen order, so idle ones are dropped
// in constant time per request and memory stays bounded. It is safe for
// concurrent use; a nil *Limiter allows everything.
type Limiter struct {
	maxTenants int
	idle       time.Duration
	now        func() time.Time

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	order   list.List                // front: most recently seen
}

type bucket struct {
	tenant string
	lim    *rate.Limiter
	seen   time.Time
}

// NewLimiter returns a Limiter, with defaults for the zero fields of cfg.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if cfg.MaxTenants < 0 || cfg.Idle < 0 {
		return nil, errors.New("tenant limiter: MaxTenants and Idle must not be negative")
	}
	l := &Limiter{
		maxTenants: cfg.MaxTenants,
		idle:       cfg.Idle,
		now:        cfg.Now,
		buckets:    map[string]*list.Element{},
	}
	if l.maxTenants == 0 {
		l.maxTenants = 10000
	}
	if l.idle == 0 {
		l.idle = 10 * time.Minute
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l, nil
}

// Allow takes one request from the tenant's bucket, sized by limit (the
// tenant's current settings: a changed limit applies from this request
// on). When the bucket is empty it reports false and how long until a
// request would be allowed, for Retry-After (see RetryAfter). A zero Rate
// allows everything and keeps no state.
func (l *Limiter) Allow(tenant string, limit RateLimit) (ok bool, retryAfter time.Duration) {
	if l == nil || limit.Rate <= 0 {
		return true, 0
	}
	r, burst := rate.Limit(limit.Rate), limit.burst()
	now := l.now()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.evict(now)
	var b *bucket
	if e, found := l.buckets[tenant]; found {
		b = e.Value.(*bucket)
		l.order.MoveToFront(e)
		if b.lim.Limit() != r {
			b.lim.SetLimitAt(now, r)
		}
		if b.lim.Burst() != burst {
			b.lim.SetBurstAt(now, burst)
		}
	} else {
		b = &bucket{tenant: tenant, lim: rate.NewLimiter(r, burst)}
		l.buckets[tenant] = l.order.PushFront(b)
		for len(l.buckets) > l.maxTenants {
			l.remove(l.order.Back())
		}
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.lim.TokensAt(now)
	return false, time.Duration(math.Ceil(missing / limit.Rate * float64(time.Second)))
}

// Len is the number of buckets held.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// evict drops buckets, least recently seen first, that have been idle for
// l.idle and have refilled. It stops at the first that has not: every
// bucket in front of it was seen more recently.
func (l *Limiter) evict(now time.Time) {
	for e := l.order.Back(); e != nil; e = l.order.Back() {
		b := e.Value.(*bucket)
		if now.Sub(b.seen) < l.idle || b.lim.TokensAt(now) < float64(b.lim.Burst()) {
			return
		}
		l.remove(e)
	}
}

func (l *Limiter) remove(e *list.Element) {
	delete(l.buckets, e.Value.(*bucket).tenant)
	l.order.Remove(e)
}

// burst is the bucket size: Burst, or the rate rounded up, at least 1.
func (r RateLimit) burst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return max(1, int(min(math.Ceil(r.Rate), 1<<30)))
}

// RetryAfter is d as a Retry-After header value: whole seconds, rounded
// up, at least 1.
func RetryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}
