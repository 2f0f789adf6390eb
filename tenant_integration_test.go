package imgedge_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/tenant"
)

var (
	oldKey = tenant.Key{ID: "k2025", Secret: []byte("0123456789abcdef-old-secret")}
	newKey = tenant.Key{ID: "k2026", Secret: []byte("fedcba9876543210-new-secret")}
)

func tenantSite(t *testing.T, settings string) (base string) {
	t.Helper()
	c := site(t, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(1600, 1200))}, fmt.Sprintf(`tenants {
			127.0.0.1 {
				%s
			}
		}`, settings))
	return c.Base
}

func signed(t *testing.T, rawURL string, k tenant.Key) string {
	t.Helper()
	s, err := tenant.SignURL(rawURL, k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignedURLs(t *testing.T) {
	keys := func(ks ...tenant.Key) string {
		var b strings.Builder
		for _, k := range ks {
			fmt.Fprintf(&b, "sign_key %s %s\n\t\t\t\t", k.ID, base64.StdEncoding.EncodeToString(k.Secret))
		}
		return b.String() + "require_signature"
	}
	both := tenantSite(t, keys(oldKey, newKey))
	onlyNew := tenantSite(t, keys(newKey))
	good := signed(t, both+"/p.jpg?w=300&f=webp", newKey)
	cases := []struct {
		name, url string
		status    int
	}{
		{"a valid signature", good, 200},
		{"the same signature with parameters reordered", reorder(t, good), 200},
		{"a tampered parameter", strings.Replace(good, "w=300", "w=301", 1), 403},
		{"a tampered path", strings.Replace(good, "/p.jpg", "/q.jpg", 1), 403},
		{"no signature", both + "/p.jpg?w=300&f=webp", 403},
		{"a signature made with the old key while it is still configured", signed(t, both+"/p.jpg?w=300", oldKey), 200},
		{"a signature made with a key that was rotated out", signed(t, onlyNew+"/p.jpg?w=300", oldKey), 403},
		{"a signature made with the new key after rotation", signed(t, onlyNew+"/p.jpg?w=300", newKey), 200},
		{"garbage in s", both + "/p.jpg?w=300&s=nonsense", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, tc.url)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status == 403 && !strings.Contains(string(a.body), `"param":"s"`) {
				t.Errorf("a 403 should name the s parameter: %s", a.body)
			}
		})
	}
}

func reorder(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(u.RawQuery, "&")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	u.RawQuery = strings.Join(parts, "&")
	return u.String()
}

func TestWidthAllowListAndPresetsStopCacheBusting(t *testing.T) {
	base := tenantSite(t, `widths 320 640 1280
				preset thumb "w=200&h=200&fit=cover"
				max_size 1500`)
	for _, tc := range []struct {
		query  string
		status int
		w, h   int
	}{
		{"w=500", 200, 640, 480},       // rounded up to the next allowed width
		{"w=333", 200, 640, 480},       // any width from 321 to 640 is one variant
		{"w=200&dpr=2", 200, 640, 480}, // dpr folds in before rounding
		{"w=1400", 200, 1280, 960},     // above the largest allowed: the largest
		{"preset=thumb", 200, 200, 200},
		{"preset=huge", 400, 0, 0},
		{"w=3000", 400, 0, 0}, // over the tenant's max_size
	} {
		t.Run(tc.query, func(t *testing.T) {
			a := get(t, base+"/p.jpg?"+tc.query)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status == 200 {
				if d := decode(t, a.body); d.width != tc.w || d.height != tc.h {
					t.Errorf("got %dx%d, want %dx%d", d.width, d.height, tc.w, tc.h)
				}
			}
		})
	}
	only := tenantSite(t, `preset thumb "w=200&h=200&fit=cover"
				presets_only`)
	if a := get(t, only+"/p.jpg?w=100"); a.status != 400 {
		t.Errorf("presets_only: a free width got %d, want 400", a.status)
	}
	if a := get(t, only+"/p.jpg?preset=thumb"); a.status != 200 {
		t.Errorf("presets_only: a preset got %d, want 200", a.status)
	}
}

func TestARateLimitedTenantGets429WithRetryAfter(t *testing.T) {
	base := tenantSite(t, `rate_limit 0.5 2`)
	var statuses []int
	var last answer
	for i := range 4 {
		last = get(t, fmt.Sprintf("%s/p.jpg?w=%d", base, 100+i))
		statuses = append(statuses, last.status)
	}
	if fmt.Sprint(statuses) != "[200 200 429 429]" {
		t.Fatalf("statuses %v, want [200 200 429 429] (burst 2)", statuses)
	}
	if ra := last.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q, want a positive number of seconds", ra)
	}
}
