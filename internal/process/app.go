package process

import (
	"context"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/internal/pool"
	"github.com/imgedge/imgedge/metering"
	"github.com/imgedge/imgedge/tenant"
)

// Meters holds the process's usage meters by spool directory, so a reload
// keeps one spool (and its open batches) instead of opening it twice.
var Meters = caddy.NewUsagePool()

// shutdownFlush bounds how long a stopping process tries to ship usage.
// Nothing is lost past it: unshipped batches stay in the spool and go out
// after the next start.
const shutdownFlush = 3 * time.Second

// LoadMeter is the usage meter of cfg.Dir, opened with cfg unless a config
// holds it already (loaded). When the last config lets go, it flushes
// what it can within shutdownFlush; the rest stays on disk for the next
// start.
func LoadMeter(cfg metering.Config, logger *zap.Logger) (m *metering.Meter, loaded bool, err error) {
	return pool.Load(Meters, cfg.Dir, func() (*metering.Meter, func() error, error) {
		m, err := metering.New(cfg)
		if err != nil {
			return nil, nil, err
		}
		return m, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownFlush)
			defer cancel()
			if err := m.Close(ctx); err != nil {
				logger.Warn("usage spool closed with records left on disk for the next start", zap.Error(err))
			}
			return nil
		}, nil
	})
}

// LoadBalancer is the process's zone registration for cfg, under the key
// returned (in Balancers). Purges the fleet publishes are applied to every
// cache of the process (ApplyFleetPurge).
func LoadBalancer(cfg balancer.Config) (string, *balancer.Balancer, error) {
	key := cfg.Consul + "|" + cfg.Service + "|" + cfg.Advertise + "|" + cfg.Zone
	cfg.OnPurge = ApplyFleetPurge
	b, _, err := pool.Load(Balancers, key, func() (*balancer.Balancer, func() error, error) {
		b, err := balancer.New(cfg)
		if err != nil {
			return nil, nil, err
		}
		return b, b.Close, nil
	})
	return key, b, err
}

// TenantStores holds the Consul KV watchers, kept across reloads.
var TenantStores = caddy.NewUsagePool()

// LoadTenants is the tenants watched in Consul KV as cfg says, under the
// key returned (in TenantStores).
func LoadTenants(cfg tenant.ConsulConfig) (string, *tenant.Watched, error) {
	key := cfg.Address + "|" + cfg.Prefix
	w, _, err := pool.Load(TenantStores, key, func() (*tenant.Watched, func() error, error) {
		w, err := tenant.NewWatched(cfg)
		if err != nil {
			return nil, nil, err
		}
		return w, func() error { w.Close(); return nil }, nil
	})
	return key, w, err
}

// Limiters holds the process's rate-limit buckets, kept across reloads:
// one limiter for every handler.
var Limiters = caddy.NewUsagePool()

// LoadLimiter is the process's rate limiter, under the key returned (in
// Limiters): a reload must not hand every client a fresh bucket.
func LoadLimiter() (string, *tenant.Limiter, error) {
	const key = "tenants"
	l, _, err := pool.Load(Limiters, key, func() (*tenant.Limiter, func() error, error) {
		l, err := tenant.NewLimiter(tenant.LimiterConfig{})
		return l, func() error { return nil }, err
	})
	if err != nil {
		return "", nil, err
	}
	return key, l, nil
}
