// Package caddyopt reads the options of a Caddyfile block with typed
// readers that name the option and the bad value in their errors.
package caddyopt

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// Option is one line of a Caddyfile block: its name and its arguments,
// read with typed readers that stop at the first error, which err keeps.
// A reader of an optional argument that is absent leaves its target alone.
// Errors name the option (or what is given) and the value, as in
// `queue must be a duration like 250ms or 10s, got "soon"`.
type Option struct {
	d    *caddyfile.Dispenser
	Name string
	Args []string
	Err  error
}

// Block reads the lines of the block the dispenser is at, refusing an
// option given twice unless repeatable, and calls fn for each.
func Block(d *caddyfile.Dispenser, repeatable map[string]bool, fn func(o *Option) error) error {
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		o := &Option{d: d, Name: d.Val(), Args: d.RemainingArgs()}
		if seen[o.Name] && !repeatable[o.Name] {
			return d.Errf("%s given more than once", o.Name)
		}
		seen[o.Name] = true
		if err := fn(o); err != nil {
			return err
		}
		if o.Err != nil {
			return o.Err
		}
	}
	return nil
}

// Unknown is the error for an option the block does not have.
func (o *Option) Unknown(block string) error {
	return o.d.Errf("unknown %s option %q", block, o.Name)
}

// Want checks the number of arguments.
func (o *Option) Want(lo, hi int) *Option {
	if o.Err == nil && (len(o.Args) < lo || len(o.Args) > hi) {
		o.Err = o.d.ArgErr()
	}
	return o
}

// Arg is argument i, and whether to read it.
func (o *Option) Arg(i int) (string, bool) {
	if o.Err != nil || i >= len(o.Args) {
		return "", false
	}
	return o.Args[i], true
}

// What is what an error calls the value: what, or the option's name.
func (o *Option) What(what string) string {
	if what == "" {
		return o.Name
	}
	return what
}

// Fail keeps the first error of the line: format and args, at its place.
func (o *Option) Fail(format string, args ...any) *Option {
	if o.Err == nil {
		o.Err = o.d.Errf(format, args...)
	}
	return o
}

// Str reads argument i as it is given.
func (o *Option) Str(i int, dst *string) *Option {
	if v, ok := o.Arg(i); ok {
		*dst = v
	}
	return o
}

// Ints reads a whole number from lo to hi (hi 0: no upper bound).
func (o *Option) Ints(i int, what string, lo, hi int, dst *int) *Option {
	v, ok := o.Arg(i)
	if !ok {
		return o
	}
	n, err := strconv.Atoi(v)
	switch {
	case hi > 0 && (err != nil || n < lo || n > hi):
		return o.Fail("%s must be from %d to %d, got %q", o.What(what), lo, hi, v)
	case err != nil || n < lo:
		return o.Fail("%s must be a whole number, %d or more, got %q", o.What(what), lo, v)
	}
	*dst = n
	return o
}

// Float reads a number of at least lo (above lo, when above is set).
func (o *Option) Float(i int, what string, lo float64, above bool, dst *float64) *Option {
	v, ok := o.Arg(i)
	if !ok {
		return o
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || (above && f == lo) {
		bound := "or more"
		if above {
			bound = "more than that"
		}
		return o.Fail("%s must be a number, %g %s, got %q", o.What(what), lo, bound, v)
	}
	*dst = f
	return o
}

// Bytes reads a size such as 25MiB or 25MB.
func (o *Option) Bytes(i int, what string, dst *int64) *Option {
	v, ok := o.Arg(i)
	if !ok {
		return o
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 {
		return o.Fail("%s must be a size like 25MiB, got %q", o.What(what), v)
	}
	*dst = int64(n)
	return o
}

// Duration reads a duration such as 250ms or 10s.
func (o *Option) Duration(i int, what string, dst *caddy.Duration) *Option {
	v, ok := o.Arg(i)
	if !ok {
		return o
	}
	d, err := caddy.ParseDuration(v)
	if err != nil || d < 0 {
		return o.Fail("%s must be a duration like 250ms or 10s, got %q", o.What(what), v)
	}
	*dst = caddy.Duration(d)
	return o
}

// Pixels reads a pixel count: 50MP, 50M, 12.5MP or 50000000.
func (o *Option) Pixels(i int, what string, dst *int64) *Option {
	v, ok := o.Arg(i)
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
		return o.Fail("%s must be like 50MP or 50000000, got %q", o.What(what), v)
	}
	*dst = int64(f * mult)
	return o
}
