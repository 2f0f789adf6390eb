// Package pool keeps values that must outlive a config reload (caches,
// stores, budgets) in a caddy.UsagePool: each config loads the value or
// shares the one already made, and the last to let go closes it.
package pool

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
)

// pooled is a value shared by every config that uses it and kept across
// config reloads in a caddy.UsagePool: Provision loads (or makes) it,
// Cleanup deletes its key, and when the last config lets go, close runs.
type pooled[T any] struct {
	v     T
	close func() error
}

func (p pooled[T]) Destruct() error { return p.close() }

// Load returns the value under key, made by open (which also says
// how to close it) if no config holds one yet. loaded reports reuse.
func Load[T any](pool *caddy.UsagePool, key string, open func() (T, func() error, error)) (v T, loaded bool, err error) {
	d, loaded, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		v, closeFn, err := open()
		if err != nil {
			return nil, err
		}
		return pooled[T]{v, closeFn}, nil
	})
	if err != nil {
		return v, false, err
	}
	return d.(pooled[T]).v, loaded, nil
}

// Each calls fn with every value live in pool.
func Each[T any](pool *caddy.UsagePool, fn func(T)) {
	pool.Range(func(_, d any) bool {
		fn(d.(pooled[T]).v)
		return true
	})
}

// Key names what a config holds in a pool; an empty key holds nothing.
type Key struct {
	Pool *caddy.UsagePool
	Key  string
}

// Release lets go of every key held, in order, and joins the errors.
func Release(held []Key) error {
	var errs []error
	for _, h := range held {
		if h.Key != "" {
			if _, err := h.Pool.Delete(h.Key); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
