// Package metrics declares the pipeline's Prometheus metrics in one place:
// work done and failed per stage, stage latency, end-to-end freshness (from
// the upload of a product to its fused embedding) and consumer backlog read
// from JetStream at scrape time. Nothing is registered globally: the server
// owns one registry and hands a *Pipeline to each role; a nil *Pipeline is a
// valid no-op, so roles and tests need no metrics to run.
package metrics

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnirank/omnirank/topology"
)

// Pipeline holds the stage metrics.
type Pipeline struct {
	processed *prometheus.CounterVec
	failed    *prometheus.CounterVec
	seconds   *prometheus.HistogramVec
	freshness prometheus.Histogram
}

// NewPipeline creates and registers the pipeline metrics on reg.
func NewPipeline(reg prometheus.Registerer) *Pipeline {
	p := &Pipeline{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "omnirank", Name: "stage_processed_total",
			Help: "Messages a stage finished, by stage and outcome (done, skipped).",
		}, []string{"stage", "outcome"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "omnirank", Name: "stage_failures_total",
			Help: "Stage failures by stage and reason (bad_input, invalid_product, missing_media, transient, dead_letter).",
		}, []string{"stage", "reason"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "omnirank", Name: "stage_seconds",
			Help:    "Time a stage spent on one message or batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"stage"}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "omnirank", Name: "freshness_seconds",
			Help:    "From the upload of a product's newest input to its fused embedding being published.",
			Buckets: prometheus.ExponentialBuckets(0.05, 1.6, 20),
		}),
	}
	reg.MustRegister(p.processed, p.failed, p.seconds, p.freshness)
	return p
}

// Done counts n messages a stage finished with an outcome.
func (p *Pipeline) Done(stage, outcome string, n int) {
	if p != nil {
		p.processed.WithLabelValues(stage, outcome).Add(float64(n))
	}
}

// Failed counts a failure of a stage for a reason.
func (p *Pipeline) Failed(stage, reason string) {
	if p != nil {
		p.failed.WithLabelValues(stage, reason).Inc()
	}
}

// Observe records how long a stage took since start.
func (p *Pipeline) Observe(stage string, start time.Time) {
	if p != nil {
		p.seconds.WithLabelValues(stage).Observe(time.Since(start).Seconds())
	}
}

// Fresh records the upload-to-embedding delay of a product.
func (p *Pipeline) Fresh(uploaded time.Time) {
	if p != nil && !uploaded.IsZero() {
		p.freshness.Observe(time.Since(uploaded).Seconds())
	}
}

// lagCollector reads consumer backlogs from JetStream at scrape time.
type lagCollector struct {
	js      jetstream.JetStream
	pending *prometheus.Desc
	acking  *prometheus.Desc
}

// NewLagCollector reports every declared durable consumer's backlog.
func NewLagCollector(js jetstream.JetStream) prometheus.Collector {
	return &lagCollector{
		js: js,
		pending: prometheus.NewDesc("omnirank_consumer_pending_messages",
			"Messages not yet delivered to a durable consumer.", []string{"stream", "consumer"}, nil),
		acking: prometheus.NewDesc("omnirank_consumer_ack_pending_messages",
			"Messages delivered to a durable consumer and not yet acknowledged.", []string{"stream", "consumer"}, nil),
	}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.acking
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for key := range topology.Consumers(topology.DefaultOptions(), topology.Modalities) {
		stream, name, _ := strings.Cut(key, "/")
		cons, err := c.js.Consumer(ctx, stream, name)
		if err != nil {
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(info.NumPending), stream, name)
		ch <- prometheus.MustNewConstMetric(c.acking, prometheus.GaugeValue, float64(info.NumAckPending), stream, name)
	}
}
