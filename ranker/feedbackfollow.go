package ranker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/topology"
)

// skipReason says why the follower skipped an event ("" = applied).
type skipReason string

const (
	skipNone      skipReason = ""
	skipMalformed skipReason = "malformed"
	skipFuture    skipReason = "future"
	skipTooOld    skipReason = "too_old"
	skipSubject   skipReason = "subject" // per-user subject of another user
	skipForgotten skipReason = "forgotten"
	skipCapped    skipReason = "capped"
)

var skipReasons = []skipReason{skipMalformed, skipFuture, skipTooOld, skipSubject, skipForgotten, skipCapped}

// feedbackFollower replays the feedback stream into a feedbackStore, skips
// events it cannot trust (see apply), and rebuilds the store without a
// user's events when the user is forgotten (forgotten bucket).
type feedbackFollower struct {
	store     *feedbackStore
	cfg       *config
	log       *slog.Logger
	metrics   *feedbackMetrics
	startSeq  uint64
	skipped   map[skipReason]*atomic.Int64
	rebuilds  atomic.Int64
	ready     atomic.Bool
	readyCh   chan struct{}
	readyOnce sync.Once
	rebuildCh chan struct{}

	// mu serialises applying live events, recording tombstones and
	// swapping in a rebuilt store.
	mu      sync.Mutex
	lastSeq uint64            // last FEEDBACK sequence handled live
	tombs   map[string]uint64 // user token -> forgotten up to this sequence
}

func newFeedbackFollower(store *feedbackStore, cfg *config, m *feedbackMetrics) *feedbackFollower {
	ff := &feedbackFollower{store: store, cfg: cfg, log: cfg.logger.With("component", "feedback"), metrics: m,
		skipped: map[skipReason]*atomic.Int64{}, readyCh: make(chan struct{}), rebuildCh: make(chan struct{}, 1), tombs: map[string]uint64{}}
	for _, r := range skipReasons {
		ff.skipped[r] = &atomic.Int64{}
	}
	return ff
}

func (ff *feedbackFollower) markReady() {
	ff.readyOnce.Do(func() {
		ff.ready.Store(true)
		close(ff.readyCh)
	})
}

// apply decodes one FEEDBACK message and adds it to store unless it is
// malformed, dated more than the clock skew after the stream stored it,
// older than the retention, on another user's per-user subject, of a
// forgotten user (up to the tombstone's sequence) or over the user's
// contribution cap.
func (ff *feedbackFollower) apply(store *feedbackStore, tombs map[string]uint64, subject string, data []byte, seq uint64, stored time.Time) skipReason {
	var fb topology.Feedback
	if err := json.Unmarshal(data, &fb); err != nil {
		return skipMalformed
	}
	if _, ok := kindWeights[fb.Kind]; !ok || fb.UserID == "" || fb.ProductID == "" || fb.Time.IsZero() {
		return skipMalformed
	}
	if fb.Time.After(stored.Add(ff.cfg.fbSkew)) {
		return skipFuture
	}
	if fb.Time.Before(ff.cfg.now().Add(-ff.cfg.fbRetention)) {
		return skipTooOld
	}
	if strings.Count(subject, ".") == 2 || len(tombs) > 0 {
		token := topology.FeedbackUserToken(fb.UserID)
		if strings.Count(subject, ".") == 2 && !strings.HasSuffix(subject, "."+token) {
			return skipSubject
		}
		if upTo, ok := tombs[token]; ok && seq <= upTo {
			return skipForgotten
		}
	}
	if store.add(fb) == addCapped {
		return skipCapped
	}
	return skipNone
}

func (ff *feedbackFollower) handle(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		ff.log.Warn("feedback message without metadata", "subject", msg.Subject(), "err", err)
		return
	}
	ff.mu.Lock()
	why := ff.apply(ff.store, ff.tombs, msg.Subject(), msg.Data(), meta.Sequence.Stream, meta.Timestamp)
	ff.lastSeq = meta.Sequence.Stream
	ff.mu.Unlock()
	if why != skipNone {
		ff.skipped[why].Add(1)
		ff.metrics.skipped.WithLabelValues(string(why)).Inc()
		if why != skipCapped && why != skipForgotten {
			ff.log.Warn("skipping feedback event", "subject", msg.Subject(), "seq", meta.Sequence.Stream, "reason", why)
		}
	}
	if meta.Sequence.Stream >= ff.startSeq || meta.NumPending == 0 {
		ff.markReady()
	}
}

// follow loads the forgotten users, then replays feedback.> from the start
// of the stream with an ordered consumer and watches for newly forgotten
// users until ctx ends.
func (ff *feedbackFollower) follow(ctx context.Context, js jetstream.JetStream) (func(), error) {
	kv, err := js.KeyValue(ctx, topology.BucketForgotten)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", topology.BucketForgotten, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch bucket %s: %w", topology.BucketForgotten, err)
	}
	// The initial values end with a nil entry: every user forgotten so
	// far is known before the first event is applied.
	for e := range w.Updates() {
		if e == nil {
			break
		}
		ff.tombstone(e, false)
	}
	stream, err := js.Stream(ctx, topology.StreamFeedback)
	if err != nil {
		_ = w.Stop()
		return nil, fmt.Errorf("open stream %s: %w", topology.StreamFeedback, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		_ = w.Stop()
		return nil, fmt.Errorf("stream %s info: %w", topology.StreamFeedback, err)
	}
	if info.State.Msgs == 0 {
		ff.markReady()
	}
	ff.startSeq = info.State.LastSeq
	cons, err := js.OrderedConsumer(ctx, topology.StreamFeedback, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"feedback.>"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		_ = w.Stop()
		return nil, fmt.Errorf("feedback consumer: %w", err)
	}
	wait, err := topology.Consume(ctx, cons, ff.handle, ff.log)
	if err != nil {
		_ = w.Stop()
		return nil, err
	}
	watched := topology.FollowKV(ctx, w, func(e jetstream.KeyValueEntry) {
		if e != nil && ff.tombstone(e, true) {
			select {
			case ff.rebuildCh <- struct{}{}:
			default: // one is pending: it will see this tombstone too
			}
		}
	})
	rebuilt := make(chan struct{})
	go func() {
		defer close(rebuilt)
		var retry <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-ff.rebuildCh:
			case <-retry:
			}
			retry = nil
			if err := ff.rebuild(ctx, js, stream); err != nil && ctx.Err() == nil {
				ff.log.Error("rebuild feedback after forgetting a user; retrying in a minute", "err", err)
				retry = time.After(time.Minute)
			}
		}
	}()
	return func() { wait(); <-watched; <-rebuilt }, nil
}

// tombstone records one forgotten-bucket entry; with live set it also
// drops the user's history now. It reports whether the store needs a
// rebuild.
func (ff *feedbackFollower) tombstone(e jetstream.KeyValueEntry, live bool) bool {
	if e.Operation() != jetstream.KeyValuePut {
		return false // expired: nothing of the user is left in the stream
	}
	var fg topology.Forgotten
	if err := json.Unmarshal(e.Value(), &fg); err != nil {
		ff.log.Warn("malformed forgotten entry", "key", e.Key(), "err", err)
		return false
	}
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if old, ok := ff.tombs[e.Key()]; ok && old >= fg.Seq {
		return false // seen: idempotent
	}
	ff.tombs[e.Key()] = fg.Seq
	if live {
		ff.store.dropUsers(map[string]bool{e.Key(): true})
	}
	return live
}

// rebuild replays the stream into a fresh store with every tombstone
// applied, catches it up with what the live follower applied meanwhile and
// swaps it in: popularity and co-occurrence then hold nothing of a
// forgotten user.
func (ff *feedbackFollower) rebuild(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream) error {
	ns := newFeedbackStore(ff.cfg)
	ff.mu.Lock()
	target, tombs := ff.lastSeq, maps.Clone(ff.tombs)
	ff.mu.Unlock()
	var done uint64
	err := topology.Scan(ctx, js, topology.StreamFeedback, "feedback.>", func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		if meta.Sequence.Stream > target {
			return errStopScan
		}
		ff.apply(ns, tombs, m.Subject(), m.Data(), meta.Sequence.Stream, meta.Timestamp)
		done = meta.Sequence.Stream
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return err
	}
	ff.mu.Lock()
	defer ff.mu.Unlock()
	start := done + 1
	if info, err := stream.Info(ctx); err == nil && info.State.FirstSeq > start {
		start = info.State.FirstSeq // everything before is gone
	}
	for seq := start; seq <= ff.lastSeq; seq++ {
		raw, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("catch up at %d: %w", seq, err)
		}
		ff.apply(ns, ff.tombs, raw.Subject, raw.Data, seq, raw.Time)
	}
	ff.store.replaceWith(ns)
	ff.rebuilds.Add(1)
	return nil
}

var errStopScan = errors.New("stop scan")
