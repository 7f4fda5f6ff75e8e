package ranker

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/topology"
)

// MaxEventsPerRecord is the most feedback events one Record call takes.
const MaxEventsPerRecord = 1000

// maxIDBytes bounds user and product ids in feedback.
const maxIDBytes = 256

// event is one interaction in a user's history.
type event struct {
	product string
	kind    string
	at      time.Time
}

// userState is one user's bounded history and purchases.
type userState struct {
	events    []event // oldest first, at most historySize
	purchased map[string]struct{}
	purchases []string // FIFO of purchased, bounds the map
	// window is the latest contribution window (event time / userCapWin)
	// of the user's events; counts their applied events per product in it.
	window int64
	counts map[string]int
}

// admit reports whether one more event of the user on product may count in
// the window of at: at most limit per product per window, in at most
// maxProducts products. Events dated in an earlier window than the user's
// latest count against the latest, so back-dating cannot spread a burst.
func (u *userState) admit(product string, at time.Time, win time.Duration, limit, maxProducts int) bool {
	w := at.UnixNano() / int64(win)
	if u.counts == nil || w > u.window {
		u.window, u.counts = w, map[string]int{}
	}
	n, seen := u.counts[product]
	if n >= limit || (!seen && len(u.counts) >= maxProducts) {
		return false
	}
	u.counts[product] = n + 1
	return true
}

// maxPurchases bounds the purchased items remembered per user.
const maxPurchases = 1000

// feedbackStore holds what the ranker learns from feedback: per-user
// histories, time-decayed item popularity and item-item co-occurrence.
//
// Popularity is kept on a fixed time base t0: an event at time t adds
// w·2^((t−t0)/h), so the popularity of any item at time now is its stored
// value times 2^(−(now−t0)/h), and ratios between items never need
// rewriting as time passes.
type feedbackStore struct {
	cfg *config

	mu     sync.RWMutex
	users  map[string]*userState
	pop    map[string]float64
	popMax float64
	t0     time.Time
	cooc   map[string]map[string]float32
	// next[a][b] counts users who interacted with b after a within the
	// session window (directional: "next item").
	next     map[string]map[string]float32
	events   int64
	capped   int64
	version  uint64
	popCache []string // ids by popularity, for version popCacheV
	popCV    uint64
}

func newFeedbackStore(cfg *config) *feedbackStore {
	return &feedbackStore{cfg: cfg, users: map[string]*userState{}, pop: map[string]float64{}, cooc: map[string]map[string]float32{},
		next: map[string]map[string]float32{}}
}

// addResult says what add did with an event.
type addResult int

const (
	added addResult = iota
	addInvalid
	addCapped // over the user's contribution cap (WithUserContributionCap)
)

// add applies one feedback event, unless the user's contribution to the
// product is capped.
func (f *feedbackStore) add(fb topology.Feedback) addResult {
	w, ok := kindWeights[fb.Kind]
	if !ok || fb.UserID == "" || fb.ProductID == "" {
		return addInvalid
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[fb.UserID]
	if u == nil {
		u = &userState{purchased: map[string]struct{}{}}
		f.users[fb.UserID] = u
	}
	if !u.admit(fb.ProductID, fb.Time, f.cfg.userCapWin, f.cfg.userCap, 4*f.cfg.historySize) {
		f.capped++
		return addCapped
	}
	f.events++
	f.version++
	if f.t0.IsZero() {
		f.t0 = fb.Time
	}
	x := fb.Time.Sub(f.t0).Hours() / f.cfg.popHalfLife.Hours()
	if x > 256 {
		f.rebase(fb.Time)
		x = 0
	}
	p := f.pop[fb.ProductID] + w*math.Exp2(x)
	f.pop[fb.ProductID] = p
	f.popMax = max(f.popMax, p)

	// Co-occurrence with the distinct items this user touched within the
	// session window of this event, and the next-item order between them
	// (by event time; equal times count in arrival order).
	seen := map[string]bool{fb.ProductID: true}
	for i := len(u.events) - 1; i >= 0; i-- {
		e := u.events[i]
		d := fb.Time.Sub(e.at)
		if d < 0 {
			d = -d
		}
		if d > f.cfg.sessionWindow || seen[e.product] {
			continue
		}
		seen[e.product] = true
		f.bump(f.cooc, fb.ProductID, e.product)
		f.bump(f.cooc, e.product, fb.ProductID)
		if e.at.After(fb.Time) {
			f.bump(f.next, fb.ProductID, e.product)
		} else {
			f.bump(f.next, e.product, fb.ProductID)
		}
	}
	u.events = append(u.events, event{product: fb.ProductID, kind: fb.Kind, at: fb.Time})
	if over := len(u.events) - f.cfg.historySize; over > 0 {
		u.events = slices.Delete(u.events, 0, over)
	}
	if fb.Kind == "purchase" {
		if _, dup := u.purchased[fb.ProductID]; !dup {
			u.purchased[fb.ProductID] = struct{}{}
			u.purchases = append(u.purchases, fb.ProductID)
			if len(u.purchases) > maxPurchases {
				delete(u.purchased, u.purchases[0])
				u.purchases = u.purchases[1:]
			}
		}
	}
	return added
}

// replaceWith takes over everything ns holds (a rebuild after a user was
// forgotten) in one step.
func (f *feedbackStore) replaceWith(ns *feedbackStore) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users, f.pop, f.popMax, f.t0, f.cooc, f.next = ns.users, ns.pop, ns.popMax, ns.t0, ns.cooc, ns.next
	f.events, f.capped = ns.events, ns.capped
	f.version++
	f.popCache = nil
}

// dropUsers removes the histories of the users with the given tokens
// (topology.FeedbackUserToken) at once; what they added to popularity and
// co-occurrence goes with the rebuild that follows.
func (f *feedbackStore) dropUsers(tokens map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id := range f.users {
		if tokens[topology.FeedbackUserToken(id)] {
			delete(f.users, id)
			f.version++
		}
	}
}

// rebase moves the popularity time base to t, keeping values finite over
// any span of time.
func (f *feedbackStore) rebase(t time.Time) {
	scale := math.Exp2(-t.Sub(f.t0).Hours() / f.cfg.popHalfLife.Hours())
	for id, p := range f.pop {
		f.pop[id] = p * scale
	}
	f.popMax *= scale
	f.t0 = t
}

// bump adds one to pairs[a][b] (co-occurrence or next item), keeping at
// most coocTopN entries per item by evicting the weakest.
func (f *feedbackStore) bump(pairs map[string]map[string]float32, a, b string) {
	m := pairs[a]
	if m == nil {
		m = map[string]float32{}
		pairs[a] = m
	}
	if _, ok := m[b]; !ok && len(m) >= f.cfg.coocTopN {
		minK, minV := "", float32(math.MaxFloat32)
		for k, v := range m {
			if v < minV || (v == minV && k > minK) {
				minK, minV = k, v
			}
		}
		delete(m, minK)
	}
	m[b]++
}

// popularity returns the item's popularity feature in [0, 1]: the log of
// its decayed interaction count over the log of the largest one.
func (f *feedbackStore) popularity(id string, now time.Time) float32 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.popularityLocked(id, now)
}

func (f *feedbackStore) popularityLocked(id string, now time.Time) float32 {
	p := f.pop[id]
	if p == 0 || f.popMax == 0 {
		return 0
	}
	scale := math.Exp2(-now.Sub(f.t0).Hours() / f.cfg.popHalfLife.Hours())
	den := math.Log1p(f.popMax * scale)
	if den == 0 || math.IsNaN(den) || math.IsInf(den, 0) {
		return float32(p / f.popMax)
	}
	return float32(math.Log1p(p*scale) / den)
}

// itemFeatures returns the co-occurrence, next-item and popularity
// features of an item under one read lock.
func (f *feedbackStore) itemFeatures(id string, seeds, session []string, now time.Time) (cooc, next, pop float32) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return pairFeature(f.cooc, id, seeds), pairFeature(f.next, id, session), f.popularityLocked(id, now)
}

// cooccurrence returns the feature for candidate id given seed items:
// s/(1+s) where s sums the co-occurrence counts of id with each seed. It
// depends on nothing but the pair counts, so a candidate's score does not
// change with the candidate pool.
func (f *feedbackStore) cooccurrence(id string, seeds []string) float32 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cooccurrenceLocked(id, seeds)
}

func (f *feedbackStore) cooccurrenceLocked(id string, seeds []string) float32 {
	return pairFeature(f.cooc, id, seeds)
}

// pairFeature is s/(1+s), s = Σ pairs[seed][id] over seeds.
func pairFeature(pairs map[string]map[string]float32, id string, seeds []string) float32 {
	var s float32
	for _, seed := range seeds {
		s += pairs[seed][id]
	}
	return s / (1 + s)
}

// userView is what a request needs from a user's history.
type userView struct {
	events    []event
	purchased map[string]struct{}
}

// user returns a copy of the user's history, or false for an unknown user.
func (f *feedbackStore) user(id string) (userView, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	u, ok := f.users[id]
	if !ok {
		return userView{}, false
	}
	v := userView{events: slices.Clone(u.events), purchased: make(map[string]struct{}, len(u.purchased))}
	for p := range u.purchased {
		v.purchased[p] = struct{}{}
	}
	return v, true
}

// recent returns up to n distinct products from the history, newest first.
func (v userView) recent(n int) []string {
	var out []string
	seen := map[string]bool{}
	for i := len(v.events) - 1; i >= 0 && len(out) < n; i-- {
		if p := v.events[i].product; !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// session returns up to n distinct products of the user's latest session,
// newest first: the events within window of the newest event.
func (v userView) session(window time.Duration, n int) []string {
	if len(v.events) == 0 {
		return nil
	}
	last := v.last()
	var out []string
	seen := map[string]bool{}
	for i := len(v.events) - 1; i >= 0 && len(out) < n; i-- {
		e := v.events[i]
		if !inSession(e.at, last, window) || seen[e.product] {
			continue
		}
		seen[e.product] = true
		out = append(out, e.product)
	}
	return out
}

// last is the time of the user's newest event (events are kept in arrival
// order, which a back-dated event breaks).
func (v userView) last() time.Time {
	var t time.Time
	for _, e := range v.events {
		if e.at.After(t) {
			t = e.at
		}
	}
	return t
}

// inSession reports whether an event at t belongs to the session ending
// at last (at most window before it).
func inSession(t, last time.Time, window time.Duration) bool {
	return last.Sub(t) <= window
}

// popular returns every item with feedback, most popular first.
func (f *feedbackStore) popular() []string {
	f.mu.RLock()
	if f.popCV == f.version && f.popCache != nil {
		out := f.popCache
		f.mu.RUnlock()
		return out
	}
	ids := make([]string, 0, len(f.pop))
	for id := range f.pop {
		ids = append(ids, id)
	}
	pop := f.pop
	v := f.version
	slices.SortFunc(ids, func(a, b string) int {
		if c := cmp.Compare(pop[b], pop[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	f.mu.RUnlock()
	f.mu.Lock()
	if f.version == v {
		f.popCache, f.popCV = ids, v
	}
	f.mu.Unlock()
	return ids
}

func (f *feedbackStore) stats() (events, capped int64, users, items int) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.events, f.capped, len(f.users), len(f.pop)
}

// Feedback implements omnirankv1.FeedbackServiceServer: it validates events
// and publishes them to feedback.<kind> on JetStream. It keeps no state;
// rankers learn from the events by following the stream.
type Feedback struct {
	omnirankv1.UnimplementedFeedbackServiceServer
	js      jetstream.JetStream
	cfg     config
	limiter *feedbackLimiter
	metrics *feedbackMetrics
}

func newFeedback(js jetstream.JetStream, cfg config, m *feedbackMetrics) *Feedback {
	return &Feedback{js: js, cfg: cfg, limiter: newFeedbackLimiter(cfg.fbLimits), metrics: m}
}

// NewFeedback returns the feedback service over js. Of the options it uses
// WithLogger, WithClock, WithMetrics and the feedback ones
// (WithFeedbackClockSkew, WithFeedbackRetention, WithFeedbackLimits,
// WithClientIdentity).
func NewFeedback(js jetstream.JetStream, opts ...Option) (*Feedback, error) {
	if js == nil {
		return nil, optErr("nil JetStream")
	}
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	m := newFeedbackMetrics()
	if cfg.registerer != nil {
		for _, c := range []prometheus.Collector{m.rejected, m.experiment} {
			if err := cfg.registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register feedback metrics: %w", err)
			}
		}
	}
	return newFeedback(js, cfg, m), nil
}

// validID checks a user or product id.
func validID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is empty", what)
	case len(id) > maxIDBytes:
		return fmt.Errorf("%s is longer than %d bytes", what, maxIDBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s holds a control character", what)
		}
	}
	return nil
}

// Record implements omnirankv1.FeedbackServiceServer.
func (f *Feedback) Record(ctx context.Context, req *omnirankv1.RecordRequest) (*omnirankv1.RecordResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	n := len(req.GetEvents())
	switch {
	case n == 0:
		return nil, status.Error(codes.InvalidArgument, "no events")
	case n > MaxEventsPerRecord:
		return nil, status.Errorf(codes.InvalidArgument, "%d events: at most %d per call", n, MaxEventsPerRecord)
	}
	now := f.cfg.now()
	msgs := make([]*nats.Msg, 0, n)
	perUser := map[string]int{}
	for i, ev := range req.GetEvents() {
		if err := validID("user_id", ev.GetUserId()); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "event %d: %v", i, err)
		}
		if err := validID("product_id", ev.GetProductId()); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "event %d: %v", i, err)
		}
		if _, ok := kindWeights[ev.GetKind()]; !ok {
			return nil, status.Errorf(codes.InvalidArgument, "event %d: unknown kind %q (want one of %v)", i, ev.GetKind(), FeedbackKinds())
		}
		if !utf8.ValidString(ev.GetRequestId()) || len(ev.GetRequestId()) > maxIDBytes {
			return nil, status.Errorf(codes.InvalidArgument, "event %d: request_id is not valid UTF-8 of at most %d bytes", i, maxIDBytes)
		}
		if ev.GetTimestampMs() < 0 {
			return nil, status.Errorf(codes.InvalidArgument, "event %d: negative timestamp_ms", i)
		}
		at := now
		if ev.GetTimestampMs() > 0 {
			at = time.UnixMilli(ev.GetTimestampMs()).UTC()
		}
		switch {
		case at.After(now.Add(f.cfg.fbSkew)):
			f.metrics.rejected.WithLabelValues("future").Inc()
			return nil, status.Errorf(codes.InvalidArgument, "event %d: timestamp_ms %d is %v in the future (allowed clock skew %v)",
				i, ev.GetTimestampMs(), at.Sub(now).Round(time.Second), f.cfg.fbSkew)
		case at.Before(now.Add(-f.cfg.fbRetention)):
			f.metrics.rejected.WithLabelValues("too_old").Inc()
			return nil, status.Errorf(codes.InvalidArgument, "event %d: timestamp_ms %d is older than the feedback retention (%v)",
				i, ev.GetTimestampMs(), f.cfg.fbRetention)
		}
		perUser[ev.GetUserId()]++
		data, err := json.Marshal(topology.Feedback{UserID: ev.GetUserId(), ProductID: ev.GetProductId(), Kind: ev.GetKind(), Time: at, RequestID: ev.GetRequestId()})
		if err != nil {
			return nil, status.Errorf(codes.Internal, "encode event %d: %v", i, err)
		}
		m := nats.NewMsg(topology.FeedbackSubject(ev.GetKind(), ev.GetUserId()))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, feedbackMsgID(ev.GetUserId(), ev.GetProductId(), ev.GetKind(), at))
		msgs = append(msgs, m)
	}
	if err := f.limiter.admit(f.cfg.clientID(ctx), len(msgs), perUser, f.cfg.now()); err != nil {
		var le *limitError
		if errors.As(err, &le) {
			f.metrics.rejected.WithLabelValues("rate_" + le.who).Add(float64(len(msgs)))
		}
		return nil, status.Error(codes.ResourceExhausted, err.Error())
	}
	for i, m := range msgs {
		if _, err := f.js.PublishMsg(ctx, m); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, status.FromContextError(ctxErr).Err()
			}
			f.cfg.logger.Error("publish feedback", "subject", m.Subject, "err", err)
			return nil, status.Errorf(codes.Unavailable, "publish event %d (%d published before it): %v", i, i, err)
		}
	}
	if e := f.cfg.experiment; e != nil {
		for _, ev := range req.GetEvents() {
			f.metrics.experiment.WithLabelValues(e.cfg.Name, e.arm(ev.GetUserId(), "").Name, ev.GetKind()).Inc()
		}
	}
	return &omnirankv1.RecordResponse{Accepted: int64(len(msgs))}, nil
}

// feedbackMsgID is the JetStream de-duplication id of an event: the same
// user, product, kind and millisecond is the same event.
func feedbackMsgID(user, product, kind string, at time.Time) string {
	h := sha256.New()
	for _, s := range []string{user, product, kind, strconv.FormatInt(at.UnixMilli(), 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
