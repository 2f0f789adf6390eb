package transform

import (
	"net/url"
	"sync/atomic"
)

// Request is one request's URL read once: what a signature covers, the
// query the image parameters and the source's own parameters come from,
// and, once client hints and the tenant's policy are applied (WithHints,
// then tenant.Apply), the parsed image parameters. Everything after
// ReadRequest takes this value; nothing reads the URL's query again.
type Request struct {
	// Path and RawQuery are the client's URL as it spelt them, before any
	// rewrite: what a signature covers.
	Path, RawQuery string
	// Signed is the client's query as read, the signature included: the
	// same map as Query unless a rewrite changed the query (a
	// /cdn-cgi/image/ URL). Unreadable is what url.ParseQuery could not
	// read of RawQuery (a raw ';', a malformed %-escape), or nil.
	Signed     url.Values
	Unreadable error

	// Query is the route's query: the image parameters and the source's
	// own. After tenant.Apply it is the query Options were parsed from.
	Query url.Values
	// Image says whether Query names any image parameter.
	Image bool
	// Semicolon is an image parameter the route's query wrote with a raw
	// ';' (see SemicolonParam), which the query parser dropped: it must be
	// refused, not ignored. "" when there is none.
	Semicolon string

	// Hints are the client hint headers WithHints read the parameters
	// from, for Vary.
	Hints []string
	// Options are the image parameters, parsed by tenant.Apply.
	Options Options
}

// queryReads counts the queries ReadRequest has parsed: a test reads it
// across one request to show the query is read once.
var queryReads atomic.Int64

// QueryReads is how many queries ReadRequest has parsed in this process.
func QueryReads() int64 { return queryReads.Load() }

// ReadRequest reads a request's URL: client as the client sent it (what
// signatures cover) and route as the route has it, after any rewrite.
// Each query is parsed once; when no rewrite changed it, client's and
// route's are one.
func ReadRequest(client, route *url.URL) *Request {
	req := &Request{Path: client.EscapedPath(), RawQuery: client.RawQuery, Semicolon: SemicolonParam(route.RawQuery)}
	req.Signed, req.Unreadable = parseQuery(client.RawQuery)
	req.Query = req.Signed
	if route.RawQuery != client.RawQuery {
		req.Query, _ = parseQuery(route.RawQuery)
	}
	req.Image = HasImageParams(req.Query)
	return req
}

func parseQuery(raw string) (url.Values, error) {
	queryReads.Add(1)
	return url.ParseQuery(raw)
}

// SourceQuery is the request's query without its image parameters,
// encoded: what the origin is asked with.
func (r *Request) SourceQuery() string { return SourceQuery(r.Query).Encode() }

// WithHints is the request with the parameters it leaves to its client
// hints filled in from header (see ClientHints), and Hints set.
func (r *Request) WithHints(header func(string) string, lim Limits) *Request {
	out := *r
	out.Query, out.Hints = ClientHints(r.Query, header, lim)
	return &out
}
