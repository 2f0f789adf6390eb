package imgedge

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/budget"
	"github.com/imgedge/imgedge/transform"
)

// variantStores holds the caches of this process, keyed by their budget, so
// a config reload with the same budget keeps a warm cache (Provision loads,
// Cleanup deletes; the pool frees a cache when no config uses it).
var variantStores = caddy.NewUsagePool()

// variantStore is one cache and the request collapsing around it, shared by
// every image_resize handler configured with the same budget.
type variantStore struct {
	cache     *cache.Cache              // nil when caching is off
	originals cache.Group[*original]    // concurrent fetches of one source
	variants  cache.Group[*cache.Entry] // concurrent resizes of one variant
}

// Destruct closes the cache when the last config using it is gone.
func (s *variantStore) Destruct() error {
	s.cache.Close()
	return nil
}

func loadVariantStore(cfg cache.Config, off bool) (key string, s *variantStore, err error) {
	key = "off"
	if !off {
		key = fmt.Sprintf("%d/%d/%s/%s", cfg.MaxBytes, cfg.OriginalsMaxBytes, cfg.MinTTL, cfg.MaxTTL)
	}
	v, _, err := variantStores.LoadOrNew(key, func() (caddy.Destructor, error) {
		s := new(variantStore)
		s.variants.StopWhenAbandoned = true // a resize nobody waits for stops
		if off {
			return s, nil
		}
		c, err := cache.New(cfg)
		if err != nil {
			return nil, err
		}
		s.cache = c
		return s, nil
	})
	if err != nil {
		return "", nil, err
	}
	return key, v.(*variantStore), nil
}

// eachStore calls fn for every live variant store.
func eachStore(fn func(*variantStore)) {
	variantStores.Range(func(_, v any) bool {
		fn(v.(*variantStore))
		return true
	})
}

// original is a fetched source, inspected once and shared by every request
// for one of its variants.
type original struct {
	body    []byte
	header  http.Header // the origin's headers
	src     *imaging.Source
	sum     uint64 // xxhash of body: the source's identity in ETags
	private bool   // one client's answer (see cache.Shareable): never stored or shared
	lease   *budget.Lease
}

// sourceInfo is what choosing a variant's format needs to know about its
// source; cached apart from the (much larger) original, so a warm request
// finds its variant without the original.
func sourceInfoEntry(src *imaging.Source, expires time.Time, tags []string) *cache.Entry {
	info := src.Info()
	return &cache.Entry{
		Header: http.Header{
			"Format":   {strconv.Itoa(int(info.Format))},
			"Alpha":    {strconv.FormatBool(info.HasAlpha)},
			"Animated": {strconv.FormatBool(info.Animated)},
		},
		Tags:    tags,
		Expires: expires,
	}
}

func sourceInfoFrom(e *cache.Entry) transform.Source {
	f, _ := strconv.Atoi(e.Header.Get("Format"))
	return transform.Source{
		Format:   transform.Format(f),
		HasAlpha: e.Header.Get("Alpha") == "true",
		Animated: e.Header.Get("Animated") == "true",
	}
}

// resourceKey names what a request's original is, for cache keys: the site
// (the tenant and the port the request came in on), and the resource (the
// path the client asked for, the path the route resolved it to, after any
// rewrite or handle_path, and the query the origin is asked with). Two
// routes that serve different originals under one name never share a key.
func resourceKey(tenant string, r, client *http.Request, srcQuery string) (site, source string) {
	site = tenant
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			site += ":" + port
		}
	}
	source = client.URL.Path + "\x00" + r.URL.Path
	if srcQuery != "" {
		source += "?" + srcQuery
	}
	return site, source
}

// Cache keys. Parts are joined with NUL, which no part can contain.
func infoKey(site, source string) string { return "info\x00" + site + "\x00" + source }
func originalKey(site, source string) string {
	return site + "\x00" + source
}

// A negotiated variant differs from an explicitly asked one by its Vary
// header, so the two are kept apart.
func variantKey(tenant, source, canonical string, f transform.Format, negotiated bool) string {
	k := tenant + "\x00" + source + "\x00" + canonical + "\x00" + f.String()
	if negotiated {
		k += "\x00auto"
	}
	return k
}

// Purge tags: every variant, original and info entry of a source carries
// both, so an operator can drop one source or a whole tenant.
func sourceTag(tenant, path string) string { return "src:" + tenant + "|" + path }
func tenantTag(tenant string) string       { return "tenant:" + tenant }

// cacheCollector exports the caches' statistics, summed over the live
// caches of the process.
type cacheCollector struct {
	hits, misses, collapsed, evictions, rejections, held, originalHits, originalMisses, originalHeld, purged *prometheus.Desc
}

func newCacheCollector() *cacheCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("imgedge_cache_"+name, help, nil, nil)
	}
	return &cacheCollector{
		hits:           d("hits_total", "Variant cache hits."),
		misses:         d("misses_total", "Variant cache misses."),
		collapsed:      d("collapsed_total", "Requests that waited for an identical request's fetch or resize instead of doing their own."),
		evictions:      d("evictions_total", "Variants evicted to make room."),
		rejections:     d("rejections_total", "Variants and originals refused by the cache (admission, size)."),
		held:           d("bytes", "Bytes held by the variant cache."),
		originalHits:   d("original_hits_total", "Originals found in the cache (no origin fetch)."),
		originalMisses: d("original_misses_total", "Originals not in the cache."),
		originalHeld:   d("original_bytes", "Bytes held by the originals cache."),
		purged:         d("purged_total", "Entries dropped by purge requests."),
	}
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.collapsed, c.evictions, c.rejections, c.held, c.originalHits, c.originalMisses, c.originalHeld, c.purged} {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	var sum cache.Stats
	var collapsed uint64
	eachStore(func(s *variantStore) {
		st := s.cache.Stats()
		sum.Hits += st.Hits
		sum.Misses += st.Misses
		sum.Evictions += st.Evictions
		sum.Rejections += st.Rejections + st.OriginalRejections
		sum.BytesHeld += st.BytesHeld
		sum.OriginalHits += st.OriginalHits
		sum.OriginalMisses += st.OriginalMisses
		sum.OriginalBytesHeld += st.OriginalBytesHeld
		sum.Purged += st.Purged
		collapsed += s.originals.Collapsed() + s.variants.Collapsed()
	})
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(c.hits, sum.Hits)
	counter(c.misses, sum.Misses)
	counter(c.collapsed, collapsed)
	counter(c.evictions, sum.Evictions)
	counter(c.rejections, sum.Rejections)
	gauge(c.held, sum.BytesHeld)
	counter(c.originalHits, sum.OriginalHits)
	counter(c.originalMisses, sum.OriginalMisses)
	gauge(c.originalHeld, sum.OriginalBytesHeld)
	counter(c.purged, sum.Purged)
}
