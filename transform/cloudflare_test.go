package transform

import (
	"net/url"
	"testing"
)

func TestParseCloudflarePath(t *testing.T) {
	tests := []struct {
		path, rawQuery string
		host, src      string
		query          string // the equivalent query, encoded
		err            string // the parameter an error names
	}{
		{path: "/cdn-cgi/image/width=400,fit=cover/photo.jpg", src: "/photo.jpg", query: "fit=cover&width=400"},
		{path: "/cdn-cgi/image/w=400/uploads/a%20b.jpg", src: "/uploads/a%20b.jpg", query: "w=400"},
		{path: "/cdn-cgi/image/width=80,quality=75/https://img.example/u/a.jpg", host: "img.example", src: "/u/a.jpg", query: "quality=75&width=80"},
		{path: "/cdn-cgi/image/width=80/https:/img.example/u/a.jpg", host: "img.example", src: "/u/a.jpg", query: "width=80"}, // a merged double slash
		{path: "/cdn-cgi/image/trim=1;2;3;4,background=rgb(1,2,3)/a.jpg", src: "/a.jpg", query: "background=rgb%281%2C2%2C3%29&trim=1%3B2%3B3%3B4"},
		{path: "/cdn-cgi/image/width=400/a.jpg", rawQuery: "v=2", src: "/a.jpg", query: "v=2&width=400"},
		{path: "/cdn-cgi/image/width=400/a.jpg", rawQuery: "w=300", err: "width"},
		{path: "/cdn-cgi/image/width=400,w=300/a.jpg", err: "width"},
		{path: "/cdn-cgi/image/width=400,width=300/a.jpg", err: "width"},
		{path: "/cdn-cgi/image/width/a.jpg", err: "path"},
		{path: "/cdn-cgi/image/widht=400/a.jpg", err: "widht"}, // a misspelt option is not sent to the origin
		{path: "/cdn-cgi/image//a.jpg", err: "path"},
		{path: "/cdn-cgi/image/width=400/", err: "path"},
		{path: "/cdn-cgi/image/width=400", err: "path"},
	}
	for _, tt := range tests {
		cf, err := ParseCloudflarePath(tt.path, tt.rawQuery)
		var q url.Values
		if err == nil {
			q, err = cf.Query()
		}
		if tt.err != "" {
			if err == nil {
				_, err = Parse(q, DefaultLimits) // what refuses a parameter given twice
			}
			pe, ok := err.(*Error)
			if !ok || canonicalName(pe.Param) != canonicalName(tt.err) {
				t.Errorf("%s?%s: %v, want an error naming %s", tt.path, tt.rawQuery, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if cf.Host != tt.host || cf.Path != tt.src || q.Encode() != tt.query {
			t.Errorf("%s?%s: host %q, source %q, query %q; want %q, %q, %q", tt.path, tt.rawQuery, cf.Host, cf.Path, q.Encode(), tt.host, tt.src, tt.query)
		}
	}
}

// canonicalName is a parameter's canonical name, or the key itself.
func canonicalName(k string) string {
	if n, ok := ParamName(k); ok {
		return n
	}
	return k
}
