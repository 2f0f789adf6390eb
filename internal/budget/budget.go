// Package budget bounds the memory a process spends on originals in flight:
// how many may be fetched and held at once, and how many bytes they hold
// together. A request takes a Lease before its fetch starts, grows it as
// the original's size becomes known, and releases it when it is done with
// the bytes; whoever cannot get one waits, within its context, or is told
// the node is busy.
package budget

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/sync/semaphore"
)

// ErrExhausted means the budget had no room within the caller's wait.
var ErrExhausted = errors.New("the budget for originals in flight is exhausted")

// Budget is a byte and count budget. The zero value is not usable; make
// one with New.
type Budget struct {
	bytes, count *semaphore.Weighted
	limit        int64
	mu           sync.Mutex
	held         int64 // bytes leased now, for metrics
	leases       int64
}

// New returns a budget of limit bytes and at most n leases at once.
func New(limit int64, n int) *Budget {
	return &Budget{bytes: semaphore.NewWeighted(limit), count: semaphore.NewWeighted(int64(n)), limit: limit}
}

// Limit is the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Held reports the bytes and leases held right now.
func (b *Budget) Held() (bytes, leases int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held, b.leases
}

// Acquire takes a lease of n bytes, waiting while ctx allows. It returns
// ErrExhausted (joined with ctx's error) when the wait ends first.
func (b *Budget) Acquire(ctx context.Context, n int64) (*Lease, error) {
	if n > b.limit {
		return nil, ErrExhausted
	}
	if err := acquire(ctx, b.count, 1); err != nil {
		return nil, err
	}
	if err := acquire(ctx, b.bytes, n); err != nil {
		b.count.Release(1)
		return nil, err
	}
	b.add(n, 1)
	return &Lease{b: b, n: n}, nil
}

// acquire takes n of sem: at once when there is room, even if ctx is
// already done (a zero wait means "do not wait", not "refuse"), else
// waiting while ctx allows.
func acquire(ctx context.Context, sem *semaphore.Weighted, n int64) error {
	if sem.TryAcquire(n) {
		return nil
	}
	if err := sem.Acquire(ctx, n); err != nil {
		return errors.Join(ErrExhausted, err)
	}
	return nil
}

func (b *Budget) add(bytes, leases int64) {
	b.mu.Lock()
	b.held += bytes
	b.leases += leases
	b.mu.Unlock()
}

// Lease is a share of a Budget. A nil *Lease is valid and holds nothing.
type Lease struct {
	b        *Budget
	mu       sync.Mutex
	n        int64
	released bool
}

// Size is the bytes the lease holds.
func (l *Lease) Size() int64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// GrowTo makes the lease hold at least n bytes, waiting while ctx allows.
// Wait only while holding little (before the body arrives): leases that
// wait to grow while holding much could starve each other.
func (l *Lease) GrowTo(ctx context.Context, n int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return ErrExhausted
	}
	delta := n - l.n
	if delta <= 0 {
		return nil
	}
	if n > l.b.limit {
		return ErrExhausted
	}
	if err := acquire(ctx, l.b.bytes, delta); err != nil {
		return err
	}
	l.n = n
	l.b.add(delta, 0)
	return nil
}

// TryGrowTo is GrowTo without waiting.
func (l *Lease) TryGrowTo(n int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	delta := n - l.n
	if delta <= 0 {
		return !l.released
	}
	if l.released || !l.b.bytes.TryAcquire(delta) {
		return false
	}
	l.n = n
	l.b.add(delta, 0)
	return true
}

// Release gives the lease back. It is safe to call more than once, and on
// a nil lease.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return
	}
	l.released = true
	l.b.bytes.Release(l.n)
	l.b.count.Release(1)
	l.b.add(-l.n, -1)
}
