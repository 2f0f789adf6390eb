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
	hops, ok := rq.hops.Then(balancer.HopForward)
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
	if err := ir.peering.Forward(rq.r.Context(), peer, rq.client, hops, ir.node, time.Duration(ir.FetchTimeout), rq.w); err != nil {
		ir.logger.Debug("forwarding failed", zap.String("peer", peer.ID), zap.String("zone", peer.Zone), zap.Error(err))
		return false
	}
	return true
}

// workBound is the longest this node may take over a request: asking the
// owner of its source, and, the owner failing, waiting for a slot,
// fetching the original and processing it itself. A node that forwarded
// the request here waits that long once told (balancer.Accepted).
func (ir *ImageResize) workBound() time.Duration {
	return ir.askTimeout() + time.Duration(ir.QueueTimeout) + time.Duration(ir.FetchTimeout) + ir.pipeline.Timeout
}
