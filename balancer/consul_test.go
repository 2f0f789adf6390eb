package balancer

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/imgedge/imgedge/internal/testenv"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// newNode starts a balancer in zone registered with the agent; the test
// closes it at the end.
func newNode(t *testing.T, c *testenv.Consul, service, zone string, port int, ttl time.Duration) *Balancer {
	t.Helper()
	b, err := New(Config{
		Zone:      zone,
		Advertise: fmt.Sprintf("http://127.0.0.1:%d", port),
		Consul:    c.Addr,
		Service:   service,
		TTL:       ttl,
		Logger:    zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named(zone),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// threeZones starts balancers in zones a, b and c and waits until each
// sees the other two.
func threeZones(t *testing.T, c *testenv.Consul, ttl time.Duration) (a, b, cc *Balancer) {
	t.Helper()
	a = newNode(t, c, t.Name(), "a", 10001, ttl)
	b = newNode(t, c, t.Name(), "b", 10002, ttl)
	cc = newNode(t, c, t.Name(), "c", 10003, ttl)
	for _, n := range []*Balancer{a, b, cc} {
		waitFor(t, 20*time.Second, fmt.Sprintf("zone %s to see the other two zones", n.Zone()), func() bool {
			return len(n.Peers()) == 2
		})
	}
	return a, b, cc
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func peerIDs(b *Balancer) []string {
	out := ids(b.Peers())
	slices.Sort(out)
	return out
}

// checkStatus returns the status of a node's TTL check as Consul has it.
func checkStatus(t *testing.T, client *api.Client, b *Balancer) string {
	t.Helper()
	checks, _, err := client.Health().Checks(b.cfg.Service, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.ServiceID == b.ID() {
			return c.Status
		}
	}
	return "absent"
}

func TestThreeZonesRegisterAndDiscoverEachOther(t *testing.T) {
	c := testenv.StartConsul(t)
	start := time.Now()
	a, b, cc := threeZones(t, c, 5*time.Second)
	t.Logf("three zones discovered each other in %v", time.Since(start).Round(time.Millisecond))

	got := a.Pick()
	if len(got) != 2 || got[0].Zone != "b" || got[1].Zone != "c" {
		t.Fatalf("a.Pick() = %+v, want one peer of b then one of c", got)
	}
	want := Peer{ID: b.ID(), Zone: "b", Node: "imgedge-test", URL: "http://127.0.0.1:10002"}
	if got[0] != want {
		t.Errorf("a.Pick()[0] = %+v, want %+v", got[0], want)
	}
	if got := cc.Pick(); len(got) != 2 || got[0].ID != a.ID() || got[1].ID != b.ID() {
		t.Errorf("c.Pick() = %+v, want a then b", got)
	}

	client := c.Client()
	svc, _, err := client.Agent().Service(a.ID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Service != t.Name() || svc.Meta["zone"] != "a" || svc.Address != "127.0.0.1" || svc.Port != 10001 {
		t.Errorf("registered service = %+v", svc)
	}
	if s := checkStatus(t, client, a); s != api.HealthPassing {
		t.Errorf("a's check is %s, want passing", s)
	}
	s := a.Stats()
	t.Logf("a.Stats() = %+v", s)
	if !s.Registered || s.Peers["b"] != 1 || s.Peers["c"] != 1 || !slices.Equal(s.Zones, []string{"b", "c"}) {
		t.Errorf("a.Stats() = %+v", s)
	}

	// Close deregisters: the others stop seeing a at once.
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := client.Agent().Service(a.ID(), nil); err == nil {
		t.Error("a is still registered after Close")
	}
	for _, n := range []*Balancer{b, cc} {
		waitFor(t, 10*time.Second, "zone "+n.Zone()+" to forget the closed node", func() bool {
			return len(n.Peers()) == 1
		})
	}
}

func TestABusyNodeLeavesThePassingPeersAndComesBack(t *testing.T) {
	c := testenv.StartConsul(t)
	client := c.Client()
	a, b, cc := threeZones(t, c, 5*time.Second)

	a.SetBusy(true)
	for _, n := range []*Balancer{b, cc} {
		waitFor(t, 10*time.Second, "zone "+n.Zone()+" to drop the busy node", func() bool {
			return !slices.Contains(peerIDs(n), a.ID())
		})
	}
	if s := checkStatus(t, client, a); s != api.HealthWarning {
		t.Errorf("busy a's check is %s, want warning", s)
	}
	if got := b.Pick(); len(got) != 1 || got[0].Zone != "c" {
		t.Errorf("b.Pick() with a busy = %+v, want only c", got)
	}
	if !a.Stats().Busy {
		t.Error("a.Stats().Busy = false")
	}

	a.SetBusy(false)
	for _, n := range []*Balancer{b, cc} {
		waitFor(t, 10*time.Second, "zone "+n.Zone()+" to see the node again", func() bool {
			return slices.Contains(peerIDs(n), a.ID())
		})
	}
	if s := checkStatus(t, client, a); s != api.HealthPassing {
		t.Errorf("a's check is %s after SetBusy(false), want passing", s)
	}
}

func TestConsulDownKeepsTheLastPeersAndARestartReRegisters(t *testing.T) {
	c := testenv.StartConsul(t)
	nodes := make([]*Balancer, 3)
	nodes[0], nodes[1], nodes[2] = threeZones(t, c, 3*time.Second)

	c.Stop()
	for _, n := range nodes {
		errs := n.Stats().DiscoveryErrors
		waitFor(t, 10*time.Second, "zone "+n.Zone()+" to notice Consul is gone", func() bool {
			return n.Stats().DiscoveryErrors > errs && !n.Stats().Registered
		})
	}
	for _, n := range nodes {
		if got := n.Pick(); len(got) != 2 {
			t.Errorf("zone %s picks %+v with Consul down, want the last known two", n.Zone(), got)
		}
	}

	restart := time.Now()
	c.Start() // a dev agent: it forgot every registration
	client := c.Client()
	waitFor(t, 30*time.Second, "all three nodes to register again", func() bool {
		entries, _, err := client.Health().Service(t.Name(), "", true, nil)
		return err == nil && len(entries) == 3
	})
	for _, n := range nodes {
		waitFor(t, 30*time.Second, "zone "+n.Zone()+" to discover its peers again", func() bool {
			return n.Stats().Registered && len(n.Peers()) == 2
		})
	}
	t.Logf("re-registered and rediscovered %v after Consul restarted", time.Since(restart).Round(time.Millisecond))
}

func TestANodeConsulForgotRegistersAgain(t *testing.T) {
	c := testenv.StartConsul(t)
	client := c.Client()
	a, b, _ := threeZones(t, c, 3*time.Second)

	// What a Consul restart between two TTL updates looks like to a: its
	// next update fails with an unknown check.
	errs := a.Stats().RegistrationErrors
	if err := client.Agent().ServiceDeregister(a.ID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a to register again", func() bool {
		svc, _, err := client.Agent().Service(a.ID(), nil)
		return err == nil && svc.Meta["zone"] == "a" && checkStatus(t, client, a) == api.HealthPassing
	})
	if got := a.Stats().RegistrationErrors; got != errs {
		t.Errorf("registration errors went from %d to %d: the update failure should be healed, not counted", errs, got)
	}
	waitFor(t, 10*time.Second, "b to see a again", func() bool {
		return slices.Contains(peerIDs(b), a.ID())
	})
}

func TestADeadNodeDisappearsWhenItsTTLLapses(t *testing.T) {
	c := testenv.StartConsul(t)
	const ttl = 2 * time.Second
	a, b, cc := threeZones(t, c, ttl)

	died := time.Now()
	cc.halt() // like kill -9: no more TTL updates, no deregistration
	for _, n := range []*Balancer{a, b} {
		waitFor(t, 5*ttl, "zone "+n.Zone()+" to drop the dead node", func() bool {
			return len(n.Peers()) == 1 && !slices.Contains(peerIDs(n), cc.ID())
		})
	}
	t.Logf("dead node dropped %v after it stopped (TTL %v)", time.Since(died).Round(time.Millisecond), ttl)
	if s := checkStatus(t, c.Client(), cc); s != api.HealthCritical {
		t.Errorf("dead node's check is %s, want critical", s)
	}
	if got := a.Pick(); len(got) != 1 || got[0].Zone != "b" {
		t.Errorf("a.Pick() = %+v, want only b", got)
	}
}

func TestUnreachableConsulLeavesTheNodeAlone(t *testing.T) {
	port := testenv.FreeTCPUDPPorts(t, 1)[0] // nothing listens there
	b, err := New(Config{Zone: "a", Advertise: "http://127.0.0.1:10001", Consul: "127.0.0.1:" + strconv.Itoa(port)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a discovery error to be counted", func() bool {
		s := b.Stats()
		return s.DiscoveryErrors > 0 && s.RegistrationErrors > 0
	})
	if got := b.Pick(); len(got) != 0 {
		t.Errorf("Pick() = %+v without Consul, want nothing", got)
	}
	b.SetBusy(true) // must not block
	start := time.Now()
	err = b.Close()
	if err == nil {
		t.Error("Close() = nil, want the failed deregistration")
	}
	if took := time.Since(start); took > 2*callTimeout {
		t.Errorf("Close took %v", took)
	}
	if err2 := b.Close(); err2 != err {
		t.Errorf("second Close() = %v, want the first result %v", err2, err)
	}
}

func TestANilBalancerIsASingleNode(t *testing.T) {
	var b *Balancer
	b.SetBusy(true)
	b.Report(Peer{ID: "x"}, false, time.Second)
	if b.Pick() != nil || b.Peers() != nil || b.ID() != "" || b.Zone() != "" || b.Close() != nil {
		t.Error("a nil balancer did something")
	}
	if s := b.Stats(); s.Registered || len(s.Peers) != 0 {
		t.Errorf("Stats() = %+v", s)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := Config{Zone: "a", Advertise: "http://127.0.0.1:8080"}
	tests := []struct {
		name   string
		modify func(*Config)
	}{
		{"a missing zone", func(c *Config) { c.Zone = "" }},
		{"a zone with a comma", func(c *Config) { c.Zone = "a,b" }},
		{"a missing advertise URL", func(c *Config) { c.Advertise = "" }},
		{"an advertise URL without scheme", func(c *Config) { c.Advertise = "127.0.0.1:8080" }},
		{"an ftp advertise URL", func(c *Config) { c.Advertise = "ftp://127.0.0.1" }},
		{"an unspecified advertise address", func(c *Config) { c.Advertise = "http://0.0.0.0:8080" }},
		{"an advertise URL with a path", func(c *Config) { c.Advertise = "http://127.0.0.1:8080/x" }},
		{"an advertise port out of range", func(c *Config) { c.Advertise = "http://127.0.0.1:70000" }},
		{"an ID with a slash", func(c *Config) { c.ID = "a/b" }},
		{"a TTL under a second", func(c *Config) { c.TTL = 500 * time.Millisecond }},
		{"a negative ejection", func(c *Config) { c.BaseEjection = -time.Second }},
		{"a cap below the base ejection", func(c *Config) { c.BaseEjection, c.MaxEjection = time.Minute, time.Second }},
		{"negative failures", func(c *Config) { c.Failures = -1 }},
		{"a zone preferred twice", func(c *Config) { c.ZonePreference = []string{"b", "b"} }},
		{"a bad consul scheme", func(c *Config) { c.Consul = "ftp://127.0.0.1:8500" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.modify(&cfg)
			if b, err := New(cfg); err == nil {
				b.Close()
				t.Fatalf("New accepted %+v", cfg)
			}
		})
	}
}

func TestDefaultIDIsSafeInConsulPaths(t *testing.T) {
	_, host, port, err := parseAdvertise("https://[::1]")
	if err != nil {
		t.Fatal(err)
	}
	if got := defaultID("imgedge", "eu-1", host, port); got != "imgedge-eu-1---1-443" {
		t.Errorf("defaultID = %q", got)
	}
}
