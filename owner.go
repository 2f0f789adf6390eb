package imgedge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/internal/problem"
	"github.com/imgedge/imgedge/telemetry"
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

// ownerAttempts is how many nodes of the zone a request is asked of
// before this node does the work itself.
const ownerAttempts = 2

// fromOwner answers req from this node's cache, or from the owner of its
// source, or by the next node in rank when the owner cannot answer. It
// reports false when this node is to do the work: it owns the source, or
// every node asked failed.
func (rq *imageRequest) fromOwner(req *variant.Request) (answered bool, outcome string) {
	ir := rq.ir
	self := ir.balancer.ID()
	owners := ir.balancer.Owners(rq.ownerKey)
	hops, canAsk := rq.nextHops(balancer.HopOwner)
	if len(owners) == 0 || owners[0].ID == self || !canAsk {
		return false, "" // ours (the engine looks in the cache first), or as far as a request goes
	}
	if res, ok := ir.engine.Cached(req); ok {
		if res.Hot {
			ir.metrics.HotHits.Inc()
		}
		rq.res = *res
		return true, rq.answer(res)
	}
	ctx := rq.r.Context()
	purges := ir.engine.Store.Cache.Purges() // an answer from before a purge is not kept
	asked := 0
	for _, peer := range owners {
		if peer.ID == self || asked == ownerAttempts {
			break
		}
		asked++
		began := time.Now()
		ans, err := ir.peering.Ask(ctx, peer, rq.client, hops, time.Duration(ir.FetchTimeout), rq.relayAccepted)
		if err == nil && ans.StatusCode == http.StatusInternalServerError {
			balancer.Discard(ans.Response) // the owner's own failure: the next may do better
			err = errors.New("the owner answered 500")
		}
		if err != nil {
			if rq.r.Context().Err() == nil { // a client gone away says nothing of the peer
				ir.balancer.Report(peer, false, time.Since(began))
			}
			ir.metrics.PeerRequests.WithLabelValues("failed").Inc()
			ir.logger.Debug("the owner could not answer; trying the next", zap.String("peer", peer.ID), zap.Error(err))
			if ctx.Err() != nil {
				break // the client went away
			}
			continue
		}
		// Any other answer is the owner's to give, a 503 (busy, and no
		// other zone could take it) or a 502/504 (the origin's trouble)
		// included: asking another node would only repeat it.
		ir.balancer.Report(peer, true, time.Since(began))
		ir.metrics.PeerRequests.WithLabelValues(peerResult(ans)).Inc()
		if asked > 1 {
			ir.metrics.OwnerFallbacks.WithLabelValues("next").Inc()
		}
		return true, rq.relay(req, peer, ans, time.Since(began), purges)
	}
	if asked > 0 {
		ir.metrics.OwnerFallbacks.WithLabelValues("self").Inc()
	}
	return false, ""
}

// maxHotCopy is the largest answer kept as a hot copy; larger ones are
// relayed without being held whole.
const maxHotCopy = 8 << 20

// peerResult is the owner's answer as the peer_requests metric counts it.
func peerResult(ans *balancer.Answer) string {
	switch {
	case ans.StatusCode >= 400:
		return "refused"
	case !ans.Marked:
		return "unmarked"
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
// Server-Timing, and keeps a copy of a variant once it is hot (unless a
// purge ran since purges was read). The owner billed the request. Only
// an answer the owner marked as its variant is kept: a passthrough's
// headers are the origin's, and name nothing. A variant to keep is read
// whole first (its memory leased from the process's budget for
// originals); anything else streams through.
func (rq *imageRequest) relay(req *variant.Request, peer balancer.Peer, ans *balancer.Answer, took time.Duration, purges uint64) string {
	resp := ans.Response
	defer resp.Body.Close()
	info, isVariant := variant.ParseVariantInfo(ans.Variant)
	isVariant = isVariant && ans.Marked
	h := rq.w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	// RFC 9211: the owner's entry first, this node's (nearest the client)
	// last.
	h.Set("Cache-Status", strings.Join(append(resp.Header.Values("Cache-Status"),
		fmt.Sprintf("imgedge; fwd=uri-miss; fwd-status=%d; detail=peer", resp.StatusCode)), ", "))
	h.Set("Server-Timing", peerTiming(resp.Header, peer, took, time.Since(rq.start)))
	var kept http.Header
	if isVariant && resp.StatusCode == http.StatusOK && rq.r.Method == http.MethodGet &&
		resp.ContentLength > 0 && resp.ContentLength <= maxHotCopy {
		kept = rq.hotHeader(resp.Header)
	}
	if kept != nil && rq.ir.engine.WantHot(req, kept, info, purges) {
		switch body, read := rq.readVariant(resp); {
		case read == readWhole && !ans.Intact(body):
			// Changed on the way: not the variant the owner marked.
			clear(h)
			problem.Write(rq.w, http.StatusBadGateway, "the owner's answer is not the variant it marked", "")
			return telemetry.OutcomeOriginError
		case read == readWhole:
			rq.ir.engine.KeepHot(req, body, kept, info, purges)
			rq.w.WriteHeader(resp.StatusCode)
			if _, err := rq.w.Write(body); err != nil {
				rq.ir.logger.Debug("writing the owner's answer", zap.Error(err))
			}
			return telemetry.OutcomePeer
		case read == readBroken:
			// The owner billed an answer this node cannot give: say so,
			// unbilled here.
			clear(h)
			problem.Write(rq.w, http.StatusBadGateway, "the owner's answer broke off", "")
			return telemetry.OutcomeOriginError
		}
	}
	rq.w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(rq.w, resp.Body); err != nil {
		rq.ir.logger.Debug("relaying the owner's answer", zap.Error(err))
	}
	return telemetry.OutcomePeer
}

// How reading an owner's variant whole went.
const (
	readWhole  = iota // read: keep it and answer with it
	readNoRoom        // no room in the budget: nothing read, stream it
	readBroken        // the answer broke off midway
)

// readVariant reads an owner's variant whole, holding its size of the
// process's budget for originals while it does.
func (rq *imageRequest) readVariant(resp *http.Response) ([]byte, int) {
	ir := rq.ir
	waitCtx, cancel := context.WithTimeout(rq.r.Context(), time.Duration(ir.QueueTimeout))
	lease, err := ir.sources.Acquire(waitCtx, resp.ContentLength)
	cancel()
	if err != nil {
		return nil, readNoRoom
	}
	defer lease.Release()
	body, err := balancer.ReadAnswer(resp, resp.ContentLength)
	if err != nil {
		return nil, readBroken
	}
	return body, readWhole
}

// hotHeader is the part of an owner's answer header a hot copy keeps.
func (rq *imageRequest) hotHeader(header http.Header) http.Header {
	kept := http.Header{}
	for _, name := range hotCopyHeaders {
		if v := header.Values(name); len(v) > 0 {
			kept[name] = slices.Clone(v)
		}
	}
	if len(rq.hints) > 0 && kept.Get("Vary") != "" {
		// The hints are added per answer, as the owner added them.
		kept.Del("Vary")
		if rest := cache.VaryFields(header, rq.hints...); len(rest) > 0 {
			kept.Set("Vary", strings.Join(rest, ", "))
		}
	}
	return kept
}

// peerTiming is the Server-Timing of a relayed answer: the hop to the
// owner (until its answer began), the owner's phases, and this request's
// total.
func peerTiming(owner http.Header, peer balancer.Peer, took, total time.Duration) string {
	parts := []string{fmt.Sprintf("peer;dur=%.1f;desc=%q", float64(took.Microseconds())/1000, peer.ID)}
	for _, v := range owner.Values("Server-Timing") {
		for m := range strings.SplitSeq(v, ",") {
			if m = strings.TrimSpace(m); m != "" && !strings.HasPrefix(m, "total;") {
				parts = append(parts, m)
			}
		}
	}
	return strings.Join(append(parts, fmt.Sprintf("total;dur=%.1f", float64(total.Microseconds())/1000)), ", ")
}
