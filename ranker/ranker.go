package ranker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/omnirank/omnirank/extractors"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker/lexical"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/topology"
)

// Encoders gives the ranker the query encoder of a model (name@version).
// *extractors.Registry satisfies it. The ranker closes each encoder it gets
// once the request has used it, which releases a Registry handle's
// reference; implementations that hand out shared encoders make Close a
// no-op on them.
type Encoders interface {
	Encoder(ctx context.Context, model string) (extractors.Encoder, error)
}

// Ranker follows the catalogue, embeddings and feedback into memory and
// serves RankerService (and, through Register, FeedbackService).
type Ranker struct {
	omnirankv1.UnimplementedRankerServiceServer

	js       jetstream.JetStream
	enc      Encoders
	cfg      config
	feedback *Feedback

	catalog *catalog
	// lex is the lexical index fed by the catalogue; nil when
	// WithoutLexical or before Start.
	lex  atomic.Pointer[lexical.Index]
	gate *admission
	cpu  cpuGate // see cpuGate
	fb   *feedbackStore
	fbf  *feedbackFollower
	// imp logs impressions; nil unless WithImpressions.
	imp *impressionLog
	// voice counts transcribed query clips (issue 16).
	voice *voiceMetrics
	// scorer is the one SetScorer installed; nil means cfg.scorer.
	scorer atomic.Pointer[scorerRef]

	mu     sync.RWMutex
	spaces map[string]*spaceState
	active atomic.Pointer[string]

	// snapMu serialises snapshot writers (the periodic one, Close,
	// Snapshot calls).
	snapMu sync.Mutex

	started atomic.Bool
	cancel  context.CancelFunc
	ctx     context.Context
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// New returns a ranker over js. enc encodes text, image and audio queries;
// it may be nil, and then such queries fail with FailedPrecondition.
func New(js jetstream.JetStream, enc Encoders, opts ...Option) (*Ranker, error) {
	if js == nil {
		return nil, optErr("nil JetStream")
	}
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	fs := newFeedbackStore(&cfg)
	fm := newFeedbackMetrics()
	r := &Ranker{
		js:       js,
		enc:      enc,
		cfg:      cfg,
		feedback: newFeedback(js, cfg, fm),
		catalog:  newCatalog(cfg.logger.With("component", "catalogue")),
		gate:     newAdmission(cfg.maxInFlight, cfg.queueWait),
		cpu:      newCPUGate(runtime.GOMAXPROCS(0)),
		fb:       fs,
		fbf:      newFeedbackFollower(fs, &cfg, fm),
		spaces:   map[string]*spaceState{},
	}
	r.voice = newVoiceMetrics()
	collectors := append(r.gate.collectors(), fm.collectors()...)
	if cfg.speech != nil {
		collectors = append(collectors, r.voice.collectors()...)
	}
	if cfg.impSample > 0 {
		r.imp = newImpressionLog(js, cfg.impSample, cfg.logger.With("component", "impressions"), impressionBuffer)
		collectors = append(collectors, r.imp.count)
	}
	if cfg.registerer != nil {
		for _, c := range collectors {
			if err := cfg.registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register ranker metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Start starts following the catalogue, the spaces bucket, every followed
// space's embeddings and the feedback stream. It returns once every
// follower is subscribed; Ready and WaitReady tell when they caught up.
// The followers run until ctx ends or Close.
func (r *Ranker) Start(ctx context.Context) error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if r.closed || !r.started.CompareAndSwap(false, true) {
		return ErrClosed
	}
	r.ctx, r.cancel = context.WithCancel(ctx)
	fail := func(err error) error {
		r.cancel()
		r.wg.Wait()
		return err
	}
	if !r.cfg.lexicalOff {
		lex, err := lexical.New(r.cfg.lexical)
		if err != nil {
			return fail(fmt.Errorf("start lexical index: %w", err))
		}
		r.catalog.sink = lex
		r.lex.Store(lex)
		fail = func(err error) error {
			r.cancel()
			r.wg.Wait()
			if cerr := lex.Close(); cerr != nil {
				r.cfg.logger.Warn("close lexical index", "err", cerr)
			}
			return err
		}
	}
	if err := r.run(func(ctx context.Context) (func(), error) { return r.catalog.follow(ctx, r.js) }); err != nil {
		return fail(err)
	}
	if err := r.run(func(ctx context.Context) (func(), error) { return r.fbf.follow(ctx, r.js) }); err != nil {
		return fail(err)
	}
	if err := r.run(r.followSpaces); err != nil {
		return fail(err)
	}
	if r.cfg.snap.store != nil {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.snapshotLoop(r.ctx)
		}()
	}
	if r.imp != nil {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.imp.run(r.ctx)
		}()
	}
	return nil
}

// run starts a follower under the ranker's context and tracks it.
func (r *Ranker) run(start func(ctx context.Context) (func(), error)) error {
	wait, err := start(r.ctx)
	if err != nil {
		return err
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		wait()
	}()
	return nil
}

// followSpaces watches the spaces bucket: each stored space gets a
// follower, the active alias is tracked. Space followers are started from
// the watch goroutine.
func (r *Ranker) followSpaces(ctx context.Context) (func(), error) {
	kv, err := r.js.KeyValue(ctx, topology.BucketSpaces)
	if err != nil {
		return nil, fmt.Errorf("open spaces bucket: %w", err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch spaces bucket: %w", err)
	}
	// Apply the initial values before returning, so that Start returns
	// with every existing space subscribed.
	apply := func(e jetstream.KeyValueEntry) {
		key := e.Key()
		deleted := e.Operation() != jetstream.KeyValuePut
		switch {
		case key == spaces.ActiveAlias:
			if deleted {
				r.active.Store(nil)
			} else {
				name := string(e.Value())
				r.active.Store(&name)
			}
		case strings.HasPrefix(key, "space.") && deleted:
			r.removeSpace(strings.TrimPrefix(key, "space."))
		case strings.HasPrefix(key, "space.") && !deleted:
			var s spaces.Space
			if err := json.Unmarshal(e.Value(), &s); err != nil {
				r.cfg.logger.Warn("skipping space definition", "key", key, "err", err)
				return
			}
			if err := s.Validate(); err != nil {
				r.cfg.logger.Warn("skipping space definition", "key", key, "err", err)
				return
			}
			if r.cfg.follow != nil && !r.cfg.follow[s.Name] {
				return
			}
			if err := r.addSpace(ctx, s); err != nil {
				r.cfg.logger.Error("cannot follow space; retrying", "space", s.Name, "err", err)
				r.retrySpace(ctx, s)
			}
		}
	}
initial:
	for {
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("watch spaces bucket: closed")
			}
			if e == nil {
				break initial
			}
			apply(e)
		}
	}
	done := topology.FollowKV(ctx, w, func(e jetstream.KeyValueEntry) {
		if e != nil {
			apply(e)
		}
	})
	return func() { <-done }, nil
}

// addSpace starts following a space once: from its newest usable
// snapshot when snapshots are configured, else from an empty index.
func (r *Ranker) addSpace(ctx context.Context, def spaces.Space) error {
	r.mu.RLock()
	_, ok := r.spaces[def.Name]
	r.mu.RUnlock()
	if ok {
		return nil
	}
	stream, err := r.js.Stream(ctx, topology.StreamEmb)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", topology.StreamEmb, err)
	}
	info := stream.CachedInfo()
	var (
		res     *restored
		skipped int
	)
	if r.cfg.snap.store != nil {
		if res, skipped, err = r.restoreSpace(ctx, def, info); err != nil {
			return fmt.Errorf("restore space %s: %w", def.Name, err)
		}
	}
	var s *spaceState
	if res != nil {
		s = newSpaceState(def, res.idx, r.cfg.logger)
		s.revs, s.seq = res.revs, res.seq
		s.snap.loadedKey, s.snap.loadedSeq = res.key, res.seq
		s.snap.saved.Store(res.seq)
	} else {
		idx, err := r.cfg.newIndex(def.Dim())
		if err != nil {
			return fmt.Errorf("new index for space %s: %w", def.Name, err)
		}
		s = newSpaceState(def, idx, r.cfg.logger)
	}
	s.snap.fallbacks = skipped
	s.snap.streamAt = info.Created
	sctx, stop := context.WithCancel(ctx)
	s.stop = stop
	r.mu.Lock()
	if _, ok := r.spaces[def.Name]; ok {
		r.mu.Unlock()
		stop()
		return nil
	}
	r.spaces[def.Name] = s
	r.mu.Unlock()
	wait, err := s.follow(sctx, stream, r.js)
	if err != nil {
		stop()
		r.mu.Lock()
		delete(r.spaces, def.Name)
		r.mu.Unlock()
		return err
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		wait()
	}()
	r.cfg.logger.Info("following space", "space", def.Name, "dim", def.Dim(), "from_seq", s.snap.replayFrom.Load())
	return nil
}

// removeSpace stops following a retired space and drops its index. A
// request already holding the space finishes with it.
func (r *Ranker) removeSpace(name string) {
	r.mu.Lock()
	s, ok := r.spaces[name]
	delete(r.spaces, name)
	r.mu.Unlock()
	if ok && s.stop != nil {
		s.stop()
		r.cfg.logger.Info("space retired: no longer followed", "space", name)
	}
}

// retrySpace keeps trying to follow a space whose follower failed to
// start (a stream briefly unavailable, say) with capped exponential
// back-off, until it starts or ctx ends.
func (r *Ranker) retrySpace(ctx context.Context, def spaces.Space) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		delay := time.Second
		for {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			err := r.addSpace(ctx, def)
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				return
			}
			r.cfg.logger.Warn("cannot follow space; retrying", "space", def.Name, "err", err, "in", delay)
			delay = min(2*delay, 30*time.Second)
		}
	}()
}

// space returns a followed space; "" means the active alias.
func (r *Ranker) space(name string) (*spaceState, error) {
	if name == "" {
		a := r.active.Load()
		if a == nil {
			return nil, fmt.Errorf("%w: no space named and the active alias is unset", ErrUnknownSpace)
		}
		name = *a
	}
	r.mu.RLock()
	s, ok := r.spaces[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownSpace, name)
	}
	return s, nil
}

// Ready reports whether the ranker can answer for a space ("" = active)
// from complete data: the catalogue is loaded (and in the lexical index),
// and the space's embeddings
// and the feedback stream have been applied up to where they stood when
// their followers started.
func (r *Ranker) Ready(space string) bool {
	s, err := r.space(space)
	if err != nil {
		return false
	}
	return r.catalog.ready.Load() && r.fbf.ready.Load() && s.ready.Load() && r.lexicalReady()
}

// lexicalReady reports whether the lexical index (if any) holds the
// initial catalogue.
func (r *Ranker) lexicalReady() bool {
	lex := r.lex.Load()
	return lex == nil || lex.Ready()
}

// WaitReady blocks until Ready(space) or ctx ends.
func (r *Ranker) WaitReady(ctx context.Context, space string) error {
	chs := []<-chan struct{}{r.catalog.readyCh, r.fbf.readyCh}
	if lex := r.lex.Load(); lex != nil {
		chs = append(chs, lex.ReadyCh())
	}
	for _, ch := range chs {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for ranker: %w", ctx.Err())
		}
	}
	for {
		s, err := r.space(space)
		if err == nil {
			select {
			case <-s.readyCh:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("wait for space %q: %w", space, ctx.Err())
			}
		}
		// The space (or the alias) may not have been seen yet.
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for space %q: %w", space, ctx.Err())
		case <-afterShort():
		}
	}
}

// SpaceStats describes one followed space.
type SpaceStats struct {
	Name    string
	Dim     int
	Vectors int
	// Applied embeddings, tombstones, stale (older revision) embeddings
	// ignored, and embeddings rejected as malformed.
	Applied, Deleted, Ignored, Rejected int64
	Ready                               bool
	Active                              bool
	// Seq is the highest EMB stream sequence handled.
	Seq uint64
	// SnapshotLoaded is the key (without extension) of the snapshot the
	// space started from, "" when it replayed the stream from the start;
	// SnapshotSeq is that snapshot's sequence and ReplayedFromSeq the first
	// sequence the follower asked for (0: every subject's last message).
	SnapshotLoaded  string
	SnapshotSeq     uint64
	ReplayedFromSeq uint64
	// SnapshotsSkipped counts snapshots found unusable at start;
	// SnapshotsWritten and SnapshotErrors count this ranker's writes.
	SnapshotsSkipped                 int
	SnapshotsWritten, SnapshotErrors int64
	// SnapshotPause is how long the last snapshot held the space still
	// (the follower waits and the index's Save blocks searches).
	SnapshotPause time.Duration
}

// Stats is a snapshot of what the ranker holds.
type Stats struct {
	Products        int
	CatalogReady    bool
	CatalogRejected int64
	Active          string
	Spaces          []SpaceStats
	FeedbackEvents  int64
	FeedbackUsers   int
	FeedbackItems   int
	FeedbackReady   bool
	// FeedbackRejects counts malformed events in the stream.
	FeedbackRejects int64
	// FeedbackSkipped counts stream events not applied, by reason
	// (malformed, future, too_old, subject, forgotten, capped), since
	// start; FeedbackCapped is the capped events the current store
	// (rebuilt after a forget) skipped.
	FeedbackSkipped map[string]int64
	FeedbackCapped  int64
	// FeedbackForgotten is the number of forgotten users known,
	// FeedbackRebuilds how often the store was rebuilt without them.
	FeedbackForgotten int
	FeedbackRebuilds  int64
	// ShedOverloaded counts Recommend requests refused with
	// ResourceExhausted (no slot within the queue wait), ShedDeadline
	// those whose deadline ended while they waited for one.
	ShedOverloaded, ShedDeadline int64
	// RecommendInFlight is the number of Recommend requests holding a slot.
	RecommendInFlight int
	// LexicalDocs is the number of products in the lexical index,
	// LexicalReady whether it holds the whole initial catalogue (both zero
	// with WithoutLexical).
	LexicalDocs  int
	LexicalReady bool
	// Impressions published, dropped (buffer full) and failed to publish
	// (all zero without WithImpressions).
	ImpressionsPublished, ImpressionsDropped, ImpressionsFailed int64
}

// Stats returns counts for status pages.
func (r *Ranker) Stats() Stats {
	st := Stats{
		Products:          r.catalog.len(),
		CatalogReady:      r.catalog.ready.Load(),
		CatalogRejected:   r.catalog.rejected.Load(),
		FeedbackReady:     r.fbf.ready.Load(),
		FeedbackRejects:   r.fbf.skipped[skipMalformed].Load(),
		FeedbackSkipped:   map[string]int64{},
		FeedbackRebuilds:  r.fbf.rebuilds.Load(),
		ShedOverloaded:    r.gate.overloaded.Load(),
		ShedDeadline:      r.gate.deadline.Load(),
		RecommendInFlight: len(r.gate.slots),
	}
	if a := r.active.Load(); a != nil {
		st.Active = *a
	}
	if lex := r.lex.Load(); lex != nil {
		st.LexicalDocs, st.LexicalReady = lex.Len(), lex.Ready()
	}
	if r.imp != nil {
		st.ImpressionsPublished, st.ImpressionsDropped, st.ImpressionsFailed = r.imp.published.Load(), r.imp.dropped.Load(), r.imp.failed.Load()
	}
	st.FeedbackEvents, st.FeedbackCapped, st.FeedbackUsers, st.FeedbackItems = r.fb.stats()
	for why, n := range r.fbf.skipped {
		st.FeedbackSkipped[string(why)] = n.Load()
	}
	r.fbf.mu.Lock()
	st.FeedbackForgotten = len(r.fbf.tombs)
	r.fbf.mu.Unlock()
	r.mu.RLock()
	for name, s := range r.spaces {
		s.mu.RLock()
		seq := s.seq
		s.mu.RUnlock()
		st.Spaces = append(st.Spaces, SpaceStats{
			Name: name, Dim: s.def.Dim(), Vectors: s.idx.Len(),
			Applied: s.applied.Load(), Deleted: s.deleted.Load(), Ignored: s.ignored.Load(), Rejected: s.rejected.Load(),
			Ready: s.ready.Load(), Active: name == st.Active, Seq: seq,
			SnapshotLoaded: s.snap.loadedKey, SnapshotSeq: s.snap.loadedSeq, ReplayedFromSeq: s.snap.replayFrom.Load(),
			SnapshotsSkipped: s.snap.fallbacks, SnapshotsWritten: s.snap.written.Load(), SnapshotErrors: s.snap.failed.Load(),
			SnapshotPause: time.Duration(s.snap.pause.Load()),
		})
	}
	r.mu.RUnlock()
	slices.SortFunc(st.Spaces, func(a, b SpaceStats) int { return strings.Compare(a.Name, b.Name) })
	return st
}

// Close stops every follower and waits for them; with WithSnapshots it
// then writes a snapshot of every caught-up space that changed since its
// last one (bounded by five minutes) and returns that error, if any. It is
// idempotent.
func (r *Ranker) Close() error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.wg.Wait()
	var lexErr error
	if lex := r.lex.Load(); lex != nil {
		lexErr = lex.Close()
	}
	if r.cfg.snap.store == nil {
		return lexErr
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), snapshotCloseTimeout)
	defer cancel()
	if _, err := r.Snapshot(ctx); err != nil {
		return fmt.Errorf("close ranker: %w", errors.Join(err, lexErr))
	}
	return lexErr
}

// Feedback returns the feedback service sharing the ranker's options.
func (r *Ranker) Feedback() *Feedback { return r.feedback }

// Register registers RankerService and FeedbackService on s. Create s with
// ServerOptions so that requests carrying media up to the size limit fit.
func (r *Ranker) Register(s *grpc.Server) {
	omnirankv1.RegisterRankerServiceServer(s, r)
	omnirankv1.RegisterFeedbackServiceServer(s, r.feedback)
}

// ServerOptions returns the gRPC server options the ranker needs: a
// receive limit large enough for a query image and a query audio clip of
// the maximum size, so that oversize media get the ranker's own
// ResourceExhausted with a clear message.
func ServerOptions(opts ...Option) ([]grpc.ServerOption, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(3*cfg.maxMediaBytes + 1<<20)}, nil
}
