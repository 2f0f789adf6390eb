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
