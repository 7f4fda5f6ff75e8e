package eval

import (
	"context"
	"fmt"
	"slices"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// CurvePoint is the mean of each metric at one cutoff.
type CurvePoint struct {
	K      int     `json:"k"`
	Recall float64 `json:"recall"`
	NDCG   float64 `json:"ndcg"`
	MRR    float64 `json:"mrr"`
}

// Curve scores the answered queries of res (a Run with PerQuery, K ≥
// maxK) at every cutoff 1..maxK: metrics against k from one ranking per
// query. queries are the ones res answered (matched by id).
func Curve(queries []Query, res Result, maxK int) []CurvePoint {
	rel := make(map[string][]string, len(queries))
	for _, q := range queries {
		rel[q.ID] = q.Relevant
	}
	out := make([]CurvePoint, maxK)
	for k := 1; k <= maxK; k++ {
		p := CurvePoint{K: k}
		n := 0
		for _, q := range res.PerQuery {
			if q.Failed() {
				continue
			}
			s := Score(q.Ranked, rel[q.ID], k)
			p.Recall += s.Recall
			p.NDCG += s.NDCG
			p.MRR += s.MRR
			n++
		}
		if n > 0 {
			p.Recall, p.NDCG, p.MRR = p.Recall/float64(n), p.NDCG/float64(n), p.MRR/float64(n)
		}
		out[k-1] = p
	}
	return out
}

// Fills reports whether q's inputs can fill the modality block: example
// products and users fill every block; text, image and audio their own.
func (q Query) Fills(block string) bool {
	switch {
	case len(q.Like) > 0 || q.User != "":
		return true
	case block == string(KindText):
		return q.Text != ""
	case block == string(KindImage):
		return q.Image != ""
	case block == string(KindAudio):
		return q.Audio != ""
	}
	return false
}

// SpaceBlocks asks the ranker one query (the first of queries) and returns
// the modality blocks of the space that answered, sorted.
func SpaceBlocks(ctx context.Context, client pb.RankerServiceClient, queries []Query, cfg Config) ([]string, error) {
	if len(queries) == 0 {
		return nil, fmt.Errorf("space blocks: no queries")
	}
	req, err := request(queries[0], cfg)
	if err != nil {
		return nil, fmt.Errorf("space blocks: %w", err)
	}
	req.K, req.Blocks = 1, nil
	res, err := client.Recommend(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("space blocks: %w", err)
	}
	out := make([]string, 0, len(res.GetModels()))
	for m := range res.GetModels() {
		out = append(out, m)
	}
	slices.Sort(out)
	return out, nil
}
