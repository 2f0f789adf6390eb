// Package tenant holds what imgedge knows about the customers it serves and
// the protections each one chooses: signed URLs, allow-lists that stop
// cache busting, output limits and a request rate limit.
//
// A tenant is a name (by default the site's host, in the form Canonical
// gives). Its Settings come from a Store: Static for settings written in
// the Caddyfile, Watched for settings in Consul KV, Layered for both. A
// tenant named "*" (Default) holds the settings of every tenant not listed
// by name. The HTTP handler runs the checks in this order, each with its
// own status:
//
//	name, err := Normalize(host, true)                // 400
//	settings, listed := store.Get(name)               // unlisted: the "*" settings
//	ok, wait := limiter.Allow(bucket, settings.RateLimit) // 429 + Retry-After
//	err := VerifyRequest(settings, path, rawQuery, query) // 403 (every request when settings.Protects())
//	lim := settings.Limits(handlerLimits)
//	query, err = Apply(settings, query, lim)          // 400, naming the parameter
//	opts, err := transform.Parse(query, lim)          // 400
//
// The package is plain Go: it knows nothing of Caddy or HTTP statuses.
package tenant

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/imgedge/imgedge/transform"
)

// Settings are one tenant's protections. The zero value protects nothing:
// no signature, any size within the handler's limits, every format, no
// rate limit. Settings are shared between requests; treat them as
// read-only once a Store hands them out.
type Settings struct {
	// SigningKeys are the keys a URL signature may be made with. Several
	// keys let a tenant rotate: add the new key, sign with it, and remove
	// the old one once no URL signed with it is in use. Default: none.
	SigningKeys []Key `json:"signing_keys,omitempty"`

	// RequireSignature refuses (403) every image request whose `s`
	// parameter is missing or does not match one of SigningKeys. When
	// false, signatures are not checked at all. Default: false.
	RequireSignature bool `json:"require_signature,omitempty"`

	// ImgixToken, when set, also accepts imgix's signatures: an s that is
	// the hex MD5 of the token, the path and "?" and the query without s,
	// exactly as the imgix libraries' secureURLToken makes it, so signed
	// URLs carry over from imgix unchanged. Default: none.
	ImgixToken string `json:"imgix_token,omitempty"`

	// AllowedWidths, when set, bounds the output widths a request can
	// produce, whatever parameters make the width: the box's width in
	// device pixels (w times dpr, within max-w and min-w, or made by ar
	// from h) is rounded up to the nearest allowed width, and a width above
	// the largest becomes the largest; a requested height is scaled by the
	// same factor, so the box keeps its aspect ratio. rect without w takes
	// the region's width, rounded down (a region is not enlarged). What
	// would take the width from the source's shape is refused (400 naming
	// the parameter): h or max-h without w, ar without w or h, a height or
	// region that would narrow an image fitted inside its box, trim unless
	// the output fills a box, padding on the sides. A preset's geometry
	// stays as the operator wrote it until the request sets a width
	// parameter. Heights, quality and effects are not bounded by it;
	// PresetsOnly bounds everything. Default: any width up to the maximum.
	AllowedWidths []int `json:"allowed_widths,omitempty"`

	// Presets name parameter sets a request selects with `preset=name`.
	// Each value is a query string of image parameters, for example
	// "w=400&h=300&fit=cover". A request's own parameters are added to the
	// preset's; one the preset already sets is refused. Default: none (and
	// then `preset` is not an image parameter for this tenant).
	Presets map[string]string `json:"presets,omitempty"`

	// PresetsOnly refuses (400) every image parameter but `preset` and the
	// signature, so the number of variants per source is the number of
	// presets. Default: false.
	PresetsOnly bool `json:"presets_only,omitempty"`

	// MaxWidth and MaxHeight lower the handler's output limits (max_size)
	// for this tenant; they never raise them. Default: 0, the handler's.
	MaxWidth  int `json:"max_width,omitempty"`
	MaxHeight int `json:"max_height,omitempty"`

	// Formats are the values the `f` parameter (and `auto=format`) may
	// take: any of auto, avif, webp, jpeg (jpg), png, gif. A request
	// without a format, answered in the source's own family, is always
	// allowed. Default: all.
	Formats []string `json:"formats,omitempty"`

	// DefaultQuality is the quality (1-100) used when a request gives none.
	// Default: 0, the handler's per-format quality.
	DefaultQuality int `json:"default_quality,omitempty"`

	// Watermark, when set, is laid over every variant of the tenant: imgix
	// mark parameters as a query string, such as
	// "mark=/logo.png&mark-align=bottom,right&mark-alpha=60&mark-scale=20".
	// It replaces any mark parameters a request gives. Every GET of an
	// image is marked, one without image parameters included, and methods
	// other than GET, HEAD and OPTIONS are refused (405), so the original
	// is not to be had unmarked. Default: none.
	Watermark string `json:"watermark,omitempty"`

	// RateLimit bounds the tenant's image requests on each node.
	// Default: unlimited.
	RateLimit RateLimit `json:"rate_limit,omitempty"`
}

// Key is one signing key.
type Key struct {
	// ID names the key inside signatures (`s=<id>.<mac>`): 1 to 64 of
	// A-Z a-z 0-9 - _. It is not secret.
	ID string `json:"id"`
	// Secret is the HMAC-SHA256 key, at least 16 bytes (32 random bytes
	// recommended). In JSON it is standard base64.
	Secret []byte `json:"secret"`
}

// String names the key without its secret, so keys printed with %v or in
// logs never leak it.
func (k Key) String() string { return fmt.Sprintf("key %q", k.ID) }

// GoString is String, for %#v.
func (k Key) GoString() string { return k.String() }

// RateLimit is a token bucket: Rate requests per second on average, with
// bursts of up to Burst requests.
type RateLimit struct {
	// Rate is the sustained rate in requests per second. Default: 0,
	// unlimited.
	Rate float64 `json:"rate,omitempty"`
	// Burst is how many requests may arrive at once after a quiet period.
	// Default: the rate rounded up, at least 1.
	Burst int `json:"burst,omitempty"`
}

// Store finds a tenant's settings. Implementations must be safe for
// concurrent use and answer from memory: Get runs on every image request.
// A store backed by a remote source (Consul KV) keeps the last settings it
// saw while the source is unreachable.
type Store interface {
	// Get returns the settings of the tenant, named as Normalize gives
	// it, and true when the store lists it by name. For any other name it
	// returns the Default settings (the zero Settings when there are none)
	// and false, so the caller can share one rate-limit bucket among
	// unlisted tenants.
	Get(tenant string) (Settings, bool)
}

// Defaulter is a Store that may hold Default settings for unlisted
// tenants. Layered asks it when no store lists a tenant.
type Defaulter interface {
	// Defaults returns the Default settings; false when there are none.
	Defaults() (Settings, bool)
}

// Static is a Store of fixed settings, such as those in a Caddyfile, keyed
// by tenant name. The name Default ("*") holds the settings of every
// tenant not listed. Lookups compare names exactly: use Normalized once to
// key a configured Static the way requests name their tenants.
type Static map[string]Settings

// Get returns the settings stored under the tenant's exact name, or the
// Default settings and false.
func (s Static) Get(tenant string) (Settings, bool) {
	if tenant != Default {
		if set, ok := s[tenant]; ok {
			return set, true
		}
	}
	return s[Default], false
}

// Defaults returns the settings stored under Default.
func (s Static) Defaults() (Settings, bool) {
	set, ok := s[Default]
	return set, ok
}

// Normalized returns a copy of s keyed by the names requests will look it
// up by: each name as Normalize(name, fromHost) gives it, where fromHost
// says the tenant is the request's host (then "IMG.example.com." is keyed
// "img.example.com"); Default stays as it is. It refuses a name Normalize
// refuses, and two names that become the same, naming both.
func (s Static) Normalized(fromHost bool) (Static, error) {
	out := make(Static, len(s))
	from := make(map[string]string, len(s))
	for _, name := range slices.Sorted(maps.Keys(s)) {
		n, err := configName(name, fromHost)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", name, err)
		}
		if first, dup := from[n]; dup {
			return nil, fmt.Errorf("tenants %q and %q are the same tenant %q", first, name, n)
		}
		from[n] = name
		out[n] = s[name]
	}
	return out, nil
}

// Validate checks every tenant's settings, and that no two names differ
// only in surrounding white space (Normalized also refuses names that
// become the same host name).
func (s Static) Validate() error {
	seen := make(map[string]string, len(s))
	for _, name := range slices.Sorted(maps.Keys(s)) {
		if err := s[name].Validate(); err != nil {
			return fmt.Errorf("tenant %q: %w", name, err)
		}
		n := strings.TrimSpace(name)
		if first, dup := seen[n]; dup {
			return fmt.Errorf("tenants %q and %q are the same tenant %q", first, name, n)
		}
		seen[n] = name
	}
	return nil
}

// Layered is a Store made of others, in order of precedence: the first
// that lists a tenant by name answers; for an unlisted tenant, the Default
// settings of the first store that has them.
type Layered []Store

// Get implements Store.
func (l Layered) Get(tenant string) (Settings, bool) {
	for _, st := range l {
		if set, ok := st.Get(tenant); ok {
			return set, true
		}
	}
	set, _ := l.Defaults()
	return set, false
}

// Defaults implements Defaulter.
func (l Layered) Defaults() (Settings, bool) {
	for _, st := range l {
		if d, ok := st.(Defaulter); ok {
			if set, ok := d.Defaults(); ok {
				return set, true
			}
		}
	}
	return Settings{}, false
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// MinSecretLen is the shortest signing secret accepted, in bytes.
const MinSecretLen = 16

// PresetParam is the query parameter that selects a preset.
const PresetParam = "preset"

// Validate checks the settings without changing them.
func (s Settings) Validate() error {
	ids := map[string]bool{}
	for i, k := range s.SigningKeys {
		if !idPattern.MatchString(k.ID) {
			return fmt.Errorf("signing key %d: id %q must be 1 to 64 of A-Z a-z 0-9 - _", i, k.ID)
		}
		if ids[k.ID] {
			return fmt.Errorf("signing key %q is given more than once", k.ID)
		}
		ids[k.ID] = true
		if len(k.Secret) < MinSecretLen {
			return fmt.Errorf("signing key %q: secret is %d bytes, want at least %d", k.ID, len(k.Secret), MinSecretLen)
		}
	}
	if s.RequireSignature && len(s.SigningKeys) == 0 && s.ImgixToken == "" {
		return errors.New("require_signature needs at least one signing key or an imgix_token")
	}
	if s.MaxWidth < 0 || s.MaxHeight < 0 {
		return fmt.Errorf("max_width and max_height must not be negative (got %d, %d)", s.MaxWidth, s.MaxHeight)
	}
	for _, w := range s.AllowedWidths {
		if w < 1 || (s.MaxWidth > 0 && w > s.MaxWidth) {
			return fmt.Errorf("allowed width %d must be at least 1 and at most max_width", w)
		}
	}
	for _, f := range s.Formats {
		if _, ok := formatOf(f); !ok {
			return fmt.Errorf("format %q is not one of auto, avif, webp, jpeg, png, gif", f)
		}
	}
	if s.DefaultQuality < 0 || s.DefaultQuality > 100 {
		return fmt.Errorf("default_quality %d is out of range 1..100", s.DefaultQuality)
	}
	if s.RateLimit.Rate < 0 || s.RateLimit.Burst < 0 {
		return fmt.Errorf("rate_limit must not be negative (got rate %g, burst %d)", s.RateLimit.Rate, s.RateLimit.Burst)
	}
	if s.Watermark != "" {
		q, err := url.ParseQuery(s.Watermark)
		if err != nil {
			return fmt.Errorf("watermark: %v", err)
		}
		for k := range q {
			if name, _ := transform.ParamName(k); !strings.HasPrefix(name, "mark") {
				return fmt.Errorf("watermark: %s is not a mark parameter (mark, mark-align, mark-w, mark-h, mark-scale, mark-alpha, mark-pad)", k)
			}
		}
		if q.Get("mark") == "" {
			return errors.New("watermark: mark=<path> is required")
		}
		if _, err := transform.Parse(q, s.Limits(transform.DefaultLimits)); err != nil {
			return fmt.Errorf("watermark: %v", err)
		}
	}
	if s.PresetsOnly && len(s.Presets) == 0 {
		return errors.New("presets_only needs at least one preset")
	}
	// Preset values are checked for their syntax only; their sizes meet the
	// handler's limits at request time.
	lim := s.Limits(transform.Limits{MaxWidth: transform.Unbounded, MaxHeight: transform.Unbounded, MaxDPR: 100, Strict: true})
	for _, name := range slices.Sorted(maps.Keys(s.Presets)) {
		if !idPattern.MatchString(name) {
			return fmt.Errorf("preset name %q must be 1 to 64 of A-Z a-z 0-9 - _", name)
		}
		q, err := url.ParseQuery(s.Presets[name])
		if err != nil {
			return fmt.Errorf("preset %q: %v", name, err)
		}
		for k := range q {
			if isParam(k, "s", PresetParam) {
				return fmt.Errorf("preset %q: %s cannot be part of a preset", name, k)
			}
		}
		if _, err := transform.Parse(q, lim); err != nil {
			return fmt.Errorf("preset %q: %w", name, err)
		}
	}
	return nil
}

// Limits is base, the handler's limits, lowered by the tenant's MaxWidth
// and MaxHeight. Apply and transform.Parse take the result.
func (s Settings) Limits(base transform.Limits) transform.Limits {
	if s.MaxWidth > 0 {
		base.MaxWidth = min(base.MaxWidth, s.MaxWidth)
	}
	if s.MaxHeight > 0 {
		base.MaxHeight = min(base.MaxHeight, s.MaxHeight)
	}
	return base
}

// WantsImage reports whether the request asks this tenant for image work:
// an image parameter, or a preset when the tenant has presets; with a
// Watermark, every request (its images are never served unmarked). A
// request that does not passes through untouched.
func (s Settings) WantsImage(req *transform.Request) bool {
	if req.Image || s.Watermark != "" {
		return true
	}
	if len(s.Presets) > 0 {
		for k := range req.Query {
			if isParam(k, PresetParam) {
				return true
			}
		}
	}
	return false
}

// Protects reports whether the tenant guards every request, not only
// those that WantsImage: with RequireSignature or PresetsOnly, a request
// without image parameters (the original, or the origin's own query
// parameters) must pass Verify and Apply too, or a client could fetch
// unsigned originals and vary the query to bust the cache. With a
// Watermark every GET is image work already (WantsImage), and a request
// by any method but GET, HEAD and OPTIONS must not reach the route
// either, or an origin that answers it would hand out the unmarked
// original.
func (s Settings) Protects() bool { return s.RequireSignature || s.PresetsOnly || s.Watermark != "" }

// isParam reports whether query key k is one of names, ignoring case as
// transform.Parse does.
func isParam(k string, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(k, n) {
			return true
		}
	}
	return false
}

// formatOf reads a format name as the f parameter does.
func formatOf(name string) (transform.Format, bool) {
	o, err := transform.Parse(url.Values{"f": {name}}, transform.DefaultLimits)
	return o.Format, err == nil && o.Format != transform.FormatSource
}

var (
	_ Store     = Static(nil)
	_ Defaulter = Static(nil)
	_ Store     = Layered(nil)
	_ Defaulter = Layered(nil)
)
