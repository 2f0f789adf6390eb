package transform

import (
	"fmt"
	"net/url"
	"strings"
)

// CloudflarePrefix starts Cloudflare's image URL form,
// /cdn-cgi/image/<options>/<source>.
const CloudflarePrefix = "/cdn-cgi/image/"

// CloudflareURL is a Cloudflare image URL taken apart.
type CloudflareURL struct {
	// Options are the comma-separated options as query parameters, under
	// the names given (Cloudflare's are imgedge's: width, fit, ...).
	Options url.Values
	// Host is the source's host when it was an absolute URL ("" for a
	// path): the caller checks it is the request's own.
	Host string
	// Path and RawQuery are the source's, Path escaped as spelt.
	Path, RawQuery string
}

// ParseCloudflarePath takes apart an escaped request path of the form
// /cdn-cgi/image/<options>/<source>, where options are key=value pairs
// separated by commas and source is a path on the same site (with or
// without its leading slash) or an absolute http(s) URL. rawQuery, the
// request's own query, belongs to the source.
func ParseCloudflarePath(escapedPath, rawQuery string) (*CloudflareURL, error) {
	rest, ok := strings.CutPrefix(escapedPath, CloudflarePrefix)
	if !ok {
		return nil, &Error{"path", "not a /cdn-cgi/image/ URL"}
	}
	opts, source, ok := strings.Cut(rest, "/")
	if !ok || opts == "" || source == "" {
		return nil, &Error{"path", "want /cdn-cgi/image/<options>/<source>"}
	}
	unescaped, err := url.PathUnescape(opts)
	if err != nil {
		return nil, &Error{"path", fmt.Sprintf("the options %q are not validly escaped", opts)}
	}
	cf := &CloudflareURL{Options: url.Values{}, RawQuery: rawQuery}
	for _, pair := range splitOptions(unescaped) {
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, &Error{"path", fmt.Sprintf("option %q is not key=value", pair)}
		}
		if !IsImageParam(k) {
			return nil, &Error{k, "is not an option of Cloudflare's image URLs"}
		}
		cf.Options.Add(k, v) // Parse refuses an option given twice
	}
	switch {
	case strings.HasPrefix(source, "http:/") || strings.HasPrefix(source, "https:/"):
		// An absolute URL; a proxy may have merged its double slash.
		scheme, after, _ := strings.Cut(source, ":")
		u, err := url.Parse(scheme + "://" + strings.TrimLeft(after, "/"))
		if err != nil || u.Host == "" {
			return nil, &Error{"path", fmt.Sprintf("the source %q is not a URL", source)}
		}
		cf.Host, cf.Path = u.Host, u.EscapedPath()
		if u.RawQuery != "" {
			if rawQuery != "" {
				return nil, &Error{"path", "the source URL has a query and so does the request"}
			}
			cf.RawQuery = u.RawQuery
		}
	default:
		cf.Path = "/" + strings.TrimLeft(source, "/")
	}
	if cf.Path == "" || cf.Path == "/" {
		return nil, &Error{"path", "the source names no file"}
	}
	return cf, nil
}

// splitOptions splits on commas outside parentheses, so that a value
// such as rgb(1,2,3) stays whole.
func splitOptions(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth = max(0, depth-1)
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// Query is the source's query with the options added: the query of the
// equivalent /path?options request. Parse refuses a parameter set twice,
// in the options or in both.
func (cf *CloudflareURL) Query() (url.Values, error) {
	q, err := url.ParseQuery(cf.RawQuery)
	if err != nil {
		return nil, &Error{"query", err.Error()}
	}
	for k, vs := range cf.Options {
		q[k] = append(q[k], vs...)
	}
	return q, nil
}

// SourceURL is the URL of the source cf names, with the options as query
// parameters. A cf.Host is not looked at: whether it is the site's own is
// for the caller to say.
func (cf *CloudflareURL) SourceURL() (*url.URL, error) {
	q, err := cf.Query()
	if err != nil {
		return nil, err
	}
	path, err := url.PathUnescape(cf.Path)
	if err != nil {
		return nil, &Error{Param: "path", Msg: "the source path is not validly escaped"}
	}
	return &url.URL{Path: path, RawPath: cf.Path, RawQuery: q.Encode()}, nil
}
