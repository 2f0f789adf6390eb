package imgedge

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/imgedge/imgedge/internal/caddyopt"
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
	err := caddyopt.Block(d, nil, func(o *caddyopt.Option) error {
		if dst, ok := words[o.Name]; ok {
			o.Want(1, 1).Str(0, dst)
			return nil
		}
		switch o.Name {
		case "tenants_kv":
			app.TenantsKV = "imgedge/tenants/"
			o.Want(0, 1).Str(0, &app.TenantsKV)
		case "memory": // memory <bytes>
			o.Want(1, 1).Bytes(0, "", &app.Memory)
		case "source_budget": // source_budget <bytes> [<fetches>]
			o.Want(1, 2).Bytes(0, "", &app.SourceBudget).Ints(1, "source_budget fetches", 1, 0, &app.MaxFetches)
		case "prefer":
			o.Want(1, 64)
			app.Prefer = o.Args
		case "metering":
			if o.Want(0, 0).Err != nil {
				break
			}
			m, err := parseMetering(d)
			app.Metering = m
			return err
		default:
			return o.Unknown("imgedge")
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
	err := caddyopt.Block(d, nil, func(o *caddyopt.Option) error {
		switch o.Name {
		case "collector":
			o.Want(1, 1).Str(0, &m.Collector)
		case "token":
			o.Want(1, 1).Str(0, &m.Token)
		case "spool":
			o.Want(1, 1).Str(0, &m.Spool)
		case "batch": // batch <interval> [<records, 0: no limit> [<bytes>]]
			var n int64
			o.Want(1, 3).Duration(0, "batch interval", &m.BatchInterval).Ints(1, "batch records", 0, 0, &m.BatchRecords).Bytes(2, "batch bytes", &n)
			m.BatchBytes = int(n)
		case "spool_max":
			o.Want(1, 1).Bytes(0, "", &m.SpoolMaxBytes)
		default:
			return o.Unknown("metering")
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
