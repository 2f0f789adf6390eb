package imgedge

import (
	"crypto/x509"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"go.uber.org/zap"

	"github.com/imgedge/imgedge/balancer"
	"github.com/imgedge/imgedge/cache"
	"github.com/imgedge/imgedge/internal/pool"
	"github.com/imgedge/imgedge/internal/process"
	"github.com/imgedge/imgedge/metering"
	"github.com/imgedge/imgedge/tenant"
)

func init() {
	caddy.RegisterModule(App{})
	httpcaddyfile.RegisterGlobalOption("imgedge", parseGlobalOption)
}

// App is imgedge's per-process state: which zone and node this is, and the
// usage meter. It is configured with the `imgedge` global option; without
// it every image_resize works alone and records no usage.
type App struct {
	// Zone names this node's zone, sent in the Imgedge-Zone header and in
	// usage records.
	Zone string `json:"zone,omitempty"`

	// Node names this server in headers and usage records. Default: the
	// host name (an image_resize `node` option wins for its site).
	Node string `json:"node,omitempty"`

	// Metering, when set, records the usage of every answered image
	// request and ships it to a collector.
	Metering *MeteringConfig `json:"metering,omitempty"`

	// Consul is the address of the Consul agent (e.g.
	// http://127.0.0.1:8500). When set, this node registers itself in its
	// Zone and forwards requests to the nearest healthy zone when its own
	// processing slots are full. Without it, every node works alone.
	Consul string `json:"consul,omitempty"`

	// ConsulToken is the ACL token for Consul, if it needs one.
	ConsulToken string `json:"consul_token,omitempty"`

	// Service is the Consul service name the nodes share.
	// Default: "imgedge".
	Service string `json:"service,omitempty"`

	// Advertise is the URL other nodes reach this one at, e.g.
	// http://edge-1.example.net:8080. Required with Consul.
	Advertise string `json:"advertise,omitempty"`

	// Prefer lists zones in the order to forward to, overriding the
	// distance Consul's network coordinates give.
	Prefer []string `json:"prefer,omitempty"`

	// Cluster, with Consul, makes the nodes of a zone one cache: every
	// source has an owner among the zone's nodes (rendezvous hashing over
	// the nodes Consul knows), which makes its variants and fetches its
	// original once for the whole zone; the other nodes ask it and keep
	// copies of what is hot. "off" makes every node keep its own cache.
	// Default: on when zone and consul are set.
	Cluster string `json:"cluster,omitempty"`

	// Shield names another zone through which this zone fetches its
	// originals (a tiered cache): the node there that owns the source
	// fetches it from the origin once and keeps it for every zone that
	// shields through it. A shield that cannot be reached is skipped for
	// the origin itself. Default: none, originals come from the origin.
	Shield string `json:"shield,omitempty"`

	// TenantsKV, with Consul, reads per-tenant settings from Consul KV:
	// one JSON document per tenant under this prefix (e.g.
	// "imgedge/tenants/"), watched so changes apply within seconds without
	// a reload. They take precedence over image_resize's tenants.
	TenantsKV string `json:"tenants_kv,omitempty"`

	// Secret is the key the nodes of a cluster share to authenticate the
	// requests they send each other (an HMAC over each forwarded request):
	// only a request that carries a valid one counts as forwarded by a
	// peer. At least 32 characters; required with Consul. Keep it out of
	// the config file: `secret {env.IMGEDGE_SECRET}`.
	Secret string `json:"secret,omitempty"`
	secret string // Secret with placeholders replaced

	// PeerCA is a PEM file of the certificate authorities that sign the
	// certificates of nodes advertising an https URL: the nodes then talk
	// TLS to each other, and only to a peer whose certificate one of them
	// signed for the advertised host. Default: the system's roots. With
	// http advertise URLs, requests between nodes (and the originals a
	// shield zone hands out) cross the network in clear; the secret
	// proves who sent them, it does not hide them.
	PeerCA string `json:"peer_ca,omitempty"`

	// SourceBudget bounds the bytes of originals this process fetches and
	// holds for processing at once, and MaxFetches how many originals are
	// in flight at once. A request waits for room up to its handler's
	// queue_timeout, then gets 503. Defaults: 256 MiB, and 16 per core.
	SourceBudget int64 `json:"source_budget,omitempty"`
	MaxFetches   int   `json:"max_fetches,omitempty"`

	// Memory is the memory this node may use, in bytes. The defaults that
	// hold memory derive from it: each variant cache 1/8 of it (between
	// 64 MiB and 1 GiB) and its originals a quarter of that, the source
	// budget 1/8 (between 32 and 256 MiB), and Go's soft memory limit half
	// of it (unless GOMEMLIMIT is set), which keeps the collector from
	// letting the heap grow to twice what is live. See the README's memory
	// envelope. Default: the memory available to the process, the lower
	// of MemTotal and its cgroup limit.
	Memory int64 `json:"memory,omitempty"`
	memory int64 // Memory, or what was found

	tenants     *tenant.Watched
	tenantsKey  string
	meter       *metering.Meter
	meterKey    string
	balancer    *balancer.Balancer
	balancerKey string
	peering     *balancer.Peering // with the balancer: signs and checks requests between nodes
	logger      *zap.Logger
}

// MeteringConfig configures usage recording and shipping.
type MeteringConfig struct {
	// Collector is the URL of a usage_collector's POST /api/v1/events.
	// A user and password in it (https://edge:secret@usage.example.net/...)
	// are sent as HTTP basic authentication; placeholders such as
	// {env.IMGEDGE_USAGE_PASSWORD} are replaced. Empty: records are kept
	// in the spool only.
	Collector string `json:"collector,omitempty"`

	// Token, when set, is sent as "Authorization: Bearer <token>" with
	// every batch, for a collector that checks a bearer token; it takes
	// the place of a user and password in Collector. Placeholders are
	// replaced: {env.IMGEDGE_USAGE_TOKEN} keeps it out of the config.
	// Default: none.
	Token string `json:"token,omitempty"`

	// Spool is the directory where records wait, durably, until the
	// collector acknowledges them. Required. One process owns it; it is
	// kept across config reloads.
	Spool string `json:"spool"`

	// BatchInterval, BatchRecords and BatchBytes seal a batch at
	// whichever comes first. Defaults: 2s, no record limit, 1 MiB.
	BatchInterval caddy.Duration `json:"batch_interval,omitempty"`
	BatchRecords  int            `json:"batch_records,omitempty"`
	BatchBytes    int            `json:"batch_bytes,omitempty"`

	// SpoolMaxBytes caps the spool on disk; beyond it usage is kept as
	// in-memory per-tenant totals and shipped later. Default: 1 GiB.
	SpoolMaxBytes int64 `json:"spool_max_bytes,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "imgedge", New: func() caddy.Module { return new(App) }}
}

// Provision opens (or reuses) the usage meter.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	// The secret may come from a placeholder ({env.IMGEDGE_SECRET}).
	a.secret = caddy.NewReplacer().ReplaceAll(a.Secret, "")
	if a.Consul != "" && len(a.secret) < minSecretLen {
		return fmt.Errorf("secret: the nodes of a cluster (consul is set) must share a secret of at least %d characters, to authenticate the requests they forward to each other", minSecretLen)
	}
	switch a.Cluster {
	case "", "on", "off":
	default:
		return fmt.Errorf("cluster %q: want on or off", a.Cluster)
	}
	if a.Shield != "" && (a.Consul == "" || a.Shield == a.Zone) {
		return fmt.Errorf("shield %q: needs consul, and another zone than this node's own (%q)", a.Shield, a.Zone)
	}
	if a.SourceBudget < 0 || a.MaxFetches < 0 || a.Memory < 0 {
		return fmt.Errorf("source_budget, max_fetches and memory must not be negative")
	}
	a.provisionMemory()
	if err := a.provisionBalancer(); err != nil {
		return err
	}
	if err := a.provisionTenants(); err != nil {
		return err
	}
	if a.Metering == nil {
		return nil
	}
	m := a.Metering
	if m.Spool == "" {
		return fmt.Errorf("metering: spool directory is required")
	}
	source, err := meteringSource(a.Node)
	if err != nil {
		return fmt.Errorf("metering: %v", err)
	}
	// Credentials may come from placeholders ({env.IMGEDGE_USAGE_TOKEN}).
	repl := caddy.NewReplacer()
	collector, token := repl.ReplaceAll(m.Collector, ""), repl.ReplaceAll(m.Token, "")
	meter, loaded, err := process.LoadMeter(metering.Config{
		Dir:           m.Spool,
		Collector:     collector,
		Token:         token,
		Source:        source,
		BatchInterval: time.Duration(m.BatchInterval),
		BatchRecords:  m.BatchRecords,
		BatchBytes:    m.BatchBytes,
		SpoolMaxBytes: m.SpoolMaxBytes,
		Logger:        a.logger.Named("metering"),
	}, a.logger)
	if err != nil {
		return fmt.Errorf("metering: %v", err)
	}
	if loaded {
		a.logger.Debug("reusing the running usage spool; collector and batch changes apply after a restart", zap.String("spool", m.Spool))
	}
	a.meter, a.meterKey = meter, m.Spool
	return nil
}

// meteringSource is the CloudEvents source of this process's usage events:
// "imgedge/" and the node name, by default the host name.
func meteringSource(node string) (string, error) {
	name, err := nodeName(node)
	return "imgedge/" + name, err
}

// nodeName is the first of names that is set, else the host name.
func nodeName(names ...string) (string, error) {
	for _, n := range names {
		if n != "" {
			return n, nil
		}
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("naming this node: %v (set node explicitly)", err)
	}
	return host, nil
}

// provisionMemory works out the node's memory and sets Go's soft memory
// limit to half of it, unless GOMEMLIMIT is set: the Go heap holds the
// caches and the originals in flight, and without a limit the collector
// lets it reach twice what is live (Caddy's own default limit is 90% of
// the machine, which leaves no room for libvips).
func (a *App) provisionMemory() {
	a.memory = a.Memory
	if a.memory == 0 {
		a.memory = cache.AvailableMemory()
	}
	if a.memory > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(a.memory / 2)
	}
}

// minSecretLen is the shortest cluster secret accepted.
const minSecretLen = 32

func (a *App) provisionBalancer() error {
	if a.Consul == "" {
		return nil
	}
	if a.Zone == "" || a.Advertise == "" {
		return fmt.Errorf("zones: with consul, zone and advertise are required")
	}
	key, b, err := process.LoadBalancer(balancer.Config{
		Zone:           a.Zone,
		Advertise:      a.Advertise,
		Consul:         a.Consul,
		Token:          a.ConsulToken,
		Service:        a.Service,
		ZonePreference: a.Prefer,
		Logger:         a.logger.Named("zones"),
	})
	if err != nil {
		return fmt.Errorf("zones: %v", err)
	}
	a.balancer, a.balancerKey = b, key
	var roots *x509.CertPool
	if a.PeerCA != "" {
		pem, err := os.ReadFile(a.PeerCA)
		if err != nil {
			return fmt.Errorf("peer_ca: %v", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("peer_ca %s: no PEM certificate in it", a.PeerCA)
		}
	}
	a.peering = balancer.NewPeering(balancer.PeeringConfig{Secret: []byte(a.secret), Self: b.ID(), RootCAs: roots})
	return nil
}

// clustered tells whether the nodes of this zone share their cache.
func (a *App) clustered() bool { return a.balancer != nil && a.Cluster != "off" }

func (a *App) provisionTenants() error {
	if a.TenantsKV == "" {
		return nil
	}
	if a.Consul == "" {
		return fmt.Errorf("tenants_kv needs consul")
	}
	key, w, err := process.LoadTenants(tenant.ConsulConfig{
		Address: a.Consul, Token: a.ConsulToken, Prefix: a.TenantsKV,
		ByHost: true, Logger: a.logger.Named("tenants"),
	})
	if err != nil {
		return fmt.Errorf("tenants_kv: %v", err)
	}
	a.tenants, a.tenantsKey = w, key
	return nil
}

// Start implements caddy.App.
func (a *App) Start() error { return nil }

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Cleanup lets go of the meter; the last config to do so closes it.
func (a *App) Cleanup() error {
	a.peering.Close()
	return pool.Release([]pool.Key{{Pool: process.TenantStores, Key: a.tenantsKey}, {Pool: process.Balancers, Key: a.balancerKey}, {Pool: process.Meters, Key: a.meterKey}})
}

var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
