package variant

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/transform"
)

// A zone's nodes share their cache: a request for a variant another node
// owns is answered by that owner (see the balancer's Owners), and a node
// keeps a copy of the variants it is asked for often (groupcache's hot
// cache), so a hot variant is not pinned on its owner. A hot copy lives
// under the key the node's own variant would have, with its tags: the
// warm path finds it, purges drop it.

// VariantInfo is what a node keeping a copy of a peer's variant must know
// to file it where its own would be, and to bill it.
type VariantInfo struct {
	Format        transform.Format
	Negotiated    bool             // chosen from Accept (f=auto)
	Source        transform.Source // what choosing a format needs of the source
	Width, Height int
	// Key is a digest of the options the owner made the variant for (as
	// canonical keys them): a node keeps a copy only of an answer to the
	// options it asked for, whatever made the two nodes read one request
	// differently. An owner's is worked out from canonical when String
	// writes it, not on every hit.
	Key       string
	canonical string
}

// key is Key, worked out from the canonical options when they are known.
func (v VariantInfo) key() string {
	if v.Key == "" && v.canonical != "" {
		return keyDigest(v.canonical)
	}
	return v.Key
}

// keyDigest is VariantInfo.Key for canonical options.
func keyDigest(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// String encodes the info for the Imgedge-Variant header of an owner's
// answer to a peer.
func (v VariantInfo) String() string {
	q := url.Values{}
	q.Set("f", strconv.Itoa(int(v.Format)))
	q.Set("src", strconv.Itoa(int(v.Source.Format)))
	q.Set("w", strconv.Itoa(v.Width))
	q.Set("h", strconv.Itoa(v.Height))
	q.Set("k", v.key())
	for name, b := range map[string]bool{"auto": v.Negotiated, "alpha": v.Source.HasAlpha, "anim": v.Source.Animated} {
		if b {
			q.Set(name, "1")
		}
	}
	return q.Encode()
}

// ParseVariantInfo reads what String wrote.
func ParseVariantInfo(s string) (VariantInfo, bool) {
	q, err := url.ParseQuery(s)
	if err != nil || s == "" {
		return VariantInfo{}, false
	}
	var v VariantInfo
	var errs [4]error
	var f, src int
	f, errs[0] = strconv.Atoi(q.Get("f"))
	src, errs[1] = strconv.Atoi(q.Get("src"))
	v.Width, errs[2] = strconv.Atoi(q.Get("w"))
	v.Height, errs[3] = strconv.Atoi(q.Get("h"))
	for _, err := range errs {
		if err != nil {
			return VariantInfo{}, false
		}
	}
	v.Format, v.Source.Format = transform.Format(f), transform.Format(src)
	if !(v.Format.Writable() || v.Format.Describes()) || v.Width < 0 || v.Height < 0 {
		return VariantInfo{}, false
	}
	v.Negotiated, v.Source.HasAlpha, v.Source.Animated = q.Get("auto") == "1", q.Get("alpha") == "1", q.Get("anim") == "1"
	v.Key = q.Get("k")
	return v, true
}

// hotCopy marks an entry kept from a peer's answer.
type hotCopy struct{}

// Cached answers req from this node's cache alone, its own variants and
// its hot copies: what a node looks at before asking the owner.
func (e *Engine) Cached(req *Request) (*Result, bool) {
	return e.cached(req, e.canonical(req))
}

// WantHot counts one more peer answer for req here and tells whether to
// keep a copy of it (KeepHot): the variant is hot (see cache.Heat), may be
// shared (see cache.Shareable), has a time to live in its Cache-Control,
// and no purge ran since the caller read purges (Cache.Purges) before
// asking. header is the owner's, info as its Imgedge-Variant said. The
// caller reads the body only when it is wanted.
func (e *Engine) WantHot(req *Request, header http.Header, info VariantInfo, purges uint64) bool {
	c := e.Store.Cache
	if c == nil || c.Purges() != purges {
		return false // a purge ran while the owner answered: the answer may predate it
	}
	if info.key() != keyDigest(e.canonical(req)) {
		return false // made for other options than this node's
	}
	shared := header
	if info.Negotiated {
		// Its Vary: Accept is the key's own business (the format is part
		// of it): only the origin's fields can make it one client's.
		shared = header.Clone()
		shared.Set("Vary", strings.Join(cache.VaryFields(header, "Accept"), ", "))
	}
	if !e.Store.heat.Touch(e.hotKey(req, info)) || !cache.Shareable(hasCredentials(req.Header), shared) {
		return false
	}
	_, ok := c.TTL(header.Get("Cache-Control"))
	return ok
}

// KeepHot keeps body as req's copy of the owner's variant, for as long as
// its Cache-Control allows, unless a purge ran since purges was read (the
// body was read after WantHot). It tells whether the copy was kept.
func (e *Engine) KeepHot(req *Request, body []byte, header http.Header, info VariantInfo, purges uint64) bool {
	c := e.Store.Cache
	if c == nil || c.Purges() != purges || info.key() != keyDigest(e.canonical(req)) {
		return false
	}
	ttl, ok := c.TTL(header.Get("Cache-Control"))
	if !ok {
		return false
	}
	expires := time.Now().Add(ttl)
	if !c.Set(e.hotKey(req, info), &cache.Entry{Body: body, Header: header, Width: info.Width, Height: info.Height,
		Tags: req.Tags, Expires: expires, Parsed: hotCopy{}}) {
		return false
	}
	if _, known := c.Get(infoKey(req.Site, req.Source)); !known {
		c.Set(infoKey(req.Site, req.Source), sourceInfoEntry(info.Source, expires, req.Tags))
	}
	return true
}

// hotKey is the key of req's copy of an owner's variant: the key its own
// variant would have.
func (e *Engine) hotKey(req *Request, info VariantInfo) string {
	return variantKey(req.Site, req.Source, e.canonical(req), info.Format, info.Negotiated)
}

// Original gives req's original as Get would get it: from the originals
// cache, or one fetch shared with concurrent requests, and kept. It is
// what a shield zone answers the zones that fetch through it. Call the
// result's Release once the body is written.
func (e *Engine) Original(ctx context.Context, req *Request) (*Result, []byte, http.Header, error) {
	res := &Result{CacheStatus: e.Store.MissStatus()}
	orig, err := e.original(ctx, req, res)
	if err != nil {
		return res, nil, nil, err
	}
	if res.lease != nil {
		res.SourceBytes = int64(len(orig.body)) // fetched for this request: billed
	}
	return res, orig.body, orig.header, nil
}
