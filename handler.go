package imgedge

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/cespare/xxhash/v2"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/budget"
	"github.com/imgedge/imgedge/internal/vips"
	"github.com/imgedge/imgedge/metering"
	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/transform"
)

// pipelineVersion is part of every ETag: bump it when the same parameters
// start producing different bytes, so caches do not keep the old ones.
const pipelineVersion = "1"

// ServeHTTP answers image requests; everything else goes to next untouched.
func (ir *ImageResize) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return next.ServeHTTP(w, r)
	}
	client := clientRequest(r)
	name, err := ir.tenantName(r)
	if err != nil {
		return ir.refuseEarly(w, http.StatusBadRequest, "the Host header is not a valid host name: "+err.Error(), "")
	}
	settings, known := ir.tenants.Get(name)
	query := r.URL.Query()
	// A protected tenant's every request is checked, image or not: a
	// signature or preset requirement that plain GETs skipped would hand
	// out the original, metadata and all.
	if !settings.WantsImage(query) && !settings.Protects() {
		return next.ServeHTTP(w, r)
	}
	if err := checkTarget(client); err != nil {
		return ir.refuseEarly(w, http.StatusBadRequest, err.Error(), "")
	}
	rq := &imageRequest{ir: ir, w: w, r: r, client: client, next: next, start: time.Now(), tenant: name, settings: settings, known: known}
	// Only a peer that proves it holds the cluster secret can mark a
	// request as forwarded: a client's CDN-Loop alone counts for nothing.
	rq.forwarded = balancer.HasLoop(strings.Join(r.Header.Values("CDN-Loop"), ","), loopToken) &&
		peerAuthenticated(client, ir.peerSecret, rq.start)
	outcome := rq.serve(query)
	ir.metrics.requests.WithLabelValues(outcome).Inc()
	return rq.err
}

// refuseEarly refuses a request before it has a tenant: nothing is
// recorded, since there is nobody to bill.
func (ir *ImageResize) refuseEarly(w http.ResponseWriter, status int, msg, param string) error {
	writeProblem(w, status, msg, param)
	ir.metrics.requests.WithLabelValues(outcomeBadRequest).Inc()
	return nil
}

// imageRequest is the state of one image request as it moves through
// parsing, the cache, fetching and processing.
type imageRequest struct {
	ir     *ImageResize
	w      http.ResponseWriter
	r      *http.Request
	client *http.Request // r as the client sent it, before any rewrite
	next   caddyhttp.Handler
	start  time.Time
	err    error // returned to Caddy: a passed-through handler error

	opts      transform.Options
	tenant    string
	settings  tenant.Settings
	known     bool          // the tenant has settings of its own
	forwarded bool          // another node forwarded it: serve it here or refuse
	site      string        // the site and port: the first part of every key
	source    string        // the resource: client path, route path, query without image parameters
	lease     *budget.Lease // memory of the original this request fetched
	srcQuery  string        // the query the origin is asked with
	tags      []string      // purge tags of everything cached for this request
	timing    timings
	usage     usage
}

// usage is what this request cost, for its usage record.
type usage struct {
	cacheStatus string // hit, miss, collapsed, bypass
	sourceBytes int64  // original bytes this request fetched or processed
}

// timings are the phases of one request, for Server-Timing.
type timings struct{ fetch, queue, resize time.Duration }

// refusal is an answer decided while fetching: status, outcome, message.
type refusal struct {
	status  int
	outcome string
	msg     string
}

func (e *refusal) Error() string { return e.msg }

// errNotImage means the route answered with something that is not an image
// to transform; the request then streams the route's answer itself.
var errNotImage = errors.New("the answer is not an image")

// serve runs the request flow and returns its outcome label.
func (rq *imageRequest) serve(query url.Values) string {
	ir, st := rq.ir, rq.ir.store
	defer func() { rq.lease.Release() }()
	rq.usage.cacheStatus = "miss"
	if st.cache == nil {
		rq.usage.cacheStatus = "bypass"
	}
	if refused, outcome := rq.admitTenant(); refused {
		return outcome
	}
	if !rq.settings.WantsImage(query) {
		// A protected tenant's request without image parameters.
		if rq.settings.PresetsOnly {
			return rq.refuse(&refusal{http.StatusBadRequest, outcomeBadRequest, "this tenant serves presets only: add preset=<name>"}, "preset")
		}
		rq.err = rq.next.ServeHTTP(rq.w, rq.r) // signed: the original as the route serves it
		return outcomePassthrough
	}
	lim := rq.settings.Limits(ir.pipeline.Limits)
	query, err := tenant.Apply(rq.settings, query, lim)
	var opts transform.Options
	if err == nil {
		opts, err = transform.Parse(query, lim)
	}
	if err != nil {
		return rq.refuseParam(err)
	}
	rq.opts = opts
	rq.srcQuery = transform.SourceQuery(query).Encode()
	rq.site, rq.source = resourceKey(rq.tenant, rq.r, rq.client, rq.srcQuery)
	rq.tags = []string{sourceTag(rq.tenant, rq.client.URL.Path), tenantTag(rq.tenant)}
	accept := rq.r.Header.Get("Accept")
	canonical := opts.Canonical()

	// Warm: the source is known, so the variant's key is too.
	if info, ok := st.cache.Get(infoKey(rq.site, rq.source)); ok {
		format, negotiated := transform.OutputFormat(opts, accept, sourceInfoFrom(info))
		if v, ok := st.cache.Get(variantKey(rq.site, rq.source, canonical+ir.fingerprint, format, negotiated)); ok {
			rq.usage.cacheStatus = "hit"
			return rq.answer(v, "hit"+ttlParam(v.Expires))
		}
	}

	orig, status, err := rq.original()
	if err != nil {
		return rq.refuseError(err)
	}
	// Effects are priced on the output they will run on, before a slot
	// is taken: an expensive blur is refused, not queued.
	srcW, srcH := orig.src.Header.OrientedSize()
	outW, outH := transform.NewPlan(opts, srcW, srcH, lim).OutputSize(srcW, srcH)
	if err := transform.CheckCost(opts, outW, outH); err != nil {
		return rq.refuseParam(err)
	}
	format, negotiated := transform.OutputFormat(opts, accept, orig.src.Info())
	etag := variantETag(orig.sum, canonical+ir.fingerprint, format)
	if etagMatches(rq.r.Header.Get("If-None-Match"), etag) {
		return rq.notModified(etag, orig.cacheControl(ir.CacheControl), negotiated, orig.header)
	}

	key := variantKey(rq.site, rq.source, canonical+ir.fingerprint, format, negotiated)
	var t timings
	spec := renderSpec{
		opts: opts, format: format, negotiated: negotiated, etag: etag, key: key,
		tags: rq.tags,
	}
	var (
		entry  *cache.Entry
		shared bool
	)
	if orig.private {
		entry, err = ir.render(rq.r.Context(), orig, spec, &t) // one client's own: never shared
	} else {
		// The run stops if every request waiting for it goes away.
		entry, shared, err = st.variants.Do(rq.r.Context(), key, func(ctx context.Context) (*cache.Entry, error) {
			if e, ok := st.cache.Get(key); ok {
				return e, nil
			}
			return ir.render(ctx, orig, spec, &t)
		})
	}
	if errors.Is(err, errBusy) && !rq.forwarded {
		// Too busy here: the nearest healthy zone takes it, if any can.
		if ir.balancer != nil && rq.forward() {
			return outcomeForwarded
		}
	}
	if err != nil {
		return rq.refuseError(err)
	}
	if shared {
		status += "; detail=collapsed"
		rq.usage.cacheStatus = "collapsed"
	} else {
		rq.timing.queue, rq.timing.resize = t.queue, t.resize
		rq.usage.sourceBytes = int64(len(orig.body))
	}
	return rq.answer(entry, status)
}

// refuseParam answers a refused parameter with 400, naming it.
func (rq *imageRequest) refuseParam(err error) string {
	var pe *transform.Error
	if errors.As(err, &pe) {
		return rq.refuse(&refusal{http.StatusBadRequest, outcomeBadRequest, pe.Msg}, pe.Param)
	}
	return rq.refuse(&refusal{http.StatusBadRequest, outcomeBadRequest, err.Error()}, "")
}

// admitTenant checks the tenant's signature (403), then its rate limit
// (429): unsigned junk is refused before it can use up the tenant's
// bucket. Unlisted tenants share one rate-limit bucket, so a client cannot
// get a fresh bucket by changing the Host header.
func (rq *imageRequest) admitTenant() (refused bool, outcome string) {
	// Signatures cover the URL as the client sent it, before any rewrite.
	if err := tenant.Verify(rq.settings, rq.client.URL.Path, rq.client.URL.Query()); err != nil {
		msg := "the URL signature does not match"
		switch {
		case errors.Is(err, tenant.ErrMissingSignature):
			msg = "this tenant requires signed URLs: the s parameter is missing"
		case errors.Is(err, tenant.ErrExpired):
			msg = "the signed URL has expired"
		}
		return true, rq.refuse(&refusal{http.StatusForbidden, outcomeForbidden, msg}, "s")
	}
	bucket := rq.tenant
	if !rq.known {
		bucket = "\x00unlisted"
	}
	if ok, wait := rq.ir.limiter.Allow(bucket, rq.settings.RateLimit); !ok {
		rq.w.Header().Set("Retry-After", tenant.RetryAfter(wait))
		return true, rq.refuse(&refusal{http.StatusTooManyRequests, outcomeRateLimited, "too many image requests for this tenant; retry later"}, "")
	}
	return false, ""
}

// original returns the request's source: from the originals cache, or
// fetched through the rest of the route, one fetch for all concurrent
// requests of the source that carry the same credentials. status is the
// Cache-Status of a miss.
func (rq *imageRequest) original() (o *original, status string, err error) {
	st := rq.ir.store
	if st.cache == nil {
		status = "fwd=bypass"
	}
	key := originalKey(rq.site, rq.source)
	if e, ok := st.cache.GetOriginal(key); ok {
		o, err = rq.ir.inspect(e.Body, e.Header, false)
		return o, "fwd=miss; detail=original", err
	}
	if status == "" {
		status = "fwd=uri-miss"
	}
	req := rq.fetchRequest()
	creds := credentialsOf(rq.r)
	began := time.Now()
	// Every caller waits for the fetch to finish, even one whose client
	// went away: the fetch runs on the first caller's request (its Caddy
	// variables, its body), which must outlive it. fetch_timeout bounds
	// the wait. Clients with other credentials never share a fetch.
	o, shared, err := st.originals.Do(context.WithoutCancel(rq.r.Context()), key+creds, func(ctx context.Context) (*original, error) {
		o, err := rq.ir.fetch(ctx, req, rq.next, nil, creds != "")
		if err == nil {
			rq.ir.keepOriginal(key, o, rq.tags)
		}
		return o, err
	})
	rq.timing.fetch = time.Since(began)
	switch {
	case errors.Is(err, errNotImage):
		// Stream the route's answer to this client as it is.
		o, err = rq.fetchDirect(req, creds != "")
	case err == nil && shared && o.private:
		// The origin answered for the first caller only (private,
		// no-store): this client fetches its own.
		o, err = rq.fetchDirect(req, creds != "")
	case err == nil && !shared:
		rq.lease = o.lease // this request's fetch: its memory is ours to free
	}
	return o, status, err
}

// fetchRequest is the request for the original: image parameters,
// conditionals and ranges removed, as a GET.
func (rq *imageRequest) fetchRequest() *http.Request {
	req := rq.r.Clone(rq.r.Context())
	req.Method = http.MethodGet
	req.URL.RawQuery = rq.srcQuery
	req.RequestURI = req.URL.RequestURI()
	for _, h := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range", "Accept-Encoding"} {
		req.Header.Del(h)
	}
	return req
}

// fetch runs the rest of the route for the original, within fetch_timeout,
// and returns it inspected. With a client, an answer that is not an image
// goes to it as it is (*passedThrough); without one (a fetch shared by
// several requests) such an answer is errNotImage and nothing is written.
//
// The fetch first takes a lease on the process's budget for originals in
// flight (waiting at most queue_timeout), grown as the original's size
// becomes known: the bytes buffered by every request of the process stay
// within it. The lease comes back with the original; whoever ends up
// owning it releases it.
func (ir *ImageResize) fetch(ctx context.Context, req *http.Request, next caddyhttp.Handler, client http.ResponseWriter, credentials bool) (*original, error) {
	waitCtx, cancelWait := context.WithTimeout(ctx, time.Duration(ir.QueueTimeout))
	lease, err := ir.sources.Acquire(waitCtx, fetchLeaseStart)
	cancelWait()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ir.metrics.budgetRefusals.Inc()
		return nil, &refusal{http.StatusServiceUnavailable, outcomeBusy, "too many originals are being fetched; retry shortly"}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(ir.FetchTimeout))
	defer cancel()
	fw := newFetchWriter(ctx, client, ir.MaxSourceBytes, lease, time.Duration(ir.QueueTimeout))
	began := time.Now()
	err = serveNext(next, fw, req.WithContext(ctx))
	ir.metrics.fetchDuration.Observe(time.Since(began).Seconds())
	if fw.mode == passthrough {
		lease.Release()
		if client == nil {
			return nil, errNotImage
		}
		return nil, &passedThrough{routeErr: err}
	}
	if err := ir.fetchError(ctx, fw, err); err != nil {
		lease.Release()
		return nil, err
	}
	ir.metrics.sourceBytes.Add(float64(fw.body.Len()))
	o, err := ir.inspect(fw.body.Bytes(), fw.header, credentials)
	if err != nil {
		lease.Release()
		return nil, err
	}
	o.lease = lease
	return o, nil
}

// fetchLeaseStart is what a fetch holds of the budget before the
// original's size is known.
const fetchLeaseStart = 64 << 10

// fetchDirect fetches the original for this request alone.
func (rq *imageRequest) fetchDirect(req *http.Request, credentials bool) (*original, error) {
	began := time.Now()
	o, err := rq.ir.fetch(rq.r.Context(), req, rq.next, rq.w, credentials)
	rq.timing.fetch += time.Since(began)
	if err == nil {
		rq.lease = o.lease
	}
	return o, err
}

// credentialsOf identifies the credentials a request carries (its
// Authorization and Cookie headers), hashed, or "" for none: requests
// with different credentials never share a fetch.
func credentialsOf(r *http.Request) string {
	auth, cookie := r.Header.Values("Authorization"), r.Header.Values("Cookie")
	if len(auth) == 0 && len(cookie) == 0 {
		return ""
	}
	h := xxhash.New()
	for _, v := range auth {
		h.WriteString("a\x00" + v + "\x00")
	}
	for _, v := range cookie {
		h.WriteString("c\x00" + v + "\x00")
	}
	return "\x00cred:" + strconv.FormatUint(h.Sum64(), 16)
}

// passedThrough means the route's answer was streamed to the client as it
// was; routeErr is what the route returned, handed on to Caddy.
type passedThrough struct{ routeErr error }

func (p *passedThrough) Error() string { return "passed through" }

// fetchError turns how a fetch ended into a refusal, or nil when an image
// was buffered.
func (ir *ImageResize) fetchError(ctx context.Context, fw *fetchWriter, err error) error {
	switch {
	case fw.mode == tooLarge:
		return &refusal{http.StatusRequestEntityTooLarge, outcomeTooLarge, "the original is larger than the limit of " + ir.maxSourceString()}
	case fw.mode == overBudget:
		ir.metrics.budgetRefusals.Inc()
		return &refusal{http.StatusServiceUnavailable, outcomeBusy, "the node's memory for originals in flight is in use; retry shortly"}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &refusal{http.StatusGatewayTimeout, outcomeOriginTimeout, fmt.Sprintf("the origin did not answer within %s", time.Duration(ir.FetchTimeout))}
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode < 500 {
			return err
		}
		ir.logger.Warn("fetching original", zap.Error(err))
		return &refusal{http.StatusBadGateway, outcomeOriginError, "the origin failed to deliver the original"}
	case fw.mode == undecided:
		return &refusal{http.StatusBadGateway, outcomeOriginError, "the origin sent no response"}
	}
	return nil
}

// inspect checks a fetched original's header against the limits.
// credentials says the request it was fetched for carried some: its
// answer is then shared only if the origin says it may be.
func (ir *ImageResize) inspect(body []byte, header http.Header, credentials bool) (*original, error) {
	src, err := imaging.Inspect(body, ir.pipeline)
	if err != nil {
		return nil, err
	}
	return &original{body: body, header: header, src: src, sum: xxhash.Sum64(body), private: !cache.Shareable(credentials, header)}, nil
}

// keepOriginal stores an original and what its variants' keys need, for as
// long as the origin allows.
func (ir *ImageResize) keepOriginal(key string, o *original, tags []string) {
	c := ir.store.cache
	if c == nil || o.private {
		return
	}
	ttl, ok := c.TTL(o.header.Get("Cache-Control"))
	if !ok {
		return
	}
	expires := time.Now().Add(ttl)
	c.SetOriginal(key, &cache.Entry{Body: o.body, Header: o.header, Tags: tags, Expires: expires})
	tenant, source, _ := strings.Cut(key, "\x00")
	c.Set(infoKey(tenant, source), sourceInfoEntry(o.src, expires, tags))
}

// lastTrim is when glibc's heaps were last trimmed (unix nanoseconds).
var lastTrim atomic.Int64

// trimSoon returns freed libvips memory to the kernel, at most once a
// second, in the background: a fragmented heap otherwise only grows.
func trimSoon() {
	now := time.Now().UnixNano()
	last := lastTrim.Load()
	if now-last < int64(time.Second) || !lastTrim.CompareAndSwap(last, now) {
		return
	}
	go vips.Trim()
}

// process runs the libvips job in the slot it was given, and gives the
// slot back however the job ends (a panic included).
func (ir *ImageResize) process(ctx context.Context, o *original, s renderSpec, release func()) (imaging.Result, error) {
	ir.metrics.jobs.Inc()
	defer func() {
		ir.metrics.jobs.Dec()
		release()
		if ir.slots.queued() == 0 {
			ir.balancer.SetBusy(false)
		}
		trimSoon()
	}()
	return imaging.ProcessContext(ctx, o.src, s.opts, s.format, ir.pipeline)
}

// renderSpec is one variant to make.
type renderSpec struct {
	opts       transform.Options
	format     transform.Format
	negotiated bool
	etag, key  string
	tags       []string
}

// render makes a variant in a processing slot and caches it.
func (ir *ImageResize) render(ctx context.Context, o *original, s renderSpec, t *timings) (*cache.Entry, error) {
	queued := time.Now()
	release, err := ir.slots.acquire(ctx)
	t.queue = time.Since(queued)
	if err != nil {
		if errors.Is(err, errBusy) {
			ir.balancer.SetBusy(true) // peers stop sending us work
		}
		return nil, err
	}
	began := time.Now()
	res, err := ir.process(ctx, o, s, release)
	t.resize = time.Since(began)
	ir.metrics.resizes.Inc()
	ir.metrics.resizeDuration.Observe(t.resize.Seconds())
	if err != nil {
		return nil, err
	}

	cc := o.cacheControl(ir.CacheControl)
	hdr := http.Header{}
	hdr.Set("Content-Type", res.Format.MIME())
	hdr.Set("ETag", s.etag)
	hdr.Set("Cache-Control", cc)
	setVary(hdr, s.negotiated, o.header)
	copyOriginHeaders(hdr, o.header)
	e := &cache.Entry{Body: res.Body, Header: hdr, Width: res.Width, Height: res.Height, Tags: s.tags}
	if c := ir.store.cache; c != nil && !o.private {
		if ttl, ok := c.TTL(cc); ok {
			e.Expires = time.Now().Add(ttl)
			c.Set(s.key, e)
		}
	}
	return e, nil
}

// answer sends a variant with its Cache-Status.
func (rq *imageRequest) answer(e *cache.Entry, status string) string {
	h := rq.w.Header()
	for k, v := range e.Header {
		h[k] = append([]string(nil), v...)
	}
	rq.setNodeHeaders()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Status", "imgedge; "+status)
	rq.setServerTiming()
	outcome := outcomeResized
	if strings.HasPrefix(status, "hit") {
		outcome = outcomeHit
	}
	if etagMatches(rq.r.Header.Get("If-None-Match"), e.Header.Get("ETag")) {
		h.Del("Content-Type")
		rq.record(http.StatusNotModified, 0, 0)
		rq.w.WriteHeader(http.StatusNotModified)
		return outcomeNotModified
	}
	h.Set("Content-Length", strconv.Itoa(len(e.Body)))
	rq.record(http.StatusOK, len(e.Body), int64(e.Width)*int64(e.Height))
	rq.w.WriteHeader(http.StatusOK)
	if rq.r.Method != http.MethodHead {
		if _, err := rq.w.Write(e.Body); err != nil {
			rq.ir.logger.Debug("writing image", zap.Error(err))
		}
	}
	rq.ir.metrics.outputBytes.Add(float64(len(e.Body)))
	return outcome
}

// notModified answers a conditional request for a variant not yet made.
func (rq *imageRequest) notModified(etag, cacheControl string, negotiated bool, origin http.Header) string {
	h := rq.w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", cacheControl)
	setVary(h, negotiated, origin)
	rq.setNodeHeaders()
	rq.setServerTiming()
	rq.record(http.StatusNotModified, 0, 0)
	rq.w.WriteHeader(http.StatusNotModified)
	return outcomeNotModified
}

// setNodeHeaders names the node, and zone, that did the work.
func (rq *imageRequest) setNodeHeaders() {
	h := rq.w.Header()
	h.Set("Imgedge-Node", rq.ir.node)
	if rq.ir.zone != "" {
		h.Set("Imgedge-Zone", rq.ir.zone)
	}
}

// record hands this request's usage to the meter. It runs before the
// answer is written, so every request that got an answer has a record
// (the meter journals it at once, without waiting on disk or network).
func (rq *imageRequest) record(status, outputBytes int, pixels int64) {
	if rq.ir.meter == nil {
		return
	}
	if rq.forwarded && status >= 500 {
		return // the forwarding node tries elsewhere or answers (and records) itself
	}
	if rq.r.Method == http.MethodHead {
		outputBytes = 0 // no body was sent
	}
	rq.ir.meter.Record(metering.Record{
		Tenant:       rq.tenant,
		Time:         rq.start,
		Status:       status,
		CacheStatus:  rq.usage.cacheStatus,
		SourceBytes:  rq.usage.sourceBytes,
		OutputBytes:  int64(outputBytes),
		OutputPixels: pixels,
		CPU:          rq.timing.resize,
		Wall:         time.Since(rq.start),
		Zone:         rq.ir.zone,
		Node:         rq.ir.node,
		Forwarded:    rq.forwarded,
	})
}

// refuseError answers an error from fetching, inspecting or processing.
func (rq *imageRequest) refuseError(err error) string {
	var (
		rf *refusal
		ie *imaging.Error
		he caddyhttp.HandlerError
	)
	var pt *passedThrough
	switch {
	case errors.As(err, &pt):
		rq.err = pt.routeErr
		return outcomePassthrough
	case errors.As(err, &rf):
		if rf.status == http.StatusServiceUnavailable {
			rq.w.Header().Set("Retry-After", "1")
		}
		return rq.refuse(rf, "")
	case errors.Is(err, errBusy):
		rq.w.Header().Set("Retry-After", "1")
		return rq.refuse(&refusal{http.StatusServiceUnavailable, outcomeBusy, "the image edge is busy; retry shortly"}, "")
	case errors.As(err, &he):
		// The route's own 4xx answer (file_server's 404, say): pass it on
		// for the site's error handling, as if we were not here.
		rq.err = err
		return outcomePassthrough
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return outcomeCanceled // the client went away
	case errors.As(err, &ie):
		if ie.Err != nil {
			rq.ir.logger.Debug("refusing original", zap.String("uri", rq.r.URL.RequestURI()), zap.Error(ie.Err))
		}
		switch ie.Kind {
		case imaging.Unsupported:
			return rq.refuse(&refusal{http.StatusUnsupportedMediaType, outcomeUnsupported, ie.Msg}, "")
		case imaging.TooLarge:
			return rq.refuse(&refusal{http.StatusUnprocessableEntity, outcomeTooLarge, ie.Msg}, "")
		case imaging.TooSlow:
			return rq.refuse(&refusal{http.StatusUnprocessableEntity, outcomeTooSlow, ie.Msg}, "")
		}
		return rq.refuse(&refusal{http.StatusUnprocessableEntity, outcomeUnprocessable, ie.Msg}, "")
	}
	var pe *cache.PanicError
	if errors.As(err, &pe) {
		rq.ir.logger.Error("panic while answering an image request", zap.String("uri", rq.r.URL.RequestURI()),
			zap.Any("panic", pe.Value), zap.ByteString("stack", pe.Stack))
		return rq.refuse(&refusal{http.StatusInternalServerError, outcomeError, "internal error"}, "")
	}
	rq.ir.logger.Error("image request failed", zap.String("uri", rq.r.URL.RequestURI()), zap.Error(err))
	return rq.refuse(&refusal{http.StatusUnprocessableEntity, outcomeUnprocessable, "the original cannot be processed"}, "")
}

// refuse answers with a JSON problem body and returns the outcome. Errors
// are written here rather than returned to Caddy so that every refusal
// carries its reason, whatever the site's error handling.
func (rq *imageRequest) refuse(rf *refusal, param string) string {
	rq.setServerTiming()
	rq.record(rf.status, 0, 0)
	writeProblem(rq.w, rf.status, rf.msg, param)
	return rf.outcome
}

func (rq *imageRequest) setServerTiming() {
	var parts []string
	add := func(name string, d time.Duration) {
		if d > 0 {
			parts = append(parts, fmt.Sprintf("%s;dur=%.1f", name, float64(d.Microseconds())/1000))
		}
	}
	add("fetch", rq.timing.fetch)
	add("queue", rq.timing.queue)
	add("resize", rq.timing.resize)
	add("total", time.Since(rq.start))
	rq.w.Header().Set("Server-Timing", strings.Join(parts, ", "))
}

// serveNext runs the rest of the route into fw. reverse_proxy aborts a
// response it cannot finish writing with panic(http.ErrAbortHandler); while
// we are buffering (over max_source) or fetching for several requests (not
// an image), that is our refusal, not a client's connection to drop, so it
// becomes an error. A passthrough streaming to a client and other panics go
// on up.
func serveNext(next caddyhttp.Handler, fw *fetchWriter, req *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler || (fw.mode == passthrough && fw.client != nil) {
				panic(v)
			}
			err = errors.New("origin response aborted")
		}
	}()
	return next.ServeHTTP(fw, req)
}

// cacheControl is what a variant of the original may be cached for: the
// origin's own Cache-Control, else fallback (cache_control) for an answer
// anyone may share, else "private": a default never makes one client's
// answer public.
func (o *original) cacheControl(fallback string) string {
	if cc := strings.Join(o.header.Values("Cache-Control"), ", "); cc != "" {
		return cc
	}
	if o.private {
		return "private"
	}
	return fallback
}

// setVary sets a variant's Vary: Accept when its format was negotiated,
// and whatever the origin's answer varied on (but Accept-Encoding, which a
// re-encoded image no longer depends on).
func setVary(h http.Header, negotiated bool, origin http.Header) {
	var fields []string
	if negotiated {
		fields = append(fields, "Accept")
	}
	for _, v := range origin.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" && !strings.EqualFold(f, "Accept-Encoding") && !slices.ContainsFunc(fields, func(g string) bool { return strings.EqualFold(f, g) }) {
				fields = append(fields, f)
			}
		}
	}
	if len(fields) > 0 {
		h.Set("Vary", strings.Join(fields, ", "))
	}
}

// variantETag names a variant by its original's content hash, the canonical
// parameters and the output format: the same inputs give the same ETag on
// every node.
func variantETag(sourceSum uint64, canonical string, f transform.Format) string {
	h := xxhash.New()
	var sum [8]byte
	for i := range sum {
		sum[i] = byte(sourceSum >> (8 * i))
	}
	h.Write(sum[:])
	h.WriteString("\x00" + canonical + "\x00" + f.String() + "\x00" + pipelineVersion)
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`
}

// ttlParam is Cache-Status's ttl parameter for an entry.
func ttlParam(expires time.Time) string {
	if expires.IsZero() {
		return ""
	}
	return fmt.Sprintf("; ttl=%d", int(time.Until(expires).Seconds()))
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 13.1.2).
func etagMatches(header, etag string) bool {
	if header == "" || etag == "" {
		return false
	}
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}

// copyOriginHeaders carries over the origin's headers that still hold for
// a transformed image.
func copyOriginHeaders(dst, origin http.Header) {
	for _, h := range []string{"Access-Control-Allow-Origin", "Timing-Allow-Origin", "Content-Security-Policy"} {
		if v := origin.Get(h); v != "" && dst.Get(h) == "" {
			dst.Set(h, v)
		}
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
