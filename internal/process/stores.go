// Package process holds what every config of the process shares and keeps
// across config reloads: the variant stores, disk tiers, job slots, source
// budgets and zone registrations (each in a caddy.UsagePool), the metrics,
// and the purge every one of those caches applies.
package process

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

// VariantStores holds the caches of this process, keyed by their budget, so
// a config reload with the same budget keeps a warm cache (Provision loads,
// Cleanup deletes; the pool frees a cache when no config uses it).
var VariantStores = caddy.NewUsagePool()

// LoadVariantStore returns the process's store for a cache configuration
// (off: no cache, requests still collapsed), and its key in the pool.
func LoadVariantStore(cfg cache.Config, off bool) (key string, s *variant.Store, err error) {
	key = "off"
	if !off {
		key = fmt.Sprintf("%d/%d/%s/%s/%p", cfg.MaxBytes, cfg.OriginalsMaxBytes, cfg.MinTTL, cfg.MaxTTL, cfg.Disk)
	}
	s, _, err = pool.Load(VariantStores, key, func() (*variant.Store, func() error, error) {
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

// EachStore calls fn for every live variant store.
func EachStore(fn func(*variant.Store)) { pool.Each(VariantStores, fn) }

// DiskTiers holds the process's disk tiers by directory, so a reload
// keeps the tier (and its lock) instead of opening the directory twice.
var DiskTiers = caddy.NewUsagePool()

// LoadDisk returns the process's disk tier in dir, and its key in the
// pool. A directory another process holds is an error; one that cannot be
// used is logged, and the cache works from memory (key and tier empty).
func LoadDisk(dir string, size int64, logger *zap.Logger, unusable prometheus.Gauge) (string, *cache.Disk, error) {
	// One directory, one key however it is written (/x/c, /x/c/, x/c):
	// a second spelling would find the lock held by this very process.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	d, loaded, err := pool.Load(DiskTiers, dir, func() (*cache.Disk, func() error, error) {
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

// JobSlots holds the process's libvips job slots, keyed by their
// settings: every image_resize with the same concurrency and queue shares
// one budget of jobs, and a reload keeps it, so neither two sites nor a
// reload double the work the process takes on.
var JobSlots = caddy.NewUsagePool()

// LoadSlots returns the process's slots for n jobs and a queue of queue
// waiters, each waiting at most wait, and their key in the pool.
func LoadSlots(n, queue int, wait time.Duration, depth prometheus.Gauge) (string, *variant.Slots, error) {
	key := fmt.Sprintf("%d/%d/%s", n, queue, wait)
	s, _, err := pool.Load(JobSlots, key, func() (*variant.Slots, func() error, error) {
		s, err := variant.NewSlots(n, queue, wait)
		if err != nil {
			return nil, nil, err
		}
		s.OnWait = func(d int) { depth.Add(float64(d)) }
		return s, func() error { return nil }, nil
	})
	return key, s, err
}

// Balancers holds the process's zone registration, so a reload keeps the
// node registered (and its discovered peers) instead of flapping.
var Balancers = caddy.NewUsagePool()
