package imgedge_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/pgtest"
	"github.com/imgedge/imgedge/internal/testenv"
	"github.com/imgedge/imgedge/tenant"
)

// exampleConfig reads an example Caddyfile and moves it onto free loopback
// ports and absolute paths, so the test runs exactly what a newcomer runs.
func exampleConfig(t *testing.T, name string, replace ...string) string {
	t.Helper()
	root := testenv.ModuleRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(root, "examples", "site")
	data := t.TempDir() // the demo keeps its spool and usage database here
	replace = append(replace, "root * site", "root * "+site, "root * ../site", "root * "+site,
		"spool .data/spool", "spool "+filepath.Join(data, "spool"),
		"storage sqlite .data/usage.db", "storage sqlite "+filepath.Join(data, "usage.db"))
	return strings.NewReplacer(replace...).Replace(string(b))
}

func TestExampleSingleNodeServesTheDemo(t *testing.T) {
	c := testenv.Start(t, exampleConfig(t, "Caddyfile",
		"localhost:2019", "{{ADMIN}}", "http://localhost:8080", "http://127.0.0.1:{{PORT}}"))
	page := get(t, c.Base+"/")
	if page.status != 200 || !strings.Contains(string(page.body), `srcset="/photos/kite.jpg?w=320&f=auto 320w`) {
		t.Fatalf("demo page: %d", page.status)
	}
	a := get(t, c.Base+"/photos/kite.jpg?w=400&f=auto", "Accept", "image/avif,image/webp,*/*")
	if a.status != 200 || a.header.Get("Content-Type") != "image/avif" {
		t.Fatalf("resized photo: %d %q", a.status, a.header.Get("Content-Type"))
	}
	if d := decode(t, a.body); d.width != 400 || d.height != 250 {
		t.Errorf("got %dx%d, want 400x250", d.width, d.height)
	}
}

func TestExampleOriginReplacementResizesThroughReverseProxy(t *testing.T) {
	origin := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	c := testenv.Start(t, exampleConfig(t, "origin/Caddyfile",
		"localhost:2020", "{{ADMIN}}", "http://localhost:8081", "http://127.0.0.1:{{PORT}}", "127.0.0.1:9081", origin, "http://:9081", "http://:"+strings.TrimPrefix(origin, "127.0.0.1:")))
	a := get(t, c.Base+"/photos/cups.jpg?w=320&f=webp")
	if a.status != 200 || a.header.Get("Content-Type") != "image/webp" || a.header.Get("Cache-Control") != "public, max-age=86400" {
		t.Fatalf("got %d %q, Cache-Control %q", a.status, a.header.Get("Content-Type"), a.header.Get("Cache-Control"))
	}
	if d := decode(t, a.body); d.width != 320 {
		t.Errorf("width %d, want 320", d.width)
	}
	if b := get(t, c.Base+"/photos/cups.jpg?w=320&f=webp"); !strings.HasPrefix(b.header.Get("Cache-Status"), "imgedge; hit") {
		t.Errorf("second request Cache-Status %q, want a hit", b.header.Get("Cache-Status"))
	}
	plain := get(t, c.Base+"/photos/CREDITS.md")
	if plain.status != 200 || !strings.Contains(string(plain.body), "Risto") {
		t.Errorf("a non-image through the edge: %d", plain.status)
	}
}

func TestExampleMultiZoneScriptShowsForwardingClusterPurgeAndShield(t *testing.T) {
	root := testenv.ModuleRoot(t)
	base := testenv.FreePortBlock(t, 100)
	cmd := exec.Command(filepath.Join(root, "examples", "multizone", "run.sh"), "--once")
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT_BASE=%d", base))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh --once: %v\n%s", err, out)
	}
	served := map[string]int{}
	total := 0
	for _, line := range strings.Split(string(out), "\n") {
		var zone string
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "zone %s %d", &zone, &n); err == nil {
			served[strings.TrimSuffix(zone, ":")] = n
			total += n
		}
	}
	if total != 24 || served["a"] == 0 || served["b"]+served["c"] == 0 {
		t.Errorf("served %v (total %d): want all 24 answered, some by zone a and some forwarded\n%s", served, total, out)
	}
	for _, want := range []string{
		"cluster: 36 answers, 12 resizes in zone b", // one resize per variant for the zone
		"purge: applied by 3 other nodes",           // b2, b3 and c
		"shield: 1 originals fetched through zone b",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the script's report lacks %q\n%s", want, out)
		}
	}
}

// exampleUsageAuth is the examples' demo login for the collector's
// dashboard and usage API (demo, demo-password).
var exampleUsageAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte("demo:demo-password"))

func TestExampleCollectorWithPostgreSQLCountsTheEdgesTraffic(t *testing.T) {
	t.Setenv("IMGEDGE_PG_DSN", pgtest.DSN(t))
	t.Setenv("IMGEDGE_SPOOL", filepath.Join(t.TempDir(), "spool"))
	collector := fmt.Sprintf("localhost:%d", testenv.FreePort(t))
	c := testenv.Start(t, exampleConfig(t, "collector/Caddyfile",
		"localhost:2021", "{{ADMIN}}", "http://localhost:8082", "http://127.0.0.1:{{PORT}}", "localhost:9082", collector))
	const n = 12
	for i := range n {
		if a := get(t, fmt.Sprintf("%s/photos/leaf.jpg?w=%d", c.Base, 100+10*(i%4))); a.status != 200 {
			t.Fatalf("image request: %d %s", a.status, a.body)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		body = string(get(t, "http://"+collector+"/api/v1/usage?step=24h", "Authorization", exampleUsageAuth).body)
		if strings.Contains(body, fmt.Sprintf(`"requests":%d`, n)) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(body, fmt.Sprintf(`"requests":%d`, n)) || !strings.Contains(body, `"hits":8`) {
		t.Fatalf("the collector's usage %s: want %d requests, 8 of them hits", body, n)
	}
	if page := get(t, "http://"+collector+"/", "Authorization", exampleUsageAuth); page.status != 200 || !strings.Contains(string(page.body), "imgedge usage") {
		t.Errorf("dashboard: %d", page.status)
	}
	if page := get(t, "http://"+collector+"/"); page.status != 401 {
		t.Errorf("dashboard without the password: %d, want 401", page.status)
	}
}

// demoHTML is the demo's index.html, its character references decoded.
func demoHTML(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "examples", "site", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	return html.UnescapeString(string(b))
}

// The demo's imgix URLs are written as @imgix/js-core's buildURL writes
// them: the test asks the library (make test installs it under
// testdata/clientlibs) for each and finds it on the page, and finds no
// other.
func TestTheDemoPagesImgixURLsAreWhatImgixJsCoreWrites(t *testing.T) {
	// Path and buildURL's parameters, in the order the page's URL has them.
	calls := []string{
		`["/photos/path.jpg", {"w": 400, "h": 300, "fit": "crop", "auto": "format"}]`,
		`["/photos/cups.jpg", {"w": 400, "h": 300, "fit": "crop", "auto": "format"}]`,
		`["/photos/cups.jpg", {"w": 400, "h": 300, "fit": "crop", "auto": "format", "bri": 10, "con": 20, "sat": 40, "sharp": 20}]`,
		`["/photos/cups.jpg", {"w": 400, "h": 300, "fit": "crop", "auto": "format", "sat": -100, "con": 30}]`,
		`["/photos/cups.jpg", {"w": 400, "h": 300, "fit": "crop", "auto": "format", "blur": 20}]`,
		`["/photos/kite.jpg", {"w": 400, "h": 300, "fit": "crop", "auto": "format", "mark": "/marks/imgedge.png", "mark-scale": 35, "mark-align": "bottom,right", "mark-alpha": 80}]`,
		`["/photos/leaf.jpg", {"w": 640, "fm": "blurhash"}]`,
		`["/photos/leaf.jpg", {"w": 640, "auto": "format"}]`,
		`["/photos/autumn.jpg", {"palette": "css", "colors": 5, "prefix": "autumn"}]`,
		`["/photos/autumn.jpg", {"w": 640, "auto": "format"}]`,
		`["/photos/kite.jpg", {"fm": "json"}]`,
	}
	const script = `
import ImgixClient from '@imgix/js-core';
const client = new ImgixClient({ domain: 'imgedge.test', useHTTPS: false });
for (const call of JSON.parse(process.argv[1])) {
	console.log(client.buildURL(...call).replace('http://imgedge.test', ''));
}`
	cmd := exec.Command("node", "--input-type=module", "-e", script, "["+strings.Join(calls, ",")+"]")
	cmd.Dir = filepath.Join(testenv.ModuleRoot(t), "testdata", "clientlibs")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node with @imgix/js-core (make clientlibs installs it): %v", err)
	}
	want := strings.Fields(string(out))
	if len(want) != len(calls) {
		t.Fatalf("the library wrote %d URLs for %d calls:\n%s", len(want), len(calls), out)
	}
	page := demoHTML(t)
	written := map[string]bool{}
	for _, u := range want {
		written[u] = true
		if !strings.Contains(page, `"`+u+`"`) && !strings.Contains(page, ">"+u+"<") {
			t.Errorf("the page lacks %s, as js-core writes it", u)
		}
	}
	for _, u := range regexp.MustCompile(`/[^"\s<>]*\?ixlib=[^"\s<>]*`).FindAllString(page, -1) {
		if !written[u] {
			t.Errorf("the page has %s, which the test does not ask js-core for", u)
		}
	}
}

// The demo's signed URL is signed with the key in examples/Caddyfile, the
// demo serves it, and refuses its tampered twin (and the unsigned URL)
// with 403, while the rest of the site needs no signature.
func TestTheDemoPagesSignedURLIsValidAndItsTwinRefused(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "examples", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`sign_key (\S+) (\S+)`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("examples/Caddyfile has no sign_key")
	}
	secret, err := base64.StdEncoding.DecodeString(m[2])
	if err != nil {
		t.Fatal(err)
	}
	key := tenant.Key{ID: m[1], Secret: secret}

	var signed, tampered string
	urls := regexp.MustCompile(`src="(/signed/[^"]+)"`).FindAllStringSubmatch(demoHTML(t), -1)
	for _, u := range urls {
		resigned, err := tenant.SignURL(u[1], key)
		if err != nil {
			t.Fatal(err)
		}
		if resigned == u[1] {
			signed = u[1]
		} else {
			tampered = u[1]
		}
	}
	if len(urls) != 2 || signed == "" || tampered == "" {
		t.Fatalf("the page's /signed/ URLs %q: want one signed with the Caddyfile's key and its tampered twin", urls)
	}
	if s := func(u string) string { return u[strings.LastIndex(u, "&s="):] }; s(signed) != s(tampered) {
		t.Errorf("the tampered URL %s does not carry the signed one's signature (%s)", tampered, signed)
	}

	c := testenv.Start(t, exampleConfig(t, "Caddyfile",
		"localhost:2019", "{{ADMIN}}", "http://localhost:8080", "http://127.0.0.1:{{PORT}}"))
	a := get(t, c.Base+signed, "Accept", "image/avif,image/webp,*/*")
	if a.status != 200 || a.header.Get("Content-Type") != "image/avif" {
		t.Fatalf("%s: %d %q %s", signed, a.status, a.header.Get("Content-Type"), a.body)
	}
	if d := decode(t, a.body); d.width != 400 {
		t.Errorf("%s: %d wide, want 400", signed, d.width)
	}
	unsigned := signed[:strings.LastIndex(signed, "&s=")]
	for _, u := range []string{tampered, unsigned} {
		var p struct{ Param string }
		if a := get(t, c.Base+u); a.status != 403 || json.Unmarshal(a.body, &p) != nil || p.Param != "s" {
			t.Errorf("%s: %d %s, want 403 naming s", u, a.status, a.body)
		}
	}
	if a := get(t, c.Base+"/photos/kite.jpg?w=100"); a.status != 200 {
		t.Errorf("the rest of the demo site, unsigned: %d %s", a.status, a.body)
	}
}
