package imgedge_test

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// hostSpellings are ways of writing img.example.com that Caddy routes to
// its site.
var hostSpellings = []string{"img.example.com", "IMG.EXAMPLE.COM", "Img.Example.Com", "img.example.com.", "IMG.example.com."}

// getHost is get with a Host header.
func getHost(t *testing.T, url, host string, header ...string) answer {
	t.Helper()
	return get(t, url, append([]string{"Host", host}, header...)...)
}

// hostSite serves p.jpg on a site for exactly img.example.com, with the
// tenant settings given. Caddy routes the host's case variants to it, not
// the spellings with a trailing dot (a catch-all site gets those).
func hostSite(t *testing.T, tenants string) *testenv.Caddy {
	t.Helper()
	return siteAt(t, "img.example.com", tenants)
}

// siteAt serves p.jpg on a site for address (empty: every host), with the
// tenant settings given.
func siteAt(t *testing.T, address, tenants string) *testenv.Caddy {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(800, 600))})
	return testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://%s:{{PORT}} {
	bind 127.0.0.1
	root * %s
	image_resize {
		tenants {
			%s
		}
	}
	file_server
}
`, address, root, tenants))
}

func signingTenant(name string) string {
	return fmt.Sprintf(`%s {
				sign_key %s %s
				require_signature
			}`, name, newKey.ID, base64.StdEncoding.EncodeToString(newKey.Secret))
}

func TestEverySpellingOfAHostGetsItsTenantsProtection(t *testing.T) {
	for _, address := range []string{"img.example.com", ""} {
		t.Run("site "+cmp.Or(address, "catch-all"), func(t *testing.T) {
			c := siteAt(t, address, signingTenant("img.example.com"))
			signedPath := signed(t, "/p.jpg?w=300", newKey)
			for _, host := range hostSpellings {
				if address != "" && strings.HasSuffix(host, ".") {
					// Not routed to this site: never an image, signed or not.
					if a := getHost(t, c.Base+"/p.jpg?w=300", host); a.status == 200 && len(a.body) > 0 {
						t.Errorf("Host %q reached a site that does not serve it: %d, %d bytes", host, a.status, len(a.body))
					}
					continue
				}
				if a := getHost(t, c.Base+"/p.jpg?w=300", host); a.status != 403 {
					t.Errorf("Host %q unsigned: %d, want 403: %s", host, a.status, a.body)
				}
				if a := getHost(t, c.Base+"/p.jpg", host); a.status != 403 {
					t.Errorf("Host %q unsigned, without image parameters: %d, want 403 (the original is protected too)", host, a.status)
				}
				if a := getHost(t, c.Base+signedPath, host); a.status != 200 || len(a.body) == 0 {
					t.Errorf("Host %q signed: %d, want 200: %s", host, a.status, a.body)
				}
			}
			// An absolute-form target spells the host in the request line.
			status, body := rawRequest(t, fmt.Sprintf("127.0.0.1:%d", c.Port), fmt.Sprintf("GET http://IMG.example.com:%d/p.jpg?w=300 HTTP/1.1", c.Port), "Host: img.example.com")
			if status != 403 {
				t.Errorf("absolute-form target, unsigned: %d, want 403: %s", status, body)
			}
		})
	}
}

func TestARateLimitedTenantGets429WhateverTheSpelling(t *testing.T) {
	c := siteAt(t, "", `img.example.com {
				rate_limit 0.01 1
			}`)
	if a := getHost(t, c.Base+"/p.jpg?w=100", hostSpellings[0]); a.status != 200 {
		t.Fatalf("first request: %d", a.status)
	}
	for i, host := range hostSpellings[1:] {
		if a := getHost(t, fmt.Sprintf("%s/p.jpg?w=%d", c.Base, 101+i), host); a.status != 429 {
			t.Errorf("Host %q after the burst: %d, want 429", host, a.status)
		}
	}
}

func TestUnsignedJunkDoesNotUseUpATenantsRateLimit(t *testing.T) {
	c := hostSite(t, fmt.Sprintf(`img.example.com {
				sign_key %s %s
				require_signature
				rate_limit 0.01 1
			}`, newKey.ID, base64.StdEncoding.EncodeToString(newKey.Secret)))
	for i := range 10 {
		if a := getHost(t, fmt.Sprintf("%s/p.jpg?w=%d", c.Base, 100+i), "img.example.com"); a.status != 403 {
			t.Fatalf("unsigned request %d: %d, want 403", i, a.status)
		}
	}
	if a := getHost(t, c.Base+signed(t, "/p.jpg?w=300", newKey), "img.example.com"); a.status != 200 {
		t.Fatalf("the first signed request after ten unsigned ones: %d, want 200", a.status)
	}
}

func TestACatchAllSiteWithADefaultTenantProtectsHostsItHasNeverHeardOf(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(800, 600))})
	c := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://:{{PORT}} {
	bind 127.0.0.1
	root * %s
	image_resize {
		tenants {
			%s
			open.example.com
		}
	}
	file_server
}
`, root, signingTenant("*")))
	for _, host := range []string{"never-heard-of.example", "10.9.8.7", "XN--BCHER-KVA.example"} {
		if a := getHost(t, c.Base+"/p.jpg?w=300", host); a.status != 403 {
			t.Errorf("Host %q unsigned: %d, want 403 from the * tenant", host, a.status)
		}
		if a := getHost(t, c.Base+signed(t, "/p.jpg?w=300", newKey), host); a.status != 200 {
			t.Errorf("Host %q signed: %d, want 200", host, a.status)
		}
	}
	if a := getHost(t, c.Base+"/p.jpg?w=300", "OPEN.example.com"); a.status != 200 {
		t.Errorf("a listed tenant without protections: %d, want 200", a.status)
	}
	if a := getHost(t, c.Base+"/p.jpg?w=300", strings.Repeat("a", 600)+".example"); a.status != 400 {
		t.Errorf("a 600-character host: %d, want 400", a.status)
	}
}

func TestUsageAndPurgesLandOnTheCanonicalTenant(t *testing.T) {
	dir := t.TempDir()
	collector := startCollector(t, filepath.Join(dir, "usage.db"))
	root := filepath.Join(dir, "site")
	writeFiles(t, root, map[string][]byte{"p.jpg": testimages.JPEG(testimages.Gradient(800, 600))})
	edge := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	imgedge {
		node edge-c
		metering {
			collector %s/api/v1/events
			spool %s
			batch 200ms
		}
	}
}
http://:{{PORT}} {
	bind 127.0.0.1
	root * %s
	image_resize
	file_server
}
`, collector.Base, filepath.Join(dir, "spool"), root))
	for i, host := range hostSpellings {
		a := getHost(t, edge.Base+"/p.jpg?w=200", host)
		if a.status != 200 {
			t.Fatalf("Host %q: %d", host, a.status)
		}
		// One tenant, one cache entry: every spelling after the first hits.
		if cs := a.header.Get("Cache-Status"); i > 0 && !strings.Contains(cs, "hit") {
			t.Errorf("Host %q: Cache-Status %q, want a hit on the entry the first spelling made", host, cs)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := usageTotals(t, collector, "img.example.com")
		if got.requests == int64(len(hostSpellings)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector counted %d requests for img.example.com, want %d", got.requests, len(hostSpellings))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, other := range []string{"IMG.EXAMPLE.COM", "img.example.com."} {
		if got := usageTotals(t, collector, other); got.requests != 0 {
			t.Errorf("usage recorded under %q: %d requests", other, got.requests)
		}
	}
	// A purge for any spelling reaches the entries.
	resp, err := http.Post("http://"+edge.Admin+"/imgedge/purge", "application/json", strings.NewReader(`{"tenant": "Img.Example.COM", "source": "/p.jpg"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := getHost(t, edge.Base+"/p.jpg?w=200", "img.example.com"); !strings.Contains(a.header.Get("Cache-Status"), "miss") {
		t.Errorf("after the purge: Cache-Status %q, want a miss", a.header.Get("Cache-Status"))
	}
}

func TestASignatureCoversThePathAsTheURLSpellsIt(t *testing.T) {
	// The site has no such file: a signature that is accepted reaches
	// file_server's 404; one that is not gets 403.
	c := siteAt(t, "", signingTenant("127.0.0.1"))
	good := signed(t, "/photo(1)!.jpg?w=300", newKey)
	for _, tc := range []struct {
		name, url string
		status    int
	}{
		{"a literal sub-delimiter, signed", good, 404},
		{"the same path with ( escaped", strings.Replace(good, "(", "%28", 1), 403},
		{"an escaped slash", "/a%2Fb.jpg?w=300", 400},
		{"a dot segment, escaped", "/x/%2e%2e/photo(1)!.jpg?w=300", 400},
	} {
		a := getHost(t, c.Base+tc.url, "127.0.0.1")
		if a.status != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, a.status, tc.status, a.body)
		}
	}
}
