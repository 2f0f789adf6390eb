package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// tracedBench is a second caddy with the same sites as the main one, and
// Caddy's tracing on in front of each image_resize: every request
// sampled, its spans exported over OTLP/HTTP to a sink in this process
// that takes them and throws them away. What the node pays for tracing
// is in its own CPU; the sink's (a collector's) is not.
type tracedBench struct {
	srv  *server
	sink *otlpSink
}

func startTracedBench(caddyBin, dir, corpusDir string) (*tracedBench, error) {
	sink, err := startOTLPSink()
	if err != nil {
		return nil, err
	}
	traced := strings.ReplaceAll(caddyfile, "\timage_resize {", "\ttracing\n\timage_resize {")
	env := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + sink.url, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_TRACES_SAMPLER=always_on", "OTEL_SERVICE_NAME=imgedge-bench"}
	tdir := filepath.Join(dir, "traced")
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return nil, err
	}
	srv, err := startCaddyWith(caddyBin, tdir, corpusDir, traced, env)
	if err != nil {
		sink.close()
		return nil, err
	}
	return &tracedBench{srv: srv, sink: sink}, nil
}

func (tb *tracedBench) stop() {
	tb.srv.stop()
	tb.sink.close()
}

// tracingScenario is the miss and the hit path with tracing off (the
// main caddy) and on, each pair measured in turn.
func tracingScenario(s *server, tb *tracedBench, c int) scenario {
	const off, offHit = "miss, tracing off", "hit, tracing off"
	spans := func() (before func(), after func(*runResult)) {
		var exports, bytes int64
		before = func() { exports, bytes = tb.sink.exports.Load(), tb.sink.bytes.Load() }
		after = func(r *runResult) {
			r.Note = fmt.Sprintf("%d OTLP exports, %.0f KB of spans (%.2f KB a request)", tb.sink.exports.Load()-exports,
				float64(tb.sink.bytes.Load()-bytes)/1024, float64(tb.sink.bytes.Load()-bytes)/1024/float64(max(1, r.Requests)))
		}
		return before, after
	}
	missBefore, missAfter := spans()
	hitBefore, hitAfter := spans()
	return scenario{ID: "12", Name: "tracing on vs off (every request sampled, spans exported over OTLP)", Alternate: 4, Runs: []runSpec{
		{Name: off, Workers: c, About: "/" + headline + "?" + hitQuery + ", cache off", group: "miss",
			target: unique(s.miss, headline, hitQuery), expect: "miss"},
		{Name: "miss, tracing on", Ref: off, Workers: c, About: "the same on the traced caddy", group: "miss",
			target: unique(tb.srv.miss, headline, hitQuery), expect: "miss", pid: tb.srv.pid(), before: missBefore, after: missAfter},
		{Name: offHit, Workers: c, About: "/" + headline + "?" + hitQuery + ", cached", group: "hit",
			target: fixed(s.hit + "/" + headline + "?" + hitQuery), expect: "hit"},
		{Name: "hit, tracing on", Ref: offHit, Workers: c, About: "the same on the traced caddy", group: "hit",
			target: fixed(tb.srv.hit + "/" + headline + "?" + hitQuery), expect: "hit", pid: tb.srv.pid(), before: hitBefore, after: hitAfter},
	}}
}

// otlpSink is an OTLP/HTTP trace receiver that counts what it is sent
// and keeps nothing.
type otlpSink struct {
	url            string
	srv            *http.Server
	exports, bytes atomic.Int64
}

func startOTLPSink() (*otlpSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &otlpSink{url: "http://" + l.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.exports.Add(1)
		s.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse: all taken
	})}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *otlpSink) close() { _ = s.srv.Close() }
