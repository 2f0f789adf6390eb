package tenant

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/imgedge/imgedge/transform"
)

// Apply enforces the tenant's parameter policy on an image request and
// returns the request with its query as the policy makes it and its
// Options parsed from that query against lim (s.Limits of the handler's).
// The request given is not modified. In order:
//
//   - with RequireSignature, expires (checked by Verify) is removed, so it
//     neither reaches the origin nor keys the cache;
//   - preset=name is replaced by the preset's parameters; a request
//     parameter the preset also sets is refused, and with PresetsOnly every
//     parameter but preset, s and (with RequireSignature) expires is
//     refused, the origin's own included, so that no query can make another
//     cache entry, and preset is required;
//   - DefaultQuality fills in q when the request gives no quality;
//   - the parameters are parsed against lim: out-of-range values are
//     refused;
//   - f (or auto=format) must be one of Formats;
//   - with AllowedWidths, the width the output will have is rounded to an
//     allowed width whenever the request's own parameters take part in it
//     (w, dpr, max-w, ar, rect...), and what would take it from the
//     source's shape is refused: see roundWidth.
//
// Refusals are *transform.Error naming the parameter, like Parse's (400).
func Apply(s Settings, req *transform.Request, lim transform.Limits) (*transform.Request, error) {
	query := req.Query
	q := make(url.Values, len(query)+1)
	for k, v := range query {
		q[k] = slices.Clone(v)
	}
	if s.RequireSignature {
		del(q, ExpiresParam)
	}
	if err := s.expandPreset(q); err != nil {
		return nil, err
	}
	if s.Watermark != "" {
		// The tenant's mark, whatever the request asks.
		for k := range q {
			if name, ok := transform.ParamName(k); ok && strings.HasPrefix(name, "mark") {
				delete(q, k)
			}
		}
		mark, _ := url.ParseQuery(s.Watermark) // checked by Validate
		for k, v := range mark {
			q[k] = v
		}
	}
	if s.DefaultQuality > 0 && !has(q, "q") {
		q.Set("q", strconv.Itoa(s.DefaultQuality))
	}
	opts, err := transform.Parse(q, lim)
	if err != nil {
		return nil, err
	}
	if err := s.checkFormat(q, opts.Format); err != nil {
		return nil, err
	}
	if len(s.AllowedWidths) > 0 {
		if err := s.roundWidth(q, query, opts, lim); err != nil {
			return nil, err
		}
		// The width rounded in q: the options are q's.
		if opts, err = transform.Parse(q, lim); err != nil {
			return nil, err
		}
	}
	out := *req
	out.Query, out.Options = q, opts
	return &out, nil
}

// expandPreset replaces preset=name in q with the preset's parameters and
// enforces PresetsOnly. A tenant without presets leaves preset alone: it
// is then no image parameter (and goes to the origin).
func (s Settings) expandPreset(q url.Values) error {
	if len(s.Presets) == 0 {
		return nil
	}
	var names []string
	for _, k := range sortedKeys(q) {
		if isParam(k, PresetParam) {
			names = append(names, q[k]...)
			delete(q, k)
		}
	}
	if len(names) > 1 {
		return &transform.Error{Param: PresetParam, Msg: "given more than once"}
	}
	if s.PresetsOnly {
		for _, k := range sortedKeys(q) {
			if !isParam(k, SignatureParam) {
				return &transform.Error{Param: k, Msg: "not allowed here: only preset=name is"}
			}
		}
		if len(names) == 0 {
			return &transform.Error{Param: PresetParam, Msg: "required here: name one of " + strings.Join(slices.Sorted(maps.Keys(s.Presets)), ", ")}
		}
	}
	if len(names) == 0 {
		return nil
	}
	name := strings.TrimSpace(names[0])
	raw, ok := s.Presets[name]
	if !ok {
		return &transform.Error{Param: PresetParam, Msg: fmt.Sprintf("%q is not a preset here", name)}
	}
	pq, err := url.ParseQuery(raw)
	if err != nil {
		return &transform.Error{Param: PresetParam, Msg: fmt.Sprintf("preset %q is misconfigured", name)}
	}
	for _, k := range sortedKeys(q) {
		if has(pq, k) {
			return &transform.Error{Param: k, Msg: fmt.Sprintf("already set by preset %q", name)}
		}
	}
	for k, v := range pq {
		q[k] = v
	}
	return nil
}

// checkFormat refuses an output format outside s.Formats.
func (s Settings) checkFormat(q url.Values, f transform.Format) error {
	if len(s.Formats) == 0 || f == transform.FormatSource {
		return nil
	}
	for _, name := range s.Formats {
		if g, ok := formatOf(name); ok && g == f {
			return nil
		}
	}
	param := "f"
	for _, k := range sortedKeys(q) {
		if sameParam(k, "f", "auto") {
			param = k
			break
		}
	}
	name := f.String()
	if f == transform.FormatAuto {
		name = "auto"
	}
	return &transform.Error{Param: param, Msg: fmt.Sprintf("format %s is not allowed here (allowed: %s)", name, strings.Join(s.Formats, ", "))}
}

// has reports whether q has a key that is one of names, under any alias.
func has(q url.Values, names ...string) bool {
	for k := range q {
		if sameParam(k, names...) {
			return true
		}
	}
	return false
}

// del removes every key of q that is one of names, under any alias.
func del(q url.Values, names ...string) {
	for k := range q {
		if sameParam(k, names...) {
			delete(q, k)
		}
	}
}

// sameParam reports whether query key k is one of names: the same image
// parameter under any alias and case (transform's table), or the same
// other key in any case.
func sameParam(k string, names ...string) bool {
	canonical := func(key string) string {
		if name, ok := transform.ParamName(key); ok {
			return name
		}
		return strings.ToLower(key)
	}
	ck := canonical(k)
	for _, n := range names {
		if canonical(n) == ck {
			return true
		}
	}
	return false
}

func sortedKeys(q url.Values) []string { return slices.Sorted(maps.Keys(q)) }
