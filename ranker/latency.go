package ranker

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/status"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// Recommend query kinds, the kind label of omnirank_recommend_duration_seconds.
const (
	KindText     = "text"
	KindImage    = "image"
	KindAudio    = "audio"
	KindExamples = "examples" // positive and/or negative example products
	KindUser     = "user"
	KindBrowse   = "browse" // no input but a filter: popularity and freshness
	KindMixed    = "mixed"  // more than one of the above
)

// LatencyBuckets are the bounds (seconds) of the Recommend latency
// histogram: 0.5 ms to 2 s.
var LatencyBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2}

// newLatency is omnirank_recommend_duration_seconds{kind,code}: every
// Recommend call, from its arrival in the ranker to its answer, by query
// kind (RecommendKind) and gRPC status code name (OK, InvalidArgument,
// ResourceExhausted…).
func newLatency() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "omnirank_recommend_duration_seconds",
		Help:    "Recommend latency in the ranker by query kind and gRPC status code.",
		Buckets: LatencyBuckets,
	}, []string{"kind", "code"})
}

// RecommendKind classifies a request by its inputs, for metrics: the one
// input it gives (text, image, audio, examples, user), browse for none,
// mixed for several. It folds queryKind's combinations (the impression
// log's finer names) into a handful of label values.
func RecommendKind(req *omnirankv1.RecommendRequest) string {
	kind := ""
	for part := range strings.SplitSeq(queryKind(req), "+") {
		switch part {
		case "browse":
			return KindBrowse
		case "like", "unlike":
			part = KindExamples
		}
		switch kind {
		case "", part:
			kind = part
		default:
			return KindMixed
		}
	}
	return kind
}

// Recommend implements omnirankv1.RankerServiceServer: recommend, timed
// into omnirank_recommend_duration_seconds.
func (r *Ranker) Recommend(ctx context.Context, req *omnirankv1.RecommendRequest) (*omnirankv1.RecommendResponse, error) {
	start := time.Now()
	resp, err := r.recommend(ctx, req)
	r.latency.WithLabelValues(RecommendKind(req), status.Code(err).String()).Observe(time.Since(start).Seconds())
	return resp, err
}
