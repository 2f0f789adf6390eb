// Package imgedge is a Caddy v2 plugin that turns a Caddy site into an image
// CDN edge: the image_resize handler answers URLs such as
// /photos/cat.jpg?w=400&f=auto by fetching the original through the rest of
// the route (file_server, reverse_proxy, anything), resizing it with libvips
// and answering in the best format the browser accepts.
package imgedge

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
	"go.uber.org/zap"

	_ "github.com/imgedge/imgedge/admin" // the purge endpoint of the admin API
	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/cluster"
	_ "github.com/imgedge/imgedge/collector" // the usage_collector handler
	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/budget"
	"github.com/imgedge/imgedge/internal/pool"
	"github.com/imgedge/imgedge/internal/process"
	"github.com/imgedge/imgedge/metering"
	"github.com/imgedge/imgedge/telemetry"
	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/variant"
)

func init() {
	caddy.RegisterModule(ImageResize{})
}

// Defaults, chosen for a 2-4 core edge node answering web images.
const (
	defaultQueueLength     = 64
	defaultQueueTimeout    = 2 * time.Second
	defaultMaxSourceBytes  = 25 << 20 // 25 MiB
	defaultMaxSourcePixels = 50_000_000
	defaultMaxFrames       = 500
	defaultMaxDimension    = 4096
	defaultMaxDPR          = 5 // imgix's largest; its srcsets go to 5x
	defaultFetchTimeout    = 10 * time.Second
	defaultCacheControl    = "public, max-age=86400"
	// Each job runs on one libvips thread: two per core keep the cores
	// busy while a job waits on memory or its encoder's write-behind.
	jobsPerCore = 2
)

// ImageResize resizes, crops and converts images on the fly. Requests with
// image parameters in the query (w, h, fit, f, q, ...) are answered with a
// transformed image; the original is fetched through the next handlers of
// the route with those parameters removed. Requests without image
// parameters, and originals that are not images or not 2xx, pass through
// untouched.
type ImageResize struct {
	// Concurrency is how many libvips jobs run at once, each on one
	// libvips thread (VIPS_CONCURRENCY in the environment changes that).
	// Default: twice the number of CPU cores.
	Concurrency int `json:"concurrency,omitempty"`

	// QueueLength is how many requests may wait for a free job slot
	// (0: none may wait). Beyond it, requests are refused at once with 503
	// and Retry-After, or forwarded to another zone.
	// Default: 64.
	QueueLength *int `json:"queue_length,omitempty"`

	// QueueTimeout is how long a request may wait for a job slot before
	// it is refused with 503 and Retry-After. A page's first load asks
	// for a burst of cold variants at once, so a single node waits rather
	// than refuses. Default: 2s.
	QueueTimeout caddy.Duration `json:"queue_timeout,omitempty"`

	// MaxSourceBytes is the largest original accepted, in bytes. Larger
	// originals get 413; the body is not buffered past the limit.
	// Default: 25 MiB.
	MaxSourceBytes int64 `json:"max_source_bytes,omitempty"`

	// MaxSourcePixels is the largest original accepted, in pixels,
	// checked from the image header before any decoding (decompression
	// bombs get 422 without costing memory). Default: 50,000,000 (50 MP).
	MaxSourcePixels int64 `json:"max_source_pixels,omitempty"`

	// MaxFrames is the most frames an animated original may have.
	// Default: 500.
	MaxFrames int `json:"max_frames,omitempty"`

	// MaxWidth and MaxHeight bound the output in pixels. A w or h above
	// them is refused with 400; a box enlarged past them by dpr is
	// shrunk to fit. Default: 4096 each.
	MaxWidth  int `json:"max_width,omitempty"`
	MaxHeight int `json:"max_height,omitempty"`

	// MaxDPR is the largest device pixel ratio honoured; a larger dpr is
	// clamped to it. Default: 5, the largest imgix honours (its srcsets
	// go to 5x).
	MaxDPR float64 `json:"max_dpr,omitempty"`

	// ProcessTimeout bounds decoding, transforming and encoding one
	// image; a source that takes longer (a hostile or pathological file)
	// is refused with 422 and its job stopped. Default: 10s.
	ProcessTimeout caddy.Duration `json:"process_timeout,omitempty"`

	// FetchTimeout bounds fetching the original through the rest of the
	// route; an origin slower than that gets 504. Default: 10s.
	FetchTimeout caddy.Duration `json:"fetch_timeout,omitempty"`

	// CacheControl is sent with transformed images when the origin sent
	// no Cache-Control of its own. Default: "public, max-age=86400".
	CacheControl string `json:"cache_control,omitempty"`

	// Strict refuses unknown query parameters with 400 instead of
	// ignoring them. Default: false.
	Strict bool `json:"strict,omitempty"`

	// Quality is the default quality per output format (jpeg, webp,
	// avif), 1-100, used when the request has no q. Defaults: jpeg 80,
	// webp 80, avif 60.
	Quality map[string]int `json:"quality,omitempty"`

	// AVIFEffort is the AV1 encoder effort, 0 (fastest) to 9 (smallest
	// files). Default: 0: on a 2560x1600 photo to w=400 it encodes in
	// 20 ms against 111 ms at libvips' own default of 4, for files about
	// 4% larger.
	AVIFEffort *int `json:"avif_effort,omitempty"`

	// WebPEffort is the WebP encoder's method, 0 (fastest) to 6 (smallest
	// files). Default: 4, libvips' and imgproxy's. At 2 a photo's encode
	// takes half the time, for files 2.5-4.5% larger at 0.1-0.3 dB less
	// PSNR (see Performance).
	WebPEffort *int `json:"webp_effort,omitempty"`

	// CacheBytes is the memory budget of the variant cache, shared by
	// every image_resize handler with the same budget and kept across
	// config reloads. Default: 1/8 of the node's memory (the imgedge
	// option's memory, by default the memory available to the process),
	// between 64 MiB and 1 GiB.
	CacheBytes int64 `json:"cache_bytes,omitempty"`

	// CacheOff disables the cache: every request fetches and resizes.
	// Identical concurrent requests are still collapsed into one.
	CacheOff bool `json:"cache_off,omitempty"`

	// OriginalsBytes is the separate, smaller budget for originals, so
	// that several sizes of one source cost one origin fetch.
	// Default: a quarter of CacheBytes.
	OriginalsBytes int64 `json:"originals_bytes,omitempty"`

	// Marks lists the paths of the site a request's imgix `mark` may
	// name: a path ending in "/" allows everything below it, any other
	// that file alone. A mark is fetched through the handlers after
	// image_resize, so the route's access control before it (basic_auth,
	// forward_auth, rewrites) is not run for it: list only what anyone
	// may see. A tenant's own watermark needs no listing. Default: none,
	// and `mark` is refused.
	Marks []string `json:"marks,omitempty"`

	// CacheDisk, when set, keeps variants and originals on disk too,
	// behind the memory cache, within CacheDiskBytes: hits survive
	// restarts and the cache holds far more than memory does. One process
	// holds the directory; a directory that cannot be used leaves the
	// cache in memory, with an error logged and imgedge_disk_up at 0.
	CacheDisk      string `json:"cache_disk,omitempty"`
	CacheDiskBytes int64  `json:"cache_disk_bytes,omitempty"`

	// CacheMinTTL and CacheMaxTTL clamp how long an answer is cached,
	// whatever the origin's Cache-Control says (no-store, private and
	// max-age=0 are never cached). Defaults: 1m and 168h.
	CacheMinTTL caddy.Duration `json:"cache_min_ttl,omitempty"`
	CacheMaxTTL caddy.Duration `json:"cache_max_ttl,omitempty"`

	// Tenant names whose request this is, for cache keys, purges and
	// usage records. Placeholders are expanded per request.
	// Default: "{http.request.host}".
	Tenant string `json:"tenant,omitempty"`

	// Tenants holds per-tenant protections, by tenant name (see Tenant):
	// signing keys and required signatures, allowed widths, presets,
	// output limits, formats, default quality and a rate limit. A tenant
	// not listed gets the handler's own settings and shares one rate
	// limit bucket with every other unlisted tenant.
	Tenants tenant.Static `json:"tenants,omitempty"`

	// AcceptCH sends Accept-CH (Sec-CH-DPR, Sec-CH-Width,
	// Sec-CH-Viewport-Width, Save-Data) with the site's other answers
	// (its pages), so that browsers send the client hints imgix's ch= and
	// Cloudflare's width=auto read. Default: false.
	AcceptCH bool `json:"accept_ch,omitempty"`

	// Node names this server in the Imgedge-Node response header.
	// Default: the host name.
	Node string `json:"node,omitempty"`

	pipeline   imaging.Config
	engine     *variant.Engine
	slotsKey   string
	node       string
	logger     *zap.Logger
	metrics    *telemetry.Metrics
	storeKey   string
	diskKey    string
	limiter    *tenant.Limiter
	limiterKey string
	tenants    tenant.Store       // Consul KV (when configured), then Tenants
	balancer   *balancer.Balancer // nil: this node works alone
	cluster    cluster.Hops       // the owner, shield and forwarding hops
	zone       string
	clustered  bool            // the nodes of the zone share one cache (owners, hot copies)
	meter      *metering.Meter // nil without metering
	sources    *budget.Budget  // the process's originals in flight
	sourcesKey string
	peering    *balancer.Peering // signs and checks requests between nodes; nil alone
	memory     int64             // the node's memory, which the cache's default derives from
}

// CaddyModule returns the Caddy module information.
func (ImageResize) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.image_resize",
		New: func() caddy.Module { return new(ImageResize) },
	}
}

// Provision sets defaults and builds the runtime state.
func (ir *ImageResize) Provision(ctx caddy.Context) error {
	ir.logger = ctx.Logger()
	// Caddy provisions before it validates: impossible settings are
	// refused before any runtime state is built from them.
	if err := ir.Validate(); err != nil {
		return err
	}
	if !imaging.ThreadsSafe() {
		ir.logger.Error("libvips' worker threads can crash this node under load: this binary cannot replace libvips' racy idle wait (link it externally, as xcaddy does, or use libvips 8.15.5 or later)",
			zap.String("libvips", imaging.LibvipsVersion()))
	}
	if ir.Tenant == "" {
		ir.Tenant = hostPlaceholder
	}
	if ir.Concurrency == 0 {
		ir.Concurrency = jobsPerCore * runtime.NumCPU()
	}
	queueLength := defaultQueueLength
	if ir.QueueLength != nil {
		queueLength = *ir.QueueLength
	}
	if ir.QueueTimeout == 0 {
		ir.QueueTimeout = caddy.Duration(defaultQueueTimeout)
	}
	if ir.MaxSourceBytes == 0 {
		ir.MaxSourceBytes = defaultMaxSourceBytes
	}
	if ir.MaxSourcePixels == 0 {
		ir.MaxSourcePixels = defaultMaxSourcePixels
	}
	if ir.MaxFrames == 0 {
		ir.MaxFrames = defaultMaxFrames
	}
	if ir.MaxWidth == 0 {
		ir.MaxWidth = defaultMaxDimension
	}
	if ir.MaxHeight == 0 {
		ir.MaxHeight = defaultMaxDimension
	}
	if ir.MaxDPR == 0 {
		ir.MaxDPR = defaultMaxDPR
	}
	if ir.FetchTimeout == 0 {
		ir.FetchTimeout = caddy.Duration(defaultFetchTimeout)
	}
	if ir.CacheControl == "" {
		ir.CacheControl = defaultCacheControl
	}
	appModule, err := ctx.App("imgedge")
	if err != nil {
		return fmt.Errorf("loading the imgedge app: %v", err)
	}
	app := appModule.(*App)
	ir.zone, ir.meter, ir.balancer = app.Zone, app.meter, app.balancer
	ir.clustered = app.clustered()
	ir.peering, ir.memory = app.peering, app.memory
	// Tenant names are canonical everywhere: the configured ones too.
	tenants, err := ir.Tenants.Normalized(ir.Tenant == hostPlaceholder)
	if err != nil {
		return fmt.Errorf("tenants: %v", err)
	}
	ir.tenants = tenants
	if app.tenants != nil {
		ir.tenants = tenant.Layered{app.tenants, tenants}
	}
	if ir.sources, ir.sourcesKey, err = process.LoadSourceBudget(app.SourceBudget, app.MaxFetches, app.memory); err != nil {
		return err
	}
	if ir.MaxSourceBytes > ir.sources.Limit() {
		return fmt.Errorf("max_source (%d bytes) is larger than the imgedge source_budget (%d bytes): no original that large could ever be fetched", ir.MaxSourceBytes, ir.sources.Limit())
	}
	if ir.node, err = nodeName(ir.Node, app.Node); err != nil {
		return err
	}

	if ir.pipeline, err = ir.pipelineConfig(); err != nil {
		return err
	}
	ir.metrics, err = process.RegisterMetrics(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("registering metrics: %v", err)
	}
	if err := ir.provisionEngine(queueLength); err != nil {
		return err
	}
	ir.cluster = &cluster.Cluster{Balancer: ir.balancer, Peering: ir.peering, Engine: ir.engine, Sources: ir.sources,
		Metrics: ir.metrics, Logger: ir.logger, Node: ir.node, Shield: app.Shield,
		FetchTimeout: time.Duration(ir.FetchTimeout), QueueTimeout: time.Duration(ir.QueueTimeout)}
	return nil
}

// Cleanup releases this config's hold on the shared cache; the cache
// itself lives on while another config (the next one, on a reload) uses it.
func (ir *ImageResize) Cleanup() error {
	return pool.Release([]pool.Key{{Pool: process.SourceBudgets, Key: ir.sourcesKey}, {Pool: process.VariantStores, Key: ir.storeKey},
		{Pool: process.DiskTiers, Key: ir.diskKey}, {Pool: process.JobSlots, Key: ir.slotsKey}, {Pool: process.Limiters, Key: ir.limiterKey}})
}

// Validate checks the configuration.
func (ir *ImageResize) Validate() error {
	switch {
	case ir.Concurrency < 0:
		return fmt.Errorf("concurrency must be at least 1, got %d", ir.Concurrency)
	case ir.QueueLength != nil && *ir.QueueLength < 0:
		return fmt.Errorf("queue length must not be negative, got %d", *ir.QueueLength)
	case ir.QueueTimeout < 0:
		return fmt.Errorf("queue timeout must not be negative, got %s", time.Duration(ir.QueueTimeout))
	case ir.MaxSourceBytes < 0:
		return fmt.Errorf("max_source bytes must be positive, got %d", ir.MaxSourceBytes)
	case ir.MaxSourcePixels < 0:
		return fmt.Errorf("max_source pixels must be positive, got %d", ir.MaxSourcePixels)
	case ir.MaxFrames < 0:
		return fmt.Errorf("max_frames must be positive, got %d", ir.MaxFrames)
	case ir.MaxWidth < 0 || ir.MaxWidth > 16383 || ir.MaxHeight < 0 || ir.MaxHeight > 16383:
		return fmt.Errorf("max_size must be from 1 to 16383 (the WebP limit), got %dx%d", ir.MaxWidth, ir.MaxHeight)
	case ir.MaxDPR < 0 || (ir.MaxDPR > 0 && ir.MaxDPR < 1):
		return fmt.Errorf("max_dpr must be at least 1, got %g", ir.MaxDPR)
	case ir.FetchTimeout < 0:
		return fmt.Errorf("fetch_timeout must not be negative, got %s", time.Duration(ir.FetchTimeout))
	case slices.ContainsFunc(ir.Marks, func(p string) bool { return !strings.HasPrefix(p, "/") }):
		return fmt.Errorf("marks %v: each must be a path of the site, starting with /", ir.Marks)
	case ir.CacheDisk != "" && ir.CacheDiskBytes <= 0:
		return fmt.Errorf("cache_disk %s: a size is required (cache_disk <dir> <size>)", ir.CacheDisk)
	case ir.CacheDisk != "" && ir.CacheOff:
		return fmt.Errorf("cache_disk with cache off: the disk tier is behind the memory cache")
	case ir.CacheBytes < 0 || ir.OriginalsBytes < 0:
		return fmt.Errorf("cache budgets must not be negative")
	case ir.AVIFEffort != nil && (*ir.AVIFEffort < 0 || *ir.AVIFEffort > 9):
		return fmt.Errorf("avif_effort must be from 0 to 9, got %d", *ir.AVIFEffort)
	case ir.WebPEffort != nil && (*ir.WebPEffort < 0 || *ir.WebPEffort > 6):
		return fmt.Errorf("webp_effort must be from 0 to 6, got %d", *ir.WebPEffort)
	}
	for name, q := range ir.Quality {
		if q < 1 || q > 100 {
			return fmt.Errorf("quality %s must be from 1 to 100, got %d", name, q)
		}
	}
	if err := ir.Tenants.Validate(); err != nil {
		return fmt.Errorf("tenants: %v", err)
	}
	return nil
}

// maxSourceString is the byte limit as people write it, for messages.
func (ir *ImageResize) maxSourceString() string {
	return humanize.IBytes(uint64(ir.MaxSourceBytes))
}

// Interface guards
var (
	_ caddy.Provisioner           = (*ImageResize)(nil)
	_ caddy.Validator             = (*ImageResize)(nil)
	_ caddy.CleanerUpper          = (*ImageResize)(nil)
	_ caddyhttp.MiddlewareHandler = (*ImageResize)(nil)
)
