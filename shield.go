package imgedge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/capture"
	"github.com/imgedge/imgedge/telemetry"
	"github.com/imgedge/imgedge/variant"
)

// A zone with a shield fetches its originals through the shield zone:
// the node there that owns the source (the same rendezvous ranking its
// own zone uses) fetches it from the origin once, keeps it in its
// originals cache, and answers every zone that shields through it. The
// shield unreachable, failing or refusing, the origin is asked directly.
// A request that is itself a shield hop never goes through a shield, so
// two zones that name each other cannot loop.

// shieldAttempts is how many nodes of the shield zone are asked before
// the origin is.
const shieldAttempts = 2

// fromShield fetches the request's original through the shield zone
// into fw. It reports false, with nothing written, when no node of the
// shield answered it with the original: the caller asks the origin. An
// answer that broke off midway is an error.
func (rq *imageRequest) fromShield(ctx context.Context, fw *capture.Writer) (bool, error) {
	ir := rq.ir
	hops, canAsk := rq.nextHops(balancer.HopShield)
	if ir.shield == "" || rq.asShield || ir.balancer == nil || !canAsk {
		return false, nil
	}
	// The original as the client's request names it: the shield applies
	// the same route (rewrites included) and keys.
	req := rq.client.Clone(ctx)
	req.Method = http.MethodGet
	for _, h := range conditionals {
		req.Header.Del(h)
	}
	for i, peer := range ir.balancer.OwnersIn(ir.shield, rq.ownerKey) {
		if i == shieldAttempts {
			break
		}
		shielded, ok, err := rq.askShield(ctx, peer, req, hops, fw)
		switch {
		case shielded:
			return true, err
		case !ok:
			continue // the next node of the shield
		}
		return false, nil // the shield refused: the origin decides
	}
	return false, nil
}

// askShield asks one node of the shield zone. shielded says fw got the
// answer (err says if it broke off); ok false says the node failed (no
// answer, or a 500) and the next may be asked. Any other answer is not
// the node's failure: a refusal (a 4xx: not an image, too large...), the
// origin's trouble (502, 504) or a busy node (503). The origin is then
// asked directly, and answers for itself. So it is for a 200 that does not
// carry the shield's mark: whatever it is, it is not known to be the
// original.
func (rq *imageRequest) askShield(ctx context.Context, peer balancer.Peer, req *http.Request, hops balancer.Hops, fw *capture.Writer) (shielded, ok bool, err error) {
	ir := rq.ir
	began := time.Now()
	// The shield's 102 is not relayed: the fetch may be shared by other
	// requests, and this node's own bound counts the shield in.
	ans, err := ir.peering.Ask(ctx, peer, req.WithContext(ctx), hops, time.Duration(ir.FetchTimeout), nil)
	if err != nil || ans.StatusCode == http.StatusInternalServerError {
		if ans != nil {
			balancer.Discard(ans.Response)
		}
		ir.balancer.Report(peer, false, time.Since(began))
		ir.metrics.ShieldFetches.WithLabelValues("failed").Inc()
		ir.logger.Debug("the shield could not answer", zap.String("peer", peer.ID), zap.Error(err))
		return false, false, nil
	}
	if ans.StatusCode != http.StatusOK || !ans.Marked {
		balancer.Discard(ans.Response)
		ir.balancer.Report(peer, true, time.Since(began))
		result := "refused"
		if ans.StatusCode == http.StatusOK {
			result = "unmarked"
			ir.logger.Debug("the shield answered without its mark: asking the origin", zap.String("peer", peer.ID))
		}
		ir.metrics.ShieldFetches.WithLabelValues(result).Inc()
		return false, true, nil
	}
	resp := ans.Response
	defer resp.Body.Close()
	for k, v := range resp.Header {
		fw.Header()[k] = v
	}
	fw.WriteHeader(http.StatusOK)
	body, intact := ans.Checked()
	_, err = io.Copy(fw, body)
	if err != nil && fw.Mode() == capture.Buffering {
		// The shield's stream broke, not the capture's limits.
		ir.balancer.Report(peer, false, time.Since(began))
		ir.metrics.ShieldFetches.WithLabelValues("failed").Inc()
		return true, false, errors.New("the shield's answer broke off")
	}
	if err == nil && !intact() {
		// Changed on the way: not the original the shield marked.
		ir.balancer.Report(peer, false, time.Since(began))
		ir.metrics.ShieldFetches.WithLabelValues("unmarked").Inc()
		return true, false, errors.New("the shield's answer is not the body it marked")
	}
	ir.balancer.Report(peer, true, time.Since(began))
	ir.metrics.ShieldFetches.WithLabelValues("ok").Inc()
	return true, true, nil
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
		h[k] = append([]string(nil), v...) // the cached original's own stay untouched
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rq.ir.peering.MarkAnswer(h, http.StatusOK, rq.nonce, balancer.HopShield, "", body)
	rq.w.WriteHeader(http.StatusOK)
	if _, err := rq.w.Write(body); err != nil {
		rq.ir.logger.Debug("writing an original to a zone it shields", zap.String("uri", rq.r.URL.RequestURI()), zap.Error(err))
	}
	return telemetry.OutcomeShield
}
