// Package balancer lets imgedge nodes in several zones find each other and
// pass work to the nearest healthy zone when their own processing slots are
// full.
//
// Each node registers itself in Consul with its zone in Meta["zone"] and a
// TTL check that the node keeps passing while it runs. While its slots are
// saturated the node turns the check to warning (SetBusy), so that peers,
// which only ever see passing instances, stop sending it work. A node that
// dies stops updating the check, which lapses to critical; Consul drops it
// from the passing set at once and deregisters it after
// DeregisterCriticalServiceAfter.
//
// Discovery watches the passing instances with blocking queries sorted by
// round-trip time from the local agent, and ranks the other zones by the
// median RTT that Consul's network coordinates predict to their nodes; a
// static zone preference list, when given, wins over measured distance.
// When Consul is unreachable the last known peers stay in use, and the node
// registers again as soon as Consul is back (a restarted dev agent has
// forgotten it).
//
// Forwarding is the caller's job. Pick lists one peer per other zone,
// nearest zone first; the caller tries the first, then the second, and
// reports each outcome with Report. Consecutive failures eject a peer for an
// interval that doubles on every ejection up to a cap, and a success
// restores it; a zone whose peers are all ejected is never dropped but goes last,
// so a zone is never emptied by outlier detection alone.
//
// Requests between nodes carry their chain of hops (HopHeader) under a
// proof only nodes can make (Peering): a forwarded request is never
// forwarded again, and no chain grows past MaxHops. Each node also appends
// itself to CDN-Loop (RFC 8586), for loops through other proxies.
//
// A nil *Balancer is a valid single-node balancer: Pick returns nothing and
// every other method does nothing.
package balancer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"
)

// Config configures a Balancer. Only Zone and Advertise are required.
type Config struct {
	// Zone is the zone this node belongs to, registered as Meta["zone"].
	// Required.
	Zone string

	// Advertise is the base URL at which peers reach this node, such as
	// "http://10.0.0.5:8080". Its host and port become the service address
	// and port in Consul; its scheme is registered as Meta["scheme"].
	// Required.
	Advertise string

	// Consul is the address of the local Consul agent's HTTP API, such as
	// "http://127.0.0.1:8500". Default: CONSUL_HTTP_ADDR, else
	// 127.0.0.1:8500.
	Consul string

	// Token is the Consul ACL token. Default: CONSUL_HTTP_TOKEN. It is never
	// logged.
	Token string

	// Service is the Consul service name all nodes share. Default "imgedge".
	Service string

	// ID is this node's service ID; it must be unique in the datacenter.
	// Default: service, zone, advertised host and port joined with "-".
	ID string

	// TTL is the TTL of the health check. The node updates the check three
	// times per TTL, so a node that stopped is seen as down by its peers
	// after at most one TTL. Default 10s.
	TTL time.Duration

	// DeregisterAfter is how long a critical (dead) node stays in the
	// catalog before Consul removes it. Consul reaps at most every 30s and
	// never sooner than 1m. Default 1m.
	DeregisterAfter time.Duration

	// ZonePreference, when set, orders the other zones instead of the
	// network coordinates: the listed zones first, in the listed order,
	// then any unlisted zones nearest first. Use it where the network is
	// known better than Consul can measure it, e.g. for cost.
	ZonePreference []string

	// CoordinateInterval is how often the network coordinates are read
	// again to re-rank zones. They change slowly; Consul itself syncs them
	// every 15s at most. Default 30s.
	CoordinateInterval time.Duration

	// Failures is the number of consecutive failed or timed-out forwards
	// that ejects a peer. Default 3.
	Failures int

	// SlowThreshold, when set, counts a successful forward that took longer
	// than this as a failure. Default 0: only failures count.
	SlowThreshold time.Duration

	// BaseEjection is how long a peer is ejected the first time; each
	// further ejection before a success doubles it up to MaxEjection.
	// Defaults 5s and 2m.
	BaseEjection time.Duration
	MaxEjection  time.Duration

	// OnPurge applies a purge of the fleet's purge log (see PublishPurge)
	// to this node: every purge once, this node's own included, and the
	// ones missed while Consul could not be reached when it is back.
	// Default: purges are not watched.
	OnPurge func(Purge)

	// PurgeRetention is how long the purge log keeps a purge. A node away
	// from Consul for longer cannot know what it missed and drops
	// everything it holds when it is back. Default 1h.
	PurgeRetention time.Duration

	// Logger receives registration and discovery trouble. Default: no logs.
	Logger *zap.Logger
}

// Peer is another node of the service.
type Peer struct {
	// ID is the peer's Consul service ID.
	ID string
	// Zone is the peer's zone.
	Zone string
	// Node is the Consul node the peer registered on.
	Node string
	// URL is the peer's base URL, such as "http://10.0.0.6:8080".
	URL string
}

// Stats is a snapshot for metrics and the admin API.
type Stats struct {
	// Zone is this node's zone.
	Zone string
	// Registered tells whether this node's last registration or TTL update
	// reached Consul.
	Registered bool
	// Busy is the state last set with SetBusy.
	Busy bool
	// Peers counts the known passing peers by zone, this node's own zone
	// included and this node excluded.
	Peers map[string]int
	// Zones lists the other zones that have peers, nearest first: the
	// order Pick uses.
	Zones []string
	// RTT is the estimated median round-trip time to each zone's nodes,
	// for the zones whose coordinates are known.
	RTT map[string]time.Duration
	// Ejected counts the peers ejected right now.
	Ejected int
	// Ejections counts every ejection since start.
	Ejections uint64
	// DiscoveryErrors counts failed discovery and coordinate queries.
	DiscoveryErrors uint64
	// RegistrationErrors counts failed registrations and TTL updates.
	RegistrationErrors uint64
	// PurgesApplied counts the fleet's purges applied on this node.
	PurgesApplied uint64
}

// Balancer registers this node, discovers its peers and picks where to
// forward. Create it with New and stop it with Close.
type Balancer struct {
	cfg       Config
	checkID   string
	scheme    string
	host      string
	port      int
	client    *api.Client
	transport *http.Transport
	logger    *zap.Logger

	table *table

	busy               atomic.Bool
	registered         atomic.Bool
	nudge              chan struct{} // wakes the heartbeat after SetBusy
	refresh            chan struct{} // wakes the coordinate reader after discovery
	discoveryErrors    atomic.Uint64
	registrationErrors atomic.Uint64
	purgesApplied      atomic.Uint64
	published          sync.Map // keys of the purges this node published, applied by the publisher

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once
	closeErr error
	load     *hysteresis // ReportLoad's busy signal
}

// Defaults.
const (
	defaultService            = "imgedge"
	defaultTTL                = 10 * time.Second
	defaultDeregisterAfter    = time.Minute
	defaultCoordinateInterval = 30 * time.Second
	defaultFailures           = 3
	defaultBaseEjection       = 5 * time.Second
	defaultMaxEjection        = 2 * time.Minute
	defaultPurgeRetention     = time.Hour

	// waitTime bounds one blocking query; Consul answers sooner on change.
	waitTime = time.Minute
	// retryMin and retryMax bound the pause after a failed Consul call.
	retryMin = 500 * time.Millisecond
	retryMax = 15 * time.Second
	// callTimeout bounds the calls that are not blocking queries.
	callTimeout = 5 * time.Second
)

// New validates cfg, fills in defaults and starts registering and
// discovering in the background. It does not wait for Consul: an
// unreachable Consul is not an error, the node keeps trying and works
// alone meanwhile.
func New(cfg Config) (*Balancer, error) {
	if cfg.Zone == "" {
		return nil, fmt.Errorf("balancer: zone is required")
	}
	if strings.ContainsAny(cfg.Zone, ",; \t") {
		return nil, fmt.Errorf("balancer: zone %q: must not contain spaces, commas or semicolons", cfg.Zone)
	}
	scheme, host, port, err := parseAdvertise(cfg.Advertise)
	if err != nil {
		return nil, err
	}
	if cfg.Service == "" {
		cfg.Service = defaultService
	}
	if cfg.ID == "" {
		cfg.ID = defaultID(cfg.Service, cfg.Zone, host, port)
	}
	if strings.ContainsAny(cfg.ID, "/?#% ") {
		return nil, fmt.Errorf("balancer: service ID %q: must not contain '/', '?', '#', '%%' or spaces", cfg.ID)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ttl", &cfg.TTL, defaultTTL},
		{"deregister_after", &cfg.DeregisterAfter, defaultDeregisterAfter},
		{"coordinate_interval", &cfg.CoordinateInterval, defaultCoordinateInterval},
		{"base_ejection", &cfg.BaseEjection, defaultBaseEjection},
		{"max_ejection", &cfg.MaxEjection, defaultMaxEjection},
		{"purge_retention", &cfg.PurgeRetention, defaultPurgeRetention},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("balancer: %s %v: must not be negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("balancer: ttl %v: must be at least 1s", cfg.TTL)
	}
	if cfg.MaxEjection < cfg.BaseEjection {
		return nil, fmt.Errorf("balancer: max_ejection %v is below base_ejection %v", cfg.MaxEjection, cfg.BaseEjection)
	}
	if cfg.SlowThreshold < 0 {
		return nil, fmt.Errorf("balancer: slow_threshold %v: must not be negative", cfg.SlowThreshold)
	}
	switch {
	case cfg.Failures < 0:
		return nil, fmt.Errorf("balancer: failures %d: must not be negative", cfg.Failures)
	case cfg.Failures == 0:
		cfg.Failures = defaultFailures
	}
	seen := map[string]bool{}
	for _, z := range cfg.ZonePreference {
		if z == "" || seen[z] {
			return nil, fmt.Errorf("balancer: zone preference %q: empty or listed twice", z)
		}
		seen[z] = true
	}
	cfg.ZonePreference = append([]string(nil), cfg.ZonePreference...)
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}

	acfg := api.DefaultConfig()
	if cfg.Consul != "" {
		acfg.Address = cfg.Consul
	}
	if cfg.Token != "" {
		acfg.Token = cfg.Token
	}
	transport := acfg.Transport // DefaultConfig's pooled transport, closed on Close
	client, err := api.NewClient(acfg)
	if err != nil {
		// The error names the address, never the token.
		return nil, fmt.Errorf("balancer: consul client: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	b := &Balancer{
		cfg:       cfg,
		checkID:   "service:" + cfg.ID,
		scheme:    scheme,
		host:      host,
		port:      port,
		client:    client,
		transport: transport,
		logger:    cfg.Logger,
		table: newTable(cfg.Zone, cfg.ZonePreference, outlierConfig{
			failures: cfg.Failures,
			slow:     cfg.SlowThreshold,
			base:     cfg.BaseEjection,
			max:      cfg.MaxEjection,
		}),
		nudge:   make(chan struct{}, 1),
		refresh: make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
	}
	b.load = &hysteresis{hold: LoadHold, set: b.SetBusy, now: time.Now}
	b.goSafe("heartbeat", b.heartbeat)
	b.goSafe("discovery", b.discover)
	b.goSafe("coordinates", b.coordinates)
	if cfg.OnPurge != nil {
		b.goSafe("purges", b.watchPurges)
	}
	return b, nil
}

// parseAdvertise splits an advertise URL into scheme, host and port.
func parseAdvertise(s string) (scheme, host string, port int, err error) {
	if s == "" {
		return "", "", 0, fmt.Errorf("balancer: advertise URL is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", 0, fmt.Errorf("balancer: advertise URL %q: %v", s, err)
	}
	switch u.Scheme {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return "", "", 0, fmt.Errorf("balancer: advertise URL %q: scheme must be http or https", s)
	}
	host = u.Hostname()
	if host == "" {
		return "", "", 0, fmt.Errorf("balancer: advertise URL %q: no host", s)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "", "", 0, fmt.Errorf("balancer: advertise URL %q: %s is not an address peers can reach", s, host)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", "", 0, fmt.Errorf("balancer: advertise URL %q: only scheme, host and port are allowed", s)
	}
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return "", "", 0, fmt.Errorf("balancer: advertise URL %q: bad port %q", s, p)
		}
	}
	return u.Scheme, host, port, nil
}

// defaultID builds a service ID that is safe in Consul's URL paths.
func defaultID(service, zone, host string, port int) string {
	host = strings.NewReplacer(":", "-", "[", "", "]", "", "%", "-").Replace(host)
	return fmt.Sprintf("%s-%s-%s-%d", service, zone, host, port)
}

// ID returns this node's service ID.
func (b *Balancer) ID() string {
	if b == nil {
		return ""
	}
	return b.cfg.ID
}

// Zone returns this node's zone.
func (b *Balancer) Zone() string {
	if b == nil {
		return ""
	}
	return b.cfg.Zone
}

// Pick returns where to forward a request, best first: the best peer of
// the nearest other zone, then the best peer of the next zone, and so on,
// one peer per zone. It returns nothing when no other zone has a peer.
func (b *Balancer) Pick() []Peer {
	if b == nil {
		return nil
	}
	return b.table.pick()
}

// Report feeds the outcome of a forward to peer into outlier detection:
// ok is false for an error, a timeout or a refusal, took is how long it
// took.
func (b *Balancer) Report(peer Peer, ok bool, took time.Duration) {
	if b == nil {
		return
	}
	if d := b.table.report(peer.ID, ok, took); d > 0 {
		b.logger.Warn("peer ejected after failed forwards", zap.String("peer", peer.ID),
			zap.String("zone", peer.Zone), zap.Duration("for", d))
	}
}

// Peers returns the known passing peers of every zone, this node's own
// zone included, nearest zone first.
func (b *Balancer) Peers() []Peer {
	if b == nil {
		return nil
	}
	return b.table.all()
}

// SetBusy marks this node busy (its processing slots are saturated) or
// free again. A busy node's check turns to warning, so peers stop
// forwarding to it. It never blocks: Consul is told in the background.
func (b *Balancer) SetBusy(busy bool) {
	if b == nil {
		return
	}
	if b.busy.Swap(busy) != busy {
		select {
		case b.nudge <- struct{}{}:
		default:
		}
	}
}

// Stats returns a snapshot of the balancer's state.
func (b *Balancer) Stats() Stats {
	if b == nil {
		return Stats{}
	}
	s := b.table.stats()
	s.Zone = b.cfg.Zone
	s.Registered = b.registered.Load()
	s.Busy = b.busy.Load()
	s.DiscoveryErrors = b.discoveryErrors.Load()
	s.RegistrationErrors = b.registrationErrors.Load()
	s.PurgesApplied = b.purgesApplied.Load()
	return s
}

// Close stops the background work and deregisters this node. It is safe
// to call more than once; later calls return the first call's result.
func (b *Balancer) Close() error {
	if b == nil {
		return nil
	}
	b.once.Do(func() {
		b.halt()
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		err := b.client.Agent().ServiceDeregisterOpts(b.cfg.ID, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			b.closeErr = fmt.Errorf("balancer: deregistering %s: %v", b.cfg.ID, err)
		}
		b.registered.Store(false)
		if b.transport != nil {
			b.transport.CloseIdleConnections()
		}
	})
	return b.closeErr
}

// halt stops the background goroutines and waits for them, leaving the
// registration in Consul as a crashed node would.
func (b *Balancer) halt() {
	b.cancel()
	b.wg.Wait()
}

// goSafe runs loop in a goroutine until the balancer closes. A panic is
// logged and the loop started again after a pause.
func (b *Balancer) goSafe(name string, loop func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for b.ctx.Err() == nil {
			if !b.runSafe(name, loop) {
				return
			}
			b.sleep(retryMax)
		}
	}()
}

// runSafe runs loop and tells whether it panicked.
func (b *Balancer) runSafe(name string, loop func()) (panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			b.logger.Error("balancer: panic, restarting", zap.String("loop", name),
				zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			panicked = true
		}
	}()
	loop()
	return false
}

// sleep waits for d or until the balancer closes, and tells whether it is
// still open.
func (b *Balancer) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-b.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff doubles d up to retryMax.
func backoff(d time.Duration) time.Duration {
	if d < retryMin {
		return retryMin
	}
	return min(2*d, retryMax)
}
