package imgedge

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/imgedge/imgedge/tenant"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("image_resize", parseCaddyfile)
	// With the middleware that wraps responses, after templates: before
	// handle/route blocks, reverse_proxy and file_server, so every handler
	// that produces originals comes after image_resize in the route.
	httpcaddyfile.RegisterDirectiveOrder("image_resize", httpcaddyfile.After, "templates")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	ir := new(ImageResize)
	err := ir.UnmarshalCaddyfile(h.Dispenser)
	return ir, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	image_resize {
//		concurrency   <jobs>
//		queue         <length> [<timeout>]
//		max_source    <bytes> [<pixels>]
//		max_frames    <frames>
//		max_size      <width> [<height>]
//		max_dpr       <ratio>
//		fetch_timeout <duration>
//		process_timeout <duration>
//		cache_control <value>
//		quality       <jpeg|webp|avif> <1-100>
//		avif_effort   <0-9>
//		cache         <size>|off [originals <size>]
//		cache_ttl     <floor> <cap>
//		tenant        <name or placeholder>
//		tenants       { <tenant> { ... } }  (see parseTenants)
//		node          <name>
//		strict
//	}
//
// Bytes are written as 25MiB or 25MB; pixels as 50MP or 50000000.
func (ir *ImageResize) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if seen[opt] && opt != "quality" {
			return d.Errf("%s given more than once", opt)
		}
		seen[opt] = true
		args := d.RemainingArgs()
		var err error
		switch opt {
		case "concurrency":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				ir.Concurrency, err = positiveInt(d, opt, args[0])
			}
		case "queue":
			if err = wantArgs(d, args, 1, 2); err != nil {
				break
			}
			n, perr := strconv.Atoi(args[0])
			if perr != nil || n < 0 {
				return d.Errf("queue length must be a whole number, 0 or more, got %q", args[0])
			}
			ir.QueueLength = &n
			if len(args) == 2 {
				ir.QueueTimeout, err = duration(d, opt, args[1])
			}
		case "max_source":
			if err = wantArgs(d, args, 1, 2); err != nil {
				break
			}
			if ir.MaxSourceBytes, err = parseBytes(d, "max_source bytes", args[0]); err != nil {
				break
			}
			if len(args) == 2 {
				ir.MaxSourcePixels, err = parsePixels(d, args[1])
			}
		case "max_frames":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				ir.MaxFrames, err = positiveInt(d, opt, args[0])
			}
		case "max_size":
			if err = wantArgs(d, args, 1, 2); err != nil {
				break
			}
			if ir.MaxWidth, err = positiveInt(d, opt, args[0]); err != nil {
				break
			}
			ir.MaxHeight = ir.MaxWidth
			if len(args) == 2 {
				ir.MaxHeight, err = positiveInt(d, opt, args[1])
			}
		case "max_dpr":
			if err = wantArgs(d, args, 1, 1); err != nil {
				break
			}
			f, perr := strconv.ParseFloat(args[0], 64)
			if perr != nil || f < 1 {
				return d.Errf("max_dpr must be a number, 1 or more, got %q", args[0])
			}
			ir.MaxDPR = f
		case "process_timeout":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				ir.ProcessTimeout, err = duration(d, opt, args[0])
			}
		case "fetch_timeout":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				ir.FetchTimeout, err = duration(d, opt, args[0])
			}
		case "cache_control":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				ir.CacheControl = args[0]
			}
		case "quality":
			if err = wantArgs(d, args, 2, 2); err != nil {
				break
			}
			if _, ok := qualityFormats[strings.ToLower(args[0])]; !ok {
				return d.Errf("quality: unknown format %q (want jpeg, webp or avif)", args[0])
			}
			q, perr := strconv.Atoi(args[1])
			if perr != nil || q < 1 || q > 100 {
				return d.Errf("quality must be from 1 to 100, got %q", args[1])
			}
			if ir.Quality == nil {
				ir.Quality = map[string]int{}
			}
			ir.Quality[strings.ToLower(args[0])] = q
		case "avif_effort":
			if err = wantArgs(d, args, 1, 1); err != nil {
				break
			}
			e, perr := strconv.Atoi(args[0])
			if perr != nil || e < 0 || e > 9 {
				return d.Errf("avif_effort must be from 0 to 9, got %q", args[0])
			}
			ir.AVIFEffort = &e
		case "cache":
			// cache <size>|off [originals <size>]
			if err = wantArgs(d, args, 1, 3); err != nil {
				break
			}
			if args[0] == "off" {
				if len(args) != 1 {
					return d.ArgErr()
				}
				ir.CacheOff = true
				break
			}
			if ir.CacheBytes, err = parseBytes(d, opt, args[0]); err != nil {
				break
			}
			if len(args) == 3 {
				if args[1] != "originals" {
					return d.Errf("cache: want 'originals <size>' after the size, got %q", args[1])
				}
				ir.OriginalsBytes, err = parseBytes(d, "cache originals", args[2])
			} else if len(args) == 2 {
				return d.ArgErr()
			}
		case "cache_ttl":
			if err = wantArgs(d, args, 2, 2); err != nil {
				break
			}
			if ir.CacheMinTTL, err = duration(d, opt, args[0]); err != nil {
				break
			}
			ir.CacheMaxTTL, err = duration(d, opt, args[1])
		case "tenant":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				ir.Tenant = args[0]
			}
		case "tenants":
			if err = wantArgs(d, args, 0, 0); err != nil {
				break
			}
			err = ir.parseTenants(d)
		case "node":
			err = wantArgs(d, args, 1, 1)
			if err == nil {
				ir.Node = args[0]
			}
		case "strict":
			err = wantArgs(d, args, 0, 0)
			ir.Strict = true
		default:
			return d.Errf("unknown image_resize option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseTenants reads per-tenant settings:
//
//	tenants {
//		<tenant> {
//			sign_key          <id> <base64 secret>
//			require_signature
//			widths            <w>...
//			preset            <name> <query, e.g. w=200&h=200&fit=cover>
//			presets_only
//			max_size          <width> [<height>]
//			formats           <auto|avif|webp|jpeg|png|gif>...
//			quality           <1-100>
//			rate_limit        <per second> [<burst>]
//		}
//	}
func (ir *ImageResize) parseTenants(d *caddyfile.Dispenser) error {
	if ir.Tenants == nil {
		ir.Tenants = tenant.Static{}
	}
	for outer := d.Nesting(); d.NextBlock(outer); {
		name := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		if _, dup := ir.Tenants[name]; dup {
			return d.Errf("tenant %q given more than once", name)
		}
		var set tenant.Settings
		for inner := d.Nesting(); d.NextBlock(inner); {
			opt := d.Val()
			args := d.RemainingArgs()
			var err error
			switch opt {
			case "sign_key":
				if err = wantArgs(d, args, 2, 2); err != nil {
					return err
				}
				secret, derr := base64.StdEncoding.DecodeString(args[1])
				if derr != nil {
					return d.Errf("sign_key %s: the secret must be standard base64", args[0])
				}
				set.SigningKeys = append(set.SigningKeys, tenant.Key{ID: args[0], Secret: secret})
			case "require_signature":
				err = wantArgs(d, args, 0, 0)
				set.RequireSignature = true
			case "widths":
				if err = wantArgs(d, args, 1, 64); err != nil {
					return err
				}
				for _, a := range args {
					w, perr := positiveInt(d, opt, a)
					if perr != nil {
						return perr
					}
					set.AllowedWidths = append(set.AllowedWidths, w)
				}
			case "preset":
				if err = wantArgs(d, args, 2, 2); err != nil {
					return err
				}
				if set.Presets == nil {
					set.Presets = map[string]string{}
				}
				set.Presets[args[0]] = args[1]
			case "presets_only":
				err = wantArgs(d, args, 0, 0)
				set.PresetsOnly = true
			case "max_size":
				if err = wantArgs(d, args, 1, 2); err != nil {
					return err
				}
				if set.MaxWidth, err = positiveInt(d, opt, args[0]); err != nil {
					return err
				}
				set.MaxHeight = set.MaxWidth
				if len(args) == 2 {
					set.MaxHeight, err = positiveInt(d, opt, args[1])
				}
			case "formats":
				err = wantArgs(d, args, 1, 6)
				set.Formats = append(set.Formats, args...)
			case "quality":
				if err = wantArgs(d, args, 1, 1); err != nil {
					return err
				}
				q, perr := strconv.Atoi(args[0])
				if perr != nil || q < 1 || q > 100 {
					return d.Errf("quality must be from 1 to 100, got %q", args[0])
				}
				set.DefaultQuality = q
			case "rate_limit":
				if err = wantArgs(d, args, 1, 2); err != nil {
					return err
				}
				r, perr := strconv.ParseFloat(args[0], 64)
				if perr != nil || r <= 0 {
					return d.Errf("rate_limit must be requests per second, more than 0, got %q", args[0])
				}
				set.RateLimit.Rate = r
				if len(args) == 2 {
					set.RateLimit.Burst, err = positiveInt(d, "rate_limit burst", args[1])
				}
			default:
				return d.Errf("unknown tenant option %q", opt)
			}
			if err != nil {
				return err
			}
		}
		if err := set.Validate(); err != nil {
			return d.Errf("tenant %s: %v", name, err)
		}
		ir.Tenants[name] = set
	}
	return nil
}

func wantArgs(d *caddyfile.Dispenser, args []string, lo, hi int) error {
	if len(args) < lo || len(args) > hi {
		return d.ArgErr()
	}
	return nil
}

func parseBytes(d *caddyfile.Dispenser, what, v string) (int64, error) {
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 {
		return 0, d.Errf("%s must be a size like 25MiB, got %q", what, v)
	}
	return int64(n), nil
}

func positiveInt(d *caddyfile.Dispenser, opt, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, d.Errf("%s must be a whole number, 1 or more, got %q", opt, v)
	}
	return n, nil
}

func duration(d *caddyfile.Dispenser, opt, v string) (caddy.Duration, error) {
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur < 0 {
		return 0, d.Errf("%s must be a duration like 250ms or 10s, got %q", opt, v)
	}
	return caddy.Duration(dur), nil
}

// parsePixels reads a pixel count: 50MP, 50M, 12.5MP or 50000000.
func parsePixels(d *caddyfile.Dispenser, v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "MP"):
		s, mult = strings.TrimSuffix(s, "MP"), 1e6
	case strings.HasSuffix(s, "M"):
		s, mult = strings.TrimSuffix(s, "M"), 1e6
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, d.Errf("max_source pixels must be like 50MP or 50000000, got %q", v)
	}
	return int64(f * mult), nil
}

var (
	_ caddyfile.Unmarshaler = (*ImageResize)(nil)
)
