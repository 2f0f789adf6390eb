// Command caddy is Caddy with its standard modules and the imgedge plugin,
// the binary `make build` puts in bin/caddy. It is what
// `xcaddy build --with github.com/imgedge/imgedge` produces.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/imgedge/imgedge"
)

func main() {
	caddycmd.Main()
}
