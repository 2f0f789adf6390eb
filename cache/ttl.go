package cache

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxDeltaSeconds is the largest freshness lifetime RFC 9111 (section 1.2.2)
// asks caches to represent; larger delta-seconds are treated as this value.
const maxDeltaSeconds = 1 << 31

// TTL turns an origin's Cache-Control value into how long imgedge may keep
// the answer, clamped to [MinTTL, MaxTTL].
//
// store is false when the origin forbids a shared cache from reusing the
// answer: no-store, private, no-cache (with or without field names), or a
// freshness lifetime of zero. s-maxage wins over max-age, since imgedge is a
// shared cache. Directive names are case-insensitive; values may be quoted.
// Unparsable or negative values are ignored, as are repeats of a directive
// (the first one counts). Without any usable lifetime TTL returns DefaultTTL.
//
// TTL does not look at the Age or Expires headers; a caller that has them
// should subtract Age before computing the absolute expiry.
//
// On a nil or zero *Cache TTL uses the default MinTTL, MaxTTL and DefaultTTL.
func (c *Cache) TTL(cacheControl string) (ttl time.Duration, store bool) {
	minTTL, maxTTL, defTTL := DefaultMinTTL, DefaultMaxTTL, DefaultDefaultTTL
	if c != nil && c.variants != nil {
		minTTL, maxTTL, defTTL = c.cfg.MinTTL, c.cfg.MaxTTL, c.cfg.DefaultTTL
	}
	d := parseCacheControl(cacheControl)
	if d.private || d.noCache {
		return 0, false
	}
	lifetime, ok := d.sMaxAge, d.hasSMaxAge
	if !ok {
		lifetime, ok = d.maxAge, d.hasMaxAge
	}
	if !ok {
		return clampDuration(defTTL, minTTL, maxTTL), true
	}
	if lifetime == 0 {
		return 0, false
	}
	return clampDuration(lifetime, minTTL, maxTTL), true
}

// Shareable reports whether a shared cache may store an origin's answer
// and hand it to other clients (RFC 9111 sections 3 and 3.5). It may not
// when the answer is private or no-store; when its Vary names any request
// header but Accept-Encoding (the cache does not key on them); and when the
// request carried credentials (Authorization, or a Cookie, which a shared
// cache in front of a login treats the same way) unless the answer says
// public, s-maxage or must-revalidate.
func Shareable(credentials bool, header http.Header) bool {
	d := parseCacheControl(strings.Join(header.Values("Cache-Control"), ","))
	if d.private {
		return false
	}
	if len(VaryFields(header)) > 0 {
		return false
	}
	return !credentials || d.public || d.hasSMaxAge || d.mustRevalidate
}

// VaryFields are the request headers an answer's Vary names, but
// Accept-Encoding, which neither this cache keys on nor a re-encoded image
// depends on, and the fields named in but.
func VaryFields(header http.Header, but ...string) []string {
	var fields []string
	for _, v := range header.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f != "" && !strings.EqualFold(f, "Accept-Encoding") && !slices.ContainsFunc(but, func(b string) bool { return strings.EqualFold(b, f) }) {
				fields = append(fields, f)
			}
		}
	}
	return fields
}

// directives are the parts of a Cache-Control value a shared cache acts on.
type directives struct {
	private               bool // private or no-store: one client's answer
	public                bool // public: storable even for a request with credentials
	mustRevalidate        bool
	noCache               bool // no-cache: reusable only after revalidation
	maxAge, sMaxAge       time.Duration
	hasMaxAge, hasSMaxAge bool
}

func parseCacheControl(v string) directives {
	var d directives
	for part := range strings.SplitSeq(v, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.Trim(strings.TrimSpace(value), `"`)
		switch name {
		case "no-store", "private":
			d.private = true
		case "no-cache":
			d.noCache = true
		case "public":
			d.public = true
		case "must-revalidate":
			d.mustRevalidate = true
		case "max-age":
			if !d.hasMaxAge {
				d.maxAge, d.hasMaxAge = parseDeltaSeconds(value)
			}
		case "s-maxage":
			if !d.hasSMaxAge {
				d.sMaxAge, d.hasSMaxAge = parseDeltaSeconds(value)
			}
		}
	}
	return d
}

// parseDeltaSeconds parses a non-negative number of seconds. ok is false for
// anything else, so the directive is ignored.
func parseDeltaSeconds(v string) (d time.Duration, ok bool) {
	n, err := strconv.ParseUint(v, 10, 63)
	if errors.Is(err, strconv.ErrRange) {
		n, err = maxDeltaSeconds, nil
	}
	if err != nil {
		return 0, false
	}
	n = min(n, maxDeltaSeconds)
	return time.Duration(n) * time.Second, true
}
