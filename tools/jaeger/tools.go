//go:build tools

// Package tools pins Jaeger, the trace store the tracing tests start: `make
// jaeger` builds bin/jaeger from this module, as tools/consul does for Consul.
package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
