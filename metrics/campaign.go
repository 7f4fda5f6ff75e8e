package metrics

import "github.com/prometheus/client_golang/prometheus"

// Campaign holds a re-embedding campaign controller's metrics. A nil
// *Campaign is a valid no-op.
type Campaign struct {
	products *prometheus.GaugeVec
	rate     prometheus.Gauge
	factor   prometheus.Gauge
	queued   *prometheus.CounterVec
}

// NewCampaign creates and registers the campaign metrics on reg.
func NewCampaign(reg prometheus.Registerer) *Campaign {
	c := &Campaign{
		products: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "omnirank", Name: "campaign_products",
			Help: "Products of the current campaign by count (done, failed, total), labelled with its space.",
		}, []string{"space", "count"}),
		rate: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "omnirank", Name: "campaign_items_per_second",
			Help: "Products the current campaign completes per second (smoothed).",
		}),
		factor: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "omnirank", Name: "campaign_throttle_factor",
			Help: "Share of its rate cap and window the campaign uses now (1: full; lower while live work waits).",
		}),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "omnirank", Name: "campaign_queued_total",
			Help: "Campaign work queued, by kind: encode (a backfill job) or reuse (features copied from the active space).",
		}, []string{"kind"}),
	}
	reg.MustRegister(c.products, c.rate, c.factor, c.queued)
	return c
}

// Progress records a campaign's counts and rate.
func (c *Campaign) Progress(space string, done, failed, total int, itemsPerS float64) {
	if c == nil {
		return
	}
	c.products.WithLabelValues(space, "done").Set(float64(done))
	c.products.WithLabelValues(space, "failed").Set(float64(failed))
	c.products.WithLabelValues(space, "total").Set(float64(total))
	c.rate.Set(itemsPerS)
}

// Throttle records the share of the cap the campaign uses.
func (c *Campaign) Throttle(factor float64) {
	if c != nil {
		c.factor.Set(factor)
	}
}

// Queued counts n pieces of campaign work of a kind (encode, reuse).
func (c *Campaign) Queued(kind string, n int) {
	if c != nil && n > 0 {
		c.queued.WithLabelValues(kind).Add(float64(n))
	}
}
