package imgedge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/caddyserver/caddy/v2"

	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/variant"
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
// "source" it drops everything of the tenant.
// It answers {"purged": N}.
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
	// The tenant as the cache names it: a host in its canonical form
	// (IMG.Example.com. and img.example.com are one tenant), or another
	// tenant name as written, trimmed.
	var names []string
	for _, fromHost := range []bool{false, true} {
		if name, err := tenant.Normalize(req.Tenant, fromHost); err == nil && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	n := 0
	for _, name := range names {
		tag := variant.TenantTag(name)
		if req.Source != "" {
			tag = variant.SourceTag(name, req.Source)
		}
		eachStore(func(s *variant.Store) { n += s.Cache.Purge(tag) })
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]int{"purged": n})
}

var _ caddy.AdminRouter = adminAPI{}
