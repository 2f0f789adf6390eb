package imgedge

import (
	"errors"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/transform"
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

// checkTarget refuses request targets an image request must not have:
// an absolute-form target naming another host than the site's, and what
// transform.CheckPath refuses.
func checkTarget(r *http.Request) error {
	u := r.URL
	if u.Opaque == "" && strings.HasPrefix(u.Path, "/") && u.Host != "" && !tenant.SameHost(u.Host, r.Host) {
		return errors.New("the request target names another host than the Host header")
	}
	return transform.CheckPath(r.URL)
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
