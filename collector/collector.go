// Package collector is the usage_collector Caddy handler: the central end
// of metering (metering.Collector) and the usage dashboard, served from a
// Caddy site.
package collector

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/imgedge/imgedge/dashboard"
	"github.com/imgedge/imgedge/internal/caddyopt"
	"github.com/imgedge/imgedge/internal/pool"
	"github.com/imgedge/imgedge/metering"
)

func init() {
	caddy.RegisterModule(UsageCollector{})
	httpcaddyfile.RegisterHandlerDirective("usage_collector", parseCollector)
	httpcaddyfile.RegisterDirectiveOrder("usage_collector", httpcaddyfile.Before, "invoke")
}

// UsageCollector is the central end of metering: edges POST CloudEvents
// batches to .../api/v1/events, and billing reads totals from
// .../api/v1/usage?tenant=&from=&to=&step=. Batches are stored
// idempotently: a replayed batch or event changes nothing. Paths ending
// in "/" get the usage dashboard (charts per tenant over time); other
// paths go on to the next handler.
//
// The collector does no authentication of its own: run it behind Caddy's
// basic_auth (or a matcher on a bearer token) for both the ingest and the
// read endpoints, and give the edges the credentials (metering `token`, or
// a user and password in the collector URL).
type UsageCollector struct {
	// Storage is "sqlite" (default) or "postgres".
	Storage string `json:"storage,omitempty"`

	// DSN is the SQLite file path or the PostgreSQL connection string.
	// Default for SQLite: imgedge-usage.db in Caddy's data directory.
	DSN string `json:"dsn,omitempty"`

	// MaxBodyBytes is the largest batch accepted; larger ones get 413.
	// Default: 10 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`

	// MaxEvents is the most events one batch may hold; larger ones get
	// 413. The body is read one event at a time, so a batch costs memory
	// in proportion to the events kept, never more. Default: 10000.
	MaxEvents int `json:"max_events,omitempty"`

	collector *metering.Collector
	storeKey  string // in usageStores
}

// CaddyModule returns the Caddy module information.
func (UsageCollector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.usage_collector", New: func() caddy.Module { return new(UsageCollector) }}
}

// usageStores holds the collectors' open stores by storage and DSN. A
// config reload reuses the store instead of closing it under the requests
// the old config is still answering; the last config to let go closes it.
var usageStores = caddy.NewUsagePool()

// Provision opens the store, or shares the one already open.
func (uc *UsageCollector) Provision(ctx caddy.Context) error {
	storage, dsn := firstNonEmpty(uc.Storage, "sqlite"), uc.DSN
	var open func() (metering.Store, error)
	switch storage {
	case "sqlite":
		if dsn == "" {
			dsn = caddy.AppDataDir() + "/imgedge-usage.db"
		}
		open = func() (metering.Store, error) { return metering.OpenSQLite(dsn) }
	case "postgres":
		// The context only bounds creating the schema: the store
		// connects per request.
		open = func() (metering.Store, error) { return metering.OpenPostgres(ctx, dsn) }
	default:
		return fmt.Errorf("usage_collector: unknown storage %q (want sqlite or postgres)", uc.Storage)
	}
	key := storage + "|" + dsn
	store, _, err := pool.Load(usageStores, key, func() (metering.Store, func() error, error) {
		s, err := open()
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	})
	if err != nil {
		return fmt.Errorf("usage_collector: opening %s storage: %v", storage, err)
	}
	uc.storeKey = key
	uc.collector = &metering.Collector{Store: store, MaxBodyBytes: uc.MaxBodyBytes, MaxEvents: uc.MaxEvents, Logger: ctx.Logger()}
	return nil
}

// ServeHTTP answers the collector's API and the usage dashboard.
func (uc *UsageCollector) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p := r.URL.Path
	if strings.HasSuffix(p, "/api/v1/events") || strings.HasSuffix(p, "/api/v1/usage") {
		uc.collector.ServeHTTP(w, r)
		return nil
	}
	if dashboard.Serve(w, r) {
		return nil
	}
	return next.ServeHTTP(w, r)
}

// Cleanup lets go of the store; the last config to do so closes it.
func (uc *UsageCollector) Cleanup() error {
	if uc.storeKey == "" {
		return nil
	}
	_, err := usageStores.Delete(uc.storeKey)
	uc.storeKey = ""
	return err
}

func parseCollector(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	uc := new(UsageCollector)
	err := uc.UnmarshalCaddyfile(h.Dispenser)
	return uc, err
}

// UnmarshalCaddyfile sets up the collector. Syntax:
//
//	usage_collector {
//		storage    sqlite <path> | postgres <dsn>
//		max_body   <bytes>
//		max_events <count>
//	}
func (uc *UsageCollector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	return caddyopt.Block(d, nil, func(o *caddyopt.Option) error {
		switch o.Name {
		case "storage":
			if len(o.Args) != 2 || (o.Args[0] != "sqlite" && o.Args[0] != "postgres") {
				return d.Err("storage: want 'sqlite <path>' or 'postgres <dsn>'")
			}
			uc.Storage, uc.DSN = o.Args[0], o.Args[1]
		case "max_body":
			o.Want(1, 1).Bytes(0, "", &uc.MaxBodyBytes)
		case "max_events":
			o.Want(1, 1).Ints(0, "", 1, 0, &uc.MaxEvents)
		default:
			return o.Unknown("usage_collector")
		}
		return nil
	})
}

var (
	_ caddy.Provisioner           = (*UsageCollector)(nil)
	_ caddy.CleanerUpper          = (*UsageCollector)(nil)
	_ caddyhttp.MiddlewareHandler = (*UsageCollector)(nil)
	_ caddyfile.Unmarshaler       = (*UsageCollector)(nil)
)

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
