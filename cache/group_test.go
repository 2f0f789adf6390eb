package cache

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// within fails the test if ch does not deliver before a generous deadline.
// The deadline only turns a hang into a failure; nothing waits on it.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not happen", what)
		panic("unreachable")
	}
}

// waitCollapsed yields until n callers are waiting in g.
func waitCollapsed[T any](t *testing.T, g *Group[T], n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.Collapsed() < n {
		if time.Now().After(deadline) {
			t.Fatalf("Collapsed() = %d, want %d", g.Collapsed(), n)
		}
		runtime.Gosched()
	}
}

type result struct {
	v      string
	shared bool
	err    error
}

func TestGroupCollapsesConcurrentCalls(t *testing.T) {
	var g Group[string]
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context) (string, error) {
		runs.Add(1)
		<-release
		return "resized", nil
	}

	const callers = 50
	start := make(chan struct{})
	results := make(chan result, callers)
	var ready sync.WaitGroup
	ready.Add(callers)
	for range callers {
		go func() {
			ready.Done()
			<-start
			v, shared, err := g.Do(context.Background(), "k", fn)
			results <- result{v, shared, err}
		}()
	}
	ready.Wait()
	close(start)
	// The first caller's run is blocked on release, so every other caller
	// must join it; only then let it finish.
	waitCollapsed(t, &g, callers-1)
	close(release)

	shared := 0
	for range callers {
		r := within(t, results, "a caller returning")
		if r.err != nil || r.v != "resized" {
			t.Errorf("Do = %q, %v", r.v, r.err)
		}
		if r.shared {
			shared++
		}
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("fn ran %d times, want 1", n)
	}
	if shared != callers-1 {
		t.Errorf("%d callers got shared=true, want %d", shared, callers-1)
	}
	if n := g.Collapsed(); n != callers-1 {
		t.Errorf("Collapsed() = %d, want %d", n, callers-1)
	}
}

func TestGroupErrors(t *testing.T) {
	t.Run("an error is shared with waiters but not remembered", func(t *testing.T) {
		var g Group[int]
		boom := errors.New("origin timed out")
		release := make(chan struct{})
		var runs atomic.Int32
		failing := func(ctx context.Context) (int, error) {
			runs.Add(1)
			<-release
			return 0, boom
		}
		first := make(chan result, 1)
		go func() {
			_, shared, err := g.Do(context.Background(), "k", failing)
			first <- result{shared: shared, err: err}
		}()
		second := make(chan result, 1)
		waitForRun(t, &g, "k")
		go func() {
			_, shared, err := g.Do(context.Background(), "k", failing)
			second <- result{shared: shared, err: err}
		}()
		waitCollapsed(t, &g, 1)
		close(release)
		r1, r2 := within(t, first, "first caller"), within(t, second, "second caller")
		if !errors.Is(r1.err, boom) || !errors.Is(r2.err, boom) || r1.shared || !r2.shared {
			t.Fatalf("results = %+v, %+v", r1, r2)
		}

		v, shared, err := g.Do(context.Background(), "k", func(ctx context.Context) (int, error) {
			runs.Add(1)
			return 7, nil
		})
		if v != 7 || shared || err != nil || runs.Load() != 2 {
			t.Fatalf("call after the error = %d, %v, %v (runs %d); the error was remembered", v, shared, err, runs.Load())
		}
	})

	t.Run("a panic is returned to every caller and frees the key", func(t *testing.T) {
		var g Group[int]
		release := make(chan struct{})
		first := make(chan result, 1)
		go func() {
			_, _, err := g.Do(context.Background(), "k", func(ctx context.Context) (int, error) {
				<-release
				panic("libvips exploded")
			})
			first <- result{err: err}
		}()
		waitForRun(t, &g, "k")
		second := make(chan result, 1)
		go func() {
			_, shared, err := g.Do(context.Background(), "k", func(ctx context.Context) (int, error) { return 1, nil })
			second <- result{shared: shared, err: err}
		}()
		waitCollapsed(t, &g, 1)
		close(release)
		for _, r := range []result{within(t, first, "first caller"), within(t, second, "waiter")} {
			var pe *PanicError
			if !errors.As(r.err, &pe) || pe.Value != "libvips exploded" || pe.Key != "k" || len(pe.Stack) == 0 {
				t.Fatalf("err = %v, want a *PanicError", r.err)
			}
		}
		v, _, err := g.Do(context.Background(), "k", func(ctx context.Context) (int, error) { return 2, nil })
		if v != 2 || err != nil {
			t.Fatalf("call after the panic = %d, %v; the key is stuck", v, err)
		}
	})

	t.Run("a panic with an error value unwraps to it", func(t *testing.T) {
		var g Group[int]
		boom := errors.New("boom")
		_, _, err := g.Do(context.Background(), "k", func(ctx context.Context) (int, error) { panic(boom) })
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want it to wrap %v", err, boom)
		}
	})

	t.Run("runtime.Goexit in fn is reported, not hung on", func(t *testing.T) {
		var g Group[int]
		_, _, err := g.Do(context.Background(), "k", func(ctx context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		if !errors.Is(err, errGoexit) {
			t.Fatalf("err = %v, want errGoexit", err)
		}
	})
}

func TestGroupCancellation(t *testing.T) {
	type ctxKey struct{}
	t.Run("a waiter whose context ends returns at once and the others still get the value", func(t *testing.T) {
		var g Group[string]
		release := make(chan struct{})
		fn := func(ctx context.Context) (string, error) {
			<-release
			return "v", ctx.Err()
		}
		first := make(chan result, 1)
		go func() {
			v, shared, err := g.Do(context.Background(), "k", fn)
			first <- result{v, shared, err}
		}()
		waitForRun(t, &g, "k")
		ctx, cancel := context.WithCancel(context.Background())
		waiter := make(chan result, 1)
		go func() {
			v, shared, err := g.Do(ctx, "k", fn)
			waiter <- result{v, shared, err}
		}()
		waitCollapsed(t, &g, 1)
		cancel()
		if r := within(t, waiter, "the cancelled waiter returning"); !errors.Is(r.err, context.Canceled) || r.v != "" {
			t.Fatalf("cancelled waiter got %+v", r)
		}
		close(release)
		if r := within(t, first, "first caller"); r.v != "v" || r.err != nil {
			t.Fatalf("first caller got %+v", r)
		}
	})

	t.Run("the first caller going away does not cancel the run for the waiters", func(t *testing.T) {
		var g Group[string]
		release := make(chan struct{})
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "trace-1"))
		fn := func(fnCtx context.Context) (string, error) {
			<-release
			if err := fnCtx.Err(); err != nil {
				return "", err
			}
			trace, _ := fnCtx.Value(ctxKey{}).(string)
			return "v/" + trace, nil
		}
		first := make(chan result, 1)
		go func() {
			v, shared, err := g.Do(ctx, "k", fn)
			first <- result{v, shared, err}
		}()
		waitForRun(t, &g, "k")
		waiter := make(chan result, 1)
		go func() {
			v, shared, err := g.Do(context.Background(), "k", fn)
			waiter <- result{v, shared, err}
		}()
		waitCollapsed(t, &g, 1)
		cancel()
		if r := within(t, first, "the cancelled first caller returning"); !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled first caller got %+v", r)
		}
		close(release)
		if r := within(t, waiter, "waiter"); r.v != "v/trace-1" || r.err != nil || !r.shared {
			t.Fatalf("waiter got %+v, want the value made with the first caller's context values", r)
		}
	})

	t.Run("with StopWhenAbandoned the run is cancelled when its last waiter has gone", func(t *testing.T) {
		g := Group[string]{StopWhenAbandoned: true}
		stopped := make(chan error, 1)
		fn := func(ctx context.Context) (string, error) {
			<-ctx.Done()
			stopped <- ctx.Err()
			return "", ctx.Err()
		}
		ctx1, cancel1 := context.WithCancel(context.Background())
		ctx2, cancel2 := context.WithCancel(context.Background())
		first, second := make(chan result, 1), make(chan result, 1)
		go func() { v, s, err := g.Do(ctx1, "k", fn); first <- result{v, s, err} }()
		waitForRun(t, &g, "k")
		go func() { v, s, err := g.Do(ctx2, "k", fn); second <- result{v, s, err} }()
		waitCollapsed(t, &g, 1)
		cancel1()
		within(t, first, "the first caller returning")
		select {
		case err := <-stopped:
			t.Fatalf("the run stopped (%v) while a caller still waited", err)
		case <-time.After(50 * time.Millisecond):
		}
		cancel2()
		within(t, second, "the second caller returning")
		if err := within(t, stopped, "the abandoned run stopping"); !errors.Is(err, context.Canceled) {
			t.Fatalf("run context ended with %v, want context.Canceled", err)
		}
		if g.Abandoned() != 1 {
			t.Fatalf("Abandoned() = %d, want 1", g.Abandoned())
		}
		// A new caller starts a new run rather than joining the cancelled one.
		v, shared, err := g.Do(context.Background(), "k", func(context.Context) (string, error) { return "fresh", nil })
		if v != "fresh" || shared || err != nil {
			t.Fatalf("after abandonment got %q shared=%v err=%v", v, shared, err)
		}
	})

	t.Run("a caller with an already ended context does not start a run", func(t *testing.T) {
		var g Group[string]
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		_, _, err := g.Do(ctx, "k", func(ctx context.Context) (string, error) { ran = true; return "", nil })
		if !errors.Is(err, context.Canceled) || ran {
			t.Fatalf("err = %v, ran = %v", err, ran)
		}
	})
}

func TestGroupKeysAreIndependent(t *testing.T) {
	var g Group[string]
	release := make(chan struct{})
	blocked := make(chan result, 1)
	go func() {
		v, _, err := g.Do(context.Background(), "a", func(ctx context.Context) (string, error) {
			<-release
			return "a", nil
		})
		blocked <- result{v: v, err: err}
	}()
	waitForRun(t, &g, "a")
	v, shared, err := g.Do(context.Background(), "b", func(ctx context.Context) (string, error) { return "b", nil })
	if v != "b" || shared || err != nil {
		t.Fatalf("Do(b) = %q, %v, %v while a was running", v, shared, err)
	}
	close(release)
	if r := within(t, blocked, "Do(a)"); r.v != "a" {
		t.Fatalf("Do(a) = %+v", r)
	}
	if g.Collapsed() != 0 {
		t.Fatalf("Collapsed() = %d, want 0", g.Collapsed())
	}
}

// waitForRun yields until a run for key is in flight.
func waitForRun[T any](t *testing.T, g *Group[T], key string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		_, running := g.calls[key]
		g.mu.Unlock()
		if running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run for %q started", key)
		}
		runtime.Gosched()
	}
}
