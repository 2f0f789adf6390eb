package telemetry

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/imgedge/imgedge/cache"
)

func TestCollectorsSumEverySource(t *testing.T) {
	m := New(Sources{
		Caches: func(fn func(CacheStats)) {
			fn(CacheStats{Stats: cache.Stats{Hits: 3, BytesHeld: 100, Rejections: 1, OriginalRejections: 2}, Collapsed: 4})
			fn(CacheStats{Stats: cache.Stats{Hits: 5, BytesHeld: 20}, Abandoned: 1})
		},
		Budgets: func(fn func(BudgetStats)) {
			fn(BudgetStats{Held: 10, Leases: 1, Limit: 100})
			fn(BudgetStats{Held: 5, Leases: 2, Limit: 50})
		},
		Zones: func(fn func(ZoneStats)) {
			fn(ZoneStats{Peers: map[string]int{"eu": 2, "us": 1}, Busy: true, Ejections: 7})
		},
		Disks: func(fn func(cache.DiskStats)) {
			fn(cache.DiskStats{Hits: 2, Bytes: 4096, WriteErrors: 1, Indexed: true})
			fn(cache.DiskStats{Hits: 3, Bytes: 1024, Corrupt: 2, Indexed: false})
		},
	})
	reg := prometheus.NewRegistry()
	for _, c := range m.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			name := f.GetName()
			for _, l := range mt.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = value(mt)
		}
	}
	want := map[string]float64{
		"imgedge_cache_hits_total":            8,
		"imgedge_cache_bytes":                 120,
		"imgedge_cache_rejections_total":      3,
		"imgedge_cache_collapsed_total":       4,
		"imgedge_resizes_abandoned_total":     1,
		"imgedge_source_budget_held_bytes":    15,
		"imgedge_source_budget_leases":        3,
		"imgedge_source_budget_bytes":         150,
		"imgedge_zone_peers/eu":               2,
		"imgedge_zone_peers/us":               1,
		"imgedge_zone_busy":                   1,
		"imgedge_zone_ejections_total":        7,
		"imgedge_zone_discovery_errors_total": 0,
		"imgedge_disk_hits_total":             5,
		"imgedge_disk_bytes":                  5120,
		"imgedge_disk_write_errors_total":     1,
		"imgedge_disk_corrupt_total":          2,
		"imgedge_disk_indexed":                0,
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (exported: %v), want %v", name, g, ok, v)
		}
	}
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}
