// Package admin adds imgedge's endpoints to Caddy's admin API.
package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/internal/process"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI adds imgedge's endpoints to Caddy's admin API:
//
//	POST /imgedge/purge  {"tenant": "img.example.com", "source": "/photos/cat.jpg"}
//
// drops every cached variant and original of that source (every query
// string and format), source being the path clients request; without
// "source" it drops everything of the tenant. With Consul, every node of
// every zone drops it too, hot copies included, within moments (a node
// that is away when it happens when it is back): see
// balancer.PublishPurge. It answers {"purged": N, "fleet": true}, N being
// what this node dropped; 503 when the fleet could not be told.
//
// The admin API listens on localhost unless configured otherwise: nothing
// on a site's public listener can purge.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.imgedge",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/imgedge/purge", Handler: caddy.AdminHandlerFunc(purge)}}
}

type purgeRequest struct {
	Tenant string `json:"tenant"`
	Source string `json:"source,omitempty"`
}

func purge(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method not allowed; use POST")}
	}
	var req purgeRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf(`want {"tenant": "...", "source": "/path"}: %v`, err)}
	}
	if req.Tenant == "" {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf(`"tenant" is required (the site host, unless image_resize sets tenant)`)}
	}
	p := balancer.Purge{Tenant: req.Tenant, Source: req.Source, At: time.Now()}
	n := process.PurgeHere(p)
	w.Header().Set("Content-Type", "application/json")
	answer := map[string]any{"purged": n, "fleet": false}
	// Every node of every zone applies it through the purge log; this
	// node already did.
	if b := process.FirstBalancer(); b != nil {
		if err := b.PublishPurge(r.Context(), p); err != nil {
			return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable,
				Err: fmt.Errorf("purged %d entries on this node only: %v; retry to reach the fleet", n, err)}
		}
		answer["fleet"] = true
	}
	return json.NewEncoder(w).Encode(answer)
}

var _ caddy.AdminRouter = adminAPI{}
