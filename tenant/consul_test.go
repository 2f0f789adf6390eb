package tenant

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imgedge/imgedge/internal/testenv"
)

// TestWatchedReadsTenantsFromConsul runs a real Consul agent (bin/consul,
// `make consul`): documents are keyed by canonical name, "*" holds the
// settings of unlisted tenants, and two keys naming one tenant are refused
// while it keeps its last good settings.
func TestWatchedReadsTenantsFromConsul(t *testing.T) {
	consul := testenv.StartConsul(t)
	kv := consul.Client().KV()
	const prefix = "test/tenants/"
	put := func(key, doc string) {
		t.Helper()
		if _, err := kv.Put(&api.KVPair{Key: prefix + key, Value: []byte(doc)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	core, logs := observer.New(zap.ErrorLevel)
	w, err := NewWatched(ConsulConfig{Address: consul.Addr, Prefix: prefix, ByHost: true, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Consul's tenants over the configured ones, as the imgedge app layers
	// them.
	layered := Layered{w, Static{"site.example": {DefaultQuality: 30}, Default: {DefaultQuality: 31}}}
	// waitFor polls the store (it answers from memory) until cond holds.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	quality := func(name string) (int, bool) {
		s, ok := layered.Get(name)
		return s.DefaultQuality, ok
	}

	put("IMG.Example.com.", `{"default_quality": 70}`)
	put("BÜCHER.example", `{"default_quality": 60}`)
	waitFor("the tenants", func() bool { _, ok := quality("xn--bcher-kva.example"); return ok })
	if q, ok := quality("img.example.com"); !ok || q != 70 {
		t.Errorf("a key in upper case with a trailing dot: Get(img.example.com) = %d, %v; want 70, listed", q, ok)
	}
	if q, ok := quality("other.example"); ok || q != 31 {
		t.Errorf("without a * document, an unlisted tenant: %d, %v; want the fallback's defaults (31), unlisted", q, ok)
	}
	if q, ok := quality("site.example"); !ok || q != 30 {
		t.Errorf("a tenant only the fallback lists: %d, %v; want 30, listed", q, ok)
	}

	put("*", `{"default_quality": 40}`)
	waitFor("the * settings", func() bool { q, _ := quality("other.example"); return q == 40 })
	if q, ok := quality("other.example"); ok {
		t.Errorf("an unlisted tenant is reported as listed (%d)", q)
	}
	if q, ok := quality("site.example"); !ok || q != 30 {
		t.Errorf("with a * document, a tenant the fallback lists: %d, %v; want 30, listed", q, ok)
	}
	if q, ok := quality("*"); ok || q != 40 {
		t.Errorf("a tenant named *: %d, %v; want the * settings, unlisted", q, ok)
	}
	if d, ok := layered.Defaults(); !ok || d.DefaultQuality != 40 {
		t.Errorf("Defaults = %+v, %v", d, ok)
	}

	// A second key for img.example.com: both are refused, the tenant keeps
	// its settings, and the error names both keys. The sentinel, written
	// after it, shows the watcher has read the clash.
	put("img.example.com", `{"default_quality": 99}`)
	put("sentinel.example", `{}`)
	waitFor("the sentinel", func() bool { _, ok := quality("sentinel.example"); return ok })
	if q, ok := quality("img.example.com"); !ok || q != 70 {
		t.Errorf("after a clashing key: Get(img.example.com) = %d, %v; want the last good 70", q, ok)
	}
	clash := logs.FilterMessageSnippet("two keys name the same tenant").All()
	if len(clash) == 0 {
		t.Fatalf("no error logged for the clash; logged: %v", logs.All())
	}
	f := clash[len(clash)-1].ContextMap()
	if f["key"] != prefix+"IMG.Example.com." || f["other_key"] != prefix+"img.example.com" {
		t.Errorf("the clash error names %v and %v", f["key"], f["other_key"])
	}

	// A broken * document keeps the last good defaults; a bad name is skipped.
	put("*", `{"default_quality": 1000}`)
	put("bad name", `{}`)
	put("sentinel2.example", `{}`)
	waitFor("the second sentinel", func() bool { _, ok := quality("sentinel2.example"); return ok })
	if q, _ := quality("other.example"); q != 40 {
		t.Errorf("after an invalid * document: %d, want the last good 40", q)
	}
	if len(logs.FilterMessageSnippet("bad name").All()) == 0 {
		t.Errorf("no error logged for the key with a space; logged: %v", logs.All())
	}

	// Removing the clashing key lets the first one count again; removing *
	// falls back to the fallback's defaults.
	if _, err := kv.Delete(prefix+"img.example.com", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Delete(prefix+"*", nil); err != nil {
		t.Fatal(err)
	}
	waitFor("the fallback's defaults", func() bool { q, _ := quality("other.example"); return q == 31 })
	if q, ok := quality("img.example.com"); !ok || q != 70 {
		t.Errorf("after the clash is resolved: %d, %v; want 70", q, ok)
	}
}

// While the watcher parses a listing, Get answers from the last one: the
// documents are parsed outside the lock. A logger that stops at the first
// invalid document holds the watcher in the middle of a parse.
func TestWatchedAnswersWhileItParses(t *testing.T) {
	consul := testenv.StartConsul(t)
	kv := consul.Client().KV()
	const prefix = "test/parsing/"
	put := func(key, doc string) {
		t.Helper()
		if _, err := kv.Put(&api.KVPair{Key: prefix + key, Value: []byte(doc)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	parsing, release := make(chan struct{}), make(chan struct{})
	var entered sync.Once
	hold := func(e zapcore.Entry) error {
		if strings.Contains(e.Message, "invalid tenant settings") {
			entered.Do(func() { close(parsing) })
			<-release
		}
		return nil
	}
	core, _ := observer.New(zap.ErrorLevel)
	w, err := NewWatched(ConsulConfig{Address: consul.Addr, Prefix: prefix, Logger: zap.New(zapcore.RegisterHooks(core, hold))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var released sync.Once
	defer released.Do(func() { close(release) }) // before Close, even on failure

	put("a.example", `{"default_quality": 70}`)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ok := w.Get("a.example"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the first tenant")
		}
	}

	put("b.example", `{"default_quality": 1000}`)
	select {
	case <-parsing:
	case <-time.After(15 * time.Second):
		t.Fatal("the watcher never read the invalid document")
	}
	got := make(chan Settings, 1)
	go func() {
		s, _ := w.Get("a.example")
		got <- s
	}()
	select {
	case s := <-got:
		if s.DefaultQuality != 70 {
			t.Errorf("Get during a parse = %+v, want the last settings (quality 70)", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Get waited for the watcher to finish parsing a listing")
	}
	released.Do(func() { close(release) })
}

func TestNextIndex(t *testing.T) {
	cases := []struct {
		name       string
		prev, last uint64
		next       uint64
		pause      bool
	}{
		{"the first answer gives the index to wait on", 0, 42, 42, false},
		{"a newer index is waited on", 42, 57, 57, false},
		{"the same index (a timeout) is waited on again", 42, 42, 42, false},
		{"an index that went back (a restarted Consul) starts over", 42, 7, 0, false},
		{"an index of 0 is never waited on, and pauses", 42, 0, 0, true},
		{"an index of 0 from the start pauses too", 0, 0, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next, pause := nextIndex(tc.prev, tc.last)
			if next != tc.next || pause != tc.pause {
				t.Errorf("nextIndex(%d, %d) = %d, %v; want %d, %v", tc.prev, tc.last, next, pause, tc.next, tc.pause)
			}
		})
	}
}
