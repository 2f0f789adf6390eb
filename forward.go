package imgedge

import (
	"context"
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
	for i, peer := range ir.balancer.Pick() {
		if i == forwardAttempts {
			break
		}
		began := time.Now()
		ok := rq.forwardTo(peer)
		ir.balancer.Report(peer, ok, time.Since(began))
		if ok {
			ir.metrics.Forwards.WithLabelValues("ok").Inc()
			return true
		}
		ir.metrics.Forwards.WithLabelValues("failed").Inc()
	}
	return false
}

// forwardTo tries one peer. A transport error or a 5xx is a failure, and
// nothing has been written to the client then.
func (rq *imageRequest) forwardTo(peer balancer.Peer) bool {
	ir := rq.ir
	ctx, cancel := context.WithTimeout(rq.r.Context(), time.Duration(ir.FetchTimeout))
	defer cancel()
	// The peer gets the request as the client sent it, before any rewrite
	// (it applies the same config).
	if err := balancer.Forward(ctx, peer, rq.client, ir.peerSecret, ir.node, rq.w); err != nil {
		ir.logger.Debug("forwarding failed", zap.String("peer", peer.ID), zap.String("zone", peer.Zone), zap.Error(err))
		return false
	}
	return true
}
