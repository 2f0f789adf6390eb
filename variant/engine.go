// Package variant makes the variants of an image: given a request for one
// (its source, its parameters, the browser's Accept), it answers with the
// bytes, from the cache or made anew, and says how it got them.
//
// The load path reads top to bottom, as groupcache's does: look in the
// cache; fetch the original (from the originals cache, or once for every
// concurrent request through the fetch function the caller gives); price
// the work; answer a conditional request; collapse concurrent requests for
// one variant into one job; take a processing slot; run the libvips job;
// store the result. It knows nothing of Caddy or HTTP statuses: the caller
// maps its errors and results to answers.
//
// What an Engine holds (a Store of cached entries and collapsed calls, the
// processing Slots) is meant to be shared by every handler of a process.
package variant

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/budget"
	"github.com/imgedge/imgedge/tracing"
	"github.com/imgedge/imgedge/transform"
)

// ErrNotImage is what a fetch answers when the route's answer is not an
// image to transform: the caller answers the request as if imgedge were
// not there.
var ErrNotImage = errors.New("the answer is not an image")

// Store is the cache and the request collapsing around it. A nil Cache
// means caching is off; identical concurrent requests are still collapsed.
type Store struct {
	Cache     *cache.Cache
	originals cache.Group[*original]
	variants  cache.Group[*cache.Entry]
	heat      cache.Heat // how often peers' variants are asked for here
}

// NewStore returns a store around c (nil: no cache).
func NewStore(c *cache.Cache) *Store {
	s := &Store{Cache: c}
	s.variants.StopWhenAbandoned = true // a resize nobody waits for stops
	// A request that waits for another's fetch or resize links, in its
	// trace, to the request that did the work.
	s.originals.Joined, s.variants.Joined = tracing.Link, tracing.Link
	return s
}

// MissStatus is what a request that finds nothing in the store is, for
// usage records: a miss, or a bypass when there is no cache.
func (s *Store) MissStatus() string {
	if s.Cache == nil {
		return "bypass"
	}
	return "miss"
}

// Collapsed is how many requests waited for another's fetch or resize.
func (s *Store) Collapsed() uint64 { return s.originals.Collapsed() + s.variants.Collapsed() }

// Abandoned is how many resizes were stopped because every request
// waiting for them had gone.
func (s *Store) Abandoned() uint64 { return s.variants.Abandoned() }

// Close closes the cache.
func (s *Store) Close() { s.Cache.Close() }

// Hooks tell the caller what the engine does, for metrics and the busy
// signal. Every field may be nil.
type Hooks struct {
	Job  func(running int)                            // +1 when a libvips job starts, -1 when it ends
	Done func(took time.Duration, res imaging.Result) // a libvips job ended
	Busy func(busy bool)                              // no slot freed up in time (true); the queue drained (false)
}

// Engine makes variants, with one handler's settings.
type Engine struct {
	Store *Store
	Slots *Slots
	Hooks Hooks
	// Pipeline is how images are made; a request's Limits replace its own.
	Pipeline imaging.Config
	// Fingerprint holds the settings that shape the bytes; it is part of
	// every key and ETag.
	Fingerprint string
	// CacheControl is sent when the origin sends none, for answers anyone
	// may share.
	CacheControl string
}

// Fetched is an original as the fetch function got it. Lease, when set,
// is the memory it holds of the process's budget; the engine hands it on
// to whoever ends up owning the bytes.
type Fetched struct {
	Body   []byte
	Header http.Header
	Lease  *budget.Lease
}

// Request is one variant to give.
type Request struct {
	Site, Source string   // see Site and Resource
	Tags         []string // purge tags of everything cached for it
	Options      transform.Options
	Limits       transform.Limits
	Accept       string // the browser's, for f=auto
	IfNoneMatch  string
	// Header is the request's: its credentials (Authorization, Cookie)
	// keep fetches apart, and an answer to a request that carries some is
	// shared only if the origin allows (cache.Shareable).
	Header http.Header
	// Fetch gets the original. It writes nothing to any client, and
	// answers ErrNotImage for an answer that is not an image. shared
	// says the fetch serves several requests.
	Fetch func(ctx context.Context, shared bool) (*Fetched, error)
	// Mark, with Options.Mark, gets the watermark as an original of its
	// own: kept in the originals cache, under the same limits.
	Mark *Request
}

// Timings are the phases of one request, for Server-Timing.
type Timings struct{ Fetch, Queue, Resize time.Duration }

// ServerTiming is the Server-Timing of an answer with these phases and
// total: "fetch;dur=12.3, queue;dur=0.1, resize;dur=20.4, total;dur=33.0",
// phases that took no time left out.
func (t Timings) ServerTiming(total time.Duration) string {
	var parts []string
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"fetch", t.Fetch}, {"queue", t.Queue}, {"resize", t.Resize}, {"total", total}} {
		if p.d > 0 {
			parts = append(parts, fmt.Sprintf("%s;dur=%.1f", p.name, float64(p.d.Microseconds())/1000))
		}
	}
	return strings.Join(parts, ", ")
}

// Result is what the engine answered.
type Result struct {
	// Entry is the variant; with NotModified, only its headers are set.
	Entry       *cache.Entry
	NotModified bool
	// CacheStatus is hit, miss, collapsed (another request's job) or
	// bypass (no cache), for usage records.
	CacheStatus string
	// Status is the Cache-Status header's parameters (RFC 9211).
	Status      string
	Timings     Timings
	SourceBytes int64 // bytes of original this request fetched or processed itself
	// Hot says the entry is a copy kept of a peer's answer.
	Hot bool
	// Variant says what the entry is (format, negotiation, its source),
	// for a peer that keeps a copy of it; set with Entry.
	Variant VariantInfo
	lease   *budget.Lease
}

// Release frees the memory of the original this request fetched. Call it
// once the answer is written.
func (r *Result) Release() { r.lease.Release() }

// Probe reports whether req's source is an image (nil), getting it as Get
// would: from the originals cache, or one fetch shared with concurrent
// requests and kept. Otherwise it answers ErrNotImage or how the fetch
// failed. It is for a request whose options are refused: only an image's
// are.
func (e *Engine) Probe(ctx context.Context, req *Request) (*Result, error) {
	res, _, _, err := e.Original(ctx, req)
	res.Release()
	return res, err
}

// Get gives the variant req asks for.
func (e *Engine) Get(ctx context.Context, req *Request) (*Result, error) {
	st := e.Store
	canonical := e.canonical(req)
	_, lookup := tracing.Start(ctx, "imgedge.cache.lookup")
	res, ok := e.cached(req, canonical)
	traceLookup(lookup, res, ok)
	if ok {
		return res, nil
	}
	pipeline := e.Pipeline
	pipeline.Limits = req.Limits
	res = &Result{CacheStatus: st.MissStatus()}

	orig, err := e.original(ctx, req, res)
	if err != nil {
		return res, err
	}
	var mark *original
	if f := req.Options.Format; req.Options.Mark != nil && (!f.Describes() || f.NeedsPixels()) {
		// A description from the header alone (fm=json) has no use for
		// the mark: it is neither fetched nor part of the ETag.
		if req.Mark == nil {
			return res, errors.New("variant: a watermark without its request")
		}
		marked := &Result{}
		mark, err = e.original(ctx, req.Mark, marked)
		defer marked.Release() // a mark fetched for this request is held until its variant is made
		if err != nil {
			return res, err
		}
	}
	format, negotiated := transform.OutputFormat(req.Options, req.Accept, orig.src.Info())
	res.Variant = VariantInfo{Format: format, Negotiated: negotiated, Source: orig.src.Info(), canonical: canonical}
	// Effects are priced on the output they will run on, every frame of
	// it, before a slot is taken: an expensive blur is refused, not queued.
	prep, err := imaging.Prepare(orig.src, req.Options, format, pipeline)
	if err != nil {
		return res, err
	}
	if err := transform.CheckCost(req.Options, prep.Width, prep.Height, prep.Frames); err != nil {
		return res, err
	}
	sum := orig.sum
	if mark != nil {
		prep.SetMark(mark.src)
		sum ^= bits.RotateLeft64(mark.sum, 1) // the mark's bytes are part of the ETag
	}
	etag := ETag(sum, canonical, format)
	if EtagMatches(req.IfNoneMatch, etag) {
		res.Entry = &cache.Entry{Header: orig.variantHeader(etag, e.CacheControl, negotiated)}
		res.NotModified = true
		if res.lease != nil {
			res.SourceBytes = int64(len(orig.body)) // fetched for this request: billed
		}
		return res, nil
	}

	job := job{req: req, prep: prep, orig: orig, format: format, negotiated: negotiated, etag: etag,
		key: variantKey(req.Site, req.Source, canonical, format, negotiated)}
	var (
		entry  *cache.Entry
		shared bool
	)
	// This request's wait for its variant: the resize it runs, or another
	// request's it joined (then linked to it, see NewStore).
	made, span := tracing.Start(ctx, "imgedge.render")
	if orig.private || (mark != nil && mark.private) {
		job.private = true
		entry, err = e.render(made, &job) // one client's own: never shared
	} else {
		// The run stops if every request waiting for it goes away.
		entry, shared, err = st.variants.Do(made, job.key, func(ctx context.Context) (*cache.Entry, error) {
			if v, ok := st.Cache.Get(job.key); ok {
				return v, nil
			}
			return e.render(ctx, &job)
		})
	}
	traceRender(span, &job, entry, shared, err)
	if err != nil {
		return res, err
	}
	res.Entry = entry
	res.Variant.Width, res.Variant.Height = entry.Width, entry.Height
	// The entry is this request's etag unless it came from a collapsed
	// job of another version of the original: the answer's own ETag
	// decides.
	res.NotModified = EtagMatches(req.IfNoneMatch, entry.Header.Get("ETag"))
	if shared {
		res.Status += "; detail=collapsed"
		res.CacheStatus = "collapsed"
	} else {
		res.Timings.Queue, res.Timings.Resize = job.queue, job.resize
		res.SourceBytes = int64(len(orig.body))
	}
	return res, nil
}

// canonical is what names req's variant among its source's: the
// options, the settings that shape the bytes, and the limits the request
// was parsed and is planned under (a tenant's may be narrower than the
// handler's).
func (e *Engine) canonical(req *Request) string {
	return req.Options.Canonical() + e.Fingerprint + "\x00" + strconv.Itoa(req.Limits.MaxWidth) + "/" +
		strconv.Itoa(req.Limits.MaxHeight) + "/" + strconv.FormatFloat(req.Limits.MaxDPR, 'g', -1, 64)
}

// cached is the warm path: the source is known, so the variant's key is
// too, and the variant may be here, made here or kept from a peer.
func (e *Engine) cached(req *Request, canonical string) (*Result, bool) {
	st := e.Store
	info, ok := st.Cache.Get(infoKey(req.Site, req.Source))
	if !ok {
		return nil, false
	}
	src := sourceInfoFrom(info)
	format, negotiated := transform.OutputFormat(req.Options, req.Accept, src)
	v, ok := st.Cache.Get(variantKey(req.Site, req.Source, canonical, format, negotiated))
	if !ok {
		return nil, false
	}
	res := &Result{CacheStatus: "hit", Entry: v, Status: "hit" + ttlParam(v.Expires),
		NotModified: EtagMatches(req.IfNoneMatch, v.Header.Get("ETag")),
		Variant:     VariantInfo{Format: format, Negotiated: negotiated, Source: src, Width: v.Width, Height: v.Height, canonical: canonical}}
	switch _, hot := v.Parsed.(hotCopy); {
	case hot:
		res.Status += "; detail=hot-copy"
		res.Hot = true
	case v.FromDisk:
		res.Status += "; detail=disk"
	}
	return res, true
}

// original is a fetched source, inspected once and shared by every request
// for one of its variants.
type original struct {
	body    []byte
	header  http.Header // the origin's headers
	src     *imaging.Source
	sum     uint64 // xxhash of body: the source's identity in ETags
	private bool   // one client's answer (see cache.Shareable): never stored or shared
	lease   *budget.Lease
}

// original returns the request's source: from the originals cache, or
// fetched, one fetch for all concurrent requests of the source that carry
// the same credentials. It sets res's status and fetch timing, and hands
// res the lease of a fetch made for this request.
func (e *Engine) original(ctx context.Context, req *Request, res *Result) (o *original, err error) {
	ctx, span := tracing.Start(ctx, "imgedge.original")
	from := "fetched" // for the span: where the original came from
	defer func() { traceOriginal(span, from, o, err) }()
	st := e.Store
	key := originalKey(req.Site, req.Source)
	if c, ok := st.Cache.GetOriginal(key); ok {
		from = "originals cache"
		res.Status = "fwd=miss; detail=original"
		// Inspected when it was kept, under these very limits: nothing
		// to do again.
		if p, ok := c.Parsed.(inspected); ok && p.fingerprint == e.Fingerprint {
			return p.original, nil
		}
		return inspect(&Fetched{Body: c.Body, Header: c.Header}, e.Pipeline, false)
	}
	res.Status = "fwd=uri-miss"
	if st.Cache == nil {
		res.Status = "fwd=bypass"
	}
	began := time.Now()
	defer func() { res.Timings.Fetch = time.Since(began) }()
	// Every caller waits for the fetch to finish, even one whose client
	// went away: the fetch may run on the first caller's request (its
	// variables, its body), which must outlive it. The fetch function
	// bounds the wait. Clients with other credentials never share one.
	// The fingerprint keeps requests of an old and a new config (during a
	// reload) from sharing an original inspected under the other's limits.
	o, shared, err := st.originals.Do(context.WithoutCancel(ctx), key+"\x00cred:"+credentials(req.Header)+e.Fingerprint, func(ctx context.Context) (*original, error) {
		o, err := e.fetch(ctx, req, true)
		if err == nil {
			e.keep(req, o)
		}
		return o, err
	})
	switch {
	case err == nil && shared && o.private:
		// The origin answered the first caller only (private,
		// no-store): this request fetches its own.
		o, err := e.fetch(ctx, req, false)
		if err != nil {
			return nil, err
		}
		res.lease = o.lease
		return o, nil
	case err == nil && !shared:
		res.lease = o.lease // this request's fetch: its memory is ours to free
	case shared:
		from = "another request's fetch"
	}
	return o, err
}

// fetch gets the original through the request's fetch function and
// inspects it; the lease goes back if it is refused.
func (e *Engine) fetch(ctx context.Context, req *Request, shared bool) (*original, error) {
	f, err := req.Fetch(ctx, shared)
	if err != nil {
		return nil, err
	}
	o, err := inspect(f, e.Pipeline, hasCredentials(req.Header))
	if err != nil {
		f.Lease.Release()
		return nil, err
	}
	return o, nil
}

// inspect checks a fetched original's header against the limits.
// credentials says the request it was fetched for carried some: its
// answer is then shared only if the origin says it may be.
func inspect(f *Fetched, cfg imaging.Config, credentials bool) (*original, error) {
	src, err := imaging.Inspect(f.Body, cfg)
	if err != nil {
		return nil, err
	}
	return &original{body: f.Body, header: f.Header, src: src, sum: xxhash.Sum64(f.Body),
		private: !cache.Shareable(credentials, f.Header), lease: f.Lease}, nil
}

// inspected is a kept original as inspected under the limits of the
// engine whose fingerprint it carries: the originals cache outlives a
// reload that may change them.
type inspected struct {
	original    *original
	fingerprint string
}

// keep stores req's original and what its variants' keys need, for as
// long as the origin allows.
func (e *Engine) keep(req *Request, o *original) {
	c := e.Store.Cache
	if c == nil || o.private {
		return
	}
	ttl, ok := c.TTL(strings.Join(o.header.Values("Cache-Control"), ", "))
	if !ok {
		return
	}
	expires := time.Now().Add(ttl)
	kept := *o
	kept.lease = nil // the fetching request's to give back, not the cache's
	c.SetOriginal(originalKey(req.Site, req.Source), &cache.Entry{Body: o.body, Header: o.header, Tags: req.Tags, Expires: expires,
		Parsed: inspected{original: &kept, fingerprint: e.Fingerprint}})
	c.Set(infoKey(req.Site, req.Source), sourceInfoEntry(o.src.Info(), expires, req.Tags))
}

// job is one variant to make.
type job struct {
	req           *Request
	prep          *imaging.Prepared // laid out under the engine's pipeline and req.Limits
	orig          *original
	format        transform.Format
	negotiated    bool
	etag, key     string
	queue, resize time.Duration
	private       bool // the original or the mark is one client's: never stored
}

// render makes a variant in a processing slot and caches it.
func (e *Engine) render(ctx context.Context, j *job) (*cache.Entry, error) {
	queued := time.Now()
	_, wait := tracing.Start(ctx, "imgedge.slot.wait")
	release, err := e.Slots.Acquire(ctx)
	j.queue = time.Since(queued)
	tracing.End(wait, err)
	if err != nil {
		if errors.Is(err, ErrBusy) && e.Hooks.Busy != nil {
			e.Hooks.Busy(true) // peers stop sending us work
		}
		return nil, err
	}
	began := time.Now()
	pctx, span := tracing.Start(ctx, "imgedge.process")
	res, err := e.process(pctx, j, release)
	j.resize = time.Since(began)
	traceProcess(span, res, err)
	if e.Hooks.Done != nil {
		e.Hooks.Done(j.resize, res)
	}
	if err != nil {
		return nil, err
	}

	o := j.orig
	hdr := o.variantHeader(j.etag, e.CacheControl, j.negotiated)
	if j.private && !o.private {
		hdr.Set("Cache-Control", "private") // its mark is one client's
	}
	hdr.Set("Content-Type", res.Format.MIME())
	copyOriginHeaders(hdr, o.header)
	v := &cache.Entry{Body: res.Body, Header: hdr, Width: res.Width, Height: res.Height, Tags: j.req.Tags}
	if c := e.Store.Cache; c != nil && !o.private && !j.private {
		if ttl, ok := c.TTL(hdr.Get("Cache-Control")); ok {
			v.Expires = time.Now().Add(ttl)
			c.Set(j.key, v)
		}
	}
	return v, nil
}

// process runs the libvips job in the slot it was given, and gives the
// slot back however the job ends (a panic included).
func (e *Engine) process(ctx context.Context, j *job, release func()) (imaging.Result, error) {
	if e.Hooks.Job != nil {
		e.Hooks.Job(1)
	}
	defer func() {
		if e.Hooks.Job != nil {
			e.Hooks.Job(-1)
		}
		release()
		if e.Slots.Queued() == 0 && e.Hooks.Busy != nil {
			e.Hooks.Busy(false)
		}
		imaging.TrimSoon()
	}()
	return j.prep.Process(ctx)
}

// cacheControl is what a variant of the original may be cached for: the
// origin's own Cache-Control, else fallback for an answer anyone may
// share, else "private": a default never makes one client's answer public.
func (o *original) cacheControl(fallback string) string {
	if cc := strings.Join(o.header.Values("Cache-Control"), ", "); cc != "" {
		return cc
	}
	if o.private {
		return "private"
	}
	return fallback
}

// variantHeader is what every answer with a variant of the original
// carries, a 304 included: its ETag, its Cache-Control and its Vary.
func (o *original) variantHeader(etag, fallbackCC string, negotiated bool) http.Header {
	h := http.Header{}
	h.Set("ETag", etag)
	h.Set("Cache-Control", o.cacheControl(fallbackCC))
	setVary(h, negotiated, o.header)
	return h
}

// setVary sets a variant's Vary: Accept when its format was negotiated,
// and whatever the origin's answer varied on (but Accept-Encoding, which a
// re-encoded image no longer depends on).
func setVary(h http.Header, negotiated bool, origin http.Header) {
	var fields []string
	if negotiated {
		fields = append(fields, "Accept")
	}
	for _, f := range cache.VaryFields(origin) {
		if !slices.ContainsFunc(fields, func(g string) bool { return strings.EqualFold(f, g) }) {
			fields = append(fields, f)
		}
	}
	if len(fields) > 0 {
		h.Set("Vary", strings.Join(fields, ", "))
	}
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

// ttlParam is Cache-Status's ttl parameter for an entry.
func ttlParam(expires time.Time) string {
	if expires.IsZero() {
		return ""
	}
	return fmt.Sprintf("; ttl=%d", int(time.Until(expires).Seconds()))
}

// EtagMatches implements If-None-Match's weak comparison (RFC 9110 13.1.2).
func EtagMatches(header, etag string) bool {
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
