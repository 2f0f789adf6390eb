package imgedge

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// caddy validate provisions before it validates: impossible settings must
// be a clear config error there, never a panic.
func TestImpossibleSettingsAreAConfigErrorNotAPanic(t *testing.T) {
	for _, tc := range []struct{ handler, want string }{
		{`{"handler": "image_resize", "concurrency": -1}`, "concurrency must be at least 1, got -1"},
		{`{"handler": "image_resize", "queue_length": -3}`, "queue length must not be negative, got -3"},
		{`{"handler": "image_resize", "max_source_bytes": 1073741824}`, "larger than the imgedge source_budget"},
		{`{"handler": "image_resize", "cache_disk": "/nonexistent/imgedge-disk"}`, "cache_disk /nonexistent/imgedge-disk: a size is required"},
	} {
		var cfg caddy.Config
		raw := `{"admin": {"disabled": true}, "apps": {"http": {"servers": {"s": {"listen": ["127.0.0.1:0"], "routes": [{"handle": [` + tc.handler + `]}]}}}}}`
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			t.Fatal(err)
		}
		err := caddy.Validate(&cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.handler, err, tc.want)
		}
	}
}

// The cluster options: bad values are config errors, named.
func TestBadClusterOptionsAreAConfigError(t *testing.T) {
	const secret = `"secret": "test-cluster-secret-0123456789abcdef"`
	for _, tc := range []struct{ app, want string }{
		{`{"cluster": "maybe"}`, `cluster "maybe": want on or off`},
		{`{"shield": "eu-2"}`, `shield "eu-2": needs consul`},
		{`{"zone": "eu-1", "consul": "http://127.0.0.1:1", "advertise": "http://127.0.0.1:2", ` + secret + `, "shield": "eu-1"}`,
			`shield "eu-1": needs consul, and another zone than this node's own`},
	} {
		var cfg caddy.Config
		raw := `{"admin": {"disabled": true}, "apps": {"imgedge": ` + tc.app + `}}`
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			t.Fatal(err)
		}
		err := caddy.Validate(&cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.app, err, tc.want)
		}
	}
}
