package imgedge

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/variant"
)

// The nodes of a clustered zone are one cache. A request for a source
// this node does not own is asked of the source's owner (see
// balancer.Owners), whose request collapsing then makes each variant
// once for the whole zone and whose originals cache fetches each original
// once. The owner answers from its cache or makes the variant, and
// bills the request; this node relays the answer and keeps a copy of the
// variants it is asked for often (variant.Engine.KeepHot), so that a hot
// variant is not pinned on one node.
//
// What is hashed is the source, not the variant: one node holds an
// original and every variant of it, so the original is fetched once and
// kept once per zone, and a burst of new variants of one source collapses
// on one node. The price is that the misses of one very popular source all
// land on its owner; hot copies spread its hits.

// variantInfoHeader carries an owner's VariantInfo to the asking node; it
// never reaches a client.
const variantInfoHeader = "Imgedge-Variant"

// ownerAttempts is how many nodes of the zone a request is asked of
// before this node does the work itself.
const ownerAttempts = 2

// ownerKey is what owners are chosen by: the source, as every node of the
// zone names it (the port it came in on left out).
func (rq *imageRequest) ownerKey() string {
	return rq.tenant + "\x00" + rq.host() + "\x00" + variant.Resource(rq.source.URL.EscapedPath(), rq.r.URL.EscapedPath(), rq.srcQuery)
}

// fromOwner answers req from this node's cache, or from the owner of its
// source, or by the next node in rank when the owner cannot answer. It
// reports false when this node is to do the work: it owns the source, or
// every node asked failed.
func (rq *imageRequest) fromOwner(req *variant.Request) (answered bool, outcome string) {
	ir := rq.ir
	self := ir.balancer.ID()
	owners := ir.balancer.Owners(rq.ownerKey())
	if len(owners) == 0 || owners[0].ID == self {
		return false, "" // ours: the engine looks in the cache first
	}
	if res, ok := ir.engine.Cached(req); ok {
		if res.Hot {
			ir.metrics.HotHits.Inc()
		}
		rq.res = *res
		return true, rq.answer(res)
	}
	asked := 0
	for _, peer := range owners {
		if peer.ID == self || asked == ownerAttempts {
			break
		}
		asked++
		ans, err := rq.ask(peer)
		if err != nil {
			ir.metrics.PeerRequests.WithLabelValues("failed").Inc()
			ir.logger.Debug("the owner could not answer; trying the next", zap.String("peer", peer.ID), zap.Error(err))
			continue
		}
		ir.metrics.PeerRequests.WithLabelValues(peerResult(ans)).Inc()
		if asked > 1 {
			ir.metrics.OwnerFallbacks.WithLabelValues("next").Inc()
		}
		return true, rq.relay(req, peer, ans)
	}
	if asked > 0 {
		ir.metrics.OwnerFallbacks.WithLabelValues("self").Inc()
	}
	return false, ""
}

// ask asks peer for the request as the key's owner and reports the
// outcome to outlier detection.
func (rq *imageRequest) ask(peer balancer.Peer) (*balancer.Answer, error) {
	ir := rq.ir
	ctx, cancel := context.WithTimeout(rq.r.Context(), time.Duration(ir.FetchTimeout))
	defer cancel()
	began := time.Now()
	ans, err := balancer.Ask(ctx, peer, rq.client, balancer.HopOwner, ir.peerSecret, ir.maxPeerAnswer())
	if rq.r.Context().Err() == nil { // a client gone away says nothing of the peer
		ir.balancer.Report(peer, err == nil, time.Since(began))
	}
	return ans, err
}

// maxPeerAnswer bounds what this node reads of an owner's answer: a
// variant can be larger than its original (a PNG of a JPEG), not without
// bound.
func (ir *ImageResize) maxPeerAnswer() int64 {
	return max(4*ir.MaxSourceBytes, 64<<20)
}

// peerResult is the owner's answer as the peer_requests metric counts it.
func peerResult(ans *balancer.Answer) string {
	switch {
	case ans.Status >= 400:
		return "refused"
	case strings.HasPrefix(ans.Header.Get("Cache-Status"), "imgedge; hit"):
		return "hit"
	}
	return "miss"
}

// hotCopyHeaders are the headers of an owner's answer that a hot copy
// keeps: what describes the variant, not one answer of it.
var hotCopyHeaders = []string{"Content-Type", "ETag", "Cache-Control", "Vary", "Access-Control-Allow-Origin",
	"Timing-Allow-Origin", "Content-Security-Policy"}

// relay answers with the owner's answer, says so in Cache-Status and
// Server-Timing, and keeps a copy of it once it is hot. The owner billed
// the request.
func (rq *imageRequest) relay(req *variant.Request, peer balancer.Peer, ans *balancer.Answer) string {
	info, isVariant := variant.ParseVariantInfo(ans.Header.Get(variantInfoHeader))
	ans.Header.Del(variantInfoHeader)
	if isVariant && ans.Status == http.StatusOK && rq.r.Method == http.MethodGet {
		kept := http.Header{}
		for _, name := range hotCopyHeaders {
			if v := ans.Header.Values(name); len(v) > 0 {
				kept[name] = slices.Clone(v)
			}
		}
		if vary := kept.Get("Vary"); vary != "" && len(rq.hints) > 0 {
			// The hints are added per answer, as the owner added them.
			kept.Set("Vary", withoutFields(vary, rq.hints))
		}
		rq.ir.engine.KeepHot(req, ans.Body, kept, info)
	}
	h := rq.w.Header()
	for k, v := range ans.Header {
		h[k] = v
	}
	// RFC 9211: the owner's entry first, this node's (nearest the client)
	// last.
	h.Set("Cache-Status", strings.Join(append(ans.Header.Values("Cache-Status"),
		fmt.Sprintf("imgedge; fwd=uri-miss; fwd-status=%d; detail=peer", ans.Status)), ", "))
	h.Set("Server-Timing", peerTiming(ans, peer, time.Since(rq.start)))
	if rq.r.Method != http.MethodHead { // a HEAD keeps the owner's length of the body it did not send
		h.Set("Content-Length", strconv.Itoa(len(ans.Body)))
	}
	rq.w.WriteHeader(ans.Status)
	if rq.r.Method != http.MethodHead {
		if _, err := rq.w.Write(ans.Body); err != nil {
			rq.ir.logger.Debug("writing the owner's answer", zap.Error(err))
		}
	}
	return outcomePeer
}

// withoutFields is a Vary value with the named fields left out.
func withoutFields(vary string, drop []string) string {
	var out []string
	for f := range strings.SplitSeq(vary, ",") {
		f = strings.TrimSpace(f)
		if f != "" && !slices.ContainsFunc(drop, func(d string) bool { return strings.EqualFold(d, f) }) {
			out = append(out, f)
		}
	}
	return strings.Join(out, ", ")
}

// peerTiming is the Server-Timing of a relayed answer: the hop to the
// owner, the owner's phases, and this request's total.
func peerTiming(ans *balancer.Answer, peer balancer.Peer, total time.Duration) string {
	parts := []string{fmt.Sprintf("peer;dur=%.1f;desc=%q", float64(ans.Took.Microseconds())/1000, peer.ID)}
	for _, v := range ans.Header.Values("Server-Timing") {
		for m := range strings.SplitSeq(v, ",") {
			if m = strings.TrimSpace(m); m != "" && !strings.HasPrefix(m, "total;") {
				parts = append(parts, m)
			}
		}
	}
	return strings.Join(append(parts, fmt.Sprintf("total;dur=%.1f", float64(total.Microseconds())/1000)), ", ")
}
