package imgedge

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// errBusy means no job slot freed up within the queue budget.
var errBusy = errors.New("all image processing slots are busy")

// slots bounds the libvips jobs running at once, with a bounded queue of
// waiters, each waiting at most a fixed time. A full queue refuses at once:
// under overload it is better to say 503 quickly than to pile up requests.
type slots struct {
	sem     chan struct{}
	waiting atomic.Int64
	queue   int64
	wait    time.Duration
	depth   prometheus.Gauge // waiters, for imgedge_queue_depth; may be nil
}

func newSlots(n, queue int, wait time.Duration, depth prometheus.Gauge) *slots {
	return &slots{sem: make(chan struct{}, n), queue: int64(queue), wait: wait, depth: depth}
}

// acquire takes a slot, waiting within the budget. The returned release
// must be called exactly once.
func (s *slots) acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-s.sem }
	select {
	case s.sem <- struct{}{}:
		return release, nil
	default:
	}
	if s.waiting.Add(1) > s.queue {
		s.waiting.Add(-1)
		return nil, errBusy
	}
	defer s.waiting.Add(-1)
	if s.depth != nil {
		s.depth.Inc()
		defer s.depth.Dec()
	}
	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	select {
	case s.sem <- struct{}{}:
		return release, nil
	case <-timer.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// queued is how many requests wait for a slot.
func (s *slots) queued() int { return int(s.waiting.Load()) }
