package balancer

import (
	"net/http"
	"slices"
	"strings"
)

// HopHeader says which hops a request between nodes has made, in order:
// "owner" (a node of a zone asks the owner of a source), "shield" (a zone
// asks its shield zone for an original), "forward" (a busy node hands the
// request to another zone), comma-separated. Only a node sets it, under
// the peer proof (PeerAuthHeader), which covers it: a client's copy is
// dropped unread.
const HopHeader = "Imgedge-Hop"

// The kinds of hop.
const (
	HopOwner   = "owner"
	HopShield  = "shield"
	HopForward = "forward"
)

// MaxHops is the longest chain a request may travel: a node asks its
// owner (1), which, busy, forwards to another zone (2), whose node asks
// its owner there (3), which asks its shield for the original (4). A node
// never makes a hop that would go further, whatever the request says.
const MaxHops = 4

// Hops is the chain of hops a request has made, oldest first; nil for a
// client's request.
type Hops []string

// Forwarded tells whether the request was forwarded to this zone by
// another: it is served here or refused, never forwarded again.
func (h Hops) Forwarded() bool { return slices.Contains(h, HopForward) }

// Last is the kind of the hop that brought the request here; "" for a
// client's request.
func (h Hops) Last() string {
	if len(h) == 0 {
		return ""
	}
	return h[len(h)-1]
}

// Then is the chain of a request sent on as one more hop of kind, and
// false when that hop is not to be made: a forwarded request is never
// forwarded again, and no chain grows past MaxHops.
func (h Hops) Then(kind string) (Hops, bool) {
	if len(h) >= MaxHops || (kind == HopForward && h.Forwarded()) {
		return nil, false
	}
	return append(slices.Clip(h), kind), true
}

// String is the chain as HopHeader carries it.
func (h Hops) String() string { return strings.Join(h, ",") }

// parseHops reads HopHeader's value: false for anything but one to
// MaxHops known kinds.
func parseHops(v string) (Hops, bool) {
	if v == "" {
		return nil, false
	}
	h := Hops(strings.Split(v, ","))
	if len(h) > MaxHops {
		return nil, false
	}
	for _, kind := range h {
		switch kind {
		case HopOwner, HopShield, HopForward:
		default:
			return nil, false
		}
	}
	return h, true
}

// StripPeerHeaders removes from a request's header everything only a peer
// may send, the proof and the hop chain, once they have been read: they
// travel no further, not to the origin and not, unsigned, to a peer.
func StripPeerHeaders(h http.Header) {
	h.Del(PeerAuthHeader)
	h.Del(HopHeader)
}
