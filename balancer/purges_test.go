package balancer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imgedge/imgedge/internal/testenv"
)

// appliedLog collects the purges a node applied.
type appliedLog struct {
	mu  sync.Mutex
	got []Purge
}

func (l *appliedLog) add(p Purge) { l.mu.Lock(); l.got = append(l.got, p); l.mu.Unlock() }

func (l *appliedLog) sources() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, p := range l.got {
		out = append(out, fmt.Sprintf("%s%s%v", p.Tenant, p.Source, map[bool]string{true: " all"}[p.All]))
	}
	return out
}

func purgeNode(t *testing.T, consulAddr, service string, port int, log *appliedLog, retention ...time.Duration) *Balancer {
	t.Helper()
	b, err := New(Config{
		Zone: "a", Advertise: fmt.Sprintf("http://127.0.0.1:%d", port), Consul: consulAddr, Service: service,
		OnPurge: log.add, PurgeRetention: append(retention, 0)[0],
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// consulProxy is a way to Consul the test can cut.
func consulProxy(t *testing.T, c *testenv.Consul) (*toxiproxy.Proxy, string) {
	proxyAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	proxy := toxiproxy.NewProxy(server, "to-consul", proxyAddr, c.Addr[len("http://"):])
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)
	return proxy, proxyAddr
}

func TestAPurgeReachesEveryNodeOnceAndANodeThatWasAwayCatchesUp(t *testing.T) {
	c := testenv.StartConsul(t)
	// Node z reaches Consul through a proxy the test cuts.
	proxy, proxyAddr := consulProxy(t, c)

	var xl, yl, zl appliedLog
	x := purgeNode(t, c.Addr, t.Name(), 11001, &xl)
	purgeNode(t, c.Addr, t.Name(), 11002, &yl)
	purgeNode(t, "http://"+proxyAddr, t.Name(), 11003, &zl)
	time.Sleep(500 * time.Millisecond) // every watch has read the log once

	began := time.Now()
	if err := x.PublishPurge(context.Background(), Purge{Tenant: "img.example.com", Source: "/cat.jpg"}); err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]*appliedLog{"y": &yl, "z": &zl} {
		waitFor(t, 2*time.Second, name+" to apply the purge", func() bool { return len(l.sources()) == 1 })
	}
	t.Logf("every node applied the purge within %v", time.Since(began).Round(time.Millisecond))

	// z is away while two more purges are published; back, it applies
	// both, once, in order.
	proxy.Stop()
	for _, src := range []string{"/dog.jpg", "/owl.jpg"} {
		if err := x.PublishPurge(context.Background(), Purge{Tenant: "img.example.com", Source: src}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 2*time.Second, "y to apply both", func() bool { return len(yl.sources()) == 3 })
	if got := xl.sources(); len(got) != 0 {
		t.Errorf("the publisher applied its own purges again from the log: %v", got)
	}
	time.Sleep(300 * time.Millisecond)
	if got := zl.sources(); len(got) != 1 {
		t.Fatalf("z applied %v while it could not reach Consul", got)
	}
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "z to catch up", func() bool { return len(zl.sources()) == 3 })
	want := []string{"img.example.com/cat.jpg", "img.example.com/dog.jpg", "img.example.com/owl.jpg"}
	time.Sleep(300 * time.Millisecond)
	for name, l := range map[string]*appliedLog{"y": &yl, "z": &zl} {
		if got := l.sources(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s applied %v, want %v", name, got, want)
		}
	}
}

func TestANodeStartingLaterAppliesThePurgesItMayHaveMissed(t *testing.T) {
	c := testenv.StartConsul(t)
	var xl, yl, wl appliedLog
	x := purgeNode(t, c.Addr, t.Name(), 11011, &xl)
	purgeNode(t, c.Addr, t.Name(), 11013, &wl)
	time.Sleep(200 * time.Millisecond)
	old := Purge{Tenant: "t", Source: "/old.jpg", At: time.Now().Add(-time.Minute)}
	if err := x.PublishPurge(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "w to apply the old purge", func() bool { return len(wl.sources()) == 1 })
	// y may have been down when the old purge was published: its disk
	// cache may hold what it names.
	purgeNode(t, c.Addr, t.Name(), 11012, &yl)
	time.Sleep(500 * time.Millisecond)
	if err := x.PublishPurge(context.Background(), Purge{Tenant: "t", Source: "/new.jpg"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "y to apply the new purge", func() bool { return len(yl.sources()) >= 2 })
	time.Sleep(200 * time.Millisecond)
	if got := yl.sources(); fmt.Sprint(got) != "[t/old.jpg t/new.jpg]" {
		t.Errorf("y applied %v, want the purge from before it started, then the new one", got)
	}
}

func TestANodeAwayLongerThanThePurgeLogDropsEverything(t *testing.T) {
	c := testenv.StartConsul(t)
	proxy, proxyAddr := consulProxy(t, c)
	const retention = time.Second
	var xl, zl appliedLog
	x := purgeNode(t, c.Addr, t.Name(), 11021, &xl, retention)
	purgeNode(t, "http://"+proxyAddr, t.Name(), 11022, &zl, retention)
	time.Sleep(500 * time.Millisecond)

	proxy.Stop()
	if err := x.PublishPurge(context.Background(), Purge{Tenant: "t", Source: "/old.jpg"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(retention + 200*time.Millisecond)
	// The next purge makes the log's readers collect the expired one.
	if err := x.PublishPurge(context.Background(), Purge{Tenant: "t", Source: "/new.jpg"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the expired purge to be collected", func() bool {
		kv, _, err := c.Client().KV().Get(t.Name()+"/purges/floor", nil)
		return err == nil && kv != nil
	})
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "z to come back", func() bool { return len(zl.sources()) >= 2 })
	time.Sleep(200 * time.Millisecond)
	if got := zl.sources(); fmt.Sprint(got) != "[ all t/new.jpg]" {
		t.Errorf("z, back after the log lost what it missed, applied %q; want everything dropped, then the new purge", got)
	}
}
