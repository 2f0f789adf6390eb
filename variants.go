package imgedge

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/variant"
)

// variantStores holds the caches of this process, keyed by their budget, so
// a config reload with the same budget keeps a warm cache (Provision loads,
// Cleanup deletes; the pool frees a cache when no config uses it).
var variantStores = caddy.NewUsagePool()

// loadVariantStore returns the process's store for a cache configuration
// (off: no cache, requests still collapsed), and its key in the pool.
func loadVariantStore(cfg cache.Config, off bool) (key string, s *variant.Store, err error) {
	key = "off"
	if !off {
		key = fmt.Sprintf("%d/%d/%s/%s", cfg.MaxBytes, cfg.OriginalsMaxBytes, cfg.MinTTL, cfg.MaxTTL)
	}
	s, _, err = loadPooled(variantStores, key, func() (*variant.Store, func() error, error) {
		var c *cache.Cache
		if !off {
			if c, err = cache.New(cfg); err != nil {
				return nil, nil, err
			}
		}
		s := variant.NewStore(c)
		return s, func() error { s.Close(); return nil }, nil
	})
	return key, s, err
}

// eachStore calls fn for every live variant store.
func eachStore(fn func(*variant.Store)) { eachPooled(variantStores, fn) }

// processSlots holds the process's libvips job slots, keyed by their
// settings: every image_resize with the same concurrency and queue shares
// one budget of jobs, and a reload keeps it, so neither two sites nor a
// reload double the work the process takes on.
var processSlots = caddy.NewUsagePool()

// loadSlots returns the process's slots for n jobs and a queue of queue
// waiters, each waiting at most wait, and their key in the pool.
func loadSlots(n, queue int, wait time.Duration, depth prometheus.Gauge) (string, *variant.Slots, error) {
	key := fmt.Sprintf("%d/%d/%s", n, queue, wait)
	s, _, err := loadPooled(processSlots, key, func() (*variant.Slots, func() error, error) {
		s, err := variant.NewSlots(n, queue, wait)
		if err != nil {
			return nil, nil, err
		}
		s.OnWait = func(d int) { depth.Add(float64(d)) }
		return s, func() error { return nil }, nil
	})
	return key, s, err
}

// cacheCollector exports the caches' statistics, summed over the live
// caches of the process.
type cacheCollector struct {
	hits, misses, collapsed, abandoned, evictions, rejections, held, originalHits, originalMisses, originalHeld, purged *prometheus.Desc
}

func newCacheCollector() *cacheCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("imgedge_cache_"+name, help, nil, nil)
	}
	return &cacheCollector{
		hits:           d("hits_total", "Variant cache hits."),
		misses:         d("misses_total", "Variant cache misses."),
		collapsed:      d("collapsed_total", "Requests that waited for an identical request's fetch or resize instead of doing their own."),
		abandoned:      prometheus.NewDesc("imgedge_resizes_abandoned_total", "Resizes stopped because every request waiting for them had gone.", nil, nil),
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
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.collapsed, c.abandoned, c.evictions, c.rejections, c.held, c.originalHits, c.originalMisses, c.originalHeld, c.purged} {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	var sum cache.Stats
	var collapsed, abandoned uint64
	eachStore(func(s *variant.Store) {
		st := s.Cache.Stats()
		sum.Hits += st.Hits
		sum.Misses += st.Misses
		sum.Evictions += st.Evictions
		sum.Rejections += st.Rejections + st.OriginalRejections
		sum.BytesHeld += st.BytesHeld
		sum.OriginalHits += st.OriginalHits
		sum.OriginalMisses += st.OriginalMisses
		sum.OriginalBytesHeld += st.OriginalBytesHeld
		sum.Purged += st.Purged
		collapsed += s.Collapsed()
		abandoned += s.Abandoned()
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
	counter(c.abandoned, abandoned)
	counter(c.evictions, sum.Evictions)
	counter(c.rejections, sum.Rejections)
	gauge(c.held, sum.BytesHeld)
	counter(c.originalHits, sum.OriginalHits)
	counter(c.originalMisses, sum.OriginalMisses)
	gauge(c.originalHeld, sum.OriginalBytesHeld)
	counter(c.purged, sum.Purged)
}
