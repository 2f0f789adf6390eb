// Package dashboard is the usage dashboard: a static page that charts the
// collector's own usage API with uPlot (vendored from npm, MIT).
package dashboard

import (
	"embed"
	"net/http"
	"strings"
)

//go:embed index.html dashboard.js vendor/uplot/uPlot.iife.min.js vendor/uplot/uPlot.min.css
var files embed.FS

// Serve answers a GET or HEAD for the page, at any path ending in "/", or
// for its assets relative to it, and reports whether it did.
func Serve(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	name, ok := file(r.URL.Path)
	if ok {
		http.ServeFileFS(w, r, files, name)
	}
	return ok
}

// file maps a request path to a dashboard file.
func file(p string) (string, bool) {
	if strings.HasSuffix(p, "/") {
		return "index.html", true
	}
	for _, name := range []string{"dashboard.js", "vendor/uplot/uPlot.iife.min.js", "vendor/uplot/uPlot.min.css"} {
		if strings.HasSuffix(p, "/"+name) {
			return name, true
		}
	}
	return "", false
}
