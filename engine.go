package imgedge

import (
	"cmp"
	"fmt"
	"time"

	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/process"
	"github.com/imgedge/imgedge/transform"
	"github.com/imgedge/imgedge/variant"
)

var qualityFormats = map[string]transform.Format{"jpeg": transform.JPEG, "jpg": transform.JPEG, "webp": transform.WEBP, "avif": transform.AVIF}

// pipelineConfig is how this handler makes images: its limits, qualities
// and efforts.
func (ir *ImageResize) pipelineConfig() (imaging.Config, error) {
	p := imaging.DefaultConfig()
	p.MaxPixels = ir.MaxSourcePixels
	p.MaxFrames = ir.MaxFrames
	if ir.ProcessTimeout > 0 {
		p.Timeout = time.Duration(ir.ProcessTimeout)
	}
	p.Limits = transform.Limits{MaxWidth: ir.MaxWidth, MaxHeight: ir.MaxHeight, MaxDPR: ir.MaxDPR, Strict: ir.Strict}
	for name, q := range ir.Quality {
		f, ok := qualityFormats[name]
		if !ok {
			return p, fmt.Errorf("quality: unknown format %q (want jpeg, webp or avif)", name)
		}
		p.Quality[f] = q
	}
	if ir.AVIFEffort != nil {
		p.Effort[transform.AVIF] = *ir.AVIFEffort
	}
	if ir.WebPEffort != nil {
		p.Effort[transform.WEBP] = *ir.WebPEffort
	}
	return p, nil
}

// provisionEngine takes this handler's share of the process's state: the
// processing slots, the rate-limit buckets and the cache, all kept in
// pools that outlive a reload, and builds the engine around them.
func (ir *ImageResize) provisionEngine(queueLength int) (err error) {
	var slots *variant.Slots
	if ir.slotsKey, slots, err = process.LoadSlots(ir.Concurrency, queueLength, time.Duration(ir.QueueTimeout), ir.metrics.QueueDepth); err != nil {
		return fmt.Errorf("processing slots: %v", err)
	}
	// Rate-limit buckets are the process's: a reload must not hand every
	// client a fresh one.
	if ir.limiterKey, ir.limiter, err = process.LoadLimiter(); err != nil {
		return err
	}
	var disk *cache.Disk
	if ir.CacheDisk != "" && !ir.CacheOff {
		if ir.diskKey, disk, err = process.LoadDisk(ir.CacheDisk, ir.CacheDiskBytes, ir.logger, ir.metrics.DiskUnusable); err != nil {
			return err
		}
	}
	var store *variant.Store
	ir.storeKey, store, err = process.LoadVariantStore(cache.Config{
		MaxBytes:          cmp.Or(ir.CacheBytes, cache.DefaultMaxBytesFor(ir.memory)),
		OriginalsMaxBytes: ir.OriginalsBytes,
		MinTTL:            time.Duration(ir.CacheMinTTL),
		MaxTTL:            time.Duration(ir.CacheMaxTTL),
		Disk:              disk,
	}, ir.CacheOff)
	if err != nil {
		return fmt.Errorf("cache: %v", err)
	}
	m := ir.metrics
	ir.engine = &variant.Engine{Store: store, Slots: slots, Pipeline: ir.pipeline, Fingerprint: variant.Fingerprint(ir.pipeline, ir.CacheControl),
		CacheControl: ir.CacheControl, Hooks: variant.Hooks{
			Job: func(d int) { m.Jobs.Add(float64(d)) },
			Done: func(took time.Duration, res imaging.Result) {
				m.Resizes.Inc()
				if res.Direct {
					m.DirectDecodes.Inc()
				}
				m.ResizeDuration.Observe(took.Seconds())
			},
			Busy: ir.balancer.ReportLoad,
		}}
	return nil
}
