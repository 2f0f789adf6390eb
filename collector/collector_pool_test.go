package collector

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/imgedge/imgedge/metering"
)

// A reload provisions the new config while the old one may still be
// answering requests: both use one open store, the old config's Cleanup
// leaves it open for the new one, and the last config to let go closes it.
func TestCollectorPoolSharesTheStoreAcrossAReload(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "usage.db")
	provision := func() *UsageCollector {
		t.Helper()
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		t.Cleanup(cancel)
		uc := &UsageCollector{Storage: "sqlite", DSN: dsn}
		if err := uc.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		return uc
	}
	old := provision()
	next := provision()
	if old.collector.Store != next.collector.Store {
		t.Fatal("two configs with the same storage opened two stores")
	}

	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	minute := time.Now().UTC().Truncate(time.Minute).Format(time.RFC3339)
	batch := `[{"specversion":"1.0","id":"seg-1-a","source":"imgedge/edge-1","type":"` + metering.TypeRollup +
		`","time":"` + minute + `","subject":"acme","data":{"tenant":"acme","status":200,"requests":3,"hits":1}}]`
	req := httptest.NewRequest(http.MethodPost, "/api/v1/events", strings.NewReader(batch))
	req.Header.Set("Content-Type", metering.BatchContentType)
	rec := httptest.NewRecorder()
	if err := next.ServeHTTP(rec, req, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })); err != nil {
		t.Fatal(err)
	}
	var res metering.IngestResult
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &res) != nil || res.New != 1 {
		t.Fatalf("after the old config's cleanup, the new one ingests: %d %s", rec.Code, rec.Body)
	}

	store := next.collector.Store
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Usage(context.Background(), metering.Query{From: time.Now().Add(-time.Hour), To: time.Now(), Step: time.Hour}); err == nil {
		t.Error("the store is still open after the last config let go of it")
	}
}
