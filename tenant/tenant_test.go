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

func TestLimitsOnlyLower(t *testing.T) {
	base := transform.Limits{MaxWidth: 1000, MaxHeight: 1000, MaxDPR: 2, Strict: true}
	got := Settings{MaxWidth: 500, MaxHeight: 5000}.Limits(base)
	want := transform.Limits{MaxWidth: 500, MaxHeight: 1000, MaxDPR: 2, Strict: true}
	if got != want {
		t.Errorf("Limits = %+v, want %+v", got, want)
	}
}
