package balancer

import (
	"sync"
	"time"
)

// nonceSet remembers the nonces of the peer proofs a node accepted, for
// as long as a proof is valid, so that a proof seen on the wire cannot be
// replayed. It keeps two generations, each spanning one window: a nonce
// is looked up in both and added to the current one, and the older
// generation is dropped when the window turns: a nonce is remembered for
// at least one window and at most two. A proof is valid for peerAuthSkew
// either side of its time, so a window of twice that outlasts it.
type nonceSet struct {
	mu      sync.Mutex
	window  time.Duration
	max     int // entries a generation may hold; past it, new proofs are refused
	turned  time.Time
	current map[Nonce]struct{}
	older   map[Nonce]struct{}
}

func newNonceSet(window time.Duration, max int) *nonceSet {
	return &nonceSet{window: window, max: max, current: map[Nonce]struct{}{}, older: map[Nonce]struct{}{}}
}

// Nonce is a proof's random nonce.
type Nonce [16]byte

// Result of offering a nonce.
const (
	nonceFresh    = iota // first use: remembered
	nonceReplayed        // seen before within its window
	nonceFull            // too many in one window to remember one more
)

// use records n as used at now and says whether it was fresh.
func (s *nonceSet) use(n Nonce, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := now.Sub(s.turned); d >= s.window {
		s.older, s.current = s.current, make(map[Nonce]struct{}, len(s.current))
		if d >= 2*s.window {
			clear(s.older) // both generations lie in the past
		}
		s.turned = now
	}
	if _, ok := s.current[n]; ok {
		return nonceReplayed
	}
	if _, ok := s.older[n]; ok {
		return nonceReplayed
	}
	if len(s.current) >= s.max {
		return nonceFull
	}
	s.current[n] = struct{}{}
	return nonceFresh
}

// usedNonces is the process's one record of the proofs it accepted, kept
// across config reloads: a reload must not reopen the replay window. A
// generation holds up to a million nonces (about 50 MB at most): some 8,000
// peer requests a second, sustained, to one node.
var usedNonces = newNonceSet(2*peerAuthSkew, 1<<20)
