// Package fusion is the fusion role: it joins the per-modality features of a
// product into one joint vector per embedding space and publishes it as
// emb.<space>.<product>, the embedding store the ranker follows.
//
// Fusion keeps no state of its own. The FEATURES stream holds the latest
// features per product and modality, and the products KV bucket says which
// content hashes are current, so any worker can fuse any product, and a
// replayed or duplicated message republishes nothing.
package fusion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/omnirank/omnirank/internal/option"
	"github.com/omnirank/omnirank/internal/tracing"
	"github.com/omnirank/omnirank/metrics"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/topology"
)

// Fuser is the fusion role.
type Fuser struct {
	js       jetstream.JetStream
	products jetstream.KeyValue
	spaces   *spaces.Store
	features jetstream.Stream
	emb      jetstream.Stream
	wait     time.Duration
	metrics  *metrics.Pipeline
	log      *slog.Logger
	tracer   trace.Tracer
	now      func() time.Time

	mu        sync.Mutex
	spaceDefs map[string]spaces.Space
}

// Option configures a Fuser.
type Option func(*Fuser) error

// WithWait sets how long fusion waits for a product's missing modalities
// before publishing what it has; the rest upgrades the vector when it comes.
func WithWait(d time.Duration) Option {
	return func(f *Fuser) error {
		if d < 0 {
			return option.Errorf("fusion: negative wait %s", d)
		}
		f.wait = d
		return nil
	}
}

// WithMetrics records the role's work on m.
func WithMetrics(m *metrics.Pipeline) Option {
	return func(f *Fuser) error {
		if m == nil {
			return option.Errorf("fusion: nil metrics")
		}
		f.metrics = m
		return nil
	}
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(f *Fuser) error {
		if l == nil {
			return option.Errorf("fusion: nil logger")
		}
		f.log = l
		return nil
	}
}

// WithTracerProvider records a span per fusion attempt ("fusion") on tp:
// a child of the span the newest features message of the product carries,
// linked to the others' (each modality's extraction); the embedding it
// publishes carries it on to the rankers.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(f *Fuser) error {
		if tp == nil {
			return option.Errorf("fusion: nil tracer provider")
		}
		f.tracer = tracing.Tracer(tp)
		return nil
	}
}

// New opens what the role needs (declared by topology.Ensure).
func New(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Fuser, error) {
	f := &Fuser{js: js, wait: 10 * time.Second, log: slog.Default(), tracer: tracing.Tracer(nil), now: time.Now, spaceDefs: map[string]spaces.Space{}}
	for _, o := range opts {
		if err := o(f); err != nil {
			return nil, err
		}
	}
	var err error
	if f.products, err = js.KeyValue(ctx, topology.BucketProducts); err != nil {
		return nil, fmt.Errorf("fusion: open products bucket: %w", err)
	}
	if f.spaces, err = spaces.NewStore(ctx, js); err != nil {
		return nil, fmt.Errorf("fusion: %w", err)
	}
	if f.features, err = js.Stream(ctx, topology.StreamFeatures); err != nil {
		return nil, fmt.Errorf("fusion: open features stream: %w", err)
	}
	if f.emb, err = js.Stream(ctx, topology.StreamEmb); err != nil {
		return nil, fmt.Errorf("fusion: open emb stream: %w", err)
	}
	return f, nil
}

// maxHold is the longest fusion keeps a product's features messages in
// hand while it waits for the product's other modalities; a longer wait
// goes back to JetStream as a delayed redelivery.
const maxHold = 10 * time.Second

// Run consumes features until ctx ends. The features messages of one
// product that arrive together are fused once; while the product waits for
// its other modalities (up to the fusion wait), its messages are held, so
// that the arrival of the last modality fuses and acks them all at once.
func (f *Fuser) Run(ctx context.Context) error {
	cons, err := topology.Consumer(ctx, f.js, topology.StreamFeatures, topology.ConsumerFusion)
	if err != nil {
		return err
	}
	return topology.PullGroups(ctx, topology.PullConfig{Consumer: cons, Role: "fusion", Key: productOfFeatures, Workers: 4, Logger: f.log},
		func(g topology.Group) time.Duration { return f.handleGroup(ctx, g) })
}

func (f *Fuser) handleGroup(ctx context.Context, g topology.Group) time.Duration {
	defer f.metrics.Observe("fusion", time.Now())
	var ft topology.Features
	good := make([]jetstream.Msg, 0, len(g.Msgs))
	malformed := false
	for _, msg := range g.Msgs {
		var one topology.Features
		if err := json.Unmarshal(msg.Data(), &one); err != nil {
			malformed = true
			f.log.ErrorContext(ctx, "fusion: malformed features message, dropped to DLQ", "subject", msg.Subject(), "err", err)
			ie := topology.IngestError{Stage: "fusion", Reason: "malformed features: " + err.Error(), Time: f.now()}
			if perr := topology.PublishDeadLetter(ctx, f.js, ie, msg); perr != nil {
				topology.NakForRetry(msg)
				continue
			}
			_ = msg.Term()
			continue
		}
		ft = one
		good = append(good, msg)
	}
	if len(good) == 0 {
		return 0
	}
	ctx, span := f.startSpan(ctx, good, ft)
	defer span.End()
	retry, err := f.Fuse(ctx, ft.Space, ft.ProductID)
	if retry > 0 {
		span.SetAttributes(attribute.String("omnirank.wait", retry.String()))
	}
	switch {
	case err != nil:
		span.RecordError(err)
		span.SetStatus(otelcodes.Error, "fusion failed")
		if ctx.Err() != nil {
			nakAll(good, 0)
			return 0
		}
		f.log.WarnContext(ctx, "fusion: will retry", "product", ft.ProductID, "space", ft.Space, "err", err)
		f.metrics.Failed("fusion", "transient")
		for _, m := range good {
			topology.NakForRetry(m)
		}
	case retry > 0 && retry <= maxHold && !malformed && ctx.Err() == nil:
		// Keep them in hand: the next features of this product, or the
		// end of the wait, brings them back here.
		for _, m := range good {
			_ = m.InProgress()
		}
		return retry
	case retry > 0:
		nakAll(good, retry)
	default:
		for _, m := range good {
			if err := m.DoubleAck(ctx); err != nil {
				f.log.WarnContext(ctx, "fusion: ack", "err", err)
			}
		}
	}
	return 0
}

// startSpan starts the "fusion" span of a group: the child of the span
// the newest message carries, linked to the other messages' spans.
func (f *Fuser) startSpan(ctx context.Context, msgs []jetstream.Msg, ft topology.Features) (context.Context, trace.Span) {
	var parent trace.SpanContext
	var links []trace.Link
	for i := len(msgs) - 1; i >= 0; i-- {
		sc := tracing.SpanContext(msgs[i].Headers())
		switch {
		case !sc.IsValid() || sc.Equal(parent):
		case !parent.IsValid():
			parent = sc
		default:
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	return f.tracer.Start(ctx, "fusion", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(links...),
		trace.WithAttributes(attribute.String("omnirank.product", ft.ProductID), attribute.String("omnirank.space", ft.Space),
			attribute.Int("omnirank.messages", len(msgs))))
}

func nakAll(msgs []jetstream.Msg, delay time.Duration) {
	for _, m := range msgs {
		if delay > 0 {
			_ = m.NakWithDelay(delay)
		} else {
			_ = m.Nak()
		}
	}
}

// productOfFeatures keys a features.<space>.<product>.<m> message by space
// and product, so one product's features are fused in order by one goroutine.
func productOfFeatures(msg jetstream.Msg) string {
	s := msg.Subject()
	if i := strings.LastIndexByte(s, '.'); i > 0 {
		return s[:i]
	}
	return s
}

// Fuse builds and publishes the joint vector of one product in one space
// from the current features. It returns a positive delay when the product
// still waits for modalities and should be looked at again then.
func (f *Fuser) Fuse(ctx context.Context, spaceName, id string) (time.Duration, error) {
	entry, err := f.products.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil // deleted meanwhile: the tombstone is already out
	}
	if err != nil {
		return 0, fmt.Errorf("read record %s: %w", id, err)
	}
	var rec topology.ProductRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return 0, fmt.Errorf("decode record %s: %w", id, err)
	}
	sp, err := f.space(ctx, spaceName)
	if err != nil {
		return 0, err
	}
	parts := map[string][]float32{}
	inputs := map[string]string{}
	var rejected []string // "modality: reason" of inputs an extractor gave up on
	missing := 0
	var uploaded time.Time
	trace := ""
	for _, blk := range sp.Blocks {
		want, has := rec.Hashes[blk.Modality]
		if !has {
			continue
		}
		raw, err := f.features.GetLastMsgForSubject(ctx, topology.FeaturesSubject(sp.Name, id, blk.Modality))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			missing++
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read %s features of %s: %w", blk.Modality, id, err)
		}
		var ft topology.Features
		if err := json.Unmarshal(raw.Data, &ft); err != nil {
			return 0, fmt.Errorf("decode %s features of %s: %w", blk.Modality, id, err)
		}
		if ft.ContentHash != want || ft.Model != blk.Model {
			missing++ // stale: the new content is still being encoded
			continue
		}
		if ft.Rejected != "" {
			// Dead-lettered: no block for it, and nothing to wait for.
			rejected = append(rejected, blk.Modality+": "+ft.Rejected)
			continue
		}
		parts[blk.Modality] = ft.Vector
		inputs[blk.Modality] = want
		if ft.UploadedAt.After(uploaded) {
			uploaded, trace = ft.UploadedAt, ft.TraceID
		}
	}
	active, err := f.isActive(ctx, sp.Name)
	if err != nil {
		return 0, err
	}
	if len(parts) == 0 {
		if missing == 0 && len(rejected) > 0 && active {
			// Every input was rejected: nothing to index, ever, for this
			// content. Whatever was indexed before stays searchable.
			return 0, f.markDone(ctx, id, rec.Revision, topology.StateFailed, rejected)
		}
		return 0, nil // nothing current yet; the features on their way will trigger fusion
	}
	if missing > 0 && !active {
		// A space being built by a campaign serves no traffic: nothing is
		// fused from part of a product's blocks. The missing features'
		// own message fuses it when they arrive (an extractor that gives
		// up publishes them as rejected, which counts as arrived).
		// Holding this message instead would keep it in the consumer's
		// ack-pending window, where a campaign's copied blocks, waiting
		// by the hundred for their re-encoded ones, filled the window
		// and stalled everything behind them, live features included.
		return 0, nil
	}
	if missing > 0 {
		if left := rec.UpdatedAt.Add(f.wait).Sub(f.now()); left > 0 {
			return left, nil
		}
	}
	inputsHash := topology.InputsDigest(inputs)

	subject := topology.EmbSubject(sp.Name, id)
	var lastSeq uint64
	last, err := f.emb.GetLastMsgForSubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return 0, fmt.Errorf("read embedding of %s: %w", id, err)
	default:
		lastSeq = last.Sequence
		var prev topology.Embedding
		if err := json.Unmarshal(last.Data, &prev); err == nil {
			if prev.Revision > rec.Revision {
				return 0, nil // never publish an older revision over a newer one
			}
			if !prev.Deleted && prev.Inputs == inputsHash {
				if missing > 0 || !active {
					return 0, nil
				}
				return 0, f.markDone(ctx, id, rec.Revision, finalState(rejected), rejected)
			}
		}
	}
	vec, layout, err := sp.Join(parts)
	if err != nil {
		return 0, fmt.Errorf("join %s: %w", id, err)
	}
	emb := topology.Embedding{ProductID: id, Space: sp.Name, Revision: rec.Revision, Vector: vec, Blocks: layout,
		Inputs: inputsHash, UploadedAt: uploaded, TraceID: trace}
	data, err := json.Marshal(emb)
	if err != nil {
		return 0, fmt.Errorf("encode embedding of %s: %w", id, err)
	}
	// The expected last sequence makes concurrent fusers of one product
	// safe: only one publish over a given predecessor succeeds.
	if _, err := tracing.Publish(ctx, f.js, subject, data, jetstream.WithExpectLastSequencePerSubject(lastSeq)); err != nil {
		return 0, fmt.Errorf("publish embedding of %s: %w", id, err)
	}
	f.metrics.Done("fusion", "published", 1)
	if missing == 0 && active {
		f.metrics.Fresh(uploaded) // upload to searchable: the active space only
	}
	f.log.DebugContext(ctx, "fused", "product", id, "space", sp.Name, "revision", rec.Revision, "modalities", len(parts), "missing", missing)
	if missing > 0 || !active {
		return 0, nil
	}
	return 0, f.markDone(ctx, id, rec.Revision, finalState(rejected), rejected)
}

// isActive reports whether the active alias names space. The product
// record's state (indexed, partial, failed) describes the active space
// only: a campaign's space fusing first must not mark it done.
func (f *Fuser) isActive(ctx context.Context, space string) (bool, error) {
	name, _, err := f.spaces.Active(ctx)
	if errors.Is(err, spaces.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return name == space, nil
}

// finalState is the state of a product fused with every input it has,
// but for the rejected ones.
func finalState(rejected []string) topology.ProductState {
	if len(rejected) > 0 {
		return topology.StatePartial
	}
	return topology.StateIndexed
}

// markDone records the final state of the product's current revision:
// indexed, partial or failed, with the rejected inputs as its error.
func (f *Fuser) markDone(ctx context.Context, id string, rev uint64, state topology.ProductState, rejected []string) error {
	reason := ""
	if len(rejected) > 0 {
		sort.Strings(rejected)
		reason = "rejected by extractor: " + strings.Join(rejected, "; ")
	}
	for range 5 {
		entry, err := f.products.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read record %s: %w", id, err)
		}
		var rec topology.ProductRecord
		if err := json.Unmarshal(entry.Value(), &rec); err != nil {
			return fmt.Errorf("decode record %s: %w", id, err)
		}
		if rec.Revision != rev || (rec.State == state && rec.Error == reason) {
			return nil
		}
		rec.State, rec.Error = state, reason
		data, _ := json.Marshal(rec)
		if _, err := f.products.Update(ctx, id, data, entry.Revision()); err == nil {
			return nil
		}
	}
	return fmt.Errorf("mark %s %s: record kept changing", id, state)
}

func (f *Fuser) space(ctx context.Context, name string) (spaces.Space, error) {
	f.mu.Lock()
	sp, ok := f.spaceDefs[name]
	f.mu.Unlock()
	if ok {
		return sp, nil
	}
	sp, err := f.spaces.Get(ctx, name) // spaces are immutable: safe to cache
	if err != nil {
		return spaces.Space{}, err
	}
	f.mu.Lock()
	f.spaceDefs[name] = sp
	f.mu.Unlock()
	return sp, nil
}
