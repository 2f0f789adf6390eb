package cluster

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

// FromOwner answers req from this node's cache, or from the owner of its
// source, or by the next node in rank when the owner cannot answer. It
// reports false when this node is to do the work: it owns the source, or
// every node asked failed.
func (c *Cluster) FromOwner(h *Hop, req *variant.Request, answer func(*variant.Result) string) (answered bool, outcome string) {
	if c.Balancer == nil {
		return false, ""
	}
	self := c.Balancer.ID()
	owners := c.Balancer.Owners(h.OwnerKey)
	hops, canAsk := h.next(balancer.HopOwner)
	if len(owners) == 0 || owners[0].ID == self || !canAsk {
		return false, "" // ours (the engine looks in the cache first), or as far as a request goes
	}
	if res, ok := c.Engine.Cached(req); ok {
		if res.Hot {
			c.Metrics.HotHits.Inc()
		}
		return true, answer(res)
	}
	ctx := h.Client.Context()
	purges := c.Engine.Store.Cache.Purges() // an answer from before a purge is not kept
	asked := 0
	for _, peer := range owners {
		if peer.ID == self || asked == ownerAttempts {
			break
		}
		asked++
		began := time.Now()
		ans, err := c.Peering.Ask(ctx, peer, h.Client, hops, c.FetchTimeout, h.relayAccepted)
		if err == nil && ans.StatusCode == http.StatusInternalServerError {
			balancer.Discard(ans.Response) // the owner's own failure: the next may do better
			err = errors.New("the owner answered 500")
		}
		if err != nil {
			if ctx.Err() == nil { // a client gone away says nothing of the peer
				c.Balancer.Report(peer, false, time.Since(began))
			}
			c.Metrics.PeerRequests.WithLabelValues("failed").Inc()
			c.Logger.Debug("the owner could not answer; trying the next", zap.String("peer", peer.ID), zap.Error(err))
			if ctx.Err() != nil {
				break // the client went away
			}
			continue
		}
		// Any other answer is the owner's to give, a 503 (busy, and no
		// other zone could take it) or a 502/504 (the origin's trouble)
		// included: asking another node would only repeat it.
		c.Balancer.Report(peer, true, time.Since(began))
		c.Metrics.PeerRequests.WithLabelValues(peerResult(ans)).Inc()
		if asked > 1 {
			c.Metrics.OwnerFallbacks.WithLabelValues("next").Inc()
		}
		return true, c.relay(h, req, peer, ans, time.Since(began), purges)
	}
	if asked > 0 {
		c.Metrics.OwnerFallbacks.WithLabelValues("self").Inc()
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
func (c *Cluster) relay(h *Hop, req *variant.Request, peer balancer.Peer, ans *balancer.Answer, took time.Duration, purges uint64) string {
	resp := ans.Response
	defer resp.Body.Close()
	info, isVariant := variant.ParseVariantInfo(ans.Variant)
	isVariant = isVariant && ans.Marked
	w := h.W
	header := w.Header()
	for k, v := range resp.Header {
		header[k] = v
	}
	// RFC 9211: the owner's entry first, this node's (nearest the client)
	// last.
	header.Set("Cache-Status", strings.Join(append(resp.Header.Values("Cache-Status"),
		fmt.Sprintf("imgedge; fwd=uri-miss; fwd-status=%d; detail=peer", resp.StatusCode)), ", "))
	header.Set("Server-Timing", peerTiming(resp.Header, peer, took, time.Since(h.Start)))
	var kept http.Header
	if isVariant && resp.StatusCode == http.StatusOK && h.Method == http.MethodGet &&
		resp.ContentLength > 0 && resp.ContentLength <= maxHotCopy {
		kept = hotHeader(resp.Header, h.Hints)
	}
	if kept != nil && c.Engine.WantHot(req, kept, info, purges) {
		switch body, read := c.readVariant(h.Client.Context(), resp); {
		case read == readWhole && !ans.Intact(body):
			// Changed on the way: not the variant the owner marked.
			clear(header)
			problem.Write(w, http.StatusBadGateway, "the owner's answer is not the variant it marked", "")
			return telemetry.OutcomeOriginError
		case read == readWhole:
			c.Engine.KeepHot(req, body, kept, info, purges)
			w.WriteHeader(resp.StatusCode)
			if _, err := w.Write(body); err != nil {
				c.Logger.Debug("writing the owner's answer", zap.Error(err))
			}
			return telemetry.OutcomePeer
		case read == readBroken:
			// The owner billed an answer this node cannot give: say so,
			// unbilled here.
			clear(header)
			problem.Write(w, http.StatusBadGateway, "the owner's answer broke off", "")
			return telemetry.OutcomeOriginError
		}
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		c.Logger.Debug("relaying the owner's answer", zap.Error(err))
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
func (c *Cluster) readVariant(ctx context.Context, resp *http.Response) ([]byte, int) {
	waitCtx, cancel := context.WithTimeout(ctx, c.QueueTimeout)
	lease, err := c.Sources.Acquire(waitCtx, resp.ContentLength)
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
func hotHeader(header http.Header, hints []string) http.Header {
	kept := http.Header{}
	for _, name := range hotCopyHeaders {
		if v := header.Values(name); len(v) > 0 {
			kept[name] = slices.Clone(v)
		}
	}
	if len(hints) > 0 && kept.Get("Vary") != "" {
		// The hints are added per answer, as the owner added them.
		kept.Del("Vary")
		if rest := cache.VaryFields(header, hints...); len(rest) > 0 {
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
