package imgedge

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/transform"
)

// One image request, through the real handler in a real Caddy, reads its
// URL's query once: the signature check, the preset, the widths
// allow-list, the client hints and the variant key all take the request
// transform.ReadRequest made.
func TestARequestsQueryIsReadOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	photos, err := filepath.Abs("examples/site/photos")
	if err != nil {
		t.Fatal(err)
	}
	key := tenant.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	caddyfile := fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s
}
http://%s {
	image_resize {
		tenants {
			* {
				sign_key k1 %s
				require_signature
				widths 320 640
				preset thumb "w=200&fit=cover"
			}
		}
	}
	root * %s
	file_server
}`, t.TempDir(), addr, base64.StdEncoding.EncodeToString(key.Secret), photos)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		signed, err := tenant.SignURL(path, key)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + addr + signed)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	for _, path := range []string{"/autumn.jpg?preset=thumb", "/autumn.jpg?w=500&dpr=1.5&ch=DPR&v=2"} {
		before := transform.QueryReads()
		resp, body := get(path)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("%s: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if n := transform.QueryReads() - before; n != 1 {
			t.Errorf("%s: the query was read %d times, want once", path, n)
		}
	}
	// The signature is checked on that one reading: a changed query is
	// refused.
	resp, err := http.Get("http://" + addr + "/autumn.jpg?w=500&s=k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a bad signature: %d, want 403", resp.StatusCode)
	}
}
