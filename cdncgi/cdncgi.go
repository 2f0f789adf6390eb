// Package cdncgi is the cdn_cgi_image Caddy handler: it rewrites
// Cloudflare's /cdn-cgi/image/<options>/<source> URLs into the request
// for the source with the options as query parameters, for image_resize
// to answer.
package cdncgi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/imgedge/imgedge/internal/problem"
	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/transform"
)

func init() {
	caddy.RegisterModule(CloudflareURLs{})
	httpcaddyfile.RegisterHandlerDirective("cdn_cgi_image", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		var c CloudflareURLs
		return c, c.UnmarshalCaddyfile(h.Dispenser)
	})
	// With the rewrites: before basic_auth, forward_auth and every
	// matcher after them, so that they see the source's path.
	httpcaddyfile.RegisterDirectiveOrder("cdn_cgi_image", httpcaddyfile.After, "uri")
}

// Var is the request variable that marks a request cdn_cgi_image
// rewrote: image work whatever its source answers.
const Var = "imgedge.cdn_cgi_image"

// CloudflareURLs rewrites Cloudflare's image URLs,
// /cdn-cgi/image/<options>/<source>, into the request for the source with
// the options as query parameters, for image_resize to answer: one cache
// entry and one ETag with the query form. It runs with Caddy's rewrites,
// before access control (basic_auth, forward_auth) and the matchers of
// the rest of the route, so that they all see the source's path: a
// /cdn-cgi/image/ URL reaches nothing its source could not. The source is
// a path of the site, or an absolute URL on the request's own host; any
// other host, or options outside the vocabulary, get 400. Signatures
// cover the URL as the client sent it.
type CloudflareURLs struct{}

// CaddyModule returns the Caddy module information.
func (CloudflareURLs) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.cdn_cgi_image", New: func() caddy.Module { return new(CloudflareURLs) }}
}

// ServeHTTP rewrites a /cdn-cgi/image/ request in place, as Caddy's
// rewrite does, and hands every request on.
func (CloudflareURLs) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !strings.HasPrefix(r.URL.Path, transform.CloudflarePrefix) {
		return next.ServeHTTP(w, r)
	}
	src, err := cloudflareSource(r)
	if err != nil {
		msg, param := problem.Of(err)
		problem.Write(w, http.StatusBadRequest, msg, param)
		return nil
	}
	r.URL, r.RequestURI = src, src.RequestURI()
	caddyhttp.SetVar(r.Context(), Var, true)
	return next.ServeHTTP(w, r)
}

// cloudflareSource is the URL of the source a /cdn-cgi/image/ request
// names, with the options as query parameters. The source is a path of
// this site, or an absolute URL of this very host: imgedge fetches
// nothing from other hosts.
func cloudflareSource(r *http.Request) (*url.URL, error) {
	cf, err := transform.ParseCloudflarePath(r.URL.EscapedPath(), r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	if cf.Host != "" && !tenant.SameHost(cf.Host, r.Host) {
		return nil, &transform.Error{Param: "path", Msg: fmt.Sprintf("the source is on %s: only sources of this site are fetched", cf.Host)}
	}
	return cf.SourceURL()
}

var (
	_ caddyhttp.MiddlewareHandler = CloudflareURLs{}
	_ caddyfile.Unmarshaler       = (*CloudflareURLs)(nil)
)

// UnmarshalCaddyfile takes no arguments and no block: `cdn_cgi_image`.
func (*CloudflareURLs) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() || d.NextBlock(0) {
		return d.ArgErr()
	}
	return nil
}
