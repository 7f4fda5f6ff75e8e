package ranker

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/topology"
)

// impressionBuffer bounds the impressions waiting to be published; when it
// is full new ones are dropped (counted), never the request.
const impressionBuffer = 4096

// impressionPublishTimeout bounds one impression's publish.
const impressionPublishTimeout = 5 * time.Second

// WithImpressions logs what a sample of Recommend responses showed to the
// IMPRESSIONS stream (topology.Impression): each response is logged with
// probability sample (0 disables, the default; 1 logs every one).
// Publishing is asynchronous through a bounded buffer: a full buffer or a
// failed publish loses the impression (counted in
// omnirank_impressions_total and Stats), never the request.
func WithImpressions(sample float64) Option {
	return func(c *config) error {
		if !(sample >= 0 && sample <= 1) {
			return optErr("impression sample must be in [0, 1], got %v", sample)
		}
		c.impSample = sample
		return nil
	}
}

// newRequestID is a random 128-bit id in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = cryptorand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

// impressionLog publishes sampled impressions in the background.
type impressionLog struct {
	js     jetstream.JetStream
	log    *slog.Logger
	sample float64
	ch     chan topology.Impression
	count  *prometheus.CounterVec

	published, dropped, failed atomic.Int64
}

func newImpressionLog(js jetstream.JetStream, sample float64, log *slog.Logger, buffer int) *impressionLog {
	return &impressionLog{js: js, log: log, sample: sample, ch: make(chan topology.Impression, buffer),
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "omnirank", Name: "impressions_total",
			Help: "Recommend responses sampled for the impression log, by outcome (published, dropped: buffer full, failed: publish error).",
		}, []string{"outcome"})}
}

// sampled decides whether one response is logged.
func (l *impressionLog) sampled() bool { return l.sample >= 1 || rand.Float64() < l.sample }

// offer queues an impression without waiting; a full buffer drops it.
func (l *impressionLog) offer(imp topology.Impression) {
	select {
	case l.ch <- imp:
	default:
		l.dropped.Add(1)
		l.count.WithLabelValues("dropped").Inc()
	}
}

// run publishes queued impressions until ctx ends, then those still
// queued, within impressionPublishTimeout.
func (l *impressionLog) run(ctx context.Context) {
	for {
		select {
		case imp := <-l.ch:
			l.publish(ctx, imp)
		case <-ctx.Done():
			flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), impressionPublishTimeout)
			defer cancel()
			for {
				select {
				case imp := <-l.ch:
					l.publish(flush, imp)
				default:
					return
				}
			}
		}
	}
}

func (l *impressionLog) publish(ctx context.Context, imp topology.Impression) {
	data, err := json.Marshal(imp)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, impressionPublishTimeout)
		defer cancel()
		m := nats.NewMsg(topology.ImpressionSubject(imp.UserID))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, imp.RequestID)
		_, err = l.js.PublishMsg(ctx, m)
	}
	if err != nil {
		l.failed.Add(1)
		l.count.WithLabelValues("failed").Inc()
		l.log.Warn("publish impression", "request_id", imp.RequestID, "err", err)
		return
	}
	l.published.Add(1)
	l.count.WithLabelValues("published").Inc()
}

// queryKind names a request's inputs for the impression log.
func queryKind(req *omnirankv1.RecommendRequest) string {
	var parts []string
	for _, p := range []struct {
		name string
		set  bool
	}{
		{"text", req.GetQueryText() != ""}, {"image", len(req.GetQueryImage()) > 0}, {"audio", len(req.GetQueryAudio()) > 0},
		{"like", len(req.GetPositiveIds()) > 0}, {"unlike", len(req.GetNegativeIds()) > 0}, {"user", req.GetUserId() != ""},
	} {
		if p.set {
			parts = append(parts, p.name)
		}
	}
	if len(parts) == 0 {
		return "browse"
	}
	return strings.Join(parts, "+")
}

// impressionFeatures are the feature values the scorer saw for c.
func impressionFeatures(c candidate) map[string]float32 {
	f := c.features
	out := make(map[string]float32, len(f.Blocks)+6)
	out["cosine"], out["cooccurrence"], out["next"], out["popularity"], out["freshness"], out["lexical"] = f.Cosine, f.Cooccurrence, f.NextItem, f.Popularity, f.Freshness, f.Lexical
	for m, v := range f.Blocks {
		out["block:"+m] = v
	}
	return out
}

// logImpression queues what the response shows (see WithImpressions).
func (r *Ranker) logImpression(req *omnirankv1.RecommendRequest, resp *omnirankv1.RecommendResponse, page []candidate, offset int, now time.Time) {
	imp := topology.Impression{RequestID: resp.GetRequestId(), UserID: req.GetUserId(), Query: queryKind(req), Space: resp.GetSpace(),
		Offset: offset, Time: now.UTC(), Results: make([]topology.ImpressionResult, len(page)), Arm: resp.GetArm()}
	if e := r.cfg.experiment; e != nil {
		imp.Experiment = e.cfg.Name
	}
	for i, c := range page {
		imp.Results[i] = topology.ImpressionResult{ProductID: c.id, Position: offset + i + 1, Score: c.score, Features: impressionFeatures(c)}
	}
	r.imp.offer(imp)
}
