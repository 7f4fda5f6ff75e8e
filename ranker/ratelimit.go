package ranker

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/peer"

	"github.com/omnirank/omnirank/internal/option"
)

// FeedbackLimits are the token-bucket rate limits of FeedbackService.Record:
// every event takes one token from its user's bucket and one from the
// calling client's. A call that would overdraw either bucket is refused as
// a whole (ResourceExhausted); nothing of it is published.
type FeedbackLimits struct {
	// UserRate is events per second per user (0: no per-user limit),
	// UserBurst the most a user's bucket holds.
	UserRate  float64
	UserBurst int
	// ClientRate is events per second per client (0: no per-client
	// limit), ClientBurst the most a client's bucket holds.
	ClientRate  float64
	ClientBurst int
	// MaxKeys bounds the buckets kept per kind (users, clients). Buckets
	// idle long enough to be full again are dropped (losing nothing);
	// beyond MaxKeys busy ones are dropped too, an eighth at a time.
	MaxKeys int
}

// DefaultFeedbackLimits: a user 20 events/s with bursts of 1,000 (one full
// Record call), a client 2,000 events/s with bursts of 20,000, at most
// 100,000 buckets of each kind.
func DefaultFeedbackLimits() FeedbackLimits {
	return FeedbackLimits{UserRate: 20, UserBurst: MaxEventsPerRecord, ClientRate: 2000, ClientBurst: 20 * MaxEventsPerRecord, MaxKeys: 100_000}
}

// Validate reports the first field out of range, wrapping option.ErrInvalid.
func (l FeedbackLimits) Validate() error {
	switch {
	case l.UserRate < 0 || l.ClientRate < 0:
		return option.Errorf("feedback limits: negative rate (%v, %v)", l.UserRate, l.ClientRate)
	case l.UserRate > 0 && l.UserBurst < 1, l.ClientRate > 0 && l.ClientBurst < 1:
		return option.Errorf("feedback limits: a limited rate needs a burst >= 1 (%d, %d)", l.UserBurst, l.ClientBurst)
	case l.MaxKeys < 1:
		return option.Errorf("feedback limits: max keys %d < 1", l.MaxKeys)
	}
	return nil
}

// ClientIdentity names the client of a Record call for its rate limit.
type ClientIdentity func(ctx context.Context) string

// PeerHost is the default ClientIdentity: the host of the gRPC peer's
// address ("" when unknown).
func PeerHost(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	addr := p.Addr.String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// keyedLimiter keeps one token bucket per key with bounded memory.
type keyedLimiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	idle    time.Duration // a bucket unused this long is full again

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newKeyedLimiter returns nil (no limit) for a zero rate.
func newKeyedLimiter(perSecond float64, burst, maxKeys int) *keyedLimiter {
	if perSecond <= 0 {
		return nil
	}
	idle := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &keyedLimiter{limit: rate.Limit(perSecond), burst: burst, maxKeys: maxKeys, idle: max(idle, time.Second), buckets: map[string]*bucket{}}
}

// reserve takes n tokens of key's bucket at now, or none when it holds
// fewer; the reservation is cancelled to give them back.
func (k *keyedLimiter) reserve(key string, n int, now time.Time) (*rate.Reservation, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.buckets[key]
	if b == nil {
		k.makeRoom(now)
		b = &bucket{lim: rate.NewLimiter(k.limit, k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, n)
	if !r.OK() {
		return nil, false
	}
	if r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return nil, false
	}
	return r, true
}

// makeRoom drops buckets idle long enough to be full (a fresh bucket is
// the same) and, when still at maxKeys, an eighth of the rest.
func (k *keyedLimiter) makeRoom(now time.Time) {
	if len(k.buckets) < k.maxKeys && now.Sub(k.lastSweep) < k.idle {
		return
	}
	k.lastSweep = now
	for key, b := range k.buckets {
		if now.Sub(b.seen) >= k.idle {
			delete(k.buckets, key)
		}
	}
	if len(k.buckets) < k.maxKeys {
		return
	}
	drop := max(len(k.buckets)/8, 1)
	for key := range k.buckets {
		if drop == 0 {
			break
		}
		delete(k.buckets, key)
		drop--
	}
}

func (k *keyedLimiter) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// feedbackLimiter applies FeedbackLimits to a Record call.
type feedbackLimiter struct {
	users, clients *keyedLimiter
	limits         FeedbackLimits
}

func newFeedbackLimiter(l FeedbackLimits) *feedbackLimiter {
	return &feedbackLimiter{
		users:   newKeyedLimiter(l.UserRate, l.UserBurst, l.MaxKeys),
		clients: newKeyedLimiter(l.ClientRate, l.ClientBurst, l.MaxKeys),
		limits:  l,
	}
}

// limitError says which limit a call exceeded: "user" or "client".
type limitError struct {
	who, key    string
	ratePerS    float64
	burst, want int
}

func (e *limitError) Error() string {
	return fmt.Sprintf("%s %q over the feedback rate limit (%g events/s, burst %d; this call has %d of its events)", e.who, e.key, e.ratePerS, e.burst, e.want)
}

// admit takes the tokens of a call: perUser events of each user, total of
// the client. It takes all or none.
func (l *feedbackLimiter) admit(client string, total int, perUser map[string]int, now time.Time) error {
	var taken []*rate.Reservation
	undo := func() {
		for _, r := range taken {
			r.CancelAt(now)
		}
	}
	if l.clients != nil {
		r, ok := l.clients.reserve(client, total, now)
		if !ok {
			return &limitError{who: "client", key: client, ratePerS: l.limits.ClientRate, burst: l.limits.ClientBurst, want: total}
		}
		taken = append(taken, r)
	}
	if l.users != nil {
		for user, n := range perUser {
			r, ok := l.users.reserve(user, n, now)
			if !ok {
				undo()
				return &limitError{who: "user", key: user, ratePerS: l.limits.UserRate, burst: l.limits.UserBurst, want: n}
			}
			taken = append(taken, r)
		}
	}
	return nil
}

// feedbackMetrics count feedback refused by Record and skipped by the
// follower. Register them with WithMetrics.
type feedbackMetrics struct {
	rejected *prometheus.CounterVec
	skipped  *prometheus.CounterVec
	// experiment counts responses and feedback per experiment arm.
	experiment *prometheus.CounterVec
}

func newFeedbackMetrics() *feedbackMetrics {
	return &feedbackMetrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "omnirank", Name: "feedback_rejected_total",
			Help: "Feedback events Record refused, by reason (future, too_old, rate_user, rate_client).",
		}, []string{"reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "omnirank", Name: "feedback_skipped_total",
			Help: "Feedback events in the stream the ranker did not apply, by reason (malformed, future, too_old, subject, forgotten, capped).",
		}, []string{"reason"}),
		experiment: newExperimentCounter(),
	}
}

func (m *feedbackMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.rejected, m.skipped, m.experiment}
}
