package imgedge

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/imgedge/imgedge/tenant"
	"github.com/imgedge/imgedge/transform"
	"github.com/imgedge/imgedge/variant"
)

// withMark gives req its watermark: the mark's own request (fetched
// through the route like an original, kept in the originals cache), and
// the mark's purge tag on the variant, so purging the mark purges every
// variant that carries it. A mark named by an absolute URL must be of the
// request's own host: no other host is ever fetched.
func (rq *imageRequest) withMark(req *variant.Request, m *transform.Mark) error {
	path := m.Path
	if m.Host != "" {
		if !tenant.SameHost(m.Host, rq.r.Host) {
			return &transform.Error{Param: "mark", Msg: "an absolute mark URL must be of this site's own host (" + rq.host() + ")"}
		}
	}
	if rq.settings.Watermark == "" && !transform.MarkAllowed(rq.ir.Marks, path) {
		return &transform.Error{Param: "mark", Msg: path + " is not among the marks this site allows (image_resize marks)"}
	}
	tag := variant.SourceTag(rq.tenant, path)
	req.Tags = append(req.Tags, tag)
	req.Mark = &variant.Request{
		Site:   req.Site,
		Source: variant.Resource(path, path, ""),
		Tags:   []string{tag, variant.TenantTag(rq.tenant)},
		Header: req.Header,
		Fetch: func(ctx context.Context, shared bool) (*variant.Fetched, error) {
			f, err := rq.fetch(ctx, rq.requestFor(path, "", ""), false)
			var he caddyhttp.HandlerError
			switch {
			case errors.Is(err, variant.ErrNotImage):
				return nil, &transform.Error{Param: "mark", Msg: path + " is not an image"}
			case errors.As(err, &he):
				return nil, &transform.Error{Param: "mark", Msg: path + ": " + http.StatusText(he.StatusCode)}
			}
			return f, err
		},
	}
	return nil
}
