// Package worker is the extract role: for one modality it pulls jobs from
// the JOBS work queue (live lane before backfill), prefetches the media from
// the object store with bounded concurrency, encodes a batch with the
// modality's encoder and publishes one features message per product. Input
// that can never be encoded goes to the dead-letter stream with its reason;
// transient failures are retried with backoff and dead-lettered after
// topology.MaxDeliver attempts.
package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/internal/option"
	"github.com/omnirank/omnirank/internal/tracing"
	"github.com/omnirank/omnirank/metrics"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// Encoders hands out the encoder for a model (name@version);
// *extractors.Registry is one.
type Encoders interface {
	Encoder(ctx context.Context, model string) (extractors.Encoder, error)
	// Loaded reports whether Encoder would return at once for model,
	// without loading it first.
	Loaded(model string) bool
}

// Worker is one extract role instance for one modality.
type Worker struct {
	js        jetstream.JetStream
	store     storage.ObjectStore
	encoders  Encoders
	modality  extractors.Modality
	batchSize int
	loops     int
	// liveInHand counts live batches being processed: while one is, no
	// loop starts a backfill batch, so live work gets the CPU (the two
	// lanes share the cores, and a model batch cannot be interrupted).
	liveInHand atomic.Int32
	// handoff carries the live-only loop's groups whose model is not
	// loaded yet (see cold) to the other loops: the first call loads it
	// (seconds for a large one), and the live-only loop must not wait for
	// it while active-space jobs queue behind (a campaign's dual-write
	// jobs bring its new model into the live lane).
	handoff chan handedOff
	// backfillNice is the nice value the encoder runs at for backfill
	// batches (0: no change; see WithBackfillNice).
	backfillNice int
	fetchers     int
	maxBytes     int64
	errs         jetstream.KeyValue
	metrics      *metrics.Pipeline
	log          *slog.Logger
	tracer       trace.Tracer
}

// Option configures a Worker.
type Option func(*Worker) error

// WithBatchSize sets the most jobs encoded in one call.
func WithBatchSize(n int) Option {
	return func(w *Worker) error {
		if n < 1 || n > 1024 {
			return option.Errorf("worker: batch size %d out of 1..1024", n)
		}
		w.batchSize = n
		return nil
	}
}

// WithConcurrency sets how many batches are in flight at once (one may be
// downloading while another is encoded).
func WithConcurrency(n int) Option {
	return func(w *Worker) error {
		if n < 1 || n > 64 {
			return option.Errorf("worker: concurrency %d out of 1..64", n)
		}
		w.loops = n
		return nil
	}
}

// DefaultBackfillNice is the nice value backfill batches are encoded at
// unless WithBackfillNice says otherwise.
const DefaultBackfillNice = 10

// WithBackfillNice sets the nice value (0..19, default DefaultBackfillNice) of the OS
// thread that encodes a backfill batch, on Linux. A batch in hand cannot
// be interrupted, and on a machine whose cores the backfill fills, a live
// job arriving meanwhile shares them with it; at nice 10 the kernel gives
// the live work about ten times the backfill's share. Models are loaded
// at normal priority (ONNX Runtime's worker threads inherit the priority
// of the thread that creates them). 0 runs backfill at normal priority.
func WithBackfillNice(n int) Option {
	return func(w *Worker) error {
		if n < 0 || n > 19 {
			return option.Errorf("worker: backfill nice %d out of 0..19", n)
		}
		w.backfillNice = n
		return nil
	}
}

// WithFetchers sets how many media downloads run at once.
func WithFetchers(n int) Option {
	return func(w *Worker) error {
		if n < 1 || n > 256 {
			return option.Errorf("worker: fetchers %d out of 1..256", n)
		}
		w.fetchers = n
		return nil
	}
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(w *Worker) error {
		if l == nil {
			return option.Errorf("worker: nil logger")
		}
		w.log = l
		return nil
	}
}

// WithMetrics records the worker's work on m.
func WithMetrics(m *metrics.Pipeline) Option {
	return func(w *Worker) error {
		if m == nil {
			return option.Errorf("worker: nil metrics")
		}
		w.metrics = m
		return nil
	}
}

// WithTracerProvider records a span per job ("extract.<modality>") on tp,
// a child of the span the job message carries (ingest's sync); the
// features message carries it on to fusion.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(w *Worker) error {
		if tp == nil {
			return option.Errorf("worker: nil tracer provider")
		}
		w.tracer = tracing.Tracer(tp)
		return nil
	}
}

func (w *Worker) stage() string { return "extract-" + string(w.modality) }

// New makes a worker for one modality.
func New(ctx context.Context, js jetstream.JetStream, store storage.ObjectStore, enc Encoders, m extractors.Modality, opts ...Option) (*Worker, error) {
	w := &Worker{js: js, store: store, encoders: enc, modality: m, batchSize: 16, loops: 2, fetchers: 8, backfillNice: DefaultBackfillNice,
		maxBytes: 64 << 20, log: slog.Default(), tracer: tracing.Tracer(nil)}
	for _, o := range opts {
		if err := o(w); err != nil {
			return nil, err
		}
	}
	var err error
	if w.errs, err = js.KeyValue(ctx, topology.BucketErrors); err != nil {
		return nil, fmt.Errorf("worker: open errors bucket: %w", err)
	}
	return w, nil
}

// Run pulls and processes jobs until ctx ends. The batch in hand when ctx
// ends is finished or left unacked for redelivery, never half-published.
func (w *Worker) Run(ctx context.Context) error {
	live, err := topology.Consumer(ctx, w.js, topology.StreamJobs, topology.ExtractConsumer(string(w.modality), topology.LaneLive))
	if err != nil {
		return err
	}
	backfill, err := topology.Consumer(ctx, w.js, topology.StreamJobs, topology.ExtractConsumer(string(w.modality), topology.LaneBackfill))
	if err != nil {
		return err
	}
	if w.loops > 1 {
		w.handoff = make(chan handedOff, 16)
	}
	var wg sync.WaitGroup
	for i := range w.loops {
		// With more than one loop, the first never takes backfill work:
		// a live job never waits behind a backfill batch in hand.
		lane := backfill
		if i == 0 && w.loops > 1 {
			lane = nil
		}
		wg.Go(func() { w.loop(ctx, live, lane, i == 0 && w.loops > 1) })
	}
	wg.Wait()
	// Groups handed off but not taken: back to JetStream for redelivery.
	for {
		select {
		case h := <-w.handoff:
			for _, it := range h.items {
				_ = it.msg.Nak()
				it.span.End()
			}
		default:
			return nil
		}
	}
}

// handedOff is a group of jobs for one model, fetched and prefetched by
// the live-only loop, to be encoded by another loop.
type handedOff struct {
	model string
	items []*item
}

// loop is one batch pipeline; Run starts several. A nil backfill makes a
// live-only loop; liveOnly marks the one that hands off groups whose model
// is not loaded yet (the others take them first).
func (w *Worker) loop(ctx context.Context, live, backfill jetstream.Consumer, liveOnly bool) {
	for ctx.Err() == nil {
		if !liveOnly && w.handoff != nil {
			select {
			case h := <-w.handoff:
				w.encodeGroup(context.WithoutCancel(ctx), h.model, h.items, false)
				for _, it := range h.items {
					it.span.End()
				}
				continue
			default:
			}
		}
		// Live work always goes first; backfill only when live is empty
		// and no other loop has a live batch in hand.
		msgs, err := fetch(live, w.batchSize, 0)
		isLive := len(msgs) > 0
		if err == nil && len(msgs) == 0 && backfill != nil && w.liveInHand.Load() == 0 {
			msgs, err = fetch(backfill, w.batchSize, 0)
		}
		if err == nil && len(msgs) == 0 {
			wait := 500 * time.Millisecond
			if backfill != nil && w.liveInHand.Load() > 0 {
				wait = 20 * time.Millisecond // look at backfill again soon
			}
			msgs, err = fetch(live, w.batchSize, wait)
			isLive = len(msgs) > 0
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("extract: fetch", "modality", w.modality, "err", err)
			_ = topology.Sleep(ctx, time.Second)
			continue
		}
		if len(msgs) > 0 {
			if isLive {
				w.liveInHand.Add(1)
			}
			w.process(context.WithoutCancel(ctx), msgs, liveOnly, !isLive)
			if isLive {
				w.liveInHand.Add(-1)
			}
		}
	}
}

// fetch takes up to n messages. With a wait it waits for the first one
// only, then takes what else is already there: a fetch of n with a wait
// would hold a lone job until n arrived or the wait ran out (up to wait
// added to an upload's freshness).
func fetch(c jetstream.Consumer, n int, wait time.Duration) ([]jetstream.Msg, error) {
	if wait <= 0 {
		return drain(c.FetchNoWait(n))
	}
	out, err := drain(c.Fetch(1, jetstream.FetchMaxWait(wait)))
	if err != nil || len(out) == 0 || n == 1 {
		return out, err
	}
	more, err := drain(c.FetchNoWait(n - 1))
	if err != nil {
		return out, nil // the one in hand is processed; the rest come next time
	}
	return append(out, more...), nil
}

// drain collects a fetched batch. A batch that ends early (timeout, no
// messages) still delivered what it holds; anything else shows up again on
// the next fetch.
func drain(batch jetstream.MessageBatch, err error) ([]jetstream.Msg, error) {
	if err != nil {
		return nil, err
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out, nil
}

type item struct {
	// ctx carries the job's span (see WithTracerProvider).
	ctx   context.Context
	span  trace.Span
	msg   jetstream.Msg
	job   topology.Job
	input []byte
	err   error
	// handedOff: given to another loop, which ends the span.
	handedOff bool
}

// errTransient marks failures of the infrastructure (object store, NATS):
// retried with capped backoff for as long as they last, never
// dead-lettered, since the input itself is fine.
var errTransient = errors.New("transient")

// process handles one batch: decode jobs, prefetch media, encode, publish.
// From the live-only loop (handOff), a group whose model is not loaded yet
// goes to the other loops when one can take it. A backfill batch is
// encoded at lowered priority (WithBackfillNice).
func (w *Worker) process(ctx context.Context, msgs []jetstream.Msg, handOff, backfill bool) {
	defer w.metrics.Observe(w.stage(), time.Now())
	items := make([]*item, 0, len(msgs))
	name := "extract." + string(w.modality)
	for _, m := range msgs {
		it := &item{msg: m}
		it.ctx, it.span = w.tracer.Start(tracing.Extract(ctx, m.Headers()), name,
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attribute.Int("omnirank.batch_size", len(msgs))))
		defer func() {
			if !it.handedOff {
				it.span.End()
			}
		}()
		if err := json.Unmarshal(m.Data(), &it.job); err != nil {
			w.deadLetter(it.ctx, it, "malformed job: "+err.Error())
			continue
		}
		it.span.SetAttributes(attribute.String("omnirank.product", it.job.ProductID), attribute.String("omnirank.space", it.job.Space),
			attribute.String("omnirank.model", it.job.Model))
		items = append(items, it)
	}
	w.prefetch(ctx, items)
	// Group by model: one encoder call per model, models in the order
	// their first job came (ingest publishes the active space's jobs
	// before a campaign's dual-write jobs, so the active space's features
	// are not held back by the campaign model's encoding).
	byModel := map[string][]*item{}
	var models []string
	for _, it := range items {
		if it.err != nil {
			w.failed(it.ctx, it, it.err)
			continue
		}
		if _, ok := byModel[it.job.Model]; !ok {
			models = append(models, it.job.Model)
		}
		byModel[it.job.Model] = append(byModel[it.job.Model], it)
	}
	// Loaded models go first: a model's first call loads it (seconds for
	// a large one), and that must not hold back the others' features. A
	// live upload during a campaign brings a job for the campaign's new
	// model in the same batch as its active-space job.
	slices.SortStableFunc(models, func(a, b string) int { return cmp.Compare(w.cold(a), w.cold(b)) })
	for _, model := range models {
		group := byModel[model]
		if handOff && w.handoff != nil && w.cold(model) == 1 {
			select {
			case w.handoff <- handedOff{model: model, items: group}:
				for _, it := range group {
					it.handedOff = true
				}
				continue
			default: // the others have enough: encode it here
			}
		}
		w.encodeGroup(ctx, model, group, backfill)
	}
}

// encodeGroup encodes and publishes one model's jobs, loading the model on
// its first use (at normal priority: the model's ONNX Runtime threads
// inherit it). A backfill group is encoded at backfillNice.
func (w *Worker) encodeGroup(ctx context.Context, model string, group []*item, backfill bool) {
	enc, err := w.encoders.Encoder(ctx, model)
	if err != nil {
		for _, it := range group {
			w.failed(it.ctx, it, fmt.Errorf("load model %s: %w", model, err))
		}
		return
	}
	if !backfill {
		w.encode(ctx, enc, group)
		return
	}
	inBackground(w.backfillNice, func() { w.encode(ctx, enc, group) })
}

// cold is 1 for a model whose next Encoder call has to load it, else 0.
func (w *Worker) cold(model string) int {
	if w.encoders.Loaded(model) {
		return 0
	}
	return 1
}

// prefetch downloads the media of every job concurrently (bounded), so the
// encoder never waits on the network one object at a time.
func (w *Worker) prefetch(ctx context.Context, items []*item) {
	// Each job keeps its own error (a bad object fails only its job), so
	// no goroutine returns one to the group.
	var g errgroup.Group
	g.SetLimit(w.fetchers)
	for _, it := range items {
		if w.modality == extractors.Text {
			it.input = []byte(it.job.Text)
			continue
		}
		g.Go(func() error {
			data, err := w.store.GetObject(ctx, it.job.Key, w.maxBytes)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				it.err = fmt.Errorf("%w: media %s is gone", extractors.ErrBadInput, it.job.Key)
			case errors.Is(err, storage.ErrTooLarge):
				it.err = fmt.Errorf("%w: media %s is over %d bytes", extractors.ErrBadInput, it.job.Key, w.maxBytes)
			case err != nil:
				it.err = fmt.Errorf("fetch %s: %w: %w", it.job.Key, errTransient, err)
			default:
				it.input = data
			}
			return nil
		})
	}
	_ = g.Wait()
}

func (w *Worker) encode(ctx context.Context, enc extractors.Encoder, group []*item) {
	inputs := make([][]byte, len(group))
	for i, it := range group {
		inputs[i] = it.input
	}
	vecs, err := enc.Encode(ctx, inputs)
	if err != nil && errors.Is(err, extractors.ErrBadInput) && len(group) > 1 {
		// One poison input fails the batch: encode one by one to isolate it.
		for _, it := range group {
			w.encode(ctx, enc, []*item{it})
		}
		return
	}
	if err != nil {
		for _, it := range group {
			w.failed(it.ctx, it, fmt.Errorf("encode with %s: %w", enc.Model(), err))
		}
		return
	}
	for i, it := range group {
		ft := topology.Features{ProductID: it.job.ProductID, Space: it.job.Space, Modality: it.job.Modality,
			Model: it.job.Model, Revision: it.job.Revision, ContentHash: it.job.ContentHash,
			Vector: vecs[i], UploadedAt: it.job.UploadedAt, TraceID: it.job.TraceID}
		data, err := json.Marshal(ft)
		if err != nil {
			w.failed(it.ctx, it, fmt.Errorf("encode features: %w", err))
			continue
		}
		msgID := fmt.Sprintf("%s/%s/%s/%s", ft.Space, ft.ProductID, ft.Modality, ft.ContentHash)
		if _, err := tracing.Publish(it.ctx, w.js, topology.FeaturesSubject(ft.Space, ft.ProductID, ft.Modality), data, jetstream.WithMsgID(msgID)); err != nil {
			w.failed(it.ctx, it, fmt.Errorf("publish features: %w: %w", errTransient, err))
			continue
		}
		if err := it.msg.DoubleAck(it.ctx); err != nil {
			w.log.WarnContext(it.ctx, "extract: ack", "product", ft.ProductID, "err", err)
			continue
		}
		w.log.DebugContext(it.ctx, "encoded", "product", ft.ProductID, "modality", ft.Modality, "model", ft.Model, "batch", len(group))
		w.metrics.Done(w.stage(), "done", 1)
	}
}

// failed retries a transient failure with backoff and dead-letters bad
// input at once, or any failure after topology.MaxDeliver attempts.
func (w *Worker) failed(ctx context.Context, it *item, err error) {
	attempts := topology.Attempts(it.msg)
	transient := errors.Is(err, errTransient)
	it.span.RecordError(err)
	it.span.SetStatus(otelcodes.Error, "extract failed")
	if errors.Is(err, extractors.ErrBadInput) || (!transient && attempts >= topology.MaxDeliver) || attempts >= topology.MaxTransientDeliver {
		w.deadLetter(ctx, it, err.Error())
		return
	}
	w.metrics.Failed(w.stage(), "transient")
	delay := topology.RetryDelay(attempts)
	w.log.WarnContext(ctx, "extract: will retry", "product", it.job.ProductID, "modality", w.modality, "attempt", attempts, "retry_in", delay, "err", err)
	_ = it.msg.NakWithDelay(delay)
}

func (w *Worker) deadLetter(ctx context.Context, it *item, reason string) {
	attempts := topology.Attempts(it.msg)
	ie := topology.IngestError{ProductID: it.job.ProductID, ObjectKey: it.job.Key, Stage: "extract-" + string(w.modality),
		Reason: reason, Attempts: attempts, Time: time.Now()}
	reasonClass := "dead_letter"
	if strings.Contains(reason, extractors.ErrBadInput.Error()) {
		reasonClass = "bad_input"
	}
	// Tell fusion first that this content will have no features, so the
	// product settles (partial) instead of waiting for them forever. The
	// Msg-Id makes a redelivered job publish it only once.
	if j := it.job; j.ProductID != "" && j.Space != "" && j.Modality != "" {
		ft := topology.Features{ProductID: j.ProductID, Space: j.Space, Modality: j.Modality, Model: j.Model,
			Revision: j.Revision, ContentHash: j.ContentHash, UploadedAt: j.UploadedAt, TraceID: j.TraceID, Rejected: reason}
		data, err := json.Marshal(ft)
		if err == nil {
			msgID := fmt.Sprintf("%s/%s/%s/%s/rejected", j.Space, j.ProductID, j.Modality, j.ContentHash)
			_, err = tracing.Publish(ctx, w.js, topology.FeaturesSubject(j.Space, j.ProductID, j.Modality), data, jetstream.WithMsgID(msgID))
		}
		if err != nil {
			w.log.ErrorContext(ctx, "extract: rejection not published; leaving the job for redelivery", "product", j.ProductID, "err", err)
			topology.NakForRetry(it.msg)
			return
		}
	}
	w.metrics.Failed(w.stage(), reasonClass)
	w.log.WarnContext(ctx, "extract: dead-lettered", "product", ie.ProductID, "object", ie.ObjectKey, "reason", reason)
	if err := topology.PublishDeadLetter(ctx, w.js, ie, it.msg); err != nil {
		w.log.Error("extract: dead-letter publish failed; leaving the job for redelivery", "err", err)
		topology.NakForRetry(it.msg)
		return
	}
	if ie.ProductID != "" {
		if err := topology.RecordError(ctx, w.errs, ie); err != nil {
			w.log.Error("extract: record error", "product", ie.ProductID, "err", err)
		}
	}
	_ = it.msg.Term()
}
