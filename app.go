package imgedge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/metering"
	"github.com/imgedge/imgedge/tenant"
)

func init() {
	caddy.RegisterModule(App{})
	httpcaddyfile.RegisterGlobalOption("imgedge", parseGlobalOption)
}

// App is imgedge's per-process state: which zone and node this is, and the
// usage meter. It is configured with the `imgedge` global option; without
// it every image_resize works alone and records no usage.
type App struct {
	// Zone names this node's zone, sent in the Imgedge-Zone header and in
	// usage records.
	Zone string `json:"zone,omitempty"`

	// Node names this server in headers and usage records. Default: the
	// host name (an image_resize `node` option wins for its site).
	Node string `json:"node,omitempty"`

	// Metering, when set, records the usage of every answered image
	// request and ships it to a collector.
	Metering *MeteringConfig `json:"metering,omitempty"`

	// Consul is the address of the Consul agent (e.g.
	// http://127.0.0.1:8500). When set, this node registers itself in its
	// Zone and forwards requests to the nearest healthy zone when its own
	// processing slots are full. Without it, every node works alone.
	Consul string `json:"consul,omitempty"`

	// ConsulToken is the ACL token for Consul, if it needs one.
	ConsulToken string `json:"consul_token,omitempty"`

	// Service is the Consul service name the nodes share.
	// Default: "imgedge".
	Service string `json:"service,omitempty"`

	// Advertise is the URL other nodes reach this one at, e.g.
	// http://edge-1.example.net:8080. Required with Consul.
	Advertise string `json:"advertise,omitempty"`

	// Prefer lists zones in the order to forward to, overriding the
	// distance Consul's network coordinates give.
	Prefer []string `json:"prefer,omitempty"`

	// TenantsKV, with Consul, reads per-tenant settings from Consul KV:
	// one JSON document per tenant under this prefix (e.g.
	// "imgedge/tenants/"), watched so changes apply within seconds without
	// a reload. They take precedence over image_resize's tenants.
	TenantsKV string `json:"tenants_kv,omitempty"`

	tenants     *tenant.Watched
	tenantsKey  string
	meter       *metering.Meter
	meterKey    string
	balancer    *balancer.Balancer
	balancerKey string
	logger      *zap.Logger
}

// MeteringConfig configures usage recording and shipping.
type MeteringConfig struct {
	// Collector is the URL of a usage_collector's POST /api/v1/events.
	// Empty: records are kept in the spool only.
	Collector string `json:"collector,omitempty"`

	// Spool is the directory where records wait, durably, until the
	// collector acknowledges them. Required. One process owns it; it is
	// kept across config reloads.
	Spool string `json:"spool"`

	// BatchInterval, BatchRecords and BatchBytes seal a batch at
	// whichever comes first. Defaults: 2s, no record limit, 1 MiB.
	BatchInterval caddy.Duration `json:"batch_interval,omitempty"`
	BatchRecords  int            `json:"batch_records,omitempty"`
	BatchBytes    int            `json:"batch_bytes,omitempty"`

	// SpoolMaxBytes caps the spool on disk; beyond it usage is kept as
	// in-memory per-tenant totals and shipped later. Default: 1 GiB.
	SpoolMaxBytes int64 `json:"spool_max_bytes,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "imgedge", New: func() caddy.Module { return new(App) }}
}

// meters holds the process's usage meters by spool directory, so a reload
// keeps one spool (and its open batches) instead of opening it twice.
var meters = caddy.NewUsagePool()

// shutdownFlush bounds how long a stopping process tries to ship usage.
// Nothing is lost past it: unshipped batches stay in the spool and go out
// after the next start.
const shutdownFlush = 3 * time.Second

// closeMeter flushes what it can within shutdownFlush; the rest stays on
// disk for the next start.
func closeMeter(m *metering.Meter, logger *zap.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownFlush)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		logger.Warn("usage spool closed with records left on disk for the next start", zap.Error(err))
	}
	return nil
}

// Provision opens (or reuses) the usage meter.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if err := a.provisionBalancer(); err != nil {
		return err
	}
	if err := a.provisionTenants(); err != nil {
		return err
	}
	if a.Metering == nil {
		return nil
	}
	m := a.Metering
	if m.Spool == "" {
		return fmt.Errorf("metering: spool directory is required")
	}
	source := "imgedge/" + a.Node
	meter, loaded, err := loadPooled(meters, m.Spool, func() (*metering.Meter, func() error, error) {
		meter, err := metering.New(metering.Config{
			Dir:           m.Spool,
			Collector:     m.Collector,
			Source:        source,
			BatchInterval: time.Duration(m.BatchInterval),
			BatchRecords:  m.BatchRecords,
			BatchBytes:    m.BatchBytes,
			SpoolMaxBytes: m.SpoolMaxBytes,
			Logger:        a.logger.Named("metering"),
		})
		if err != nil {
			return nil, nil, err
		}
		logger := a.logger
		return meter, func() error { return closeMeter(meter, logger) }, nil
	})
	if err != nil {
		return fmt.Errorf("metering: %v", err)
	}
	if loaded {
		a.logger.Debug("reusing the running usage spool; collector and batch changes apply after a restart", zap.String("spool", m.Spool))
	}
	a.meter, a.meterKey = meter, m.Spool
	return nil
}

// balancers holds the process's zone registration, so a reload keeps the
// node registered (and its discovered peers) instead of flapping.
var balancers = caddy.NewUsagePool()

func (a *App) provisionBalancer() error {
	if a.Consul == "" {
		return nil
	}
	if a.Zone == "" || a.Advertise == "" {
		return fmt.Errorf("zones: with consul, zone and advertise are required")
	}
	key := a.Consul + "|" + a.Service + "|" + a.Advertise + "|" + a.Zone
	b, _, err := loadPooled(balancers, key, func() (*balancer.Balancer, func() error, error) {
		b, err := balancer.New(balancer.Config{
			Zone:           a.Zone,
			Advertise:      a.Advertise,
			Consul:         a.Consul,
			Token:          a.ConsulToken,
			Service:        a.Service,
			ZonePreference: a.Prefer,
			Logger:         a.logger.Named("zones"),
		})
		if err != nil {
			return nil, nil, err
		}
		return b, b.Close, nil
	})
	if err != nil {
		return fmt.Errorf("zones: %v", err)
	}
	a.balancer, a.balancerKey = b, key
	return nil
}

// tenantStores holds the Consul KV watchers, kept across reloads.
var tenantStores = caddy.NewUsagePool()

func (a *App) provisionTenants() error {
	if a.TenantsKV == "" {
		return nil
	}
	if a.Consul == "" {
		return fmt.Errorf("tenants_kv needs consul")
	}
	key := a.Consul + "|" + a.TenantsKV
	w, _, err := loadPooled(tenantStores, key, func() (*tenant.Watched, func() error, error) {
		w, err := tenant.NewWatched(tenant.ConsulConfig{
			Address: a.Consul, Token: a.ConsulToken, Prefix: a.TenantsKV,
			Logger: a.logger.Named("tenants"),
		})
		if err != nil {
			return nil, nil, err
		}
		return w, func() error { w.Close(); return nil }, nil
	})
	if err != nil {
		return fmt.Errorf("tenants_kv: %v", err)
	}
	a.tenants, a.tenantsKey = w, key
	return nil
}

// Start implements caddy.App.
func (a *App) Start() error { return nil }

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Cleanup lets go of the meter; the last config to do so closes it.
func (a *App) Cleanup() error {
	var errs []error
	for _, r := range []struct {
		pool *caddy.UsagePool
		key  string
	}{{tenantStores, a.tenantsKey}, {balancers, a.balancerKey}, {meters, a.meterKey}} {
		if r.key != "" {
			if _, err := r.pool.Delete(r.key); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// parseGlobalOption reads the imgedge global option:
//
//	imgedge {
//		zone      <name>
//		node      <name>
//		consul    <url>
//		service   <name>
//		advertise <url>
//		prefer    <zone>...
//		tenants_kv [<prefix>]
//		metering {
//			collector <url>
//			spool     <dir>
//			batch     <interval> [<records, 0: no limit> [<bytes>]]
//			spool_max <bytes>
//		}
//	}
func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	d.Next()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "zone":
			if !d.AllArgs(&app.Zone) {
				return nil, d.ArgErr()
			}
		case "node":
			if !d.AllArgs(&app.Node) {
				return nil, d.ArgErr()
			}
		case "consul", "consul_token", "service", "advertise":
			opt := d.Val()
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			switch opt {
			case "consul":
				app.Consul = v
			case "consul_token":
				app.ConsulToken = v
			case "service":
				app.Service = v
			case "advertise":
				app.Advertise = v
			}
		case "tenants_kv":
			app.TenantsKV = "imgedge/tenants/"
			if d.NextArg() {
				app.TenantsKV = d.Val()
			}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
		case "prefer":
			app.Prefer = d.RemainingArgs()
			if len(app.Prefer) == 0 {
				return nil, d.ArgErr()
			}
		case "metering":
			if app.Metering != nil {
				return nil, d.Err("metering given more than once")
			}
			m, err := parseMetering(d)
			if err != nil {
				return nil, err
			}
			app.Metering = m
		default:
			return nil, d.Errf("unknown imgedge option %q", d.Val())
		}
	}
	return httpcaddyfile.App{Name: "imgedge", Value: caddyconfig.JSON(app, nil)}, nil
}

func parseMetering(d *caddyfile.Dispenser) (*MeteringConfig, error) {
	m := new(MeteringConfig)
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		args := d.RemainingArgs()
		var err error
		switch opt {
		case "collector":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				m.Collector = args[0]
			}
		case "spool":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				m.Spool = args[0]
			}
		case "batch":
			if err = wantArgs(d, args, 1, 3); err != nil {
				break
			}
			if m.BatchInterval, err = duration(d, "batch interval", args[0]); err != nil {
				break
			}
			if len(args) > 1 {
				n, perr := strconv.Atoi(args[1])
				if perr != nil || n < 0 {
					return nil, d.Errf("batch records must be a whole number, 0 (no limit) or more, got %q", args[1])
				}
				m.BatchRecords = n
			}
			if len(args) > 2 {
				var n int64
				n, err = parseBytes(d, "batch bytes", args[2])
				m.BatchBytes = int(n)
			}
		case "spool_max":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				m.SpoolMaxBytes, err = parseBytes(d, opt, args[0])
			}
		default:
			return nil, d.Errf("unknown metering option %q", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	if m.Spool == "" {
		return nil, d.Err("metering needs a spool directory")
	}
	return m, nil
}

var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
