package imgedge

import (
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/imgedge/imgedge/internal/caddyopt"
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
//		webp_effort   <0-6>
//		cache         <size>|off [originals <size>]
//		cache_ttl     <floor> <cap>
//		cache_disk    <dir> <size>
//		marks         <path or prefix/>...
//		tenant        <name or placeholder>
//		tenants       { <tenant> { ... } }  (see parseTenants)
//		node          <name>
//		strict
//		accept_ch
//	}
//
// Bytes are written as 25MiB or 25MB; pixels as 50MP or 50000000.
func (ir *ImageResize) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	return caddyopt.Block(d, map[string]bool{"quality": true}, func(o *caddyopt.Option) error {
		switch o.Name {
		case "concurrency":
			o.Want(1, 1).Ints(0, "", 1, 0, &ir.Concurrency)
		case "queue":
			var n int
			o.Want(1, 2).Ints(0, "queue length", 0, 0, &n).Duration(1, "", &ir.QueueTimeout)
			ir.QueueLength = &n
		case "max_source":
			o.Want(1, 2).Bytes(0, "max_source bytes", &ir.MaxSourceBytes).Pixels(1, "max_source pixels", &ir.MaxSourcePixels)
		case "max_frames":
			o.Want(1, 1).Ints(0, "", 1, 0, &ir.MaxFrames)
		case "max_size":
			o.Want(1, 2).Ints(0, "", 1, 0, &ir.MaxWidth)
			ir.MaxHeight = ir.MaxWidth
			o.Ints(1, "", 1, 0, &ir.MaxHeight)
		case "max_dpr":
			o.Want(1, 1).Float(0, "", 1, false, &ir.MaxDPR)
		case "process_timeout":
			o.Want(1, 1).Duration(0, "", &ir.ProcessTimeout)
		case "fetch_timeout":
			o.Want(1, 1).Duration(0, "", &ir.FetchTimeout)
		case "cache_control":
			o.Want(1, 1).Str(0, &ir.CacheControl)
		case "quality":
			var q int
			if o.Want(2, 2).Ints(1, "", 1, 100, &q); o.Err != nil {
				break
			}
			format := strings.ToLower(o.Args[0])
			if _, ok := qualityFormats[format]; !ok {
				return d.Errf("quality: unknown format %q (want jpeg, webp or avif)", o.Args[0])
			}
			if ir.Quality == nil {
				ir.Quality = map[string]int{}
			}
			ir.Quality[format] = q
		case "avif_effort":
			e := 0
			o.Want(1, 1).Ints(0, "", 0, 9, &e)
			ir.AVIFEffort = &e
		case "webp_effort":
			e := 0
			o.Want(1, 1).Ints(0, "", 0, 6, &e)
			ir.WebPEffort = &e
		case "cache": // cache <size>|off [originals <size>]
			if len(o.Args) == 1 && o.Args[0] == "off" {
				ir.CacheOff = true
				break
			}
			if len(o.Args) == 3 && o.Args[1] != "originals" {
				return d.Errf("cache: want 'originals <size>' after the size, got %q", o.Args[1])
			}
			if len(o.Args) == 2 {
				return d.ArgErr()
			}
			o.Want(1, 3).Bytes(0, "", &ir.CacheBytes).Bytes(2, "cache originals", &ir.OriginalsBytes)
		case "marks": // marks <path or prefix/>...
			o.Want(1, 64)
			ir.Marks = append(ir.Marks, o.Args...)
		case "cache_disk": // cache_disk <dir> <size>
			o.Want(2, 2).Str(0, &ir.CacheDisk).Bytes(1, "cache_disk size", &ir.CacheDiskBytes)
		case "cache_ttl":
			o.Want(2, 2).Duration(0, "", &ir.CacheMinTTL).Duration(1, "", &ir.CacheMaxTTL)
		case "tenant":
			o.Want(1, 1).Str(0, &ir.Tenant)
		case "tenants":
			if o.Want(0, 0).Err == nil {
				return ir.parseTenants(d)
			}
		case "node":
			o.Want(1, 1).Str(0, &ir.Node)
		case "strict":
			o.Want(0, 0)
			ir.Strict = true
		case "accept_ch":
			o.Want(0, 0)
			ir.AcceptCH = true
		default:
			return o.Unknown("image_resize")
		}
		return nil
	})
}

// parseTenants reads the tenants block into ir.Tenants (see
// caddyopt.Tenants for its syntax).
func (ir *ImageResize) parseTenants(d *caddyfile.Dispenser) error {
	if ir.Tenants == nil {
		ir.Tenants = tenant.Static{}
	}
	return caddyopt.Tenants(d, ir.Tenants)
}

var (
	_ caddyfile.Unmarshaler = (*ImageResize)(nil)
)
