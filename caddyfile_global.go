package imgedge

import (
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
//		cluster   on|off
//		shield    <zone>
//		secret    <shared secret, 32+ characters>
//		peer_ca   <PEM file: the CAs of https advertise URLs>
//		source_budget <bytes> [<fetches>]
//		memory    <bytes>
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
	// The options that take one word.
	words := map[string]*string{
		"zone": &app.Zone, "node": &app.Node, "consul": &app.Consul, "consul_token": &app.ConsulToken,
		"service": &app.Service, "advertise": &app.Advertise, "secret": &app.Secret,
		"peer_ca": &app.PeerCA, "cluster": &app.Cluster, "shield": &app.Shield,
	}
	err := options(d, nil, func(o *option) error {
		if dst, ok := words[o.name]; ok {
			o.want(1, 1).str(0, dst)
			return nil
		}
		switch o.name {
		case "tenants_kv":
			app.TenantsKV = "imgedge/tenants/"
			o.want(0, 1).str(0, &app.TenantsKV)
		case "memory": // memory <bytes>
			o.want(1, 1).bytes(0, "", &app.Memory)
		case "source_budget": // source_budget <bytes> [<fetches>]
			o.want(1, 2).bytes(0, "", &app.SourceBudget).ints(1, "source_budget fetches", 1, 0, &app.MaxFetches)
		case "prefer":
			o.want(1, 64)
			app.Prefer = o.args
		case "metering":
			if o.want(0, 0).err != nil {
				break
			}
			m, err := parseMetering(d)
			app.Metering = m
			return err
		default:
			return o.unknown("imgedge")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "imgedge", Value: caddyconfig.JSON(app, nil)}, nil
}

func parseMetering(d *caddyfile.Dispenser) (*MeteringConfig, error) {
	m := new(MeteringConfig)
	err := options(d, nil, func(o *option) error {
		switch o.name {
		case "collector":
			o.want(1, 1).str(0, &m.Collector)
		case "token":
			o.want(1, 1).str(0, &m.Token)
		case "spool":
			o.want(1, 1).str(0, &m.Spool)
		case "batch": // batch <interval> [<records, 0: no limit> [<bytes>]]
			var n int64
			o.want(1, 3).duration(0, "batch interval", &m.BatchInterval).ints(1, "batch records", 0, 0, &m.BatchRecords).bytes(2, "batch bytes", &n)
			m.BatchBytes = int(n)
		case "spool_max":
			o.want(1, 1).bytes(0, "", &m.SpoolMaxBytes)
		default:
			return o.unknown("metering")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.Spool == "" {
		return nil, d.Err("metering needs a spool directory")
	}
	return m, nil
}
