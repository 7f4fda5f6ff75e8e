// Package batch owns dynamic batching for model inference, in the manner of
// Triton's dynamic batcher: items submitted by many goroutines are gathered
// into batches of at most MaxBatch items, waiting at most MaxDelay after the
// first item of a batch; a batch is formed only once a run slot is free, so
// work queued behind a running batch forms full batches. At most
// Concurrency batches run at once per
// Batcher (one Batcher per model). Callers' contexts are honoured while
// queued and while waiting; Close stops intake, finishes queued work and
// waits for running batches.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnirank/omnirank/internal/option"
)

// Sentinel errors.
var (
	// ErrClosed: the batcher no longer accepts work.
	ErrClosed = errors.New("batcher closed")
	// ErrInvalidOption: an option had an invalid value (option.ErrInvalid).
	ErrInvalidOption = option.ErrInvalid
	// ErrResultCount: the run function returned the wrong number of results.
	ErrResultCount = errors.New("batch result count mismatch")
)

// Func runs one batch. It must return one result per item, in order. ctx is
// the batcher's lifetime context, not any single caller's.
type Func[In, Out any] func(ctx context.Context, items []In) ([]Out, error)

type config struct {
	maxBatch    int
	maxDelay    time.Duration
	concurrency int
	queue       int
	metrics     *Metrics
	name        string
}

// Option configures New.
type Option func(*config) error

// ValidateOptions applies opts to a scratch configuration and returns the
// first error, so that a component taking batcher options for later can
// refuse bad ones when it is made.
func ValidateOptions(opts ...Option) error {
	var cfg config
	return option.Apply(&cfg, opts...)
}

// WithMaxBatch caps the items per batch (default 32).
func WithMaxBatch(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: max batch %d < 1", ErrInvalidOption, n)
		}
		c.maxBatch = n
		return nil
	}
}

// WithMaxDelay is how long a batch may wait for more items after its first
// (default 2ms; 0 runs whatever is queued at once).
func WithMaxDelay(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: max delay %v < 0", ErrInvalidOption, d)
		}
		c.maxDelay = d
		return nil
	}
}

// WithConcurrency is how many batches may run at once (default 1).
func WithConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: concurrency %d < 1", ErrInvalidOption, n)
		}
		c.concurrency = n
		return nil
	}
}

// WithQueueSize bounds the items waiting for a batch (default 4×MaxBatch);
// submitters block when it is full.
func WithQueueSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: queue size %d < 1", ErrInvalidOption, n)
		}
		c.queue = n
		return nil
	}
}

// WithMetrics records batch sizes and times under the label model=name.
func WithMetrics(m *Metrics, name string) Option {
	return func(c *config) error {
		if m == nil {
			return fmt.Errorf("%w: nil metrics", ErrInvalidOption)
		}
		c.metrics, c.name = m, name
		return nil
	}
}

// Metrics are the batcher histograms, registered on a caller's registry.
type Metrics struct {
	BatchSize *prometheus.HistogramVec
	QueueTime *prometheus.HistogramVec
	RunTime   *prometheus.HistogramVec
}

// NewMetrics creates and registers the histograms on reg. Registering twice
// on the same registry returns the already registered collectors.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: nil registerer", ErrInvalidOption)
	}
	m := &Metrics{
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "omnirank", Subsystem: "extract", Name: "batch_size",
			Help:    "Items per inference batch.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}, []string{"model"}),
		QueueTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "omnirank", Subsystem: "extract", Name: "queue_seconds",
			Help:    "Time an item waited between submission and the start of its batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"model"}),
		RunTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "omnirank", Subsystem: "extract", Name: "inference_seconds",
			Help:    "Time to run one inference batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"model"}),
	}
	var err error
	m.BatchSize, err = register(reg, m.BatchSize)
	if err != nil {
		return nil, err
	}
	m.QueueTime, err = register(reg, m.QueueTime)
	if err != nil {
		return nil, err
	}
	m.RunTime, err = register(reg, m.RunTime)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func register(reg prometheus.Registerer, h *prometheus.HistogramVec) (*prometheus.HistogramVec, error) {
	if err := reg.Register(h); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.HistogramVec); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("register batch metrics: %w", err)
	}
	return h, nil
}

// group is one Do call: its results and how many are outstanding.
type group[Out any] struct {
	ctx     context.Context
	outs    []Out
	errOnce sync.Once
	err     error
	left    atomic.Int64
	done    chan struct{}
}

func (g *group[Out]) finish(n int) {
	if g.left.Add(-int64(n)) == 0 {
		close(g.done)
	}
}

func (g *group[Out]) fail(err error) {
	g.errOnce.Do(func() { g.err = err })
}

type request[In, Out any] struct {
	in       In
	idx      int
	g        *group[Out]
	enqueued time.Time
}

// Batcher gathers items into batches for one run function.
type Batcher[In, Out any] struct {
	cfg    config
	run    Func[In, Out]
	queue  chan request[In, Out]
	slots  chan struct{}
	mu     sync.RWMutex // read: submitting; write: closing
	closed bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // running batches
	done   chan struct{}  // dispatcher exited
}

// New starts a batcher around run. Close it to stop its goroutine.
func New[In, Out any](run Func[In, Out], opts ...Option) (*Batcher[In, Out], error) {
	if run == nil {
		return nil, fmt.Errorf("%w: nil run function", ErrInvalidOption)
	}
	cfg := config{maxBatch: 32, maxDelay: 2 * time.Millisecond, concurrency: 1}
	if err := option.Apply(&cfg, opts...); err != nil {
		return nil, err
	}
	if cfg.queue == 0 {
		cfg.queue = 4 * cfg.maxBatch
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Batcher[In, Out]{
		cfg: cfg, run: run,
		queue:  make(chan request[In, Out], cfg.queue),
		slots:  make(chan struct{}, cfg.concurrency),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go b.dispatch()
	return b, nil
}

// MaxBatch is the configured batch cap.
func (b *Batcher[In, Out]) MaxBatch() int { return b.cfg.maxBatch }

// Do submits items and waits for their results, in order. If any batch
// holding one of the items fails, Do returns that error. A cancelled ctx
// returns at once; items already running still run, their results dropped.
func (b *Batcher[In, Out]) Do(ctx context.Context, items []In) ([]Out, error) {
	if len(items) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g := &group[Out]{ctx: ctx, outs: make([]Out, len(items)), done: make(chan struct{})}
	g.left.Store(int64(len(items)))
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return nil, ErrClosed
	}
	now := time.Now()
	for i, it := range items {
		select {
		case b.queue <- request[In, Out]{in: it, idx: i, g: g, enqueued: now}:
		case <-ctx.Done():
			// Items not queued will never be finished by a batch; account
			// for them so the queued ones can still complete.
			b.mu.RUnlock()
			g.finish(len(items) - i)
			return nil, ctx.Err()
		}
	}
	b.mu.RUnlock()
	select {
	case <-g.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.err != nil {
		return nil, g.err
	}
	return g.outs, nil
}

func (b *Batcher[In, Out]) dispatch() {
	defer close(b.done)
	var timer *time.Timer
	for {
		// Take a run slot before forming the batch, as Triton does: while
		// every slot is busy, items pile up in the queue and the next batch
		// starts full instead of being cut short by MaxDelay.
		b.slots <- struct{}{}
		first, ok := <-b.queue
		if !ok {
			<-b.slots
			return
		}
		reqs := []request[In, Out]{first}
		closed := false
		if b.cfg.maxDelay > 0 {
			if timer == nil {
				timer = time.NewTimer(b.cfg.maxDelay)
			} else {
				timer.Reset(b.cfg.maxDelay)
			}
		gather:
			for len(reqs) < b.cfg.maxBatch {
				select {
				case r, ok := <-b.queue:
					if !ok {
						closed = true
						break gather
					}
					reqs = append(reqs, r)
				case <-timer.C:
					break gather
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		} else {
		drain:
			for len(reqs) < b.cfg.maxBatch {
				select {
				case r, ok := <-b.queue:
					if !ok {
						closed = true
						break drain
					}
					reqs = append(reqs, r)
				default:
					break drain
				}
			}
		}
		b.wg.Add(1)
		go b.runBatch(reqs)
		if closed {
			return
		}
	}
}

func (b *Batcher[In, Out]) runBatch(reqs []request[In, Out]) {
	defer func() { <-b.slots; b.wg.Done() }()
	// Drop items whose caller has gone.
	live := reqs[:0]
	for _, r := range reqs {
		if r.g.ctx.Err() != nil {
			r.g.finish(1)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	start := time.Now()
	ins := make([]In, len(live))
	for i, r := range live {
		ins[i] = r.in
	}
	outs, err := b.run(b.ctx, ins)
	if err == nil && len(outs) != len(ins) {
		err = fmt.Errorf("%w: %d items, %d results", ErrResultCount, len(ins), len(outs))
	}
	if m := b.cfg.metrics; m != nil {
		m.BatchSize.WithLabelValues(b.cfg.name).Observe(float64(len(live)))
		m.RunTime.WithLabelValues(b.cfg.name).Observe(time.Since(start).Seconds())
		q := m.QueueTime.WithLabelValues(b.cfg.name)
		for _, r := range live {
			q.Observe(start.Sub(r.enqueued).Seconds())
		}
	}
	for i, r := range live {
		if err != nil {
			r.g.fail(err)
		} else {
			r.g.outs[r.idx] = outs[i]
		}
		r.g.finish(1)
	}
}

// Close stops intake, runs what is queued, and waits for running batches.
// Calling it again is a no-op.
func (b *Batcher[In, Out]) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.done
		b.wg.Wait()
		return nil
	}
	b.closed = true
	close(b.queue)
	b.mu.Unlock()
	<-b.done
	b.wg.Wait()
	b.cancel()
	return nil
}
