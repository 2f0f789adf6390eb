package imgedge

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// parseGlobalOption reads the imgedge global option:
//
//	imgedge {
//		zone      <name>
//		node      <name>
//		consul    <url>
//		service   <name>
//		advertise <url>
//		prefer    <zone>...
//		secret    <shared secret, 32+ characters>
//		source_budget <bytes> [<fetches>]
//		tenants_kv [<prefix>]
//		metering {
//			collector <url>
//			token     <bearer token>
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
		case "secret":
			if !d.AllArgs(&app.Secret) {
				return nil, d.ArgErr()
			}
		case "source_budget":
			// source_budget <bytes> [<fetches>]
			args := d.RemainingArgs()
			if err := wantArgs(d, args, 1, 2); err != nil {
				return nil, err
			}
			var err error
			if app.SourceBudget, err = parseBytes(d, "source_budget", args[0]); err != nil {
				return nil, err
			}
			if len(args) == 2 {
				if app.MaxFetches, err = positiveInt(d, "source_budget fetches", args[1]); err != nil {
					return nil, err
				}
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
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return nil, d.Errf("metering option %q given more than once", opt)
		}
		seen[opt] = true
		args := d.RemainingArgs()
		var err error
		switch opt {
		case "collector":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				m.Collector = args[0]
			}
		case "token":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				m.Token = args[0]
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
