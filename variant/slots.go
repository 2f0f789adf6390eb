package variant

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrBusy means no processing slot freed up within the queue budget.
var ErrBusy = errors.New("all image processing slots are busy")

// Slots bounds the libvips jobs running at once, with a bounded queue of
// waiters, each waiting at most a fixed time. A full queue refuses at once:
// under overload it is better to say 503 quickly than to pile up requests.
// One Slots is meant to serve a whole process.
type Slots struct {
	sem     chan struct{}
	waiting atomic.Int64
	queue   int64
	wait    time.Duration
	// OnWait, when set, is told of each waiter coming (+1) and going (-1).
	OnWait func(delta int)
}

// NewSlots returns n slots with room for queue waiters, each waiting at
// most wait. n must be at least 1 and queue at least 0.
func NewSlots(n, queue int, wait time.Duration) (*Slots, error) {
	if n < 1 || queue < 0 || wait < 0 {
		return nil, errors.New("slots: need at least one slot and a non-negative queue and wait")
	}
	return &Slots{sem: make(chan struct{}, n), queue: int64(queue), wait: wait}, nil
}

// Acquire takes a slot, waiting within the budget. The returned release
// must be called exactly once.
func (s *Slots) Acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-s.sem }
	select {
	case s.sem <- struct{}{}:
		return release, nil
	default:
	}
	if s.waiting.Add(1) > s.queue {
		s.waiting.Add(-1)
		return nil, ErrBusy
	}
	defer s.waiting.Add(-1)
	if s.OnWait != nil {
		s.OnWait(1)
		defer s.OnWait(-1)
	}
	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	select {
	case s.sem <- struct{}{}:
		return release, nil
	case <-timer.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Queued is how many requests wait for a slot.
func (s *Slots) Queued() int { return int(s.waiting.Load()) }
