package cluster

import (
	"time"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
)

// forwardAttempts is how many zones a busy node tries: the nearest, then
// once more in the next one.
const forwardAttempts = 2

// Forward hands the request to the nearest healthy zone and streams its
// answer to the client. It reports false when no zone could take it, with
// nothing written.
func (c *Cluster) Forward(h *Hop) bool {
	if c.Balancer == nil {
		return false
	}
	hops, ok := h.next(balancer.HopForward)
	if !ok {
		return false // forwarded here already, or as far as a request goes
	}
	for i, peer := range c.Balancer.Pick() {
		if i == forwardAttempts {
			break
		}
		began := time.Now()
		ok := c.forwardTo(h, peer, hops)
		c.Balancer.Report(peer, ok, time.Since(began))
		if ok {
			c.Metrics.Forwards.WithLabelValues("ok").Inc()
			return true
		}
		c.Metrics.Forwards.WithLabelValues("failed").Inc()
	}
	return false
}

// forwardTo tries one peer. A transport error, a peer that neither
// answered nor took the request within fetch_timeout, or a 5xx is a
// failure, and nothing has been written to the client then.
func (c *Cluster) forwardTo(h *Hop, peer balancer.Peer, hops balancer.Hops) bool {
	// The peer gets the request as the client sent it, before any rewrite
	// (it applies the same config). It has fetch_timeout to answer or to
	// say it took the request, then as long as its own limits say.
	if err := c.Peering.Forward(h.Client.Context(), peer, h.Client, hops, c.Node, c.FetchTimeout, h.relayAccepted, h.W); err != nil {
		c.Logger.Debug("forwarding failed", zap.String("peer", peer.ID), zap.String("zone", peer.Zone), zap.Error(err))
		return false
	}
	return true
}
