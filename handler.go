package imgedge

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/cdncgi"
	"github.com/imgedge/imgedge/cluster"
	"github.com/imgedge/imgedge/internal/problem"
	"github.com/imgedge/imgedge/telemetry"
	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/transform"
	"github.com/imgedge/imgedge/variant"
)

// ServeHTTP answers image requests; everything else goes to next untouched.
func (ir *ImageResize) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	client := clientRequest(r) // r as the client sent it, before any rewrite
	hops, nonce := ir.readHops(client)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// A protected tenant's originals are not to be had by another
		// method either.
		if r.Method != http.MethodOptions {
			// No tenant to name: the default tenant's (*) settings apply,
			// as they do to a GET.
			name, _ := ir.tenantName(r)
			if settings, _ := ir.tenants.Get(name); settings.Protects() {
				w.Header().Set("Allow", "GET, HEAD, OPTIONS")
				return ir.refuseEarly(w, http.StatusMethodNotAllowed, "this tenant serves images by GET and HEAD only", "")
			}
		}
		return next.ServeHTTP(w, r)
	}
	// A /cdn-cgi/image/ URL that cdn_cgi_image rewrote: image work
	// whatever its source answers.
	cloudflare, _ := caddyhttp.GetVar(r.Context(), cdncgi.Var).(bool)
	// The one reading of the request's URL: everything after takes req.
	req := transform.ReadRequest(client.URL, r.URL)
	name, err := ir.tenantName(r)
	if err != nil {
		// No tenant to name: what applies is the default tenant's (*).
		if defaults, _ := ir.tenants.Get(""); !cloudflare && !defaults.WantsImage(req) && !defaults.Protects() {
			return ir.passOn(w, r, next)
		}
		msg := "the Host header is not a valid host name: "
		if ir.Tenant != hostPlaceholder {
			msg = "the request names no valid tenant: "
		}
		return ir.refuseEarly(w, http.StatusBadRequest, msg+err.Error(), "")
	}
	settings, known := ir.tenants.Get(name)
	// A protected tenant's every request is checked, image or not: a
	// signature or preset requirement that plain GETs skipped would hand
	// out the original, metadata and all.
	if !cloudflare && !settings.WantsImage(req) && !settings.Protects() {
		return ir.passOn(w, r, next)
	}
	source := client
	if cloudflare {
		// The source's request, with its options: the query form's cache
		// entry and ETag. The client's URL is what signatures cover.
		source = r
	}
	if err := checkTarget(source); err != nil {
		return ir.refuseEarly(w, http.StatusBadRequest, err.Error(), "")
	}
	// Image work: what the client names for this connection alone (a
	// client hint in Connection) is not acted on, as a peer never gets it.
	balancer.DropConnectionFields(r.Header)
	rq := &imageRequest{ir: ir, w: w, r: r, client: client, source: source, next: next, start: time.Now(),
		tenant: name, settings: settings, known: known, cloudflare: cloudflare, hops: hops, nonce: nonce,
		asOwner: hops.Last() == balancer.HopOwner, asShield: hops.Last() == balancer.HopShield,
		loops: balancer.LoopCount(r.Header.Values("CDN-Loop"), balancer.LoopToken),
		res:   variant.Result{CacheStatus: ir.engine.Store.MissStatus()}} // what a refusal before the engine bills
	// RFC 8586: a request that has passed through imgedge more often than
	// any chain of hops can is in a loop (through some other proxy).
	if rq.loops > balancer.MaxHops {
		return ir.refuseEarly(w, http.StatusLoopDetected, "the request has passed through imgedge too often (CDN-Loop): a forwarding loop", "")
	}
	if len(hops) > 0 {
		// Taken: the node that sent it waits as long as this node's
		// limits say, not as long as it would for a peer that might be
		// dead.
		balancer.Accepted(w, cluster.WorkBound(time.Duration(ir.QueueTimeout), time.Duration(ir.FetchTimeout), ir.pipeline.Timeout))
	}
	rq.traceRequest()
	outcome := rq.serve(req)
	ir.metrics.Requests.WithLabelValues(outcome).Inc()
	return rq.err
}

// readHops reads the hops a peer's request made. Only a peer that proves
// it holds the cluster secret, once, can make a request a hop; whatever
// else the request says, a client's copy of the hop header included,
// counts for nothing (a request whose proof fails is served as a
// client's). Neither the proof nor the hops travel further, whatever the
// request turns out to be: not to the origin, and not to a peer but
// signed anew.
func (ir *ImageResize) readHops(r *http.Request) (balancer.Hops, balancer.Nonce) {
	hops, nonce, err := ir.peering.Verify(r)
	if err != nil {
		ir.metrics.PeerProofsRefused.WithLabelValues(balancer.ProofRefusal(err)).Inc()
		ir.logger.Debug("a peer proof was not accepted: served as a client's request", zap.String("uri", r.URL.RequestURI()), zap.Error(err))
	}
	balancer.StripPeerHeaders(r.Header)
	return hops, nonce
}

// hop is this request as the cluster sees it.
func (rq *imageRequest) hop() *cluster.Hop {
	return &cluster.Hop{W: rq.w, Client: rq.client, Method: rq.r.Method, Start: rq.start, Hops: rq.hops, Loops: rq.loops,
		OwnerKey: rq.ownerKey, Hints: rq.hints, AsShield: rq.asShield}
}

// passOn hands a request that is not image work to the rest of the route,
// asking browsers for client hints on the way when accept_ch is set.
func (ir *ImageResize) passOn(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if ir.AcceptCH {
		w.Header().Set("Accept-CH", transform.AcceptCH)
	}
	return next.ServeHTTP(w, r)
}

// refuseEarly refuses a request before it has a tenant: nothing is
// recorded, since there is nobody to bill.
func (ir *ImageResize) refuseEarly(w http.ResponseWriter, status int, msg, param string) error {
	problem.Write(w, status, msg, param)
	ir.metrics.Requests.WithLabelValues(telemetry.OutcomeBadRequest).Inc()
	return nil
}

// imageRequest is the state of one image request as it moves through
// admission, parsing and the engine.
type imageRequest struct {
	ir     *ImageResize
	w      http.ResponseWriter
	r      *http.Request
	client *http.Request // r as the client sent it, before any rewrite: what signatures cover and peers are forwarded
	source *http.Request // what names the source in keys and tags: client, or the source of a /cdn-cgi/image/ URL
	next   caddyhttp.Handler
	start  time.Time
	err    error // returned to Caddy: a passed-through handler error

	tenant     string
	settings   tenant.Settings
	known      bool           // the tenant has settings of its own
	hops       balancer.Hops  // the hops a peer's request made to get here; nil for a client's
	loops      int            // imgedge's entries in CDN-Loop
	nonce      balancer.Nonce // the peer proof's nonce, which answers to a hop are marked with
	asOwner    bool           // a node of this zone asks us as the owner: never ask another
	asShield   bool           // a zone that shields through ours asks for the original
	cloudflare bool           // a /cdn-cgi/image/ URL: image work whatever its source answers
	hints      []string       // the client hint headers the options were read from
	ownerKey   string         // what the owner of the source is chosen by (see variantRequest)
	// redirectOnError is Cloudflare's onerror=redirect: a source that
	// cannot be processed is answered with a redirect to it.
	redirectOnError bool
	srcQuery        string // the query the origin is asked with
	res             variant.Result
}

// serve runs the request flow for req, its URL as read, and returns its
// outcome label.
func (rq *imageRequest) serve(req *transform.Request) string {
	ir := rq.ir
	if refused, outcome := rq.admit(req); refused {
		return outcome
	}
	if !rq.settings.WantsImage(req) {
		// A protected tenant's request without image parameters.
		if rq.settings.PresetsOnly {
			return rq.refuse(&refusal{http.StatusBadRequest, telemetry.OutcomeBadRequest, "this tenant serves presets only: add preset=<name>"}, "preset")
		}
		rq.err = rq.next.ServeHTTP(rq.w, rq.r) // signed: the original as the route serves it
		return telemetry.OutcomePassthrough
	}
	lim := rq.settings.Limits(ir.pipeline.Limits)
	hinted := req.WithHints(rq.r.Header.Get, lim)
	rq.hints = hinted.Hints
	applied, err := tenant.Apply(rq.settings, hinted, lim)
	if err == nil && req.Semicolon != "" {
		err = &transform.Error{Param: req.Semicolon, Msg: "a raw ; in the query drops the parameter: write it %3B"}
	}
	if err != nil {
		return rq.refuseParamOfImage(err, req)
	}
	opts := applied.Options
	rq.srcQuery = applied.SourceQuery()
	rq.redirectOnError = opts.OnErrorRedirect
	vreq := rq.variantRequest()
	vreq.Options, vreq.Limits = opts, lim
	if opts.Mark != nil {
		if err := rq.withMark(vreq, opts.Mark); err != nil {
			return rq.refuseParam(err)
		}
	}
	if rq.asShield {
		return rq.serveOriginal(vreq)
	}
	if ir.clustered && !rq.asOwner {
		answer := func(res *variant.Result) string {
			rq.res = *res
			return rq.answer(res)
		}
		if answered, outcome := ir.cluster.FromOwner(rq.hop(), vreq, answer); answered {
			return outcome
		}
	}
	res, err := ir.engine.Get(rq.r.Context(), vreq)
	rq.res = *res
	// The variant exists (or the request failed): the original's bytes are
	// no longer this request's to account for, however slowly its client
	// reads the answer.
	res.Release()
	if errors.Is(err, variant.ErrNotImage) {
		return rq.notImage()
	}
	if errors.Is(err, variant.ErrBusy) && !rq.hops.Forwarded() {
		// Too busy here: the nearest healthy zone takes it, if any can.
		if ir.cluster.Forward(rq.hop()) {
			return telemetry.OutcomeForwarded
		}
	}
	if err != nil {
		return rq.refuseError(err)
	}
	return rq.answer(res)
}

// variantRequest is what names this request's source to the engine.
func (rq *imageRequest) variantRequest() *variant.Request {
	source := variant.Resource(rq.source.URL.EscapedPath(), rq.r.URL.EscapedPath(), rq.srcQuery)
	// Owners are chosen by the source as every node of the zone names it:
	// the port it came in on left out.
	rq.ownerKey = rq.tenant + "\x00" + rq.host() + "\x00" + source
	return &variant.Request{
		Site:        variant.Site(rq.tenant, rq.host(), localPort(rq.r)),
		Source:      source,
		Tags:        []string{variant.SourceTag(rq.tenant, rq.source.URL.Path), variant.TenantTag(rq.tenant)},
		Accept:      rq.r.Header.Get("Accept"),
		IfNoneMatch: rq.r.Header.Get("If-None-Match"),
		Header:      rq.r.Header,
		Fetch:       rq.fetchOriginal,
	}
}

// host is the request's host, canonical: the tenant itself unless the
// tenant is named by something else.
func (rq *imageRequest) host() string {
	if rq.ir.Tenant == hostPlaceholder {
		return rq.tenant
	}
	if h, err := tenant.Canonical(rq.r.Host); err == nil {
		return h
	}
	return strings.ToLower(rq.r.Host)
}

// localPort is the port the request came in on.
func localPort(r *http.Request) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port
		}
	}
	return ""
}

// admitTenant checks the tenant's signature (403), then its rate limit
// (429): unsigned junk is refused before it can use up the tenant's
// bucket. Unlisted tenants share one rate-limit bucket, so a client cannot
// get a fresh bucket by changing the Host header.
func (rq *imageRequest) admitTenant(req *transform.Request) (refused bool, outcome string) {
	// Signatures cover the URL as the client sent it, before any rewrite.
	if err := tenant.VerifyRequest(rq.settings, req); err != nil {
		msg := "the URL signature does not match"
		switch {
		case errors.Is(err, tenant.ErrMissingSignature):
			msg = "this tenant requires signed URLs: the s parameter is missing"
		case errors.Is(err, tenant.ErrExpired):
			msg = "the signed URL has expired"
		case errors.Is(err, tenant.ErrUnsignableQuery):
			msg = err.Error() + " (write a ';' as %3B and a '%' as %25)"
		}
		return true, rq.refuse(&refusal{http.StatusForbidden, telemetry.OutcomeForbidden, msg}, "s")
	}
	if rq.asOwner || rq.asShield {
		return false, "" // the node of this cluster that asks counted the request
	}
	bucket := rq.tenant
	if !rq.known {
		bucket = "\x00unlisted"
	}
	if ok, wait := rq.ir.limiter.Allow(bucket, rq.settings.RateLimit); !ok {
		rq.w.Header().Set("Retry-After", tenant.RetryAfter(wait))
		return true, rq.refuse(&refusal{http.StatusTooManyRequests, telemetry.OutcomeRateLimited, "too many image requests for this tenant; retry later"}, "")
	}
	return false, ""
}

// notImage answers a request whose source is not an image: as the route
// answers the request untouched, query and conditionals included, as if
// imgedge were not there; a /cdn-cgi/image/ URL, which asks for an image
// whatever it names, gets 415.
func (rq *imageRequest) notImage() string {
	if rq.cloudflare {
		return rq.refuse(&refusal{http.StatusUnsupportedMediaType, telemetry.OutcomeUnsupported, "the source is not an image"}, "")
	}
	rq.err = rq.ir.passOn(rq.w, rq.r, rq.next)
	return telemetry.OutcomePassthrough
}

// refuseParamOfImage refuses a request's parameters with 400, if its
// source is an image: a request whose route answers something else (an
// API's ?q=shoes, a ?format=json) gets the route's answer untouched. The
// source is got as for a variant (the originals cache, a shared fetch), so
// refused requests repeated do not reach the origin again.
func (rq *imageRequest) refuseParamOfImage(err error, req *transform.Request) string {
	if rq.cloudflare {
		return rq.refuseParam(err)
	}
	rq.srcQuery = req.SourceQuery()
	res, ferr := rq.ir.engine.Probe(rq.r.Context(), rq.variantRequest())
	rq.res = *res
	var he caddyhttp.HandlerError
	switch {
	case ferr == nil:
		return rq.refuseParam(err)
	case errors.Is(ferr, variant.ErrNotImage), errors.As(ferr, &he):
		return rq.notImage()
	}
	return rq.refuseError(ferr)
}
