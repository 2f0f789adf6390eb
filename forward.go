package imgedge

import (
	"time"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
)

// forwardAttempts is how many zones a busy node tries: the nearest, then
// once more in the next one.
const forwardAttempts = 2

// forward hands the request to the nearest healthy zone and streams its
// answer to the client. It reports false when no zone could take it, with
// nothing written.
func (rq *imageRequest) forward() bool {
	ir := rq.ir
	hops, ok := rq.nextHops(balancer.HopForward)
	if !ok {
		return false // forwarded here already, or as far as a request goes
	}
	for i, peer := range ir.balancer.Pick() {
		if i == forwardAttempts {
			break
		}
		began := time.Now()
		ok := rq.forwardTo(peer, hops)
		ir.balancer.Report(peer, ok, time.Since(began))
		if ok {
			ir.metrics.Forwards.WithLabelValues("ok").Inc()
			return true
		}
		ir.metrics.Forwards.WithLabelValues("failed").Inc()
	}
	return false
}

// forwardTo tries one peer. A transport error, a peer that neither
// answered nor took the request within fetch_timeout, or a 5xx is a
// failure, and nothing has been written to the client then.
func (rq *imageRequest) forwardTo(peer balancer.Peer, hops balancer.Hops) bool {
	ir := rq.ir
	// The peer gets the request as the client sent it, before any rewrite
	// (it applies the same config). It has fetch_timeout to answer or to
	// say it took the request, then as long as its own limits say.
	if err := ir.peering.Forward(rq.r.Context(), peer, rq.client, hops, ir.node, time.Duration(ir.FetchTimeout), rq.relayAccepted, rq.w); err != nil {
		ir.logger.Debug("forwarding failed", zap.String("peer", peer.ID), zap.String("zone", peer.Zone), zap.Error(err))
		return false
	}
	return true
}

// workBound is the longest this node may take over a request before it
// answers or a peer it sends the request on says it took it (which this
// node relays, see relayAccepted): waiting for a slot twice (for the
// original, for a job), asking the owner (fetch_timeout to say it took
// it), fetching the original through the shield zone (each node it asks
// and the origin after them, fetch_timeout each), and processing, with a
// margin.
func (ir *ImageResize) workBound() time.Duration {
	fetch := time.Duration(ir.FetchTimeout)
	return 2*time.Duration(ir.QueueTimeout) + fetch + time.Duration(shieldAttempts+1)*fetch + ir.pipeline.Timeout + 5*time.Second
}

// relayAccepted tells the node that sent this request, if a node did,
// that a peer this node sent it on took it and may take bound over it:
// the chain waits as long as its last node needs.
func (rq *imageRequest) relayAccepted(bound time.Duration) {
	if len(rq.hops) > 0 {
		balancer.Accepted(rq.w, bound+time.Second)
	}
}
