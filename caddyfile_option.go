package imgedge

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// option is one line of a Caddyfile block: its name and its arguments,
// read with typed readers that stop at the first error, which err keeps.
// A reader of an optional argument that is absent leaves its target alone.
// Errors name the option (or what is given) and the value, as in
// `queue must be a duration like 250ms or 10s, got "soon"`.
type option struct {
	d    *caddyfile.Dispenser
	name string
	args []string
	err  error
}

// options reads the lines of the block the dispenser is at, refusing an
// option given twice unless repeatable, and calls fn for each.
func options(d *caddyfile.Dispenser, repeatable map[string]bool, fn func(o *option) error) error {
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		o := &option{d: d, name: d.Val(), args: d.RemainingArgs()}
		if seen[o.name] && !repeatable[o.name] {
			return d.Errf("%s given more than once", o.name)
		}
		seen[o.name] = true
		if err := fn(o); err != nil {
			return err
		}
		if o.err != nil {
			return o.err
		}
	}
	return nil
}

// unknown is the error for an option the block does not have.
func (o *option) unknown(block string) error {
	return o.d.Errf("unknown %s option %q", block, o.name)
}

// want checks the number of arguments.
func (o *option) want(lo, hi int) *option {
	if o.err == nil && (len(o.args) < lo || len(o.args) > hi) {
		o.err = o.d.ArgErr()
	}
	return o
}

// arg is argument i, and whether to read it.
func (o *option) arg(i int) (string, bool) {
	if o.err != nil || i >= len(o.args) {
		return "", false
	}
	return o.args[i], true
}

func (o *option) what(what string) string {
	if what == "" {
		return o.name
	}
	return what
}

func (o *option) fail(format string, args ...any) *option {
	if o.err == nil {
		o.err = o.d.Errf(format, args...)
	}
	return o
}

func (o *option) str(i int, dst *string) *option {
	if v, ok := o.arg(i); ok {
		*dst = v
	}
	return o
}

// ints reads a whole number from lo to hi (hi 0: no upper bound).
func (o *option) ints(i int, what string, lo, hi int, dst *int) *option {
	v, ok := o.arg(i)
	if !ok {
		return o
	}
	n, err := strconv.Atoi(v)
	switch {
	case hi > 0 && (err != nil || n < lo || n > hi):
		return o.fail("%s must be from %d to %d, got %q", o.what(what), lo, hi, v)
	case err != nil || n < lo:
		return o.fail("%s must be a whole number, %d or more, got %q", o.what(what), lo, v)
	}
	*dst = n
	return o
}

// float reads a number of at least lo (above lo, when above is set).
func (o *option) float(i int, what string, lo float64, above bool, dst *float64) *option {
	v, ok := o.arg(i)
	if !ok {
		return o
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || (above && f == lo) {
		bound := "or more"
		if above {
			bound = "more than that"
		}
		return o.fail("%s must be a number, %g %s, got %q", o.what(what), lo, bound, v)
	}
	*dst = f
	return o
}

// bytes reads a size such as 25MiB or 25MB.
func (o *option) bytes(i int, what string, dst *int64) *option {
	v, ok := o.arg(i)
	if !ok {
		return o
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 {
		return o.fail("%s must be a size like 25MiB, got %q", o.what(what), v)
	}
	*dst = int64(n)
	return o
}

// duration reads a duration such as 250ms or 10s.
func (o *option) duration(i int, what string, dst *caddy.Duration) *option {
	v, ok := o.arg(i)
	if !ok {
		return o
	}
	d, err := caddy.ParseDuration(v)
	if err != nil || d < 0 {
		return o.fail("%s must be a duration like 250ms or 10s, got %q", o.what(what), v)
	}
	*dst = caddy.Duration(d)
	return o
}

// pixels reads a pixel count: 50MP, 50M, 12.5MP or 50000000.
func (o *option) pixels(i int, what string, dst *int64) *option {
	v, ok := o.arg(i)
	if !ok {
		return o
	}
	s, mult := strings.ToUpper(strings.TrimSpace(v)), 1.0
	if t, ok := strings.CutSuffix(s, "MP"); ok {
		s, mult = t, 1e6
	} else if t, ok := strings.CutSuffix(s, "M"); ok {
		s, mult = t, 1e6
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return o.fail("%s must be like 50MP or 50000000, got %q", o.what(what), v)
	}
	*dst = int64(f * mult)
	return o
}
