package imgedge_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/imgedge/imgedge/internal/testenv"
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

func TestATenantChangeInConsulKVReachesARunningNodeWithoutAReload(t *testing.T) {
	consul := testenv.StartConsul(t)
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(400, 300))})
	c := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	imgedge {
		zone a
		consul %s
		advertise http://127.0.0.1:{{PORT}}
		secret test-cluster-secret-0123456789abcdef
		tenants_kv imgedge/tenants/
	}
}
http://127.0.0.1:{{PORT}} {
	root * %s
	image_resize
	file_server
}
`, consul.Addr, root))
	url := c.Base + "/p.jpg?w=100"
	if a := get(t, url); a.status != 200 {
		t.Fatalf("before any tenant settings: %d", a.status)
	}

	kv := consul.Client().KV()
	doc := fmt.Sprintf(`{"require_signature": true, "signing_keys": [{"id": %q, "secret": %q}]}`,
		newKey.ID, base64.StdEncoding.EncodeToString(newKey.Secret))
	changed := time.Now()
	if _, err := kv.Put(&api.KVPair{Key: "imgedge/tenants/127.0.0.1", Value: []byte(doc)}, nil); err != nil {
		t.Fatal(err)
	}
	took := waitForStatus(t, url, 403, changed)
	t.Logf("the node enforced the new settings %v after the KV write", took)
	if a := get(t, signed(t, url, newKey)); a.status != 200 {
		t.Errorf("a URL signed with the tenant's key got %d", a.status)
	}

	// A broken document is ignored: the tenant keeps its last good settings.
	if _, err := kv.Put(&api.KVPair{Key: "imgedge/tenants/127.0.0.1", Value: []byte(`{"require_signature": tru`)}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if a := get(t, url); a.status != 403 {
		t.Errorf("after a malformed KV document an unsigned URL got %d, want 403 (last good settings)", a.status)
	}

	// Consul goes away: the last settings stay.
	consul.Stop()
	if a := get(t, url); a.status != 403 {
		t.Errorf("with Consul down an unsigned URL got %d, want 403 (last known settings)", a.status)
	}
	consul.Start()
	if _, err := consul.Client().KV().Delete("imgedge/tenants/127.0.0.1", nil); err != nil {
		t.Fatal(err)
	}
	waitForStatus(t, url, 200, time.Now())
}

// waitForStatus polls url until it answers status (bounded) and returns how
// long that took since from.
func waitForStatus(t *testing.T, url string, status int, from time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if get(t, url).status == status {
			return time.Since(from)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within 15s", url, status)
	return 0
}

func TestARateLimitSurvivesAReload(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(400, 300))})
	cf := fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	root * %s
	image_resize {
		tenants {
			127.0.0.1 {
				rate_limit 0.05 1
			}
		}
	}
	file_server
}
`, root)
	c := testenv.Start(t, cf)
	if a := get(t, c.Base+"/p.jpg?w=100"); a.status != 200 {
		t.Fatalf("first request: %d", a.status)
	}
	c.Reload(cf)
	if a := get(t, c.Base+"/p.jpg?w=101"); a.status != 429 {
		t.Fatalf("the first request after reloading the same config: %d, want 429 (the bucket is kept)", a.status)
	}
}
