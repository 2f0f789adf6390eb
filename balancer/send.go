package balancer

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/imgedge/imgedge/tracing"
)

// A node that takes a request from a peer says so at once: a 102
// Processing whose WorkBoundHeader is the longest, in seconds, it may take
// over the request (waiting for a slot, fetching, processing), as its own
// limits say (Accepted). The sender gives a peer a short time to answer
// or say it took the request, which finds a dead or hung peer soon, then
// as long as the peer said: a request may wait for a slot in a zone with
// room as long as that zone's queue allows. A peer that sends the request
// on relays the 102 it gets, so every node on the chain waits as long as
// the last one needs.

// WorkBoundHeader rides on the 102 Processing of a node that took a
// peer's request: the longest it may take over it, in seconds.
const WorkBoundHeader = "Imgedge-Work-Bound"

// maxWorkBound caps the time a peer's 102 may ask for; maxAccepts, how
// many 102s one request may get (one a hop on its chain, and some).
const (
	maxWorkBound = 5 * time.Minute
	maxAccepts   = 2 * MaxHops
)

// errTooManyAccepts refuses a peer that sends 102 after 102.
var errTooManyAccepts = errors.New("the peer sent too many 102 Processing answers")

// Accepted tells the node that sent a request that this node took it and
// may take up to bound over it.
func Accepted(w http.ResponseWriter, bound time.Duration) {
	h := w.Header()
	h.Set(WorkBoundHeader, strconv.FormatFloat(bound.Seconds(), 'f', 3, 64))
	w.WriteHeader(http.StatusProcessing)
	h.Del(WorkBoundHeader)
}

// send sends a signed request to a peer, which has within to answer or
// to say it took the request, then the bound its 102 states; accepted, if
// set, hears of each such bound (for a node to relay it to the node that
// asked it). Once the answer's header is in, its body has maxWorkBound:
// the peer holds it whole. Closing the body ends the request.
//
// The hop is a span of the request's trace ("imgedge.hop.owner", ".shield"
// or ".forward"), whose context the peer gets (traceparent): its spans are
// children of this one. The span ends with the request.
func (p *Peering) send(req *http.Request, hop string, peer Peer, within time.Duration, accepted func(time.Duration)) (*http.Response, error) {
	ctx, span := tracing.StartClient(req.Context(), "imgedge.hop."+hop)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("imgedge.peer", peer.ID), attribute.String("imgedge.peer.zone", peer.Zone),
			attribute.String("server.address", req.URL.Host))
	}
	tracing.Inject(ctx, req.Header) // not signed: it says where to file the peer's spans, nothing of the answer
	ctx, cancel := context.WithCancel(ctx)
	deadline := time.AfterFunc(within, cancel)
	accepts := 0
	ct := &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code != http.StatusProcessing {
				return nil
			}
			if accepts++; accepts > maxAccepts {
				return errTooManyAccepts
			}
			secs, err := strconv.ParseFloat(h.Get(WorkBoundHeader), 64)
			if err != nil || !(secs > 0) || math.IsInf(secs, 0) {
				return nil // not a bound: the first deadline stands
			}
			bound := time.Duration(math.Min(secs, maxWorkBound.Seconds()) * float64(time.Second))
			deadline.Reset(bound)
			if span.IsRecording() {
				span.AddEvent("peer took the request", trace.WithAttributes(attribute.Float64("imgedge.work_bound_s", bound.Seconds())))
			}
			if accepted != nil {
				accepted(bound)
			}
			return nil
		},
	}
	resp, err := p.client.Do(req.WithContext(httptrace.WithClientTrace(ctx, ct)))
	if err != nil {
		deadline.Stop()
		cancel()
		tracing.End(span, err)
		return nil, err
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	}
	deadline.Reset(maxWorkBound)
	resp.Body = &endsRequest{ReadCloser: resp.Body, end: func() { deadline.Stop(); cancel(); span.End() }}
	return resp, nil
}

// endsRequest is a peer's answer's body that ends the request when closed.
type endsRequest struct {
	io.ReadCloser
	end func()
}

func (b *endsRequest) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}
