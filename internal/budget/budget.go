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
)

// ErrExhausted means the budget had no room within the caller's wait.
var ErrExhausted = errors.New("the budget for originals in flight is exhausted")

// Budget is a byte and count budget. The zero value is not usable; make
// one with New. Waiters are not queued in order: whoever fits when room
// frees up goes, so one large original waiting for room never holds up
// small ones that fit.
type Budget struct {
	limit, maxLeases int64

	mu      sync.Mutex
	held    int64         // bytes leased now
	leases  int64         // leases now
	changed chan struct{} // closed, and replaced, whenever room frees up
}

// New returns a budget of limit bytes and at most n leases at once.
func New(limit int64, n int) *Budget {
	return &Budget{limit: limit, maxLeases: int64(n), changed: make(chan struct{})}
}

// Limit is the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Held reports the bytes and leases held right now.
func (b *Budget) Held() (bytes, leases int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held, b.leases
}

// take takes bytes and leases if they fit; b.mu is held.
func (b *Budget) take(bytes, leases int64) bool {
	if b.held+bytes > b.limit || b.leases+leases > b.maxLeases {
		return false
	}
	b.held += bytes
	b.leases += leases
	return true
}

// give gives bytes and leases back and wakes the waiters.
func (b *Budget) give(bytes, leases int64) {
	b.mu.Lock()
	b.held -= bytes
	b.leases -= leases
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// wait takes bytes and leases: at once when they fit, even if ctx is
// already done (a zero wait means "do not wait", not "refuse"), else
// waiting while ctx allows.
func (b *Budget) wait(ctx context.Context, bytes, leases int64) error {
	for {
		b.mu.Lock()
		if b.take(bytes, leases) {
			b.mu.Unlock()
			return nil
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return errors.Join(ErrExhausted, ctx.Err())
		}
	}
}

// Acquire takes a lease of n bytes, waiting while ctx allows. It returns
// ErrExhausted (joined with ctx's error) when the wait ends first.
func (b *Budget) Acquire(ctx context.Context, n int64) (*Lease, error) {
	if n > b.limit {
		return nil, ErrExhausted
	}
	if err := b.wait(ctx, n, 1); err != nil {
		return nil, err
	}
	return &Lease{b: b, n: n}, nil
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
	if l.released || n > l.b.limit {
		return ErrExhausted
	}
	delta := n - l.n
	if delta <= 0 {
		return nil
	}
	if err := l.b.wait(ctx, delta, 0); err != nil {
		return err
	}
	l.n = n
	return nil
}

// TryGrowTo is GrowTo without waiting.
func (l *Lease) TryGrowTo(n int64) bool { return l.GrowTo(noWait, n) == nil }

// noWait is a context already done: a wait on it takes what is free at
// once or gives up.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

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
	l.b.give(l.n, 1)
}
