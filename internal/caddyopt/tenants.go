package caddyopt

import (
	"encoding/base64"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/imgedge/imgedge/tenant"
)

// Tenants reads a tenants block, per-tenant settings, into dst:
//
//	tenants {
//		<tenant> {
//			sign_key          <id> <base64 secret>
//			require_signature
//			imgix_token       <token>
//			widths            <w>...
//			preset            <name> <query, e.g. w=200&h=200&fit=cover>
//			presets_only
//			max_size          <width> [<height>]
//			formats           <auto|avif|webp|jpeg|png|gif>...
//			quality           <1-100>
//			rate_limit        <per second> [<burst>]
//			watermark         <mark parameters, e.g. mark=/logo.png&mark-alpha=60>
//		}
//	}
func Tenants(d *caddyfile.Dispenser, dst tenant.Static) error {
	for outer := d.Nesting(); d.NextBlock(outer); {
		name := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		if _, dup := dst[name]; dup {
			return d.Errf("tenant %q given more than once", name)
		}
		var set tenant.Settings
		repeatable := map[string]bool{"sign_key": true, "preset": true, "widths": true, "formats": true}
		err := Block(d, repeatable, func(o *Option) error {
			switch o.Name {
			case "sign_key":
				if o.Want(2, 2).Err != nil {
					break
				}
				secret, err := base64.StdEncoding.DecodeString(o.Args[1])
				if err != nil {
					return d.Errf("sign_key %s: the secret must be standard base64", o.Args[0])
				}
				set.SigningKeys = append(set.SigningKeys, tenant.Key{ID: o.Args[0], Secret: secret})
			case "require_signature":
				o.Want(0, 0)
				set.RequireSignature = true
			case "imgix_token":
				o.Want(1, 1).Str(0, &set.ImgixToken)
			case "widths":
				o.Want(1, 64)
				for i := range o.Args {
					var w int
					o.Ints(i, "", 1, 0, &w)
					set.AllowedWidths = append(set.AllowedWidths, w)
				}
			case "preset":
				if o.Want(2, 2).Err == nil {
					if set.Presets == nil {
						set.Presets = map[string]string{}
					}
					set.Presets[o.Args[0]] = o.Args[1]
				}
			case "presets_only":
				o.Want(0, 0)
				set.PresetsOnly = true
			case "max_size":
				o.Want(1, 2).Ints(0, "", 1, 0, &set.MaxWidth)
				set.MaxHeight = set.MaxWidth
				o.Ints(1, "", 1, 0, &set.MaxHeight)
			case "formats":
				o.Want(1, 6)
				set.Formats = append(set.Formats, o.Args...)
			case "quality":
				o.Want(1, 1).Ints(0, "", 1, 100, &set.DefaultQuality)
			case "watermark":
				o.Want(1, 1).Str(0, &set.Watermark)
			case "rate_limit":
				o.Want(1, 2).Float(0, "rate_limit (requests per second)", 0, true, &set.RateLimit.Rate).Ints(1, "rate_limit burst", 1, 0, &set.RateLimit.Burst)
			default:
				return o.Unknown("tenant")
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := set.Validate(); err != nil {
			return d.Errf("tenant %s: %v", name, err)
		}
		dst[name] = set
	}
	return nil
}
