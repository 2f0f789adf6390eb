package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/cache"
)

// CacheStats are one variant store's figures.
type CacheStats struct {
	cache.Stats
	Collapsed uint64 // requests that waited for an identical request's work
	Abandoned uint64 // resizes stopped because every waiter had gone
}

// BudgetStats are one source budget's figures.
type BudgetStats struct{ Held, Leases, Limit int64 }

// ZoneStats are one balancer's figures.
type ZoneStats = balancer.Stats

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v int64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
}

// named makes the descriptors of unlabelled metrics whose names start
// with prefix.
func named(prefix string) func(name, help string) *prometheus.Desc {
	return func(name, help string) *prometheus.Desc { return prometheus.NewDesc(prefix+name, help, nil, nil) }
}

func describe(ch chan<- *prometheus.Desc, ds ...*prometheus.Desc) {
	for _, d := range ds {
		ch <- d
	}
}

// cacheCollector exports the caches' statistics, summed over the live
// stores of the process.
type cacheCollector struct {
	each                                                                                                                func(func(CacheStats))
	hits, misses, collapsed, abandoned, evictions, rejections, held, originalHits, originalMisses, originalHeld, purged *prometheus.Desc
}

func newCacheCollector(each func(func(CacheStats))) *cacheCollector {
	d := named("imgedge_cache_")
	return &cacheCollector{
		each:           each,
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
	describe(ch, c.hits, c.misses, c.collapsed, c.abandoned, c.evictions, c.rejections, c.held, c.originalHits, c.originalMisses, c.originalHeld, c.purged)
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	var sum CacheStats
	c.each(func(st CacheStats) {
		sum.Hits += st.Hits
		sum.Misses += st.Misses
		sum.Evictions += st.Evictions
		sum.Rejections += st.Rejections + st.OriginalRejections
		sum.BytesHeld += st.BytesHeld
		sum.OriginalHits += st.OriginalHits
		sum.OriginalMisses += st.OriginalMisses
		sum.OriginalBytesHeld += st.OriginalBytesHeld
		sum.Purged += st.Purged
		sum.Collapsed += st.Collapsed
		sum.Abandoned += st.Abandoned
	})
	counter(ch, c.hits, sum.Hits)
	counter(ch, c.misses, sum.Misses)
	counter(ch, c.collapsed, sum.Collapsed)
	counter(ch, c.abandoned, sum.Abandoned)
	counter(ch, c.evictions, sum.Evictions)
	counter(ch, c.rejections, sum.Rejections)
	gauge(ch, c.held, sum.BytesHeld)
	counter(ch, c.originalHits, sum.OriginalHits)
	counter(ch, c.originalMisses, sum.OriginalMisses)
	gauge(ch, c.originalHeld, sum.OriginalBytesHeld)
	counter(ch, c.purged, sum.Purged)
}

// budgetCollector exports what the live source budgets hold.
type budgetCollector struct {
	each                  func(func(BudgetStats))
	bytes, fetches, limit *prometheus.Desc
}

func newBudgetCollector(each func(func(BudgetStats))) *budgetCollector {
	return &budgetCollector{
		each:    each,
		bytes:   prometheus.NewDesc("imgedge_source_budget_held_bytes", "Bytes of originals in flight (fetched or waiting to be processed).", nil, nil),
		fetches: prometheus.NewDesc("imgedge_source_budget_leases", "Originals in flight.", nil, nil),
		limit:   prometheus.NewDesc("imgedge_source_budget_bytes", "The budget for originals in flight.", nil, nil),
	}
}

func (c *budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, c.bytes, c.fetches, c.limit)
}

func (c *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	var sum BudgetStats
	c.each(func(b BudgetStats) {
		sum.Held, sum.Leases, sum.Limit = sum.Held+b.Held, sum.Leases+b.Leases, sum.Limit+b.Limit
	})
	gauge(ch, c.bytes, sum.Held)
	gauge(ch, c.fetches, sum.Leases)
	gauge(ch, c.limit, sum.Limit)
}

// zonesCollector exports each balancer's view of the zones.
type zonesCollector struct {
	each                                             func(func(ZoneStats))
	peers, ejected, ejections, discoveryErrors, busy *prometheus.Desc
	purges                                           *prometheus.Desc
}

func newZonesCollector(each func(func(ZoneStats))) *zonesCollector {
	return &zonesCollector{
		each:            each,
		peers:           prometheus.NewDesc("imgedge_zone_peers", "Healthy peers known in each zone.", []string{"zone"}, nil),
		ejected:         prometheus.NewDesc("imgedge_zone_ejected_peers", "Peers ejected by outlier detection right now.", nil, nil),
		ejections:       prometheus.NewDesc("imgedge_zone_ejections_total", "Peers ejected after consecutive failures.", nil, nil),
		discoveryErrors: prometheus.NewDesc("imgedge_zone_discovery_errors_total", "Failed Consul queries (the last known peers are kept).", nil, nil),
		busy:            prometheus.NewDesc("imgedge_zone_busy", "1 while this node tells Consul it is saturated.", nil, nil),
		purges:          prometheus.NewDesc("imgedge_zone_purges_applied_total", "Purges published by other nodes and applied on this one.", nil, nil),
	}
}

func (c *zonesCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, c.peers, c.ejected, c.ejections, c.discoveryErrors, c.busy, c.purges)
}

func (c *zonesCollector) Collect(ch chan<- prometheus.Metric) {
	c.each(func(st ZoneStats) {
		for zone, n := range st.Peers {
			gauge(ch, c.peers, int64(n), zone)
		}
		var busy int64
		if st.Busy {
			busy = 1
		}
		gauge(ch, c.ejected, int64(st.Ejected))
		counter(ch, c.ejections, st.Ejections)
		counter(ch, c.discoveryErrors, st.DiscoveryErrors)
		gauge(ch, c.busy, busy)
		counter(ch, c.purges, st.PurgesApplied)
	})
}
