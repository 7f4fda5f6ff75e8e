package ranker

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker/lexical"
)

// lexicalMix returns the lexical share of the request's ranking: 0 when
// it has no query text or the ranker no lexical index, else its
// lexical_weight or the default.
func (r *Ranker) lexicalMix(req *omnirankv1.RecommendRequest, arm *armConfig) float32 {
	if req.GetQueryText() == "" || r.lex.Load() == nil {
		return 0
	}
	if req.LexicalWeight != nil {
		return req.GetLexicalWeight()
	}
	if arm != nil && arm.LexicalWeight != nil {
		return *arm.LexicalWeight
	}
	return r.cfg.lexicalWeight
}

// validateHybrid checks lexical_weight and fusion.
func validateHybrid(req *omnirankv1.RecommendRequest) error {
	if w := req.GetLexicalWeight(); !(w >= 0 && w <= 1) {
		return status.Errorf(codes.InvalidArgument, "lexical_weight = %v: want 0..1", w)
	}
	if _, ok := omnirankv1.Fusion_name[int32(req.GetFusion())]; !ok {
		return status.Errorf(codes.InvalidArgument, "unknown fusion %d", req.GetFusion())
	}
	return nil
}

// ranked is one product of the fused list with its place in each list
// (0: absent from that list).
type ranked struct {
	cand         candidate
	vRank, lRank int
	vScore       float32
	bm25         float64
	// fused = partV + partL, the vector and lexical lists' parts.
	fused, partV, partL float64
}

// hybridCandidates retrieves pool candidates from the vector index (unless
// w is 1) and the lexical index, fuses the two lists and returns the best
// pool of them, best first (fused score descending, id ascending). Candidates get the fused
// score, scaled to at most 1, and their BM25 score as Features.Lexical.
func (r *Ranker) hybridCandidates(ctx context.Context, sp *spaceState, q *query, text string, w float32, fusion omnirankv1.Fusion, pool int, now time.Time) ([]candidate, error) {
	var vec []candidate
	if w < 1 {
		var err error
		if vec, err = r.vectorCandidates(ctx, sp, q, pool, now); err != nil {
			return nil, err
		}
		sortCandidates(vec)
	}
	lex := r.lex.Load()
	hits, err := lex.Search(ctx, text, lexical.SearchOptions{K: pool, Selectivity: r.selectivity(q), Accept: func(id string) bool {
		return q.accept(id) && sp.has(id)
	}})
	if err != nil {
		if s := ctxStatus(ctx); s != nil {
			return nil, s
		}
		return nil, status.Errorf(codes.Internal, "lexical search: %v", err)
	}
	byID := make(map[string]*ranked, len(vec)+len(hits))
	list := make([]*ranked, 0, len(vec)+len(hits))
	for _, c := range vec {
		e := &ranked{cand: c}
		byID[c.id] = e
		list = append(list, e)
	}
	for i, h := range hits {
		if e, ok := byID[h.ID]; ok {
			e.lRank, e.bm25 = i+1, h.Score
			continue
		}
		c, ok := r.lexicalCandidate(sp, q, h.ID, now)
		if !ok {
			continue
		}
		e := &ranked{cand: c, lRank: i + 1, bm25: h.Score}
		byID[h.ID] = e
		list = append(list, e)
	}
	if w < 1 {
		// The vector list covers every candidate: one the index did not
		// return is placed by its own vector score (its vector is at hand),
		// so a strong lexical match with a weak vector keeps a vector rank
		// just below the index's hits instead of none.
		slices.SortFunc(list, func(a, b *ranked) int {
			if c := cmp.Compare(b.cand.score, a.cand.score); c != 0 {
				return c
			}
			return cmp.Compare(a.cand.id, b.cand.id)
		})
		for i, e := range list {
			e.vRank, e.vScore = i+1, e.cand.score
		}
	}
	fuse(list, float64(w), fusion, hits)
	slices.SortFunc(list, func(a, b *ranked) int {
		if c := cmp.Compare(b.fused, a.fused); c != 0 {
			return c
		}
		return cmp.Compare(a.cand.id, b.cand.id)
	})
	// The pool MMR and the pages draw from, as for a vector ranking.
	list = list[:min(len(list), pool)]
	out := make([]candidate, len(list))
	for i, e := range list {
		c := e.cand
		c.score = float32(e.fused)
		c.features.Lexical = float32(e.bm25)
		c.hybrid = &fusionParts{vector: float32(e.partV), lexical: float32(e.partL)}
		out[i] = c
	}
	return out, nil
}

// lexicalCandidate builds the candidate of a product found only by the
// lexical index: its vector, features, per-block similarity to the query
// vector and the scorer's (vector-side) score.
func (r *Ranker) lexicalCandidate(sp *spaceState, q *query, id string, now time.Time) (candidate, bool) {
	vec, ok := sp.vector(id)
	if !ok {
		return candidate{}, false // deleted since the search
	}
	it, ok := r.catalog.get(id)
	if !ok || !q.match(it) || q.excluded[id] {
		return candidate{}, false
	}
	f := r.itemFeatures(it, q, now)
	if q.vec != nil {
		f.Blocks = r.similarity(sp.def, q, vec)
		for _, b := range f.Blocks {
			f.Cosine += b
		}
	}
	return candidate{id: id, vec: vec, features: f, score: q.scorer.Score(f)}, true
}

// fuse sets every entry's fused score. RRF: (k+1)·((1−w)/(k+vRank) +
// w/(k+lRank)), k = 60, a list the product is absent from adding 0; a
// product first in both lists scores 1. NORMALIZED: (1−w)·v + w·l with each
// list's scores min-max normalised to [0, 1] over the list (1 when all
// are equal), 0 when absent. Every entry is in the vector list unless w
// is 1 (the vector side did not run).
func fuse(list []*ranked, w float64, fusion omnirankv1.Fusion, hits []lexical.Hit) {
	switch fusion {
	case omnirankv1.Fusion_FUSION_NORMALIZED:
		vLo, vHi := math.Inf(1), math.Inf(-1)
		for _, e := range list {
			if e.vRank > 0 {
				vLo, vHi = min(vLo, float64(e.vScore)), max(vHi, float64(e.vScore))
			}
		}
		lLo, lHi := math.Inf(1), math.Inf(-1)
		for _, h := range hits {
			lLo, lHi = min(lLo, h.Score), max(lHi, h.Score)
		}
		norm := func(x, lo, hi float64) float64 {
			if hi <= lo {
				return 1
			}
			return (x - lo) / (hi - lo)
		}
		for _, e := range list {
			e.partV, e.partL = 0, 0
			if e.vRank > 0 {
				e.partV = (1 - w) * norm(float64(e.vScore), vLo, vHi)
			}
			if e.lRank > 0 {
				e.partL = w * norm(e.bm25, lLo, lHi)
			}
			e.fused = e.partV + e.partL
		}
	default:
		for _, e := range list {
			e.partV, e.partL = 0, 0
			if e.vRank > 0 {
				e.partV = (rrfK + 1) * (1 - w) / float64(rrfK+e.vRank)
			}
			if e.lRank > 0 {
				e.partL = (rrfK + 1) * w / float64(rrfK+e.lRank)
			}
			e.fused = e.partV + e.partL
		}
	}
}
