package tenant

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/transform"
)

var presets = map[string]string{
	"thumb": "w=200&h=200&fit=cover",
	"hero":  "w=1600&q=70",
}

func TestApply(t *testing.T) {
	widths := Settings{AllowedWidths: []int{640, 320, 1280, 2000}}
	tests := []struct {
		name     string
		settings Settings
		query    string
		want     string // the query Apply returns, encoded
	}{
		{"a width between two allowed ones is rounded up", widths, "w=400", "w=640"},
		{"an allowed width stays", widths, "w=320", "w=320"},
		{"a width below the smallest becomes the smallest", widths, "w=1", "w=320"},
		{"a width above the largest becomes the largest", widths, "w=3000", "w=2000"},
		{"the width alias is rounded too", widths, "width=641", "w=1280"},
		{"dpr is folded into the width before rounding", widths, "w=400&dpr=2", "w=1280"},
		{"the height keeps the box's aspect ratio", widths, "w=400&h=300&fit=cover", "fit=cover&h=480&w=640"},
		{"allowed widths above the limit do not count", Settings{AllowedWidths: []int{320, 640, 8000}}, "w=3000", "w=640"},
		{"other parameters and the origin's pass unchanged", widths, "w=500&q=70&v=2", "q=70&v=2&w=640"},
		{"a preset expands to its parameters", Settings{Presets: presets}, "preset=thumb&v=1", "fit=cover&h=200&v=1&w=200"},
		{"a preset combines with parameters it does not set", Settings{Presets: presets}, "preset=hero&blur=2", "blur=2&q=70&w=1600"},
		{"a preset's width stays as the operator set it, whatever the allow-list", Settings{Presets: presets, AllowedWidths: []int{300}}, "preset=thumb", "fit=cover&h=200&w=200"},
		{"a request's own width next to the allow-list is still rounded", Settings{Presets: presets, AllowedWidths: []int{300}}, "w=120", "w=300"},
		{"preset is left alone for a tenant without presets", Settings{}, "preset=thumb&w=10", "preset=thumb&w=10"},
		{"presets-only accepts a preset and a signature", Settings{Presets: presets, PresetsOnly: true}, "preset=thumb&s=k.x", "fit=cover&h=200&s=k.x&w=200"},
		{"a signed presets-only URL's expires is checked by Verify and removed", Settings{Presets: presets, PresetsOnly: true, RequireSignature: true, SigningKeys: []Key{newKey}}, "preset=thumb&expires=1999999999&s=k.x", "fit=cover&h=200&s=k.x&w=200"},
		{"a signed URL's expires does not reach the origin", Settings{RequireSignature: true, SigningKeys: []Key{newKey}}, "w=10&Expires=1999999999&v=2", "v=2&w=10"},
		{"expires is the origin's own parameter for a tenant that does not sign", Settings{}, "w=10&expires=5", "expires=5&w=10"},
		{"the default quality fills in a missing q", Settings{DefaultQuality: 65}, "w=10", "q=65&w=10"},
		{"the default quality does not override a given one", Settings{DefaultQuality: 65}, "w=10&quality=90", "quality=90&w=10"},
		{"the default quality does not override a preset's", Settings{DefaultQuality: 65, Presets: presets}, "preset=hero", "q=70&w=1600"},
		{"an allowed format passes", Settings{Formats: []string{"webp", "jpeg"}}, "w=10&fm=jpg", "fm=jpg&w=10"},
		{"no format (the source's family) is always allowed", Settings{Formats: []string{"webp"}}, "w=10", "w=10"},
		{"auto is allowed when listed", Settings{Formats: []string{"auto"}}, "auto=format", "auto=format"},
		{"a width within the tenant's maximum passes", Settings{MaxWidth: 800}, "w=800", "w=800"},
		{"a dpr box over the tenant's maximum is shrunk later, by Parse", Settings{MaxWidth: 800}, "w=800&dpr=3", "dpr=3&w=800"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.settings.Validate(); err != nil {
				t.Fatalf("bad test settings: %v", err)
			}
			q := mustQuery(t, tt.query)
			before := q.Encode()
			lim := tt.settings.Limits(transform.DefaultLimits)
			got, err := applyQuery(tt.settings, q, lim)
			if err != nil {
				t.Fatalf("Apply(%q) = %v, want %q", tt.query, err, tt.want)
			}
			if got.Encode() != tt.want {
				t.Errorf("Apply(%q) = %q, want %q", tt.query, got.Encode(), tt.want)
			}
			if q.Encode() != before {
				t.Errorf("Apply changed its argument to %q", q.Encode())
			}
			if _, err := transform.Parse(got, lim); err != nil {
				t.Errorf("transform.Parse(Apply(%q)) = %v", tt.query, err)
			}
		})
	}
}

func TestApplyRoundingBoundsTheVariants(t *testing.T) {
	s := Settings{AllowedWidths: []int{320, 640, 1280}}
	seen := map[string]bool{}
	for w := 1; w <= 4096; w += 7 {
		for _, dpr := range []string{"1", "1.3", "2", "2.75", "3", "9"} {
			got, err := applyQuery(s, url.Values{"w": {strconv.Itoa(w)}, "dpr": {dpr}}, transform.DefaultLimits)
			if err != nil {
				t.Fatalf("w=%d dpr=%s: %v", w, dpr, err)
			}
			o, err := transform.Parse(got, transform.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			seen[o.Canonical()] = true
		}
	}
	want := []string{"w=1280", "w=320", "w=640"}
	if got := slices.Sorted(maps.Keys(seen)); !slices.Equal(got, want) {
		t.Errorf("canonical variants = %v, want %v", got, want)
	}
}

func TestApplyRefuses(t *testing.T) {
	only := Settings{Presets: presets, PresetsOnly: true}
	tests := []struct {
		name      string
		settings  Settings
		query     string
		wantParam string
	}{
		{"an unknown preset", Settings{Presets: presets}, "preset=huge", "preset"},
		{"two presets", Settings{Presets: presets}, "preset=thumb&preset=hero", "preset"},
		{"two presets under different cases", Settings{Presets: presets}, "preset=thumb&Preset=hero", "preset"},
		{"a parameter the preset also sets", Settings{Presets: presets}, "preset=thumb&w=500", "w"},
		{"a parameter the preset sets under an alias", Settings{Presets: presets}, "preset=thumb&width=500", "width"},
		{"a size parameter in presets-only mode", only, "preset=thumb&w=500", "w"},
		{"dpr in presets-only mode", only, "preset=thumb&dpr=2", "dpr"},
		{"an effect in presets-only mode", only, "preset=hero&blur=3", "blur"},
		{"a format in presets-only mode", only, "preset=hero&auto=format", "auto"},
		{"image parameters without a preset in presets-only mode", only, "q=50", "q"},
		{"a request without a preset in presets-only mode", only, "s=k.x", "preset"},
		{"a request without any parameter in presets-only mode", only, "", "preset"},
		{"an origin parameter in presets-only mode (it would bust the cache)", only, "preset=hero&v=9", "v"},
		{"an unknown parameter in any case in presets-only mode", only, "preset=hero&CacheBust=1", "CacheBust"},
		{"expires in presets-only mode without signatures", only, "preset=hero&expires=1999999999", "expires"},
		{"a format not allowed", Settings{Formats: []string{"webp", "jpeg"}}, "w=10&f=avif", "f"},
		{"a format not allowed, under an alias", Settings{Formats: []string{"webp"}}, "w=10&format=png", "format"},
		{"f=auto when auto is not allowed", Settings{Formats: []string{"webp"}}, "f=auto", "f"},
		{"auto=format when auto is not allowed", Settings{Formats: []string{"webp"}}, "auto=format", "auto"},
		{"a width over the tenant's maximum", Settings{MaxWidth: 800}, "w=801", "w"},
		{"a height over the tenant's maximum", Settings{MaxHeight: 600}, "h=601", "h"},
		{"a malformed width, before rounding", Settings{AllowedWidths: []int{100}}, "w=abc", "w"},
		{"a malformed dpr, before rounding", Settings{AllowedWidths: []int{100}}, "w=100&dpr=x", "dpr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.settings.Validate(); err != nil {
				t.Fatalf("bad test settings: %v", err)
			}
			_, err := applyQuery(tt.settings, mustQuery(t, tt.query), tt.settings.Limits(transform.DefaultLimits))
			var pe *transform.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Apply(%q) = %v, want a *transform.Error", tt.query, err)
			}
			if !slices.Contains(strings.Split(tt.wantParam, "|"), pe.Param) {
				t.Errorf("Apply(%q) = %v, want it to name %q", tt.query, err, tt.wantParam)
			}
		})
	}
}

func TestWantsImage(t *testing.T) {
	tests := []struct {
		name     string
		settings Settings
		query    string
		want     bool
	}{
		{"an image parameter", Settings{}, "w=1", true},
		{"only origin parameters", Settings{Presets: presets}, "v=1", false},
		{"a preset for a tenant with presets", Settings{Presets: presets}, "preset=thumb", true},
		{"a preset for a tenant without presets", Settings{}, "preset=thumb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.settings.WantsImage(readRequest("/p.jpg", tt.query)); got != tt.want {
				t.Errorf("WantsImage(%q) = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("bad test query %q: %v", raw, err)
	}
	return q
}

// applyQuery is Apply on a request whose query is q: the query the policy
// makes of it. The options Apply parsed must be that query's.
func applyQuery(s Settings, q url.Values, lim transform.Limits) (url.Values, error) {
	req, err := Apply(s, &transform.Request{Query: q}, lim)
	if err != nil {
		return nil, err
	}
	if o, err := transform.Parse(req.Query, lim); err != nil || !reflect.DeepEqual(o, req.Options) {
		return nil, fmt.Errorf("Apply's options %+v are not those of its query %q (%v)", req.Options, req.Query.Encode(), err)
	}
	return req.Query, nil
}
