package imgedge

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are created once per process and registered in the registry of
// every config that uses image_resize, so counts survive config reloads.
type metrics struct {
	requests       *prometheus.CounterVec
	resizeDuration prometheus.Histogram
	fetchDuration  prometheus.Histogram
	queueDepth     prometheus.Gauge
	jobs           prometheus.Gauge
	sourceBytes    prometheus.Counter
	outputBytes    prometheus.Counter
	resizes        prometheus.Counter
	forwards       *prometheus.CounterVec
	budgetRefusals prometheus.Counter
	budget         *budgetCollector
	cache          *cacheCollector
	zones          *zonesCollector
}

// Request outcomes, the values of imgedge_requests_total's outcome label.
const (
	outcomeResized       = "resized"
	outcomeNotModified   = "not_modified"
	outcomePassthrough   = "passthrough"
	outcomeBadRequest    = "bad_request"
	outcomeUnsupported   = "unsupported"
	outcomeUnprocessable = "unprocessable"
	outcomeTooLarge      = "too_large"
	outcomeBusy          = "busy"
	outcomeOriginError   = "origin_error"
	outcomeOriginTimeout = "origin_timeout"
	outcomeCanceled      = "canceled"
	outcomeHit           = "hit"
	outcomeRateLimited   = "rate_limited"
	outcomeForwarded     = "forwarded"
	outcomeTooSlow       = "too_slow"
	outcomeError         = "error"
	outcomeForbidden     = "forbidden"
)

var (
	metricsOnce sync.Once
	theMetrics  *metrics
)

func newMetrics() *metrics {
	const ns = "imgedge"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "requests_total",
			Help: "Image requests handled, by outcome.",
		}, []string{"outcome"}),
		resizeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "resize_duration_seconds",
			Help:    "Time spent decoding, transforming and encoding one image.",
			Buckets: []float64{.002, .005, .01, .02, .035, .05, .075, .1, .15, .25, .5, 1, 2.5},
		}),
		fetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "fetch_duration_seconds",
			Help:    "Time spent fetching originals through the rest of the route.",
			Buckets: prometheus.DefBuckets,
		}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "queue_depth",
			Help: "Requests waiting for a processing slot.",
		}),
		jobs: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "jobs_in_progress",
			Help: "libvips jobs running.",
		}),
		sourceBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "source_bytes_total",
			Help: "Bytes of originals fetched for processing.",
		}),
		outputBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "output_bytes_total",
			Help: "Bytes of transformed images sent.",
		}),
		resizes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "resize_total",
			Help: "libvips pipeline runs (decode, transform, encode) actually performed.",
		}),
		forwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "forwards_total",
			Help: "Requests handed to another zone because this node was busy, by result (ok, failed).",
		}, []string{"result"}),
		budgetRefusals: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "source_budget_refusals_total",
			Help: "Fetches refused (503) because the process's budget for originals in flight had no room.",
		}),
		budget: newBudgetCollector(),
		cache:  newCacheCollector(),
		zones:  newZonesCollector(),
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.resizeDuration, m.fetchDuration, m.queueDepth, m.jobs, m.sourceBytes, m.outputBytes, m.resizes, m.forwards, m.budgetRefusals, m.budget, m.cache, m.zones}
}

// registerMetrics registers the process's collectors with reg, tolerating
// collectors a sibling handler of the same config already registered.
func registerMetrics(reg *prometheus.Registry) (*metrics, error) {
	metricsOnce.Do(func() { theMetrics = newMetrics() })
	if reg == nil {
		return theMetrics, nil
	}
	for _, c := range theMetrics.collectors() {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return theMetrics, nil
}
