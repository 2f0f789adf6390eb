package transform

import (
	"fmt"
	"regexp"
	"strings"
)

// Palette defaults, as imgix's.
const (
	defaultColors = 6
	maxColors     = 16
	defaultPrefix = "image"
)

var prefixPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

// parseDescriptions reads imgix's palette (json or css, with colors and
// prefix), which answers with the output's dominant colours instead of
// the image, and Cloudflare's onerror.
func (o *Options) parseDescriptions(vals map[string]string) error {
	v, ok := vals["palette"]
	switch {
	case !ok:
		for _, name := range []string{"colors", "prefix"} {
			if _, given := vals[name]; given {
				return &Error{name, "applies with palette=json or palette=css only"}
			}
		}
	case strings.EqualFold(v, "json"):
		o.Format = PaletteJSON
	case strings.EqualFold(v, "css"):
		o.Format = PaletteCSS
	default:
		return &Error{"palette", fmt.Sprintf("%q is not one of json, css", v)}
	}
	if o.Format == PaletteJSON || o.Format == PaletteCSS {
		o.Colors = defaultColors
		if v, ok := vals["colors"]; ok {
			n, err := parseInt("colors", v, 1, maxColors)
			if err != nil {
				return err
			}
			o.Colors = n
		}
		o.Prefix = defaultPrefix
		if v, ok := vals["prefix"]; ok {
			if o.Format != PaletteCSS {
				return &Error{"prefix", "applies with palette=css only"}
			}
			if !prefixPattern.MatchString(v) {
				return &Error{"prefix", fmt.Sprintf("%q is not a CSS class name (letters, digits, _ and -)", v)}
			}
			o.Prefix = v
		}
	}
	if v, ok := vals["onerror"]; ok {
		if !strings.EqualFold(v, "redirect") {
			return &Error{"onerror", fmt.Sprintf("%q: only redirect is implemented", v)}
		}
		o.OnErrorRedirect = true
	}
	return nil
}
