package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Jaeger is a real Jaeger all-in-one (bin/jaeger, Jaeger v2 with its
// in-memory store) on loopback ports: OTLP over HTTP in, its query API
// out.
type Jaeger struct {
	// OTLP is the base URL of its OTLP/HTTP receiver, for
	// OTEL_EXPORTER_OTLP_ENDPOINT.
	OTLP string
	// Query is the base URL of its query API and UI.
	Query string
	t     testing.TB
	log   string
}

// StartJaeger starts Jaeger for the test, waits until it serves and stops
// it when the test ends. A missing bin/jaeger fails the test: `make
// jaeger` builds it from tools/jaeger.
func StartJaeger(t testing.TB) *Jaeger {
	t.Helper()
	bin := filepath.Join(ModuleRoot(t), "bin", "jaeger")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Jaeger %s is missing: run `make jaeger` (it builds bin/jaeger from tools/jaeger): %v", bin, err)
	}
	dir := t.TempDir()
	ports := [3]int{FreePort(t), FreePort(t), FreePort(t)} // OTLP/HTTP, query HTTP, query gRPC
	config := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, jaegerConfig, ports[1], ports[2], ports[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	j := &Jaeger{OTLP: "http://127.0.0.1:" + strconv.Itoa(ports[0]), Query: "http://127.0.0.1:" + strconv.Itoa(ports[1]),
		t: t, log: filepath.Join(dir, "jaeger.log")}
	logf, err := os.Create(j.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config", "file:"+config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "OTEL_SDK_DISABLED=true") // no traces of its own, to a collector that is not there
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting jaeger: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			if out, err := os.ReadFile(j.log); err == nil {
				t.Logf("jaeger log (tail):\n%s", tailBytes(out, 4000))
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			out, _ := os.ReadFile(j.log)
			t.Fatalf("jaeger exited at start:\n%s", tailBytes(out, 4000))
		default:
		}
		if resp, err := http.Get(j.Query + "/api/services"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if resp, err := http.Post(j.OTLP+"/v1/traces", "application/json", nil); err == nil {
					resp.Body.Close()
					return j
				}
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(j.log)
			t.Fatalf("jaeger did not serve within 30s:\n%s", tailBytes(out, 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jaegerConfig is Jaeger v2's all-in-one, cut to what the tests use: OTLP
// over HTTP into the memory store, the query API; every port on loopback,
// no telemetry of its own.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memory_store:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memory_store
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memory_store
`

// Env is the environment a node exports its spans to this Jaeger with,
// as service: the OTEL_* variables Caddy's tracing reads, the batch
// flushed within 100 ms.
func (j *Jaeger) Env(service string) map[string]string {
	return map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": j.OTLP,
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_SERVICE_NAME":           service,
		"OTEL_BSP_SCHEDULE_DELAY":     "100",
		"OTEL_TRACES_SAMPLER":         "parentbased_always_on",
	}
}

// Span is a span as Jaeger's query API gives it.
type Span struct {
	TraceID, SpanID string
	Name            string
	Service         string
	Parent          string // the span id of its parent, "" for a root
	Kind            string // span.kind: server, client, internal
	Tags            map[string]any
	Links           []string // span ids this span follows from (links)
	Start           time.Time
	Duration        time.Duration
}

// Trace reads trace id's spans, as many as have arrived.
func (j *Jaeger) Trace(id string) ([]Span, error) {
	resp, err := http.Get(j.Query + "/api/traces/" + id)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jaeger: %s", resp.Status)
	}
	var body struct {
		Data []struct {
			Spans []struct {
				TraceID       string `json:"traceID"`
				SpanID        string `json:"spanID"`
				OperationName string `json:"operationName"`
				References    []struct {
					RefType string `json:"refType"`
					TraceID string `json:"traceID"`
					SpanID  string `json:"spanID"`
				} `json:"references"`
				StartTime int64 `json:"startTime"` // µs
				Duration  int64 `json:"duration"`  // µs
				Tags      []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				} `json:"tags"`
				ProcessID string `json:"processID"`
			} `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	var spans []Span
	for _, tr := range body.Data {
		for _, s := range tr.Spans {
			sp := Span{TraceID: s.TraceID, SpanID: s.SpanID, Name: s.OperationName, Service: tr.Processes[s.ProcessID].ServiceName,
				Tags: map[string]any{}, Start: time.UnixMicro(s.StartTime), Duration: time.Duration(s.Duration) * time.Microsecond}
			for _, tag := range s.Tags {
				sp.Tags[tag.Key] = tag.Value
			}
			sp.Kind, _ = sp.Tags["span.kind"].(string)
			for _, r := range s.References {
				switch {
				case r.RefType == "CHILD_OF" && sp.Parent == "":
					sp.Parent = r.SpanID
				case r.RefType == "FOLLOWS_FROM" || r.TraceID != s.TraceID:
					sp.Links = append(sp.Links, r.SpanID)
				}
			}
			spans = append(spans, sp)
		}
	}
	return spans, nil
}

// WaitTrace polls for trace id until done says its spans are all in (or
// 20 s pass), and returns what arrived.
func (j *Jaeger) WaitTrace(id string, done func([]Span) bool) []Span {
	j.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		spans, err := j.Trace(id)
		if err != nil {
			j.t.Fatalf("reading trace %s from jaeger: %v", id, err)
		}
		if done(spans) || time.Now().After(deadline) {
			return spans
		}
		time.Sleep(200 * time.Millisecond)
	}
}
