package tenant

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/transform"
)

func TestSettingsFromJSON(t *testing.T) {
	const doc = `{
		"signing_keys": [{"id": "2025", "secret": "YSBuZXcgc2VjcmV0IG9mIHRoaXJ0eS10d28gYnl0ZXM="}],
		"require_signature": true,
		"allowed_widths": [320, 640],
		"presets": {"thumb": "w=200&h=200&fit=cover"},
		"presets_only": true,
		"max_width": 2000,
		"max_height": 1500,
		"formats": ["auto", "webp", "jpeg"],
		"default_quality": 75,
		"rate_limit": {"rate": 50, "burst": 100}
	}`
	var got Settings
	if err := json.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatal(err)
	}
	want := Settings{
		SigningKeys:      []Key{newKey},
		RequireSignature: true,
		AllowedWidths:    []int{320, 640},
		Presets:          map[string]string{"thumb": "w=200&h=200&fit=cover"},
		PresetsOnly:      true,
		MaxWidth:         2000,
		MaxHeight:        1500,
		Formats:          []string{"auto", "webp", "jpeg"},
		DefaultQuality:   75,
		RateLimit:        RateLimit{Rate: 50, Burst: 100},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func TestValidateRefuses(t *testing.T) {
	short := Key{ID: "k", Secret: []byte("too short")}
	tests := []struct {
		name     string
		settings Settings
		want     string // part of the error
	}{
		{"a short secret", Settings{SigningKeys: []Key{short}}, "at least 16"},
		{"a key id with a dot", Settings{SigningKeys: []Key{{ID: "a.b", Secret: newKey.Secret}}}, "id"},
		{"an empty key id", Settings{SigningKeys: []Key{{Secret: newKey.Secret}}}, "id"},
		{"a key id twice", Settings{SigningKeys: []Key{newKey, newKey}}, "more than once"},
		{"required signatures without keys", Settings{RequireSignature: true}, "signing key"},
		{"a zero allowed width", Settings{AllowedWidths: []int{0}}, "allowed width"},
		{"an allowed width over max_width", Settings{AllowedWidths: []int{900}, MaxWidth: 800}, "allowed width"},
		{"an unknown format", Settings{Formats: []string{"bmp"}}, "bmp"},
		{"a quality over 100", Settings{DefaultQuality: 101}, "default_quality"},
		{"a negative rate", Settings{RateLimit: RateLimit{Rate: -1}}, "rate_limit"},
		{"presets-only without presets", Settings{PresetsOnly: true}, "preset"},
		{"a preset with an unknown parameter", Settings{Presets: map[string]string{"x": "widht=3"}}, "widht"},
		{"a preset with a bad value", Settings{Presets: map[string]string{"x": "fit=zoom"}}, "fit"},
		{"a preset with a signature", Settings{Presets: map[string]string{"x": "w=1&s=a.b"}}, "s cannot"},
		{"a preset naming a preset", Settings{Presets: map[string]string{"x": "preset=y"}}, "preset cannot"},
		{"a preset with a bad name", Settings{Presets: map[string]string{"a b": "w=1"}}, "preset name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.settings.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.want)
			}
			for _, k := range tt.settings.SigningKeys {
				if strings.Contains(err.Error(), string(k.Secret)) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestStaticStore(t *testing.T) {
	var store Store = Static{"img.example.com": {DefaultQuality: 70}}
	if s, ok := store.Get("img.example.com"); !ok || s.DefaultQuality != 70 {
		t.Errorf("Get(img.example.com) = %+v, %v", s, ok)
	}
	if _, ok := store.Get("other.example.com"); ok {
		t.Error("Get(other.example.com) found settings")
	}
	bad := Static{"a": {}, "b": {DefaultQuality: -1}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `tenant "b"`) {
		t.Errorf("Validate = %v, want an error naming tenant b", err)
	}
}

func TestStaticDefaultTenant(t *testing.T) {
	store := Static{
		"img.example.com": {DefaultQuality: 70},
		Default:           {DefaultQuality: 40, RateLimit: RateLimit{Rate: 5}},
	}
	if s, ok := store.Get("img.example.com"); !ok || s.DefaultQuality != 70 {
		t.Errorf("a listed tenant: Get = %+v, %v; want its own settings, listed", s, ok)
	}
	if s, ok := store.Get("other.example.com"); ok || s.DefaultQuality != 40 {
		t.Errorf("an unlisted tenant: Get = %+v, %v; want the * settings, not listed", s, ok)
	}
	if s, ok := store.Get(Default); ok || s.DefaultQuality != 40 {
		t.Errorf("a tenant named *: Get = %+v, %v; want the * settings, not listed", s, ok)
	}
	if s, ok := (Static{}).Get("other.example.com"); ok || s.DefaultQuality != 0 {
		t.Errorf("no * settings: Get = %+v, %v; want the zero settings", s, ok)
	}
}

func TestStaticNormalized(t *testing.T) {
	got, err := Static{
		"IMG.Example.com.": {DefaultQuality: 70},
		"BÜCHER.example":   {DefaultQuality: 60},
		"*":                {DefaultQuality: 40},
	}.Normalized(true)
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]int{"img.example.com": 70, "xn--bcher-kva.example": 60} {
		if s, ok := got.Get(name); !ok || s.DefaultQuality != q {
			t.Errorf("Get(%q) = %+v, %v; want quality %d", name, s, ok, q)
		}
	}
	if s, ok := got.Get("other.example"); ok || s.DefaultQuality != 40 {
		t.Errorf("Get(other.example) = %+v, %v; want the * settings", s, ok)
	}

	// Names that are not hosts are only trimmed: " Acme " is "Acme", another
	// tenant than "acme".
	kept, err := Static{" Acme ": {}, "acme": {}}.Normalized(false)
	if _, ok := kept.Get("Acme"); err != nil || len(kept) != 2 || !ok {
		t.Errorf("names only trimmed: %v, %v", kept, err)
	}

	for _, tt := range []struct {
		name     string
		static   Static
		fromHost bool
		want     []string // in the error
	}{
		{"two host names that are the same tenant", Static{"img.example.com": {}, "IMG.example.com.": {}}, true, []string{`"IMG.example.com."`, `"img.example.com"`}},
		{"a host name with and without a port", Static{"img.example.com:443": {}, "img.example.com": {}}, true, []string{`"img.example.com:443"`, `"img.example.com"`}},
		{"a Unicode name and its punycode", Static{"bücher.example": {}, "xn--bcher-kva.example": {}}, true, []string{`"bücher.example"`, `"xn--bcher-kva.example"`}},
		{"two names that differ in white space", Static{"acme": {}, " acme": {}}, false, []string{`" acme"`, `"acme"`}},
		{"a host name that is not one", Static{"img example.com": {}}, true, []string{`"img example.com"`}},
		{"a name over 253 bytes", Static{strings.Repeat("x", 254): {}}, false, []string{"253"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.static.Normalized(tt.fromHost)
			if err == nil {
				t.Fatal("Normalized gave no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestStaticValidateRefusesNamesThatDifferInWhiteSpace(t *testing.T) {
	err := Static{"acme": {}, "acme ": {}}.Validate()
	if err == nil || !strings.Contains(err.Error(), `"acme"`) || !strings.Contains(err.Error(), `"acme "`) {
		t.Errorf("Validate = %v, want an error naming both", err)
	}
	if err := (Static{"*": {DefaultQuality: 101}}).Validate(); err == nil || !strings.Contains(err.Error(), `tenant "*"`) {
		t.Errorf("Validate = %v, want the * settings checked", err)
	}
}

func TestLayered(t *testing.T) {
	kv := Static{"a.example": {DefaultQuality: 10}, Default: {DefaultQuality: 11}}
	site := Static{"a.example": {DefaultQuality: 20}, "b.example": {DefaultQuality: 21}, Default: {DefaultQuality: 22}}
	tests := []struct {
		name   string
		store  Layered
		tenant string
		want   int
		listed bool
	}{
		{"the first store that lists a tenant answers", Layered{kv, site}, "a.example", 10, true},
		{"a tenant only the second lists is found there", Layered{kv, site}, "b.example", 21, true},
		{"an unlisted tenant gets the first store's defaults", Layered{kv, site}, "c.example", 11, false},
		{"the second store's defaults when the first has none", Layered{Static{}, site}, "c.example", 22, false},
		{"a listed tenant beats an earlier store's defaults", Layered{Static{Default: {DefaultQuality: 1}}, site}, "b.example", 21, true},
		{"no defaults anywhere", Layered{Static{}, Static{}}, "c.example", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := tt.store.Get(tt.tenant)
			if s.DefaultQuality != tt.want || ok != tt.listed {
				t.Errorf("Get(%q) = quality %d, %v; want %d, %v", tt.tenant, s.DefaultQuality, ok, tt.want, tt.listed)
			}
		})
	}
}

func TestProtects(t *testing.T) {
	for _, tt := range []struct {
		s    Settings
		want bool
	}{
		{Settings{}, false},
		{Settings{AllowedWidths: []int{100}, Presets: presets}, false},
		{Settings{RequireSignature: true, SigningKeys: []Key{newKey}}, true},
		{Settings{Presets: presets, PresetsOnly: true}, true},
		{Settings{Watermark: "mark=/logo.png"}, true},
	} {
		if got := tt.s.Protects(); got != tt.want {
			t.Errorf("%+v.Protects() = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestLimitsOnlyLower(t *testing.T) {
	base := transform.Limits{MaxWidth: 1000, MaxHeight: 1000, MaxDPR: 2, Strict: true}
	got := Settings{MaxWidth: 500, MaxHeight: 5000}.Limits(base)
	want := transform.Limits{MaxWidth: 500, MaxHeight: 1000, MaxDPR: 2, Strict: true}
	if got != want {
		t.Errorf("Limits = %+v, want %+v", got, want)
	}
}
