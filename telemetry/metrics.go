// Package telemetry defines what imgedge exports to Prometheus: its
// counters and histograms, and collectors that read the process's caches,
// source budgets and zones when scraped. It knows nothing of Caddy; the
// adapter creates one Metrics per process and registers it with each
// config's registry.
package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imgedge/imgedge/cache"
)

// Metrics are the process's instruments; their values survive config
// reloads.
type Metrics struct {
	Requests       *prometheus.CounterVec // by outcome
	ResizeDuration prometheus.Histogram
	FetchDuration  prometheus.Histogram
	QueueDepth     prometheus.Gauge
	Jobs           prometheus.Gauge
	SourceBytes    prometheus.Counter
	OutputBytes    prometheus.Counter
	Resizes        prometheus.Counter
	DirectDecodes  prometheus.Counter
	Forwards       *prometheus.CounterVec // by result: ok, failed
	BudgetRefusals prometheus.Counter
	// A clustered zone: answers asked of a key's owner (by result: hit,
	// miss, refused, failed), requests answered from a hot copy, requests
	// whose owner could not answer (by who took over: next, self),
	// originals asked of the shield zone (by result: ok, failed,
	// refused), and how
	// long a fleet purge took to reach this node.
	PeerRequests   *prometheus.CounterVec
	HotHits        prometheus.Counter
	OwnerFallbacks *prometheus.CounterVec
	ShieldFetches  *prometheus.CounterVec
	PurgeLag       prometheus.Histogram
	// PeerProofsRefused counts requests that carried a peer proof this
	// node did not accept (by reason: invalid, expired, replayed); they
	// were served as a client's.
	PeerProofsRefused *prometheus.CounterVec
	// DiskUnusable is 1 while a configured disk tier could not be opened
	// (the cache serves from memory).
	DiskUnusable prometheus.Gauge

	collectors []prometheus.Collector
}

// Sources are what the collectors read at each scrape.
type Sources struct {
	Caches  func(func(CacheStats))
	Budgets func(func(BudgetStats))
	Zones   func(func(ZoneStats))
	Disks   func(func(cache.DiskStats))
}

// New creates the instruments and the collectors that read sources.
func New(sources Sources) *Metrics {
	const ns = "imgedge"
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "requests_total",
			Help: "Image requests handled, by outcome.",
		}, []string{"outcome"}),
		ResizeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "resize_duration_seconds",
			Help:    "Time spent decoding, transforming and encoding one image.",
			Buckets: []float64{.002, .005, .01, .02, .035, .05, .075, .1, .15, .25, .5, 1, 2.5},
		}),
		FetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "fetch_duration_seconds",
			Help:    "Time spent fetching originals through the rest of the route.",
			Buckets: prometheus.DefBuckets,
		}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "queue_depth",
			Help: "Requests waiting for a processing slot.",
		}),
		Jobs: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "jobs_in_progress",
			Help: "libvips jobs running.",
		}),
		SourceBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "source_bytes_total",
			Help: "Bytes of originals fetched for processing.",
		}),
		OutputBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "output_bytes_total",
			Help: "Bytes of transformed images sent.",
		}),
		Resizes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "resize_total",
			Help: "libvips pipeline runs (decode, transform, encode) actually performed.",
		}),
		DirectDecodes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "direct_decodes_total",
			Help: "Resizes whose source was decoded and resized without a libvips pipeline (plain JPEG and PNG downscales).",
		}),
		Forwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "forwards_total",
			Help: "Requests handed to another zone because this node was busy, by result (ok, failed).",
		}, []string{"result"}),
		BudgetRefusals: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "source_budget_refusals_total",
			Help: "Fetches refused (503) because the process's budget for originals in flight had no room.",
		}),
	}
	m.PeerRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "peer_requests_total",
		Help: "Requests asked of the key's owner in this zone, by result: hit and miss (the owner's cache), refused (a 4xx), unmarked (relayed, never kept: no valid owner mark), failed (skipped to the next rank).",
	}, []string{"result"})
	m.HotHits = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "hot_copy_hits_total",
		Help: "Requests for a variant another node of the zone owns, answered from this node's copy of it.",
	})
	m.OwnerFallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "owner_fallbacks_total",
		Help: "Requests whose owner could not answer, by who took over: the next rank, or this node itself.",
	}, []string{"to"})
	m.ShieldFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "shield_fetches_total",
		Help: "Originals asked of the shield zone, by result: ok; failed, refused or unmarked (an answer without the shield's valid mark; each then fetched from the origin).",
	}, []string{"result"})
	m.PurgeLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Name: "purge_lag_seconds",
		Help:    "Time from a fleet purge being asked for to this node applying it.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 5, 15, 60, 300},
	})
	m.PeerProofsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "peer_proofs_refused_total",
		Help: "Requests whose peer proof was not accepted (invalid, expired or replayed), served as a client's: a wrong secret, a clock off by over a minute, or a replay.",
	}, []string{"reason"})
	m.DiskUnusable = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "disk_unusable",
		Help: "1 while a configured disk cache directory cannot be used: the cache serves from memory only.",
	})
	m.collectors = []prometheus.Collector{m.PeerRequests, m.HotHits, m.OwnerFallbacks, m.ShieldFetches, m.PurgeLag, m.Requests, m.ResizeDuration, m.FetchDuration, m.QueueDepth, m.Jobs, m.SourceBytes, m.OutputBytes, m.Resizes, m.DirectDecodes, m.Forwards, m.BudgetRefusals, m.PeerProofsRefused,
		newCacheCollector(sources.Caches), newBudgetCollector(sources.Budgets), newZonesCollector(sources.Zones),
		newDiskCollector(sources.Disks), m.DiskUnusable}
	return m
}

// Collectors are everything to register.
func (m *Metrics) Collectors() []prometheus.Collector { return m.collectors }
