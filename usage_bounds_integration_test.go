package imgedge_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgedge/imgedge/internal/pgtest"
	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/metering"
)

// boundsEvent is a rollup for tenant with the data fields given (JSON).
func boundsEvent(id, tenant, data string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"imgedge/bounds","type":"com.imgedge.usage.rollup",`+
		`"time":"2026-03-01T10:15:00Z","subject":%q,"data":{"tenant":%q,"status":200,"cache_status":"miss",%s}}`,
		id, tenant, tenant, data)
}

// postUsage POSTs a batch to a collector and decodes its JSON answer.
func postUsage(t *testing.T, collector string, events []string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(collector+"/api/v1/events", metering.BatchContentType, strings.NewReader("["+strings.Join(events, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("answer %d is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// TestUsageBoundsAtTheRealCollector is issue 26 against the built binary,
// with each storage: two events of 2^63-1 requests are refused with a 400
// naming the field, a batch mixing good and bad events stores the good
// ones, and ten thousand events at the per-event maxima leave the usage
// API, per tenant and for all tenants, and the dashboard answering 200,
// with the bytes saturated and the requests exact.
func TestUsageBoundsAtTheRealCollector(t *testing.T) {
	for _, storage := range []string{"sqlite", "postgres"} {
		t.Run(storage, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "usage.db")
			if storage == "postgres" {
				dsn = pgtest.DSN(t)
			}
			c := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	usage_collector {
		storage %s %s
	}
}
`, storage, dsn))

			const huge = `"requests":9223372036854775807,"hits":0,"source_bytes":1,"output_bytes":1,"output_pixels":1,"cpu_ms":1,"wall_ms":1`
			status, out := postUsage(t, c.Base, []string{boundsEvent("huge-1", "acme", huge), boundsEvent("huge-2", "acme", huge)})
			if msg, _ := out["error"].(string); status != http.StatusBadRequest || !strings.Contains(msg, "data.requests") ||
				len(out["refused"].([]any)) != 2 {
				t.Fatalf("two events of 2^63-1 requests: %d %v, want 400 naming data.requests", status, out)
			}

			const good = `"requests":5,"hits":1,"source_bytes":1000,"output_bytes":100,"output_pixels":10,"cpu_ms":1.5,"wall_ms":2`
			mixed := []string{
				boundsEvent("g-1", "acme", good),
				boundsEvent("bad-max", "acme", strings.Replace(good, `"output_bytes":100`, `"output_bytes":9223372036854775807`, 1)),
				boundsEvent("bad-negative", "acme", strings.Replace(good, `"cpu_ms":1.5`, `"cpu_ms":-1`, 1)),
				boundsEvent("bad-1e30", "acme", strings.Replace(good, `"output_pixels":10`, `"output_pixels":1e30`, 1)),
				boundsEvent("bad-2^64", "acme", strings.Replace(good, `"requests":5`, `"requests":18446744073709551616`, 1)),
				boundsEvent("bad-float", "acme", strings.Replace(good, `"requests":5`, `"requests":5.5`, 1)),
				boundsEvent("bad-past", "acme", strings.Replace(good, `"source_bytes":1000`, `"source_bytes":1000000000000001`, 1)),
				boundsEvent("g-at-max", "acme", strings.Replace(good, `"source_bytes":1000`, `"source_bytes":1000000000000000`, 1)),
			}
			wantFields := map[float64]string{1: "data.output_bytes", 2: "data.cpu_ms", 3: "data.output_pixels", 4: "data.requests", 5: "data.requests", 6: "data.source_bytes"}
			status, out = postUsage(t, c.Base, mixed)
			refused, _ := out["refused"].([]any)
			if status != http.StatusOK || out["received"] != 8.0 || out["new"] != 2.0 || len(refused) != len(wantFields) {
				t.Fatalf("a mixed batch: %d %v, want 200 with 2 new and 6 refused", status, out)
			}
			for _, r := range refused {
				r := r.(map[string]any)
				if msg, _ := r["error"].(string); !strings.Contains(msg, wantFields[r["event"].(float64)]) {
					t.Errorf("refusal %v does not name %s", r, wantFields[r["event"].(float64)])
				}
			}

			atMax := fmt.Sprintf(`"requests":%d,"hits":%d,"source_bytes":%d,"output_bytes":%d,"output_pixels":%d,"cpu_ms":%d,"wall_ms":%d`,
				metering.MaxEventRequests, metering.MaxEventRequests, metering.MaxEventBytes, metering.MaxEventBytes,
				metering.MaxEventPixels, metering.MaxEventMillis, metering.MaxEventMillis)
			const batches, per = 10, 1000
			for b := range batches {
				var events []string
				for i := range per {
					events = append(events, boundsEvent(fmt.Sprintf("max-%d-%d", b, i), "acme", atMax))
				}
				if status, out := postUsage(t, c.Base, events); status != http.StatusOK || out["new"] != float64(per) {
					t.Fatalf("batch %d at the maxima: %d %v", b, status, out)
				}
			}
			if status, out := postUsage(t, c.Base, []string{boundsEvent("beta-1", "beta", good)}); status != http.StatusOK {
				t.Fatalf("beta: %d %v", status, out)
			}

			const window = "/api/v1/usage?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&step=24h"
			for _, q := range []string{window + "&tenant=acme", window, window[:len(window)-len("24h")] + "1m"} {
				a := get(t, c.Base+q)
				var usage struct {
					Buckets []struct {
						Tenant                            string
						Requests, Hits, BytesIn, BytesOut int64
						Saturated                         bool
					}
				}
				body := strings.NewReplacer(`"bytes_in"`, `"BytesIn"`, `"bytes_out"`, `"BytesOut"`).Replace(string(a.body))
				tenants := 2
				if strings.Contains(q, "tenant=acme") {
					tenants = 1
				}
				if a.status != http.StatusOK || json.Unmarshal([]byte(body), &usage) != nil || len(usage.Buckets) != tenants {
					t.Fatalf("usage %s: %d %s", q, a.status, a.body)
				}
				acme := usage.Buckets[0]
				if acme.Tenant == "beta" {
					acme = usage.Buckets[1]
				}
				wantRequests := int64(batches*per)*metering.MaxEventRequests + 10
				if !acme.Saturated || acme.BytesIn != math.MaxInt64 || acme.BytesOut != math.MaxInt64 || acme.Requests != wantRequests {
					t.Errorf("usage %s: acme %+v, want bytes saturated and %d requests", q, acme, wantRequests)
				}
			}
			if page := get(t, c.Base+"/"); page.status != http.StatusOK {
				t.Errorf("dashboard: %d", page.status)
			}
		})
	}
}
