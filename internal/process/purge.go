package process

import (
	"slices"
	"time"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/internal/pool"
	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/variant"
)

// PurgeHere drops what this process holds of a purge's tenant or source,
// every site's cache, and says how many entries went.
func PurgeHere(p balancer.Purge) int {
	n := 0
	if p.All {
		EachStore(func(s *variant.Store) { n += s.Cache.PurgeAll() })
		return n
	}
	// The tenant as the cache names it: a host in its canonical form
	// (IMG.Example.com. and img.example.com are one tenant), or another
	// tenant name as written, trimmed.
	var names []string
	for _, fromHost := range []bool{false, true} {
		if name, err := tenant.Normalize(p.Tenant, fromHost); err == nil && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, name := range names {
		tag := variant.TenantTag(name)
		if p.Source != "" {
			tag = variant.SourceTag(name, p.Source)
		}
		EachStore(func(s *variant.Store) { n += s.Cache.Purge(tag) })
	}
	return n
}

// ApplyFleetPurge applies a purge another node published (or one this
// node missed while away), and measures how long it took to get here.
func ApplyFleetPurge(p balancer.Purge) {
	PurgeHere(p)
	if m, _ := RegisterMetrics(nil); m != nil && !p.All && !p.Replayed {
		m.PurgeLag.Observe(max(time.Since(p.At), 0).Seconds())
	}
}

// FirstBalancer is the process's zone registration, if it has one.
func FirstBalancer() *balancer.Balancer {
	var first *balancer.Balancer
	pool.Each(Balancers, func(b *balancer.Balancer) {
		if first == nil {
			first = b
		}
	})
	return first
}
