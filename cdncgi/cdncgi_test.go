package cdncgi

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestCdnCgiImageTakesNoArgumentsNorBlock(t *testing.T) {
	for _, in := range []string{"cdn_cgi_image extra", "cdn_cgi_image {\n\tformat webp\n}"} {
		var c CloudflareURLs
		if err := c.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err == nil {
			t.Errorf("%q: accepted, want refused", in)
		}
	}
	var c CloudflareURLs
	if err := c.UnmarshalCaddyfile(caddyfile.NewTestDispenser("cdn_cgi_image")); err != nil {
		t.Errorf("the bare directive: %v", err)
	}
}
