package imgedge

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/variant"
)

// limiters holds the process's rate-limit buckets, kept across reloads:
// one limiter, under limiterKey, for every handler.
var limiters = caddy.NewUsagePool()

const limiterKey = "tenants"

// provisionEngine takes this handler's share of the process's state: the
// processing slots, the rate-limit buckets and the cache, all kept in
// pools that outlive a reload, and builds the engine around them.
func (ir *ImageResize) provisionEngine(queueLength int) (err error) {
	var slots *variant.Slots
	if ir.slotsKey, slots, err = loadSlots(ir.Concurrency, queueLength, time.Duration(ir.QueueTimeout), ir.metrics.QueueDepth); err != nil {
		return fmt.Errorf("processing slots: %v", err)
	}
	// Rate-limit buckets are the process's: a reload must not hand every
	// client a fresh one.
	if ir.limiter, _, err = loadPooled(limiters, limiterKey, func() (*tenant.Limiter, func() error, error) {
		l, err := tenant.NewLimiter(tenant.LimiterConfig{})
		return l, func() error { return nil }, err
	}); err != nil {
		return err
	}
	var disk *cache.Disk
	if ir.CacheDisk != "" && !ir.CacheOff {
		if ir.diskKey, disk, err = loadDisk(ir.CacheDisk, ir.CacheDiskBytes, ir.logger, ir.metrics.DiskUnusable); err != nil {
			return err
		}
	}
	var store *variant.Store
	ir.storeKey, store, err = loadVariantStore(cache.Config{
		MaxBytes:          ir.CacheBytes,
		OriginalsMaxBytes: ir.OriginalsBytes,
		MinTTL:            time.Duration(ir.CacheMinTTL),
		MaxTTL:            time.Duration(ir.CacheMaxTTL),
		Disk:              disk,
	}, ir.CacheOff)
	if err != nil {
		return fmt.Errorf("cache: %v", err)
	}
	m := ir.metrics
	ir.engine = &variant.Engine{Store: store, Slots: slots, Pipeline: ir.pipeline, Fingerprint: ir.fingerprint,
		CacheControl: ir.CacheControl, Hooks: variant.Hooks{
			Job: func(d int) { m.Jobs.Add(float64(d)) },
			Done: func(took time.Duration) {
				m.Resizes.Inc()
				m.ResizeDuration.Observe(took.Seconds())
			},
			Busy: ir.balancer.ReportLoad,
		}}
	return nil
}
