package imgedge_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	_ "github.com/imgedge/imgedge"
	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/internal/testimages"
)

// The collector's credentials in these tests. The hash is what
// `caddy hash-password --plaintext edge-password --bcrypt-cost 10` printed.
const (
	collectorUser     = "edge"
	collectorPassword = "edge-password"
	collectorHash     = "$2a$10$WfPE8iVlzJZZP5OCxQ7zm.xyASMrnprzgHDltYmoLXswmQevbqthO"
	collectorToken    = "9f2c1e7a-edge-token"
)

var collectorBasicAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(collectorUser+":"+collectorPassword))

// collectorAuthEdge starts an edge whose metering block is given, with one image.
func collectorAuthEdge(t *testing.T, metering string) *testenv.Caddy {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "site")
	writeFiles(t, root, map[string][]byte{"a.jpg": testimages.JPEG(testimages.Gradient(300, 200))})
	return testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
	imgedge {
		node edge-auth
		metering {
			%s
			spool %s
			batch 100ms 5
		}
	}
}
http://127.0.0.1:{{PORT}} {
	root * %s
	image_resize
	file_server
}
`, metering, filepath.Join(dir, "spool"), root))
}

// collectorRequestsCounted reads the collector's usage total for the edge's tenant.
func collectorRequestsCounted(t *testing.T, collector string, header ...string) int64 {
	t.Helper()
	a := get(t, collector+"/api/v1/usage?step=24h&tenant=127.0.0.1", header...)
	if a.status != http.StatusOK {
		t.Fatalf("usage query: %d %s", a.status, a.body)
	}
	var out struct{ Buckets []struct{ Requests int64 } }
	if err := json.Unmarshal(a.body, &out); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, b := range out.Buckets {
		n += b.Requests
	}
	return n
}

// collectorWaitForRequests polls the collector until it counts want requests.
func collectorWaitForRequests(t *testing.T, collector string, want int64, header ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := collectorRequestsCounted(t, collector, header...)
		if n == want {
			return
		}
		if n > want || time.Now().After(deadline) {
			t.Fatalf("the collector counts %d requests, want %d", n, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// collectorPostBatch POSTs a one-event batch for tenant, with the header pairs given.
func collectorPostBatch(t *testing.T, url, tenant string, header ...string) (int, string) {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	body := fmt.Sprintf(`[{"specversion":"1.0","id":"intruder-%d","source":"intruder","type":"com.imgedge.usage.request",
		"time":%q,"subject":%q,"data":{"tenant":%q,"status":200,"source_bytes":1,"output_bytes":1,"output_pixels":1,
		"cpu_ms":1,"wall_ms":1,"forwarded":false}}]`, time.Now().UnixNano(), now, tenant, tenant)
	req, err := http.NewRequest(http.MethodPost, url+"/api/v1/events", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/cloudevents-batch+json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCollectorAuthBasicAuthLetsTheEdgeInAndKeepsOthersOut: the collector
// behind basic_auth, as the README shows it. The edge ships with the user
// and password in its collector URL and its usage lands; without them a
// POST gets 401 and stores nothing, and the usage API and the dashboard
// answer 401 too.
func TestCollectorAuthBasicAuthLetsTheEdgeInAndKeepsOthersOut(t *testing.T) {
	collector := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	basic_auth {
		%s %s
	}
	usage_collector {
		storage sqlite %s
	}
}
`, collectorUser, collectorHash, filepath.Join(t.TempDir(), "usage.db")))
	withPassword := strings.Replace(collector.Base, "http://", "http://"+collectorUser+":"+collectorPassword+"@", 1)
	edge := collectorAuthEdge(t, "collector "+withPassword+"/api/v1/events")

	const n = 4
	for i := range n {
		if a := get(t, fmt.Sprintf("%s/a.jpg?w=%d", edge.Base, 50+i)); a.status != http.StatusOK {
			t.Fatalf("image request: %d %s", a.status, a.body)
		}
	}
	collectorWaitForRequests(t, collector.Base, n, "Authorization", collectorBasicAuth)

	if status, body := collectorPostBatch(t, collector.Base, "127.0.0.1"); status != http.StatusUnauthorized {
		t.Errorf("a POST without credentials: %d %s, want 401", status, body)
	}
	if status, body := collectorPostBatch(t, collector.Base, "127.0.0.1", "Authorization",
		"Basic "+base64.StdEncoding.EncodeToString([]byte(collectorUser+":wrong"))); status != http.StatusUnauthorized {
		t.Errorf("a POST with a wrong password: %d %s, want 401", status, body)
	}
	if status, body := collectorPostBatch(t, collector.Base, "127.0.0.1", "Authorization", "Bearer "+collectorToken); status != http.StatusUnauthorized {
		t.Errorf("a POST with a bearer token the collector does not take: %d %s, want 401", status, body)
	}
	for _, path := range []string{"/api/v1/usage?step=24h", "/", "/dashboard.js"} {
		if a := get(t, collector.Base+path); a.status != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, a.status)
		}
	}
	// The refused POSTs stored nothing: the edge's requests are all there is.
	if got := collectorRequestsCounted(t, collector.Base, "Authorization", collectorBasicAuth); got != n {
		t.Errorf("after the refused POSTs the collector counts %d requests, want %d", got, n)
	}
}

// TestCollectorAuthBearerTokenFromTheEdge: a collector that lets in POSTs
// carrying the edges' token and asks everyone else for basic auth; the
// edge's metering `token` option gets its usage in.
func TestCollectorAuthBearerTokenFromTheEdge(t *testing.T) {
	t.Setenv("IMGEDGE_TEST_USAGE_TOKEN", collectorToken)
	collector := testenv.Start(t, fmt.Sprintf(`{
	admin {{ADMIN}}
}
http://127.0.0.1:{{PORT}} {
	@people not {
		method POST
		path /api/v1/events
		header Authorization "Bearer {env.IMGEDGE_TEST_USAGE_TOKEN}"
	}
	basic_auth @people {
		%s %s
	}
	usage_collector {
		storage sqlite %s
	}
}
`, collectorUser, collectorHash, filepath.Join(t.TempDir(), "usage.db")))
	edge := collectorAuthEdge(t, "collector "+collector.Base+"/api/v1/events\n\t\t\ttoken {env.IMGEDGE_TEST_USAGE_TOKEN}")

	const n = 3
	for i := range n {
		if a := get(t, fmt.Sprintf("%s/a.jpg?w=%d", edge.Base, 60+i)); a.status != http.StatusOK {
			t.Fatalf("image request: %d %s", a.status, a.body)
		}
	}
	collectorWaitForRequests(t, collector.Base, n, "Authorization", collectorBasicAuth)

	for _, tt := range []struct{ name, auth string }{
		{"no token", ""},
		{"a wrong token", "Bearer not-the-token"},
		{"an empty token", "Bearer "},
		{"the token in another scheme", "Token " + collectorToken},
	} {
		if status, body := collectorPostBatch(t, collector.Base, "127.0.0.1", "Authorization", tt.auth); status != http.StatusUnauthorized {
			t.Errorf("a POST with %s: %d %s, want 401", tt.name, status, body)
		}
	}
	if a := get(t, collector.Base+"/api/v1/usage?step=24h", "Authorization", "Bearer "+collectorToken); a.status != http.StatusUnauthorized {
		t.Errorf("reading usage with the edges' token: %d, want 401 (the token only ingests)", a.status)
	}
	if got := collectorRequestsCounted(t, collector.Base, "Authorization", collectorBasicAuth); got != n {
		t.Errorf("after the refused POSTs the collector counts %d requests, want %d", got, n)
	}
	if status, body := collectorPostBatch(t, collector.Base, "someone-else", "Authorization", "Bearer "+collectorToken); status != http.StatusOK {
		t.Errorf("a POST with the token: %d %s, want 200", status, body)
	}
}

// TestCollectorAuthCaddyfileOptions: the metering token and the
// collector's max_events, as the Caddyfile adapter writes them, and the
// mistakes it refuses.
func TestCollectorAuthCaddyfileOptions(t *testing.T) {
	adapt := func(src string) (string, error) {
		out, _, err := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}.Adapt([]byte(src), nil)
		return string(out), err
	}
	good := `{
	imgedge {
		metering {
			collector https://edge:{env.PW}@usage.example.net/api/v1/events
			token     {env.IMGEDGE_USAGE_TOKEN}
			spool     /tmp/spool
		}
	}
}
usage.example.net {
	usage_collector {
		max_events 500
		max_body   1MiB
	}
}
`
	out, err := adapt(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"token":"{env.IMGEDGE_USAGE_TOKEN}"`, `"collector":"https://edge:{env.PW}@usage.example.net/api/v1/events"`, `"max_events":500`, `"max_body_bytes":1048576`} {
		if !strings.Contains(out, want) {
			t.Errorf("adapted config lacks %s:\n%s", want, out)
		}
	}
	for _, tt := range []struct{ name, src, msg string }{
		{"a token without a value", strings.Replace(good, "token     {env.IMGEDGE_USAGE_TOKEN}", "token", 1), "token"},
		{"two tokens", strings.Replace(good, "token     {env.IMGEDGE_USAGE_TOKEN}", "token a b", 1), "token"},
		{"a token given twice", strings.Replace(good, "token     {env.IMGEDGE_USAGE_TOKEN}", "token a\n\t\t\ttoken b", 1), "more than once"},
		{"max_events of 0", strings.Replace(good, "max_events 500", "max_events 0", 1), "max_events"},
		{"max_events that is not a number", strings.Replace(good, "max_events 500", "max_events many", 1), "max_events"},
		{"max_events given twice", strings.Replace(good, "max_events 500", "max_events 500\n\t\tmax_events 600", 1), "more than once"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := adapt(tt.src); err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("adapt = %v, want an error mentioning %q", err, tt.msg)
			}
		})
	}
}
