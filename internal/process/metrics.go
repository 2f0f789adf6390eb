package process

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/internal/budget"
	"github.com/imgedge/imgedge/internal/pool"
	"github.com/imgedge/imgedge/telemetry"
	"github.com/imgedge/imgedge/variant"
)

var (
	metricsOnce sync.Once
	theMetrics  *telemetry.Metrics
)

// RegisterMetrics registers the process's collectors with reg, tolerating
// collectors a sibling handler of the same config already registered.
func RegisterMetrics(reg *prometheus.Registry) (*telemetry.Metrics, error) {
	metricsOnce.Do(func() {
		theMetrics = telemetry.New(telemetry.Sources{
			Caches: func(fn func(telemetry.CacheStats)) {
				EachStore(func(s *variant.Store) {
					fn(telemetry.CacheStats{Stats: s.Cache.Stats(), Collapsed: s.Collapsed(), Abandoned: s.Abandoned()})
				})
			},
			Budgets: func(fn func(telemetry.BudgetStats)) {
				pool.Each(SourceBudgets, func(b *budget.Budget) {
					held, leases := b.Held()
					fn(telemetry.BudgetStats{Held: held, Leases: leases, Limit: b.Limit()})
				})
			},
			Zones: func(fn func(telemetry.ZoneStats)) {
				pool.Each(Balancers, func(b *balancer.Balancer) { fn(b.Stats()) })
			},
			Disks: func(fn func(cache.DiskStats)) {
				pool.Each(DiskTiers, func(d *cache.Disk) { fn(d.Stats()) })
			},
		})
	})
	if reg == nil {
		return theMetrics, nil
	}
	for _, c := range theMetrics.Collectors() {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return theMetrics, nil
}
