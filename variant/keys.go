package variant

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/transform"
)

// PipelineVersion is part of every ETag: bump it when the same parameters
// start producing different bytes, so caches do not keep the old ones.
const PipelineVersion = "2" // 2: plain JPEG and PNG downscales reduced directly; WebP without EXIF

// Site names where a request came in: its tenant, the host it was sent
// to (when the tenant is not the host itself: two hosts may share a tenant
// and serve different files) and the port it was received on. It is the
// first part of every cache key.
func Site(tenant, host, port string) string {
	s := tenant
	if host != "" && host != tenant {
		s += "|" + host
	}
	if port != "" {
		s += ":" + port
	}
	return s
}

// Resource names what a request's original is: the path the client asked
// for, the path the route resolved it to (after any rewrite or
// handle_path), and the query the origin is asked with. Two routes that
// serve different originals under one name never share a key.
func Resource(clientPath, routePath, originQuery string) string {
	r := clientPath + "\x00" + routePath
	if originQuery != "" {
		r += "?" + originQuery
	}
	return r
}

// Cache keys. Parts are joined with NUL, which no part can contain.
func infoKey(site, source string) string     { return "info\x00" + site + "\x00" + source }
func originalKey(site, source string) string { return site + "\x00" + source }

// A negotiated variant differs from an explicitly asked one by its Vary
// header, so the two are kept apart.
func variantKey(site, source, canonical string, f transform.Format, negotiated bool) string {
	k := site + "\x00" + source + "\x00" + canonical + "\x00" + f.String()
	if negotiated {
		k += "\x00auto"
	}
	return k
}

// Purge tags: every variant, original and info entry of a source carries
// both, so an operator can drop one source or a whole tenant.

// SourceTag tags everything cached for the path clients request.
func SourceTag(tenant, path string) string { return "src:" + tenant + "|" + path }

// TenantTag tags everything cached for a tenant.
func TenantTag(tenant string) string { return "tenant:" + tenant }

// Fingerprint is what of a pipeline's settings, and of the Cache-Control
// given to answers the origin sends none for, shapes a variant's bytes or
// headers: part of every key and ETag, so a reload that changes them
// never serves stale images. (The pixel and frame limits decide whether
// an animation keeps its frames; the output limits join every key per
// request, since a tenant's may be narrower.)
func Fingerprint(p imaging.Config, cacheControl string) string {
	return fmt.Sprintf("\x00%v/%v/%s/%s/%d/%d", p.Quality, p.Effort, cacheControl, p.Timeout, p.MaxPixels, p.MaxFrames)
}

// ETag names a variant by its original's content hash, the canonical
// parameters and the output format: the same inputs give the same ETag on
// every node.
func ETag(sourceSum uint64, canonical string, f transform.Format) string {
	h := xxhash.New()
	var sum [8]byte
	for i := range sum {
		sum[i] = byte(sourceSum >> (8 * i))
	}
	h.Write(sum[:])
	h.WriteString("\x00" + canonical + "\x00" + f.String() + "\x00" + PipelineVersion)
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`
}

// sourceInfoEntry is what choosing a variant's format needs to know about
// its source; cached apart from the (much larger) original, so a warm
// request finds its variant without the original.
func sourceInfoEntry(info transform.Source, expires time.Time, tags []string) *cache.Entry {
	return &cache.Entry{
		Header: http.Header{
			"Format":   {strconv.Itoa(int(info.Format))},
			"Alpha":    {strconv.FormatBool(info.HasAlpha)},
			"Animated": {strconv.FormatBool(info.Animated)},
			"Size":     {strconv.Itoa(info.Width) + "x" + strconv.Itoa(info.Height)},
		},
		Tags:    tags,
		Expires: expires,
	}
}

func sourceInfoFrom(e *cache.Entry) transform.Source {
	f, _ := strconv.Atoi(e.Header.Get("Format"))
	w, h, _ := strings.Cut(e.Header.Get("Size"), "x")
	width, _ := strconv.Atoi(w)
	height, _ := strconv.Atoi(h)
	return transform.Source{
		Format:   transform.Format(f),
		HasAlpha: e.Header.Get("Alpha") == "true",
		Animated: e.Header.Get("Animated") == "true",
		Width:    width,
		Height:   height,
	}
}
