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
	// Settings as JSON the value. Default: "imgedge/tenants/".
	Prefix string
	// Fallback answers for tenants Consul has no document for.
	Fallback Store
	// Logger; default: none.
	Logger *zap.Logger
}

// Watched is a Store fed by Consul KV: it watches the prefix with blocking
// queries and answers from memory, so a tenant change reaches every node
// within a second or so, without a config reload, and a Consul outage
// keeps the last settings seen. A document that does not parse or
// validate is logged and ignored (the tenant keeps its previous settings).
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
// answer, Fallback alone answers.
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

// Get answers from the last settings read from Consul, then Fallback.
func (w *Watched) Get(tenant string) (Settings, bool) {
	if w == nil {
		return Settings{}, false
	}
	w.mu.RLock()
	s, ok := w.settings[tenant]
	w.mu.RUnlock()
	if ok {
		return s, true
	}
	if w.cfg.Fallback != nil {
		return w.cfg.Fallback.Get(tenant)
	}
	return Settings{}, false
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
	if meta.LastIndex < w.index {
		w.index = 0 // Consul's index went back (restart): start over
	} else {
		w.index = meta.LastIndex
	}
	w.mu.Lock()
	next := make(map[string]Settings, len(pairs))
	for _, p := range pairs {
		name := strings.TrimPrefix(p.Key, w.cfg.Prefix)
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		var s Settings
		err := json.Unmarshal(p.Value, &s)
		if err == nil {
			err = s.Validate()
		}
		if err != nil {
			w.cfg.Logger.Error("ignoring invalid tenant settings in Consul", zap.String("key", p.Key), zap.Error(err))
			if old, ok := w.settings[name]; ok {
				next[name] = old
			}
			continue
		}
		next[name] = s
	}
	w.settings = next
	w.mu.Unlock()
	w.once.Do(func() { close(w.synced) })
	return nil
}

var _ Store = (*Watched)(nil)
