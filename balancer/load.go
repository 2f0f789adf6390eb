package balancer

import (
	"sync"
	"time"
)

// LoadHold is how long the node must look saturated before it tells
// Consul it is busy, and look drained before it says it is free again.
const LoadHold = 500 * time.Millisecond

// hysteresis turns a stream of observations (a request found every slot
// taken; a job ended with nobody waiting) into a steady busy signal: on
// once the node has been saturated for hold without draining in between,
// off once it has stayed drained for hold. A health check that followed
// every job would flap.
type hysteresis struct {
	hold time.Duration
	set  func(bool)
	now  func() time.Time

	mu        sync.Mutex
	on        bool
	busySince time.Time // saturated since (zero: not saturated)
	idleSince time.Time // drained since (zero: not drained)
	timer     *time.Timer
}

// observe takes one observation. A drain shorter than hold does not reset
// the saturation, nor a saturation shorter than hold the drain: with a
// short queue every job ends drained, and the signal must not follow it.
func (h *hysteresis) observe(busy bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if busy {
		if !h.idleSince.IsZero() && now.Sub(h.idleSince) >= h.hold {
			h.busySince = time.Time{} // drained long enough: a new saturation
		}
		h.idleSince = time.Time{}
		if h.busySince.IsZero() {
			h.busySince = now
		}
		if !h.on && now.Sub(h.busySince) >= h.hold {
			h.on = true
			h.set(true)
		}
		return
	}
	if h.idleSince.IsZero() {
		h.idleSince = now
		if h.on {
			if h.timer != nil {
				h.timer.Stop()
			}
			h.timer = time.AfterFunc(h.hold, h.settle)
		}
	}
}

// settle turns the signal off if the node stayed drained for hold.
func (h *hysteresis) settle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.on && !h.idleSince.IsZero() && h.now().Sub(h.idleSince) >= h.hold {
		h.on = false
		h.busySince = time.Time{}
		h.set(false)
	}
}

// ReportLoad tells the balancer what the node's processing slots just saw:
// busy when a request found them all taken and its wait ran out, not busy
// when a job ended with nobody waiting. The balancer marks the node busy in
// Consul (SetBusy) once it has been saturated for LoadHold, and free once
// it has stayed drained for LoadHold. Safe on a nil Balancer.
func (b *Balancer) ReportLoad(busy bool) {
	if b == nil {
		return
	}
	b.load.observe(busy)
}
