package ranker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/omnirank/omnirank/internal/tracing"
	"github.com/omnirank/omnirank/ranker/index"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/topology"
)

// revState is the last embedding applied for a product in a space.
type revState struct {
	revision uint64
	deleted  bool
}

// spaceState is one followed space: its definition, its index and the
// revision of every product applied to it.
type spaceState struct {
	def    spaces.Space
	idx    index.Index
	log    *slog.Logger
	tracer trace.Tracer

	mu   sync.RWMutex
	revs map[string]revState
	// seq is the highest EMB stream sequence handled (applied, ignored or
	// rejected), guarded by mu together with idx and revs, so that a
	// snapshot taken under mu reflects exactly the messages up to seq.
	seq uint64

	// snap describes the snapshot the space started from and the ones it
	// wrote; see snapshot.go.
	snap snapState

	applied, deleted, ignored, rejected atomic.Int64

	// startSeq is the stream sequence of the space's last message when the
	// follower started; the space is caught up once it applied it.
	startSeq  uint64
	ready     atomic.Bool
	readyCh   chan struct{}
	readyOnce sync.Once

	// stop ends the space's follower (the space was retired).
	stop context.CancelFunc
}

func newSpaceState(def spaces.Space, idx index.Index, log *slog.Logger, tracer trace.Tracer) *spaceState {
	return &spaceState{def: def, idx: idx, log: log.With("space", def.Name), tracer: tracer, revs: map[string]revState{}, readyCh: make(chan struct{})}
}

func (s *spaceState) markReady() {
	s.readyOnce.Do(func() {
		s.ready.Store(true)
		close(s.readyCh)
		s.log.Info("space caught up", "vectors", s.idx.Len())
	})
}

// has reports whether the product has a live vector in the space.
func (s *spaceState) has(id string) bool {
	s.mu.RLock()
	r, ok := s.revs[id]
	s.mu.RUnlock()
	return ok && !r.deleted
}

// vector returns the product's vector in the space.
func (s *spaceState) vector(id string) ([]float32, bool) {
	if !s.has(id) {
		return nil, false
	}
	return s.idx.Get(id)
}

// errStale marks an embedding older than the one already applied.
var errStale = errors.New("older than the applied revision")

// apply applies one embedding message for product id and reports whether
// it was a tombstone. seq is the message's stream sequence (0 when
// unknown); the space records it whatever the outcome.
func (s *spaceState) apply(id string, data []byte, seq uint64) (tombstone bool, err error) {
	var e topology.Embedding
	err = json.Unmarshal(data, &e)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq = max(s.seq, seq)
	if err != nil {
		return false, fmt.Errorf("decode embedding %s/%s: %w", s.def.Name, id, err)
	}
	return s.applyLocked(id, &e)
}

// applyLocked applies a decoded embedding with s.mu held.
func (s *spaceState) applyLocked(id string, e *topology.Embedding) (tombstone bool, err error) {
	if e.ProductID != "" && e.ProductID != id {
		return false, fmt.Errorf("embedding %s/%s: product id %q differs from its subject", s.def.Name, id, e.ProductID)
	}
	if e.Space != "" && e.Space != s.def.Name {
		return false, fmt.Errorf("embedding %s/%s: names space %q", s.def.Name, id, e.Space)
	}
	if prev, ok := s.revs[id]; ok && e.Revision < prev.revision {
		return false, fmt.Errorf("embedding %s/%s revision %d (applied %d): %w", s.def.Name, id, e.Revision, prev.revision, errStale)
	}
	if e.Deleted {
		s.idx.Delete(id)
		s.revs[id] = revState{revision: e.Revision, deleted: true}
		return true, nil
	}
	if len(e.Vector) != s.def.Dim() {
		return false, fmt.Errorf("embedding %s/%s: %d dims, space has %d", s.def.Name, id, len(e.Vector), s.def.Dim())
	}
	v := slices.Clone([]float32(e.Vector))
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return false, fmt.Errorf("embedding %s/%s: vector is zero or not finite", s.def.Name, id)
	}
	spaces.Normalize(v)
	if err := s.idx.Upsert(id, v); err != nil {
		return false, fmt.Errorf("index embedding %s/%s: %w", s.def.Name, id, err)
	}
	s.revs[id] = revState{revision: e.Revision}
	return false, nil
}

// handle applies one message from the ordered consumer.
func (s *spaceState) handle(msg jetstream.Msg) {
	meta, merr := msg.Metadata()
	var seq uint64
	if merr == nil {
		seq = meta.Sequence.Stream
	}
	_, id, ok := topology.ProductFromEmbSubject(msg.Subject())
	var (
		tomb bool
		err  error
	)
	// A live embedding continues its product's trace; a replay (the space
	// catching up at start) does not, or a restart would record a span
	// per product.
	ctx, traced := context.Background(), false
	if s.ready.Load() {
		if sc := tracing.SpanContext(msg.Headers()); sc.IsValid() {
			var span trace.Span
			traced = true
			ctx, span = s.tracer.Start(trace.ContextWithRemoteSpanContext(ctx, sc), "ranker.index", trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(attribute.String("omnirank.product", id), attribute.String("omnirank.space", s.def.Name)))
			defer func() {
				if err != nil {
					span.RecordError(err)
					span.SetStatus(otelcodes.Error, "embedding not applied")
				}
				span.End()
			}()
		}
	}
	if !ok {
		err = fmt.Errorf("embedding subject %q: not emb.<space>.<product>", msg.Subject())
		s.mu.Lock()
		s.seq = max(s.seq, seq)
		s.mu.Unlock()
	} else {
		tomb, err = s.apply(id, msg.Data(), seq)
	}
	switch {
	case err == nil && tomb:
		s.deleted.Add(1)
	case err == nil:
		s.applied.Add(1)
	case errors.Is(err, errStale):
		s.ignored.Add(1)
		s.log.DebugContext(ctx, "ignoring stale embedding", "err", err)
	default:
		s.rejected.Add(1)
		s.log.WarnContext(ctx, "rejecting embedding", "err", err)
	}
	if err == nil && traced {
		s.log.DebugContext(ctx, "embedding applied", "product", id, "tombstone", tomb)
	}
	if merr == nil {
		if meta.Sequence.Stream >= s.startSeq || meta.NumPending == 0 {
			s.markReady()
		}
	}
}

// follow starts the space's ordered consumer; it runs until ctx ends and
// the returned function blocks until it stopped. A space restored from a
// snapshot (s.seq > 0) resumes after the snapshot's sequence: every
// message after it is the current one of its subject (the stream keeps one
// per subject), so replaying them brings the index to the stream's state;
// otherwise it replays the last message of every subject.
func (s *spaceState) follow(ctx context.Context, stream jetstream.Stream, js jetstream.JetStream) (wait func(), err error) {
	filter := topology.EmbFilter(s.def.Name)
	last, err := stream.GetLastMsgForSubject(ctx, filter)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		s.markReady()
	case err != nil:
		return nil, fmt.Errorf("last embedding of space %s: %w", s.def.Name, err)
	default:
		s.startSeq = last.Sequence
	}
	s.mu.RLock()
	from := s.seq
	s.mu.RUnlock()
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy}
	if from > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from+1
		s.snap.replayFrom.Store(from + 1)
		if s.startSeq <= from {
			s.markReady()
		}
	}
	cons, err := js.OrderedConsumer(ctx, topology.StreamEmb, cfg)
	if err != nil {
		return nil, fmt.Errorf("embedding consumer of space %s: %w", s.def.Name, err)
	}
	return topology.Consume(ctx, cons, s.handle, s.log)
}
