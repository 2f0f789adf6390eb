package imgedge

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func TestCaddyfileOptionsAreParsed(t *testing.T) {
	d := caddyfile.NewTestDispenser(`image_resize {
		concurrency   3
		queue         16 100ms
		max_source    10MiB 24MP
		max_frames    100
		max_size      2048 1024
		max_dpr       2.5
		fetch_timeout 3s
		cache_control "public, max-age=60"
		quality       jpeg 70
		quality       avif 50
		avif_effort   4
		webp_effort   2
		node          edge-7
		cache         256MiB originals 64MiB
		cache_ttl     30s 24h
		tenant        {http.request.host.labels.1}
		strict
	}`)
	var got ImageResize
	if err := got.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	effort, webpEffort, queue := 4, 2, 16
	want := ImageResize{
		Concurrency: 3, QueueLength: &queue, QueueTimeout: caddy.Duration(100 * time.Millisecond),
		MaxSourceBytes: 10 << 20, MaxSourcePixels: 24_000_000, MaxFrames: 100,
		MaxWidth: 2048, MaxHeight: 1024, MaxDPR: 2.5, FetchTimeout: caddy.Duration(3 * time.Second),
		CacheControl: "public, max-age=60", Quality: map[string]int{"jpeg": 70, "avif": 50},
		AVIFEffort: &effort, WebPEffort: &webpEffort, Node: "edge-7", Strict: true,
		CacheBytes: 256 << 20, OriginalsBytes: 64 << 20,
		CacheMinTTL: caddy.Duration(30 * time.Second), CacheMaxTTL: caddy.Duration(24 * time.Hour),
		Tenant: "{http.request.host.labels.1}",
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("parsed\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}

func TestCaddyfileWithoutABlockUsesDefaults(t *testing.T) {
	var got ImageResize
	if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`image_resize`)); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(got); string(b) != "{}" {
		t.Errorf("got %s, want an empty config (defaults)", b)
	}
}

func TestBadCaddyfileInputIsRefusedWithAClearMessage(t *testing.T) {
	for _, tc := range []struct{ name, input, wantErr string }{
		{"an argument on the directive", `image_resize 5`, "wrong argument count"},
		{"an unknown option", "image_resize {\n\tcolour red\n}", `unknown image_resize option "colour"`},
		{"an option twice", "image_resize {\n\tconcurrency 2\n\tconcurrency 3\n}", "concurrency given more than once"},
		{"concurrency zero", "image_resize {\n\tconcurrency 0\n}", `concurrency must be a whole number, 1 or more, got "0"`},
		{"concurrency without a value", "image_resize {\n\tconcurrency\n}", "wrong argument count"},
		{"queue not a number", "image_resize {\n\tqueue lots\n}", `queue length must be a whole number`},
		{"queue timeout not a duration", "image_resize {\n\tqueue 10 soon\n}", `queue must be a duration like 250ms or 10s, got "soon"`},
		{"max_source not a size", "image_resize {\n\tmax_source huge\n}", `max_source bytes must be a size like 25MiB, got "huge"`},
		{"max_source pixels not a count", "image_resize {\n\tmax_source 1MiB many\n}", `max_source pixels must be like 50MP`},
		{"max_size negative", "image_resize {\n\tmax_size -5\n}", `max_size must be a whole number`},
		{"max_dpr below one", "image_resize {\n\tmax_dpr 0.5\n}", `max_dpr must be a number, 1 or more`},
		{"quality for an unknown format", "image_resize {\n\tquality bmp 80\n}", `quality: unknown format "bmp"`},
		{"quality out of range", "image_resize {\n\tquality jpeg 0\n}", `quality must be from 1 to 100, got "0"`},
		{"avif_effort out of range", "image_resize {\n\tavif_effort 11\n}", `avif_effort must be from 0 to 9`},
		{"webp_effort out of range", "image_resize {\n\twebp_effort 7\n}", `webp_effort must be from 0 to 6`},
		{"cache not a size", "image_resize {\n\tcache lots\n}", `cache must be a size like 25MiB, got "lots"`},
		{"cache off with a size", "image_resize {\n\tcache off 5MiB\n}", "wrong argument count"},
		{"cache with a stray word", "image_resize {\n\tcache 5MiB extra 1MiB\n}", `want 'originals <size>'`},
		{"cache_ttl with one value", "image_resize {\n\tcache_ttl 1m\n}", "wrong argument count"},
		{"strict with a value", "image_resize {\n\tstrict yes\n}", "wrong argument count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ir ImageResize
			err := ir.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateRefusesImpossibleJSONConfig(t *testing.T) {
	neg := -1
	for _, tc := range []struct {
		name string
		ir   ImageResize
	}{
		{"negative concurrency", ImageResize{Concurrency: -1}},
		{"huge output", ImageResize{MaxWidth: 20000}},
		{"dpr below one", ImageResize{MaxDPR: 0.5}},
		{"negative avif effort", ImageResize{AVIFEffort: &neg}},
		{"quality out of range", ImageResize{Quality: map[string]int{"jpeg": 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.ir.Validate(); err == nil {
				t.Error("Validate accepted it")
			}
		})
	}
}

// TestCaddyfileAdaptsToTheExpectedJSON checks the directive's place in the
// route and its JSON against fixtures: testdata/caddyfile/NAME.caddyfile is
// adapted and compared with NAME.json (UPDATE_GOLDEN=1 rewrites them).
func TestCaddyfileAdaptsToTheExpectedJSON(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/caddyfile/*.caddyfile")
	if len(inputs) == 0 {
		t.Fatal("no fixtures")
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			adapter := caddyconfig.GetAdapter("caddyfile")
			out, warnings, err := adapter.Adapt(src, map[string]any{"filename": in})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range warnings {
				t.Errorf("warning: %s", w.Message)
			}
			var pretty any
			if err := json.Unmarshal(out, &pretty); err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(pretty, "", "\t")
			golden := strings.TrimSuffix(in, ".caddyfile") + ".json"
			if os.Getenv("UPDATE_GOLDEN") == "1" {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
				t.Errorf("adapted JSON differs from %s:\n%s", golden, got)
			}
		})
	}
}

func TestTheImgedgeOptionTakesPeerCAAndMemory(t *testing.T) {
	v, err := parseGlobalOption(caddyfile.NewTestDispenser("imgedge {\n\tpeer_ca /etc/imgedge/ca.pem\n\tmemory 2GiB\n}"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var app App
	if err := json.Unmarshal(v.(httpcaddyfile.App).Value, &app); err != nil {
		t.Fatal(err)
	}
	if app.PeerCA != "/etc/imgedge/ca.pem" || app.Memory != 2<<30 {
		t.Errorf("peer_ca %q, memory %d", app.PeerCA, app.Memory)
	}
	for input, want := range map[string]string{
		"imgedge {\n\tmemory lots\n}":            `memory must be a size like 25MiB, got "lots"`,
		"imgedge {\n\tmemory\n}":                 "wrong argument count",
		"imgedge {\n\tpeer_ca a b\n}":            "wrong argument count",
		"imgedge {\n\tmemory 1G\n\tmemory 2G\n}": "memory given more than once",
	} {
		if _, err := parseGlobalOption(caddyfile.NewTestDispenser(input), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", input, err, want)
		}
	}
}
