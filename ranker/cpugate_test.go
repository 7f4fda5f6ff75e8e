package ranker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestCPUGate checks that the CPU gate never lets more than its size run
// at once, that a waiter fails with its context's status instead of
// waiting for ever, and that a released slot is taken again.
func TestCPUGate(t *testing.T) {
	if got := cap(newCPUGate(0)); got != 1 {
		t.Fatalf("newCPUGate(0) has %d slots, want 1", got)
	}
	g := newCPUGate(2)
	ctx := context.Background()
	r1, err := g.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := g.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Both slots held: a third request waits until its context ends.
	dctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	_, err = g.acquire(dctx)
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("acquire with both slots held: %v, want DeadlineExceeded", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.acquire(cctx); status.Code(err) != codes.Canceled {
		t.Fatalf("acquire with a cancelled context: %v, want Canceled", err)
	}
	// A waiter gets the slot once one is released.
	got := make(chan error, 1)
	go func() {
		r, err := g.acquire(ctx)
		if err == nil {
			r()
		}
		got <- err
	}()
	r1()
	if err := <-got; err != nil {
		t.Fatalf("waiter after release: %v", err)
	}
	r2()

	// Many concurrent users: never more than two hold a slot.
	var cur, peak atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			release, err := g.acquire(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			n := cur.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			cur.Add(-1)
			release()
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 2 || p < 1 {
		t.Fatalf("peak holders %d, want 1..2", p)
	}
	if len(g) != 0 {
		t.Fatalf("%d slots still held", len(g))
	}
}
