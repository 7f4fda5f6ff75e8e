package batch_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/omnirank/omnirank/extractors/batch"
)

// square records the sizes of the batches it sees and squares each item.
type square struct {
	mu      sync.Mutex
	sizes   []int
	running atomic.Int32
	peak    atomic.Int32
	hold    chan struct{} // when set, each batch waits for a token
}

func (s *square) run(ctx context.Context, items []int) ([]int, error) {
	n := s.running.Add(1)
	defer s.running.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if s.hold != nil {
		select {
		case <-s.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	s.sizes = append(s.sizes, len(items))
	s.mu.Unlock()
	out := make([]int, len(items))
	for i, v := range items {
		out[i] = v * v
	}
	return out, nil
}

func TestResultsInOrderAcrossGoroutines(t *testing.T) {
	cases := []struct {
		name        string
		maxBatch    int
		delay       time.Duration
		concurrency int
	}{
		{"batch 8 delay 1ms", 8, time.Millisecond, 1},
		{"batch 1", 1, time.Millisecond, 1},
		{"no delay", 16, 0, 2},
		{"concurrency 4", 5, 2 * time.Millisecond, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sq := &square{}
			b, err := batch.New(sq.run, batch.WithMaxBatch(c.maxBatch), batch.WithMaxDelay(c.delay), batch.WithConcurrency(c.concurrency))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 32)
			for g := 0; g < 16; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := 0; r < 20; r++ {
						items := make([]int, 1+(g+r)%7)
						for i := range items {
							items[i] = g*1000 + r*10 + i
						}
						out, err := b.Do(context.Background(), items)
						if err != nil {
							errs <- err
							return
						}
						for i, v := range items {
							if out[i] != v*v {
								errs <- fmt.Errorf("item %d: got %d want %d", v, out[i], v*v)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			total, biggest := 0, 0
			for _, s := range sq.sizes {
				total += s
				biggest = max(biggest, s)
			}
			if biggest > c.maxBatch {
				t.Fatalf("batch of %d > max %d", biggest, c.maxBatch)
			}
			if want := 16 * 20 * 4; total != want { // mean of 1+(g+r)%7 over the grid is 4
				t.Fatalf("ran %d items, want %d", total, want)
			}
			if p := int(sq.peak.Load()); p > c.concurrency {
				t.Fatalf("%d batches ran at once, limit %d", p, c.concurrency)
			}
		})
	}
}

// TestGathersUpToMaxBatch: items queued while a batch runs are gathered
// into full batches, not run one by one.
func TestGathersUpToMaxBatch(t *testing.T) {
	sq := &square{hold: make(chan struct{})}
	b, err := batch.New(sq.run, batch.WithMaxBatch(8), batch.WithMaxDelay(time.Hour), batch.WithQueueSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		_, err := b.Do(context.Background(), make([]int, 24))
		done <- err
	}()
	for i := 0; i < 3; i++ {
		sq.hold <- struct{}{}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(sq.sizes) != 3 || sq.sizes[0] != 8 || sq.sizes[1] != 8 || sq.sizes[2] != 8 {
		t.Fatalf("batch sizes %v, want [8 8 8]", sq.sizes)
	}
}

func TestCancelWhileQueued(t *testing.T) {
	sq := &square{hold: make(chan struct{})}
	b, err := batch.New(sq.run, batch.WithMaxBatch(2), batch.WithMaxDelay(0))
	if err != nil {
		t.Fatal(err)
	}
	// First call occupies the only slot.
	first := make(chan error, 1)
	go func() { _, err := b.Do(context.Background(), []int{1}); first <- err }()
	for sq.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { _, err := b.Do(ctx, []int{2, 3, 4}); second <- err }()
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Do: err = %v", err)
	}
	close(sq.hold) // release everything
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// The cancelled items were dropped before running.
	total := 0
	for _, s := range sq.sizes {
		total += s
	}
	if total != 1 {
		t.Fatalf("ran %d items (sizes %v), want only the uncancelled one", total, sq.sizes)
	}
}

func TestCloseWaitsForRunningBatchThenRefuses(t *testing.T) {
	sq := &square{hold: make(chan struct{})}
	b, err := batch.New(sq.run, batch.WithMaxBatch(4), batch.WithMaxDelay(0))
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan []int, 1)
	go func() {
		out, err := b.Do(context.Background(), []int{3, 4})
		if err != nil {
			t.Error(err)
		}
		res <- out
	}()
	for sq.running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a batch was running")
	case <-time.After(20 * time.Millisecond):
	}
	close(sq.hold)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if out := <-res; len(out) != 2 || out[0] != 9 || out[1] != 16 {
		t.Fatalf("result of the batch running at Close: %v", out)
	}
	if _, err := b.Do(context.Background(), []int{1}); !errors.Is(err, batch.ErrClosed) {
		t.Fatalf("Do after Close: err = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name string
		run  batch.Func[int, int]
		want error
	}{
		{"error", func(context.Context, []int) ([]int, error) { return nil, boom }, boom},
		{"short result", func(_ context.Context, in []int) ([]int, error) { return in[:len(in)-1], nil }, batch.ErrResultCount},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := batch.New(c.run)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if _, err := b.Do(context.Background(), []int{1, 2, 3}); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	run := func(_ context.Context, in []int) ([]int, error) { return in, nil }
	for _, o := range []batch.Option{
		batch.WithMaxBatch(0), batch.WithMaxDelay(-time.Second), batch.WithConcurrency(0),
		batch.WithQueueSize(0), batch.WithMetrics(nil, "x"),
	} {
		if _, err := batch.New(run, o); !errors.Is(err, batch.ErrInvalidOption) {
			t.Errorf("err = %v, want ErrInvalidOption", err)
		}
	}
	if _, err := batch.New[int, int](nil); !errors.Is(err, batch.ErrInvalidOption) {
		t.Errorf("nil run: err = %v", err)
	}
	if _, err := batch.NewMetrics(nil); !errors.Is(err, batch.ErrInvalidOption) {
		t.Errorf("nil registerer: err = %v", err)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := batch.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := batch.NewMetrics(reg); err != nil { // second registration reuses
		t.Fatal(err)
	}
	sq := &square{}
	b, err := batch.New(sq.run, batch.WithMaxBatch(4), batch.WithMaxDelay(0), batch.WithMetrics(m, "sq@1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Do(context.Background(), []int{1, 2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	sums := map[string]float64{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			if label(metric) == "sq@1" {
				counts[f.GetName()] = metric.GetHistogram().GetSampleCount()
				sums[f.GetName()] = metric.GetHistogram().GetSampleSum()
			}
		}
	}
	batches := counts["omnirank_extract_batch_size"]
	if batches < 2 || sums["omnirank_extract_batch_size"] != 6 {
		t.Fatalf("batch_size: %d batches summing %v items, want ≥2 batches of 6 items", batches, sums["omnirank_extract_batch_size"])
	}
	if counts["omnirank_extract_queue_seconds"] != 6 || counts["omnirank_extract_inference_seconds"] != batches {
		t.Fatalf("counts %v", counts)
	}
}

func label(m *dto.Metric) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == "model" {
			return l.GetValue()
		}
	}
	return ""
}
