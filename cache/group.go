package cache

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Group collapses concurrent calls with the same key into one run of a
// function, like golang.org/x/sync/singleflight, with three differences that
// matter to a request handler:
//
//   - the function runs on its own goroutine with a context detached from the
//     callers' cancellation (context.WithoutCancel of the first caller's
//     context, so values such as loggers and trace ids survive); a caller
//     whose own context ends returns its context's error at once while the
//     run goes on for the others;
//   - a panic in the function is recovered and returned to every caller as a
//     *PanicError, and the key is freed;
//   - results, errors included, are not remembered: a call that arrives after
//     a run has finished starts a new run;
//   - with StopWhenAbandoned, a run whose callers have all gone (their
//     contexts ended) is cancelled: its context ends and its key is freed, so
//     work nobody waits for stops and a later call starts afresh.
//
// The zero value is ready to use. A Group must not be copied after first use.
type Group[T any] struct {
	// StopWhenAbandoned cancels a run's context once every caller waiting
	// for it has returned because its own context ended. Leave it false for
	// runs that must finish whoever waits (they hold a caller's request, or
	// their result is kept). Set it before first use.
	StopWhenAbandoned bool
	// Joined, if set, hears of every caller that joins a run another
	// started, with the caller's context and the run's (the first
	// caller's, uncancelled): for a trace to link the two. Set it before
	// first use.
	Joined func(caller, run context.Context)

	mu        sync.Mutex
	calls     map[string]*call[T]
	collapsed atomic.Uint64
	abandoned atomic.Uint64
}

type call[T any] struct {
	done    chan struct{} // closed when val and err are set
	val     T
	err     error
	waiters int                // callers still waiting; guarded by Group.mu
	ctx     context.Context    // the run's
	cancel  context.CancelFunc // ends the run's context
}

// Do runs fn once for all concurrent callers with the same key and returns
// its result. shared is true for callers that waited for a run started by
// someone else; the caller that started the run gets shared=false. If ctx
// ends first, Do returns ctx.Err() without waiting for the run.
func (g *Group[T]) Do(ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (v T, shared bool, err error) {
	if err := ctx.Err(); err != nil {
		return v, false, err
	}
	g.mu.Lock()
	if c, ok := g.calls[key]; ok {
		c.waiters++
		g.mu.Unlock()
		g.collapsed.Add(1)
		if g.Joined != nil {
			g.Joined(ctx, c.ctx)
		}
		return g.wait(ctx, key, c, true)
	}
	if g.calls == nil {
		g.calls = make(map[string]*call[T])
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &call[T]{done: make(chan struct{}), waiters: 1, ctx: runCtx, cancel: cancel}
	g.calls[key] = c
	g.mu.Unlock()

	go g.run(runCtx, key, c, fn)
	return g.wait(ctx, key, c, false)
}

// Collapsed returns how many callers have waited for a run started by
// someone else.
func (g *Group[T]) Collapsed() uint64 {
	return g.collapsed.Load()
}

// Abandoned returns how many runs were cancelled because every caller
// had gone (StopWhenAbandoned).
func (g *Group[T]) Abandoned() uint64 {
	return g.abandoned.Load()
}

func (g *Group[T]) wait(ctx context.Context, key string, c *call[T], shared bool) (T, bool, error) {
	select {
	case <-c.done:
		return c.val, shared, c.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	c.waiters--
	stop := c.waiters == 0 && g.StopWhenAbandoned
	if stop && g.calls[key] == c {
		delete(g.calls, key) // a new caller must not join a cancelled run
	}
	g.mu.Unlock()
	if stop {
		select {
		case <-c.done:
		default:
			g.abandoned.Add(1)
			c.cancel()
		}
	}
	var zero T
	return zero, shared, ctx.Err()
}

func (g *Group[T]) run(ctx context.Context, key string, c *call[T], fn func(context.Context) (T, error)) {
	returned := false
	defer func() {
		if !returned {
			if r := recover(); r != nil {
				c.err = &PanicError{Key: key, Value: r, Stack: debug.Stack()}
			} else {
				c.err = errGoexit // fn called runtime.Goexit
			}
		}
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		close(c.done)
		c.cancel()
	}()
	c.val, c.err = fn(ctx)
	returned = true
}

var errGoexit = errors.New("cache: collapsed function called runtime.Goexit")

// PanicError is the error Group.Do returns when the function panicked. Its
// message names the key and the panic value; log Stack to find the cause.
type PanicError struct {
	Key   string // the Do key
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("cache: panic in collapsed call %q: %v", e.Key, e.Value)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
