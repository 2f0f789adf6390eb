package imgedge

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/capture"
	"github.com/imgedge/imgedge/variant"
)

// A zone with a shield fetches its originals through the shield zone:
// the node there that owns the source (the same rendezvous ranking its
// own zone uses) fetches it from the origin once, keeps it in its
// originals cache, and answers every zone that shields through it. The
// shield unreachable, or failing, the origin is asked directly. A
// request that is itself a shield hop never goes through a shield, so
// two zones that name each other cannot loop.

// shieldAttempts is how many nodes of the shield zone are asked before
// the origin is.
const shieldAttempts = 2

// fromShield fetches the request's original through the shield zone
// into fw. It reports false, with nothing written, when no node of the
// shield could answer: the caller asks the origin. An answer that broke
// off midway is an error.
func (rq *imageRequest) fromShield(ctx context.Context, fw *capture.Writer) (bool, error) {
	ir := rq.ir
	if ir.shield == "" || rq.asShield || ir.balancer == nil {
		return false, nil
	}
	// The original as the client's request names it: the shield applies
	// the same route (rewrites included) and keys.
	req := rq.client.Clone(ctx)
	req.Method = http.MethodGet
	for _, h := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"} {
		req.Header.Del(h)
	}
	for i, peer := range ir.balancer.OwnersIn(ir.shield, rq.ownerKey()) {
		if i == shieldAttempts {
			break
		}
		err := balancer.Relay(ctx, peer, req, balancer.HopShield, ir.peerSecret, fw)
		ir.balancer.Report(peer, err == nil, 0)
		switch {
		case err == nil:
			ir.metrics.ShieldFetches.WithLabelValues("ok").Inc()
			return true, nil
		case errors.Is(err, balancer.ErrRelayBroken):
			ir.metrics.ShieldFetches.WithLabelValues("failed").Inc()
			return true, err
		}
		ir.metrics.ShieldFetches.WithLabelValues("failed").Inc()
		ir.logger.Debug("the shield could not answer", zap.String("peer", peer.ID), zap.Error(err))
	}
	return false, nil
}

// serveOriginal answers a shield hop: the original, from the originals
// cache or fetched once from the origin and kept, with the origin's
// headers. It is not billed here: the asking zone bills its request.
func (rq *imageRequest) serveOriginal(req *variant.Request) string {
	res, body, header, err := rq.ir.engine.Original(rq.r.Context(), req)
	defer res.Release()
	rq.res = *res
	switch {
	case errors.Is(err, variant.ErrNotImage):
		return rq.notImage()
	case err != nil:
		return rq.refuseError(err)
	}
	h := rq.w.Header()
	for k, v := range header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rq.w.WriteHeader(http.StatusOK)
	if _, err := rq.w.Write(body); err != nil {
		rq.ir.logger.Debug("writing an original to a zone it shields", zap.Error(err))
	}
	return outcomeShield
}
