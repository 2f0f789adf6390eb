package imgedge

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/internal/pool"
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
		key = fmt.Sprintf("%d/%d/%s/%s/%p", cfg.MaxBytes, cfg.OriginalsMaxBytes, cfg.MinTTL, cfg.MaxTTL, cfg.Disk)
	}
	s, _, err = pool.Load(variantStores, key, func() (*variant.Store, func() error, error) {
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
func eachStore(fn func(*variant.Store)) { pool.Each(variantStores, fn) }

// diskTiers holds the process's disk tiers by directory, so a reload
// keeps the tier (and its lock) instead of opening the directory twice.
var diskTiers = caddy.NewUsagePool()

// loadDisk returns the process's disk tier in dir, and its key in the
// pool. A directory another process holds is an error; one that cannot be
// used is logged, and the cache works from memory (key and tier empty).
func loadDisk(dir string, size int64, logger *zap.Logger, unusable prometheus.Gauge) (string, *cache.Disk, error) {
	// One directory, one key however it is written (/x/c, /x/c/, x/c):
	// a second spelling would find the lock held by this very process.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	d, loaded, err := pool.Load(diskTiers, dir, func() (*cache.Disk, func() error, error) {
		d, err := cache.OpenDisk(cache.DiskConfig{Dir: dir, MaxBytes: size, Logger: logger.Named("disk")})
		if err != nil {
			return nil, nil, err
		}
		return d, func() error { d.Close(); return nil }, nil
	})
	switch {
	case errors.Is(err, cache.ErrDiskInUse):
		return "", nil, fmt.Errorf("cache_disk: %v", err)
	case err != nil:
		logger.Error("the disk cache cannot be used; serving from memory only", zap.String("dir", dir), zap.Error(err))
		unusable.Set(1)
		return "", nil, nil
	case loaded:
		logger.Debug("reusing the running disk cache; a new size applies after a restart", zap.String("dir", dir))
	}
	unusable.Set(0)
	return dir, d, nil
}

// processSlots holds the process's libvips job slots, keyed by their
// settings: every image_resize with the same concurrency and queue shares
// one budget of jobs, and a reload keeps it, so neither two sites nor a
// reload double the work the process takes on.
var processSlots = caddy.NewUsagePool()

// loadSlots returns the process's slots for n jobs and a queue of queue
// waiters, each waiting at most wait, and their key in the pool.
func loadSlots(n, queue int, wait time.Duration, depth prometheus.Gauge) (string, *variant.Slots, error) {
	key := fmt.Sprintf("%d/%d/%s", n, queue, wait)
	s, _, err := pool.Load(processSlots, key, func() (*variant.Slots, func() error, error) {
		s, err := variant.NewSlots(n, queue, wait)
		if err != nil {
			return nil, nil, err
		}
		s.OnWait = func(d int) { depth.Add(float64(d)) }
		return s, func() error { return nil }, nil
	})
	return key, s, err
}
