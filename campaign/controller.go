package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/ingest"
	"github.com/omnirank/omnirank/metrics"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/topology"
)

// Controller is the campaign role: it drives the open campaign recorded
// in the campaigns bucket. Several may run; compare-and-swap on the record
// keeps them from stepping on each other, and idempotent publishing makes
// a step repeated by two of them harmless.
type Controller struct {
	js       jetstream.JetStream
	camp     *store
	spaces   *spaces.Store
	products jetstream.KeyValue
	features jetstream.Stream
	log      *slog.Logger
	metrics  *metrics.Campaign
	now      func() time.Time
	fresh    *freshness

	tick          time.Duration
	progressEvery time.Duration
	window        int
	batch         int
}

// Option configures a Controller.
type Option func(*Controller) error

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(c *Controller) error {
		if l == nil {
			return errors.New("campaign: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithMetrics records the controller's work on m.
func WithMetrics(m *metrics.Campaign) Option {
	return func(c *Controller) error {
		c.metrics = m
		return nil
	}
}

// WithWindow sets the most backfill jobs the controller lets wait in the
// queue (default 128): small keeps live uploads fast and pause quick,
// large keeps extractors busy with big batches.
func WithWindow(n int) Option {
	return func(c *Controller) error {
		if n < 1 || n > 1<<20 {
			return fmt.Errorf("campaign: window %d out of 1..%d", n, 1<<20)
		}
		c.window = n
		return nil
	}
}

// WithTick sets how often the controller looks at the queue and the
// campaign (default 200 ms).
func WithTick(d time.Duration) Option {
	return func(c *Controller) error {
		if d <= 0 || d > time.Minute {
			return fmt.Errorf("campaign: tick %s out of (0, 1m]", d)
		}
		c.tick = d
		return nil
	}
}

// NewController opens what the role needs (declared by topology.Ensure).
func NewController(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Controller, error) {
	c := &Controller{js: js, log: slog.Default(), now: time.Now, fresh: newFreshness(), tick: 200 * time.Millisecond,
		progressEvery: time.Second, window: 128, batch: 64}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	var err error
	if c.camp, err = openStore(ctx, js); err != nil {
		return nil, fmt.Errorf("campaign: %w", err)
	}
	if c.spaces, err = spaces.NewStore(ctx, js); err != nil {
		return nil, fmt.Errorf("campaign: %w", err)
	}
	if c.products, err = js.KeyValue(ctx, topology.BucketProducts); err != nil {
		return nil, fmt.Errorf("campaign: open products bucket: %w", err)
	}
	if c.features, err = js.Stream(ctx, topology.StreamFeatures); err != nil {
		return nil, fmt.Errorf("campaign: open features stream: %w", err)
	}
	return c, nil
}

// session is what the controller holds for the campaign it drives.
type session struct {
	key       string // space + start time: a new campaign is a new session
	space     spaces.Space
	from      spaces.Space
	tracker   *tracker
	stop      context.CancelFunc
	wait      func()
	ids       []string // the catalogue's product ids, sorted, listed once
	throttle  *throttle
	lastDone  int
	lastAt    time.Time
	itemsPerS float64
	counted   time.Time
	logged    time.Time // last "campaign: pacing" line
}

func (s *session) close() {
	s.stop()
	s.wait()
}

// Run drives campaigns until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	wait, err := c.fresh.follow(ctx, c.js, c.log)
	if err != nil {
		return err
	}
	defer wait()
	var sess *session
	defer func() {
		if sess != nil {
			sess.close()
		}
	}()
	t := time.NewTicker(c.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var err error
		sess, err = c.step(ctx, sess)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("campaign: step failed; will retry", "err", err)
		}
	}
}

// step does one round: follows the campaign's state, queues the next
// products and updates its progress.
func (c *Controller) step(ctx context.Context, sess *session) (*session, error) {
	if name, _, err := c.spaces.Active(ctx); err == nil {
		c.fresh.setActive(name)
	}
	cp, rev, err := c.camp.get(ctx)
	c.fresh.setIdle(err != nil || cp.State != topology.CampaignRunning)
	active := err == nil && (cp.State == topology.CampaignRunning || cp.State == topology.CampaignPaused)
	if !active {
		if sess != nil {
			sess.close()
		}
		if errors.Is(err, ErrNoCampaign) {
			err = nil
		}
		return nil, err
	}
	key := cp.Space + "@" + cp.StartedAt.String()
	if sess == nil || sess.key != key {
		if sess != nil {
			sess.close()
		}
		if sess, err = c.open(ctx, cp, key); err != nil {
			return nil, err
		}
	}
	if cp.State == topology.CampaignRunning && !cp.Enumerated {
		if err := c.queueMore(ctx, sess, cp, rev); err != nil {
			return sess, err
		}
	}
	if c.now().Sub(sess.counted) >= c.progressEvery {
		sess.counted = c.now()
		return sess, c.progress(ctx, sess)
	}
	return sess, nil
}

// open starts a session for a campaign: the space definitions, the
// progress tracker and the list of products to go through.
func (c *Controller) open(ctx context.Context, cp topology.Campaign, key string) (*session, error) {
	sp, err := c.spaces.Get(ctx, cp.Space)
	if err != nil {
		return nil, c.fail(ctx, fmt.Sprintf("space %s: %v", cp.Space, err))
	}
	from, err := c.spaces.Get(ctx, cp.From)
	if err != nil {
		from = spaces.Space{} // retired: everything is encoded afresh
	}
	var ids []string
	if !cp.Enumerated {
		lister, err := c.products.ListKeys(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, fmt.Errorf("list products: %w", err)
		}
		if err == nil {
			for k := range lister.Keys() {
				ids = append(ids, k)
			}
		}
		slices.Sort(ids)
	}
	tctx, stop := context.WithCancel(ctx)
	tr := newTracker(sp)
	wait, err := tr.follow(tctx, c.js, c.log)
	if err != nil {
		stop()
		return nil, err
	}
	now := c.now()
	c.log.Info("campaign: driving", "space", cp.Space, "from", cp.From, "state", cp.State, "cursor", cp.Cursor, "products", len(ids))
	return &session{key: key, space: sp, from: from, tracker: tr, stop: stop, wait: wait, ids: ids,
		throttle: newThrottle(cp.Rate, c.window, now), lastAt: now, lastDone: -1}, nil
}

// fail marks the campaign failed with a reason.
func (c *Controller) fail(ctx context.Context, reason string) error {
	c.log.Error("campaign: failed", "reason", reason)
	_, err := c.camp.update(ctx, func(cp *topology.Campaign) error {
		cp.State, cp.Error, cp.UpdatedAt, cp.FinishedAt = topology.CampaignFailed, reason, c.now(), c.now()
		return nil
	})
	if err != nil {
		return err
	}
	return errors.New(reason)
}

// queueMore queues the products after the cursor that the throttle allows
// and moves the cursor past them with compare-and-swap.
func (c *Controller) queueMore(ctx context.Context, sess *session, cp topology.Campaign, rev uint64) error {
	q, err := c.queues(ctx, sess.space)
	if err != nil {
		return err
	}
	slow := c.fresh.tooSlow(c.fresh.target())
	sess.throttle.adapt(q.liveWaiting || slow)
	c.metrics.Throttle(sess.throttle.factor)
	backlog := q.backfill + q.fusion
	if c.now().Sub(sess.logged) >= 5*time.Second {
		sess.logged = c.now()
		c.log.Info("campaign: pacing", "space", sess.space.Name, "live_waiting", q.liveWaiting, "live_too_slow", slow,
			"backfill_jobs", q.backfill, "fusion_pending", q.fusion, "fusion_in_hand", q.fusionInHand,
			"factor", sess.throttle.factor, "items_per_s", round(sess.itemsPerS))
	}
	i, _ := slices.BinarySearch(sess.ids, cp.Cursor)
	if i < len(sess.ids) && sess.ids[i] == cp.Cursor {
		i++
	}
	n := sess.throttle.allow(c.now(), backlog, c.batch)
	if n == 0 && i < len(sess.ids) {
		return nil
	}
	end := min(i+n, len(sess.ids))
	for _, id := range sess.ids[i:end] {
		enc, reused, err := c.queueProduct(ctx, sess, id)
		if err != nil {
			return err
		}
		cp.Encoded += enc
		cp.Reused += reused
		cp.Queued++
		c.metrics.Queued("encode", enc)
		c.metrics.Queued("reuse", reused)
	}
	if end > i {
		cp.Cursor = sess.ids[end-1]
	}
	cp.Enumerated = end >= len(sess.ids)
	cp.UpdatedAt = c.now()
	if _, err := c.camp.put(ctx, cp, rev); err != nil {
		// Changed meanwhile (paused, another controller): the next step
		// reads it again; what was queued is deduplicated by Msg-Id.
		return nil
	}
	return nil
}

// queueState is what the controller reads of the queues a campaign feeds.
type queueState struct {
	// liveWaiting: a live extract job of the space's modalities waits.
	liveWaiting bool
	// backfill: backfill extract jobs queued or in hand.
	backfill int
	// fusion: features messages not yet delivered to fusion, of every
	// space (one consumer reads them all, in order, so live features wait
	// behind the campaign's); fusionInHand: delivered, not yet acked
	// (fusion holds a product's messages while it waits for the rest).
	fusion, fusionInHand int
}

// queues reads the extract consumers of the space's modalities and the
// fusion consumer. It reads JetStream, not this process's metrics, so it
// works whichever processes run the extractors and fusion. The other
// slow-down signal is live freshness, also read from JetStream (see
// freshness).
func (c *Controller) queues(ctx context.Context, sp spaces.Space) (queueState, error) {
	var q queueState
	info := func(stream, name string) (*jetstream.ConsumerInfo, error) {
		cons, err := topology.Consumer(ctx, c.js, stream, name)
		if err != nil {
			return nil, err
		}
		in, err := cons.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("consumer %s info: %w", name, err)
		}
		return in, nil
	}
	for _, b := range sp.Blocks {
		for _, lane := range []topology.Lane{topology.LaneLive, topology.LaneBackfill} {
			in, err := info(topology.StreamJobs, topology.ExtractConsumer(b.Modality, lane))
			if err != nil {
				return q, err
			}
			if lane == topology.LaneLive {
				q.liveWaiting = q.liveWaiting || in.NumPending > 0
			} else {
				q.backfill += int(in.NumPending) + in.NumAckPending
			}
		}
	}
	in, err := info(topology.StreamFeatures, topology.ConsumerFusion)
	if err != nil {
		return q, err
	}
	q.fusion, q.fusionInHand = int(in.NumPending), in.NumAckPending
	return q, nil
}

// queueProduct queues what one product needs in the campaign's space:
// nothing for a modality whose current features are already there (a
// resumed campaign), a copy of the active space's features where the
// block's model is unchanged, a backfill job otherwise. Every publish
// carries the Msg-Id space/product/modality/hash, the one ingest and the
// extractors use, so work queued twice within the stream's duplicate
// window is dropped by JetStream.
func (c *Controller) queueProduct(ctx context.Context, sess *session, id string) (encoded, reused int, err error) {
	e, err := c.products.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, 0, nil // deleted meanwhile
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read record %s: %w", id, err)
	}
	var rec topology.ProductRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return 0, 0, fmt.Errorf("decode record %s: %w", id, err)
	}
	hashes := eligible(sess.space, rec)
	for _, blk := range sess.space.Blocks {
		h, ok := hashes[blk.Modality]
		if !ok {
			continue
		}
		if ft, ok, err := c.lastFeatures(ctx, sess.space.Name, id, blk.Modality); err != nil {
			return encoded, reused, err
		} else if ok && ft.ContentHash == h && ft.Model == blk.Model {
			continue // already there
		}
		msgID := fmt.Sprintf("%s/%s/%s/%s", sess.space.Name, id, blk.Modality, h)
		if old, _, ok := sess.from.Block(blk.Modality); ok && old.Model == blk.Model && old.Dim == blk.Dim {
			ft, ok, err := c.lastFeatures(ctx, sess.from.Name, id, blk.Modality)
			if err != nil {
				return encoded, reused, err
			}
			if ok && ft.ContentHash == h && ft.Model == blk.Model {
				ft.Space = sess.space.Name
				if ft.Rejected != "" {
					msgID += "/rejected"
				}
				data, err := json.Marshal(ft)
				if err != nil {
					return encoded, reused, fmt.Errorf("encode features: %w", err)
				}
				if _, err := c.js.Publish(ctx, topology.FeaturesSubject(sess.space.Name, id, blk.Modality), data, jetstream.WithMsgID(msgID)); err != nil {
					return encoded, reused, fmt.Errorf("copy %s features of %s: %w", blk.Modality, id, err)
				}
				reused++
				continue
			}
		}
		job := topology.Job{ProductID: id, Space: sess.space.Name, Modality: blk.Modality, Model: blk.Model,
			Revision: rec.Revision, ContentHash: h, Key: rec.Keys[blk.Modality], UploadedAt: rec.UploadedAt,
			TraceID: fmt.Sprintf("%s-%d-%s", id, rec.Revision, sess.space.Name)}
		if blk.Modality == "text" {
			job.Text = ingest.ProductText(&rec.Product, rec.Transcript)
		}
		data, err := json.Marshal(job)
		if err != nil {
			return encoded, reused, fmt.Errorf("encode job: %w", err)
		}
		if _, err := c.js.Publish(ctx, topology.JobSubject(blk.Modality, topology.LaneBackfill), data, jetstream.WithMsgID(msgID)); err != nil {
			return encoded, reused, fmt.Errorf("publish %s job for %s: %w", blk.Modality, id, err)
		}
		encoded++
	}
	return encoded, reused, nil
}

// lastFeatures reads the current features of one product's modality in a space.
func (c *Controller) lastFeatures(ctx context.Context, space, id, modality string) (topology.Features, bool, error) {
	raw, err := c.features.GetLastMsgForSubject(ctx, topology.FeaturesSubject(space, id, modality))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return topology.Features{}, false, nil
	}
	if err != nil {
		return topology.Features{}, false, fmt.Errorf("read %s features of %s in %s: %w", modality, id, space, err)
	}
	var ft topology.Features
	if err := json.Unmarshal(raw.Data, &ft); err != nil {
		return topology.Features{}, false, nil // unreadable: encode afresh
	}
	return ft, true, nil
}

// progress counts the campaign's products, writes the counts, rate and
// ETA into its record, and marks it done once every product is.
func (c *Controller) progress(ctx context.Context, sess *session) error {
	n := sess.tracker.count()
	if !n.Ready {
		return nil
	}
	now := c.now()
	if sess.lastDone >= 0 {
		if dt := now.Sub(sess.lastAt).Seconds(); dt > 0 {
			inst := math.Max(float64(n.Done+n.Failed-sess.lastDone), 0) / dt
			if sess.itemsPerS == 0 {
				sess.itemsPerS = inst
			} else {
				sess.itemsPerS = 0.7*sess.itemsPerS + 0.3*inst
			}
		}
	}
	sess.lastDone, sess.lastAt = n.Done+n.Failed, now
	sess.throttle.observe(sess.itemsPerS)
	c.metrics.Progress(sess.space.Name, n.Done, n.Failed, n.Total, sess.itemsPerS)
	_, err := c.camp.update(ctx, func(cp *topology.Campaign) error {
		if cp.Space != sess.space.Name || !(cp.State == topology.CampaignRunning || cp.State == topology.CampaignPaused) {
			return errSkip
		}
		cp.Done, cp.Failed, cp.Total = n.Done, n.Failed, n.Total
		cp.ItemsPerS = round(sess.itemsPerS)
		cp.EtaS = 0
		if left := n.Total - n.Done - n.Failed; left > 0 && sess.itemsPerS > 0 {
			cp.EtaS = round(float64(left) / sess.itemsPerS)
		}
		if cp.State == topology.CampaignRunning && cp.Enumerated && n.Done+n.Failed >= n.Total {
			cp.State, cp.FinishedAt, cp.EtaS = topology.CampaignDone, now, 0
			c.log.Info("campaign: done", "space", cp.Space, "done", n.Done, "failed", n.Failed, "total", n.Total)
		}
		cp.UpdatedAt = now
		return nil
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

var errSkip = errors.New("skip")

func round(x float64) float64 { return math.Round(x*100) / 100 }
