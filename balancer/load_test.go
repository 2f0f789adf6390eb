package balancer

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the hysteresis.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestTheBusySignalDoesNotFlap(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	var mu sync.Mutex
	var signals []bool
	h := &hysteresis{hold: 20 * time.Millisecond, now: clock.now, set: func(b bool) {
		mu.Lock()
		signals = append(signals, b)
		mu.Unlock()
	}}
	got := func() []bool {
		mu.Lock()
		defer mu.Unlock()
		return append([]bool(nil), signals...)
	}

	// A refusal, then a long drain, over and over: a burst that clears at
	// once. The signal stays off.
	for range 20 {
		h.observe(true)
		clock.advance(5 * time.Millisecond)
		h.observe(false)
		clock.advance(30 * time.Millisecond)
	}
	if s := got(); len(s) != 0 {
		t.Fatalf("signals %v for saturations that drained at once, want none", s)
	}

	// Saturated for longer than hold, with the brief drains of a short
	// queue between refusals (each job ends with nobody waiting): on, once.
	h.observe(true)
	for range 5 {
		clock.advance(5 * time.Millisecond)
		h.observe(false)
		clock.advance(1 * time.Millisecond)
		h.observe(true)
	}
	h.observe(true)
	if s := got(); len(s) != 1 || !s[0] {
		t.Fatalf("signals %v after 30 ms saturated with brief drains, want [true]", s)
	}

	// A drain that does not last: still on.
	h.observe(false)
	clock.advance(5 * time.Millisecond)
	h.observe(true)
	time.Sleep(40 * time.Millisecond) // the settle timer fires and finds it busy again
	if s := got(); len(s) != 1 {
		t.Fatalf("signals %v after a short drain, want still [true]", s)
	}

	// Drained for hold: off.
	h.observe(false)
	clock.advance(25 * time.Millisecond)
	deadline := time.Now().Add(2 * time.Second)
	for len(got()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s := got(); len(s) != 2 || s[1] {
		t.Fatalf("signals %v after draining for hold, want [true false]", s)
	}
}

func TestReportLoadOnANilBalancerDoesNothing(t *testing.T) {
	var b *Balancer
	b.ReportLoad(true)
	b.ReportLoad(false)
}
