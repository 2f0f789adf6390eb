package tenant

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"
)

// ConsulConfig configures a Watched store.
type ConsulConfig struct {
	// Address of the Consul agent, e.g. http://127.0.0.1:8500.
	Address string
	// Token is the ACL token, if Consul needs one. Never logged.
	Token string
	// Prefix holds one JSON document per tenant: Prefix+tenant is the key,
	// Settings as JSON the value. Prefix+"*" holds the Default settings of
	// every tenant not listed. Default: "imgedge/tenants/".
	Prefix string
	// ByHost keys the tenants the way a tenant taken from the request's
	// host is named: each name as Canonical gives it ("IMG.example.com."
	// is keyed "img.example.com"). When false, names are only trimmed, as
	// Normalize(name, false). Default: false.
	ByHost bool
	// Logger; default: none.
	Logger *zap.Logger
}

// Watched is a Store fed by Consul KV: it watches the prefix with blocking
// queries and answers from memory, so a tenant change reaches every node
// within a second or so, without a config reload, and a Consul outage
// keeps the last settings seen. A document that does not parse or
// validate, a name Normalize refuses and two names that normalise to the
// same tenant are logged and ignored (the tenant keeps its previous
// settings).
type Watched struct {
	cfg    ConsulConfig
	client *api.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.RWMutex
	settings map[string]Settings
	index    uint64
	synced   chan struct{} // closed after the first successful read
	once     sync.Once
}

// NewWatched starts watching. It does not wait for Consul: until the first
// answer, it lists no tenant. Layer it over the configured tenants
// (Layered{watched, static}) for Consul to take precedence.
func NewWatched(cfg ConsulConfig) (*Watched, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "imgedge/tenants/"
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	ac := api.DefaultConfig()
	if cfg.Address != "" {
		ac.Address = cfg.Address
	}
	ac.Token = cfg.Token
	client, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("consul client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watched{cfg: cfg, client: client, cancel: cancel, done: make(chan struct{}), settings: map[string]Settings{}, synced: make(chan struct{})}
	go w.watch(ctx)
	return w, nil
}

// Get answers from the last settings read from Consul: a tenant's own,
// listed, else the Default settings, unlisted.
func (w *Watched) Get(tenant string) (Settings, bool) {
	if w == nil {
		return Settings{}, false
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if s, ok := w.settings[tenant]; ok && tenant != Default {
		return s, true
	}
	return w.settings[Default], false
}

// Defaults returns Consul's Default settings, if it has any.
func (w *Watched) Defaults() (Settings, bool) {
	if w == nil {
		return Settings{}, false
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	def, ok := w.settings[Default]
	return def, ok
}

// Synced is closed once the store has read Consul successfully.
func (w *Watched) Synced() <-chan struct{} { return w.synced }

// Close stops watching. It is idempotent.
func (w *Watched) Close() {
	if w == nil {
		return
	}
	w.cancel()
	<-w.done
}

func (w *Watched) watch(ctx context.Context) {
	defer close(w.done)
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		err := w.poll(ctx)
		if err == nil {
			backoff = 250 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			return
		}
		// After an error the index may belong to a Consul that restarted
		// (and started counting again): a blocking query on it would wait
		// for minutes. Start over with the current state.
		w.index = 0
		w.cfg.Logger.Warn("reading tenant settings from Consul; keeping the last ones", zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// poll waits for a change under the prefix (or 5 minutes) and applies it.
func (w *Watched) poll(ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic reading tenant settings: %v", v)
		}
	}()
	opts := (&api.QueryOptions{WaitIndex: w.index, WaitTime: 5 * time.Minute}).WithContext(ctx)
	pairs, meta, err := w.client.KV().List(w.cfg.Prefix, opts)
	if err != nil {
		return err
	}
	var pause bool
	w.index, pause = nextIndex(w.index, meta.LastIndex)
	// Only this goroutine writes w.settings, and never into a map it has
	// published: the documents are parsed against the current map without
	// the lock, so Get answers all along, and the new map is swapped in.
	w.mu.RLock()
	prev := w.settings
	w.mu.RUnlock()
	next := w.parse(prev, pairs)
	w.mu.Lock()
	w.settings = next
	w.mu.Unlock()
	w.once.Do(func() { close(w.synced) })
	if pause {
		select {
		case <-ctx.Done():
		case <-time.After(zeroIndexPause):
		}
	}
	return nil
}

// zeroIndexPause is the wait before the next query when Consul answered
// with index 0, so a broken index cannot spin the watcher.
const zeroIndexPause = 500 * time.Millisecond

// nextIndex is the WaitIndex of the query after one that waited on prev
// and was answered with last, and whether to pause before it. Consul's
// index is never 0 and never goes back: a 0 would make the next query
// answer at once, again and again (so it is kept at 0, after a pause), and
// an index that went back means Consul restarted (so start over from 0).
func nextIndex(prev, last uint64) (next uint64, pause bool) {
	switch {
	case last == 0:
		return 0, true
	case last < prev:
		return 0, false
	default:
		return last, false
	}
}

// parse reads the documents under the prefix. A bad document, or one whose
// name clashes with another's, leaves its tenant with the settings it had
// in prev, which parse does not change.
func (w *Watched) parse(prev map[string]Settings, pairs api.KVPairs) map[string]Settings {
	next := make(map[string]Settings, len(pairs))
	keyOf := make(map[string]string, len(pairs)) // normalised name -> KV key
	clashed := map[string]bool{}
	for _, p := range pairs {
		raw := strings.TrimPrefix(p.Key, w.cfg.Prefix)
		if raw == "" || strings.Contains(raw, "/") {
			continue
		}
		name, err := configName(raw, w.cfg.ByHost)
		if err != nil {
			w.cfg.Logger.Error("ignoring tenant settings in Consul under a bad name", zap.String("key", p.Key), zap.Error(err))
			continue
		}
		if first, dup := keyOf[name]; dup {
			w.cfg.Logger.Error("ignoring tenant settings in Consul: two keys name the same tenant; keeping its previous settings",
				zap.String("key", first), zap.String("other_key", p.Key), zap.String("tenant", name))
			clashed[name] = true
			continue
		}
		keyOf[name] = p.Key
		var s Settings
		err = json.Unmarshal(p.Value, &s)
		if err == nil {
			err = s.Validate()
		}
		if err != nil {
			w.cfg.Logger.Error("ignoring invalid tenant settings in Consul", zap.String("key", p.Key), zap.Error(err))
			if old, ok := prev[name]; ok {
				next[name] = old
			}
			continue
		}
		next[name] = s
	}
	for name := range clashed {
		if old, ok := prev[name]; ok {
			next[name] = old
		} else {
			delete(next, name)
		}
	}
	return next
}

var (
	_ Store     = (*Watched)(nil)
	_ Defaulter = (*Watched)(nil)
)
