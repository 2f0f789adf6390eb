package cache

import (
	"sync"

	"github.com/cespare/xxhash/v2"
)

// Heat tells hot keys from cold ones, approximately and in fixed memory:
// a row of small saturating counters indexed by the key's hash (a
// count-min sketch of depth one), all halved every heatWindow touches so
// that what was hot long ago cools down, as TinyLFU ages its counters. A
// key is hot once it has been touched Threshold times within about a
// window. The zero value is ready, with a threshold of 3.
type Heat struct {
	// Threshold is the touches that make a key hot. Default 3.
	Threshold uint8

	mu       sync.Mutex
	counters [heatCounters]uint8
	touches  int
}

const (
	heatCounters = 1 << 16
	heatWindow   = heatCounters
)

// Touch counts one more ask for key and tells whether it is hot now.
func (h *Heat) Touch(key string) bool {
	threshold := h.Threshold
	if threshold == 0 {
		threshold = 3
	}
	i := xxhash.Sum64String(key) % heatCounters
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counters[i] < 255 {
		h.counters[i]++
	}
	n := h.counters[i]
	if h.touches++; h.touches >= heatWindow {
		h.touches = 0
		for j := range h.counters {
			h.counters[j] /= 2
		}
	}
	return n >= threshold
}
