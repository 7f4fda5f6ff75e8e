package eval

import "math"

// Scores are the metrics of one ranked list against its relevant ids.
type Scores struct {
	Recall  float64 `json:"recall_at_k"`
	NDCG    float64 `json:"ndcg_at_k"`
	MRR     float64 `json:"mrr_at_k"`
	HitRate float64 `json:"hit_rate_at_k"`
}

// Score computes every metric of ranked against relevant at k.
func Score(ranked, relevant []string, k int) Scores {
	return Scores{
		Recall:  Recall(ranked, relevant, k),
		NDCG:    NDCG(ranked, relevant, k),
		MRR:     MRR(ranked, relevant, k),
		HitRate: HitRate(ranked, relevant, k),
	}
}

// grades maps each relevant id to its graded gain: of n distinct ids, the
// i-th has gain n − i. Repeated ids keep their first position.
func grades(relevant []string) map[string]float64 {
	seen := make(map[string]bool, len(relevant))
	distinct := make([]string, 0, len(relevant))
	for _, id := range relevant {
		if !seen[id] {
			seen[id] = true
			distinct = append(distinct, id)
		}
	}
	g := make(map[string]float64, len(distinct))
	for i, id := range distinct {
		g[id] = float64(len(distinct) - i)
	}
	return g
}

// hits walks the top k of ranked and calls fn with the 1-based rank and
// the id of every relevant id at its first occurrence.
func hits(ranked []string, relevant map[string]float64, k int, fn func(rank int, id string)) {
	seen := make(map[string]bool, min(k, len(ranked)))
	for i, id := range ranked[:min(k, len(ranked))] {
		if seen[id] {
			continue // a repeat earns nothing but keeps its slot
		}
		seen[id] = true
		if _, ok := relevant[id]; ok {
			fn(i+1, id)
		}
	}
}

// Recall is Recall@k: the share of the relevant ids found in the top k of
// ranked.
func Recall(ranked, relevant []string, k int) float64 {
	rel := grades(relevant)
	if k <= 0 || len(rel) == 0 {
		return 0
	}
	found := 0
	hits(ranked, rel, k, func(int, string) { found++ })
	return float64(found) / float64(len(rel))
}

// HitRate is HitRate@k: 1 if any relevant id is in the top k of ranked.
func HitRate(ranked, relevant []string, k int) float64 {
	if MRR(ranked, relevant, k) > 0 {
		return 1
	}
	return 0
}

// MRR is the reciprocal rank of the first relevant id in the top k of
// ranked (0 if none); its mean over queries is MRR@k.
func MRR(ranked, relevant []string, k int) float64 {
	rel := grades(relevant)
	if k <= 0 || len(rel) == 0 {
		return 0
	}
	first := 0
	hits(ranked, rel, k, func(rank int, _ string) {
		if first == 0 {
			first = rank
		}
	})
	if first == 0 {
		return 0
	}
	return 1 / float64(first)
}

// NDCG is NDCG@k with the graded gain of the package doc: DCG of the top k
// of ranked divided by the DCG of the relevant ids in their listed order.
func NDCG(ranked, relevant []string, k int) float64 {
	rel := grades(relevant)
	if k <= 0 || len(rel) == 0 {
		return 0
	}
	var dcg float64
	hits(ranked, rel, k, func(rank int, id string) { dcg += rel[id] / math.Log2(float64(rank)+1) })
	var ideal float64
	n := len(rel)
	for rank := 1; rank <= min(k, n); rank++ {
		ideal += float64(n-rank+1) / math.Log2(float64(rank)+1)
	}
	return dcg / ideal
}
