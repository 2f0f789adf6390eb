package imgedge

import (
	"errors"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/imgedge/imgedge/tenant"
)

// hostPlaceholder is the default tenant: the request's host, canonical.
const hostPlaceholder = "{http.request.host}"

// clientRequest is the request as the client sent it, before any rewrite:
// what signatures cover, what forwarding repeats and what names a resource
// in cache keys. Caddy keeps the original method and URL only; the Host
// and headers are the request's.
func clientRequest(r *http.Request) *http.Request {
	or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	if !ok || or.URL == nil {
		return r
	}
	c := *r
	c.Method, c.URL, c.RequestURI = or.Method, or.URL, or.RequestURI
	return &c
}

// checkTarget refuses request targets an image request must not have: an
// opaque or non-path target ("GET http:@10.0.0.1/x"), an absolute-form
// target naming another host than the site's, a path with dot segments or
// empty segments (escaped or not), an escaped slash, or a control
// character. What is left names one resource in one spelling: signatures
// and cache keys take the path as the URL spells it, so "/a!b" and
// "/a%21b", which an origin may tell apart, stay apart.
func checkTarget(r *http.Request) error {
	u := r.URL
	switch {
	case u.Opaque != "" || !strings.HasPrefix(u.Path, "/"):
		return errors.New("the request target must be an absolute path")
	case u.Host != "" && !tenant.SameHost(u.Host, r.Host):
		return errors.New("the request target names another host than the Host header")
	case strings.Contains(u.Path, "//"):
		return errors.New("the path has an empty segment (//)")
	case hasDotSegment(u.Path):
		return errors.New("the path has a . or .. segment")
	case strings.Contains(strings.ToLower(u.RawPath), "%2f"):
		return errors.New("the path has an escaped slash (%2F)")
	case strings.ContainsFunc(u.Path, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("the path has a control character")
	}
	return nil
}

func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// tenantName is the canonical name of the request's tenant: the host as
// tenant.Canonical writes it, or the configured placeholder's value,
// trimmed. An error wraps tenant.ErrBadName.
func (ir *ImageResize) tenantName(r *http.Request) (string, error) {
	raw := ir.Tenant
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		raw = repl.ReplaceAll(ir.Tenant, "")
	} else if ir.Tenant == hostPlaceholder {
		raw = r.Host
	}
	return tenant.Normalize(raw, ir.Tenant == hostPlaceholder)
}
