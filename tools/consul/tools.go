//go:build tools

// Package tools pins the Consul agent that the integration tests of
// ../../balancer start. It is a separate module so that the main module's
// dependency graph and `go test ./...` stay free of Consul's server code.
//
// Build the agent with (make consul does this when bin/consul is missing):
//
//	cd tools/consul && go build -o ../../bin/consul github.com/hashicorp/consul
package tools

import _ "github.com/hashicorp/consul"
