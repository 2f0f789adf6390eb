package budget

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	t.Run("a lease beyond the count waits and then is refused", func(t *testing.T) {
		b := New(1<<20, 1)
		l, err := b.Acquire(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := b.Acquire(ctx, 10); !errors.Is(err, ErrExhausted) {
			t.Fatalf("second lease: %v, want ErrExhausted", err)
		}
		l.Release()
		l.Release() // twice is harmless
		if _, err := b.Acquire(context.Background(), 10); err != nil {
			t.Fatalf("after release: %v", err)
		}
	})
	t.Run("a zero wait still takes what is free", func(t *testing.T) {
		b := New(100, 2)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		l, err := b.Acquire(ctx, 10)
		if err != nil {
			t.Fatalf("Acquire with room and a done context: %v", err)
		}
		if err := l.GrowTo(ctx, 90); err != nil {
			t.Fatalf("GrowTo with room and a done context: %v", err)
		}
		if err := l.GrowTo(ctx, 95); err != nil {
			t.Fatalf("GrowTo with room and a done context: %v", err)
		}
		if _, err := b.Acquire(ctx, 10); !errors.Is(err, ErrExhausted) {
			t.Fatalf("Acquire without room and a done context: %v, want ErrExhausted", err)
		}
	})
	t.Run("growing past the bytes fails without waiting, and waits when asked", func(t *testing.T) {
		b := New(100, 10)
		a, _ := b.Acquire(context.Background(), 60)
		c, _ := b.Acquire(context.Background(), 10)
		if c.TryGrowTo(50) {
			t.Fatal("grew past the budget")
		}
		if !c.TryGrowTo(40) || c.Size() != 40 {
			t.Fatalf("could not grow within the budget (size %d)", c.Size())
		}
		done := make(chan error, 1)
		go func() { done <- c.GrowTo(context.Background(), 90) }()
		time.Sleep(10 * time.Millisecond)
		a.Release()
		if err := <-done; err != nil || c.Size() != 90 {
			t.Fatalf("GrowTo after release: %v, size %d", err, c.Size())
		}
		if held, n := b.Held(); held != 90 || n != 1 {
			t.Fatalf("Held = %d bytes, %d leases; want 90, 1", held, n)
		}
		if c.GrowTo(context.Background(), 101) == nil {
			t.Fatal("grew past the limit itself")
		}
	})
	t.Run("a large lease waiting for room does not hold up small ones that fit", func(t *testing.T) {
		b := New(100, 10)
		a, _ := b.Acquire(context.Background(), 60)
		big, _ := b.Acquire(context.Background(), 1)
		waiting := make(chan error, 1)
		go func() { waiting <- big.GrowTo(context.Background(), 90) }()
		time.Sleep(10 * time.Millisecond)
		small, err := b.Acquire(context.Background(), 10)
		if err != nil || !small.TryGrowTo(20) {
			t.Fatalf("a small lease that fits was held up: %v", err)
		}
		a.Release()
		small.Release()
		if err := <-waiting; err != nil {
			t.Fatalf("the large lease, once room freed up: %v", err)
		}
	})
	t.Run("concurrent leases never hold more than the budget", func(t *testing.T) {
		b := New(1000, 8)
		var now, peak atomic.Int64
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := b.Acquire(context.Background(), 10)
				if err != nil {
					t.Error(err)
					return
				}
				defer l.Release()
				want := int64(100 + i*5)
				if l.GrowTo(context.Background(), want) != nil {
					return
				}
				v := now.Add(want)
				for p := peak.Load(); v > p && !peak.CompareAndSwap(p, v); p = peak.Load() {
				}
				time.Sleep(time.Millisecond)
				now.Add(-want)
			}()
		}
		wg.Wait()
		if peak.Load() > 1000 {
			t.Fatalf("peak %d bytes over a budget of 1000", peak.Load())
		}
		if held, n := b.Held(); held != 0 || n != 0 {
			t.Fatalf("after all released: %d bytes, %d leases", held, n)
		}
	})
}
