package cluster

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/capture"
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

// FromShield fetches the request's original through the shield zone
// into fw. It reports false, with nothing written, when no node of the
// shield answered it with the original: the caller asks the origin. An
// answer that broke off midway is an error.
func (c *Cluster) FromShield(ctx context.Context, h *Hop, fw *capture.Writer) (bool, error) {
	hops, canAsk := h.next(balancer.HopShield)
	if c.Shield == "" || h.AsShield || c.Balancer == nil || !canAsk {
		return false, nil
	}
	// The original as the client's request names it: the shield applies
	// the same route (rewrites included) and keys.
	req := h.Client.Clone(ctx)
	req.Method = http.MethodGet
	for _, name := range Conditionals {
		req.Header.Del(name)
	}
	for i, peer := range c.Balancer.OwnersIn(c.Shield, h.OwnerKey) {
		if i == shieldAttempts {
			break
		}
		shielded, ok, err := c.askShield(ctx, peer, req, hops, fw)
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
func (c *Cluster) askShield(ctx context.Context, peer balancer.Peer, req *http.Request, hops balancer.Hops, fw *capture.Writer) (shielded, ok bool, err error) {
	began := time.Now()
	// The shield's 102 is not relayed: the fetch may be shared by other
	// requests, and this node's own bound counts the shield in.
	ans, err := c.Peering.Ask(ctx, peer, req.WithContext(ctx), hops, c.FetchTimeout, nil)
	if err != nil || ans.StatusCode == http.StatusInternalServerError {
		if ans != nil {
			balancer.Discard(ans.Response)
		}
		c.Balancer.Report(peer, false, time.Since(began))
		c.Metrics.ShieldFetches.WithLabelValues("failed").Inc()
		c.Logger.Debug("the shield could not answer", zap.String("peer", peer.ID), zap.Error(err))
		return false, false, nil
	}
	if ans.StatusCode != http.StatusOK || !ans.Marked {
		balancer.Discard(ans.Response)
		c.Balancer.Report(peer, true, time.Since(began))
		result := "refused"
		if ans.StatusCode == http.StatusOK {
			result = "unmarked"
			c.Logger.Debug("the shield answered without its mark: asking the origin", zap.String("peer", peer.ID))
		}
		c.Metrics.ShieldFetches.WithLabelValues(result).Inc()
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
		c.Balancer.Report(peer, false, time.Since(began))
		c.Metrics.ShieldFetches.WithLabelValues("failed").Inc()
		return true, false, errors.New("the shield's answer broke off")
	}
	if err == nil && !intact() {
		// Changed on the way: not the original the shield marked.
		c.Balancer.Report(peer, false, time.Since(began))
		c.Metrics.ShieldFetches.WithLabelValues("unmarked").Inc()
		return true, false, errors.New("the shield's answer is not the body it marked")
	}
	c.Balancer.Report(peer, true, time.Since(began))
	c.Metrics.ShieldFetches.WithLabelValues("ok").Inc()
	return true, true, nil
}
