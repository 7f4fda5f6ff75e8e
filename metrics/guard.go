package metrics

import "github.com/prometheus/client_golang/prometheus"

// Guard holds the API guard's metrics (package auth): requests refused by
// rate limits, by authentication or scope, and by size. A nil *Guard is a
// valid no-op.
type Guard struct {
	rateLimited *prometheus.CounterVec
	refused     *prometheus.CounterVec
}

// NewGuard creates and registers the guard metrics on reg.
func NewGuard(reg prometheus.Registerer) *Guard {
	g := &Guard{
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "omnirank", Name: "api_rate_limited_total",
			Help: "API requests refused with ResourceExhausted by the per-token rate limit, by token name (anonymous without tokens).",
		}, []string{"token"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "omnirank", Name: "api_refused_total",
			Help: "API requests the guard refused, by reason: unauthenticated, permission_denied, rate_limited, too_large.",
		}, []string{"reason"}),
	}
	reg.MustRegister(g.rateLimited, g.refused)
	return g
}

// RateLimited counts a request of token refused by its rate limit.
func (g *Guard) RateLimited(token string) {
	if g != nil {
		g.rateLimited.WithLabelValues(token).Inc()
		g.refused.WithLabelValues("rate_limited").Inc()
	}
}

// Refused counts a request refused for reason (unauthenticated,
// permission_denied, too_large).
func (g *Guard) Refused(reason string) {
	if g != nil {
		g.refused.WithLabelValues(reason).Inc()
	}
}
