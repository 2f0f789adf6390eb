package imgedge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/imgedge/imgedge/metering"
)

// The usage events of a process name it as their source: "imgedge/" and
// the node, by default the host name, as the README says.
func TestMeteringSourceNamesTheNode(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, node, want string
	}{
		{"without a node, the host name", "", "imgedge/" + host},
		{"with a node, its name", "edge-1", "imgedge/edge-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu      sync.Mutex
				sources []string
			)
			collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				var events []metering.Event
				if err := json.Unmarshal(body, &events); err != nil {
					t.Errorf("batch %q: %v", body, err)
				}
				mu.Lock()
				for _, e := range events {
					sources = append(sources, e.Source)
				}
				mu.Unlock()
			}))
			defer collector.Close()

			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			app := &App{Node: tc.node, Metering: &MeteringConfig{Spool: t.TempDir(), Collector: collector.URL + "/api/v1/events"}}
			if err := app.Provision(ctx); err != nil {
				t.Fatal(err)
			}
			app.meter.Record(metering.Record{Tenant: "acme", Status: http.StatusOK, CacheStatus: "miss"})
			if err := app.Cleanup(); err != nil { // the last config: closing the meter ships the batch
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(sources) != 1 || sources[0] != tc.want {
				t.Errorf("shipped events with sources %q, want one from %q", sources, tc.want)
			}
		})
	}
}
