package ranker

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/viterin/vek/vek32"
)

// Features are what the ranker knows about one candidate for one request.
type Features struct {
	// Cosine is the candidate's similarity to the query (average-vector
	// strategy: dot product of unit vectors; best-score strategy: best
	// positive similarity minus best negative similarity). 0 when the
	// request had no query vector.
	Cosine float32
	// Blocks splits Cosine by modality block ("text", "image", "audio"):
	// the parts sum to Cosine.
	Blocks map[string]float32
	// Cooccurrence in [0, 1) rises with how often the candidate was
	// interacted with in the same session as the request's seed items (the
	// positives and the user's recent items).
	Cooccurrence float32
	// NextItem in [0, 1) rises with how often shoppers went on to the
	// candidate after the request's positives or the items of the user's
	// latest session (directional: B after A boosts B for A, not A for
	// B), within the session window.
	NextItem float32
	// Popularity in [0, 1]: log of the time-decayed interaction count,
	// relative to the most popular item.
	Popularity float32
	// Freshness in [0, 1]: exponential decay of the product's age; 0 when
	// the product has no upload time.
	Freshness float32
	// Lexical is the candidate's BM25 score for the query text in the
	// lexical index (hybrid retrieval); 0 when the lexical side did not
	// retrieve it or did not run.
	Lexical float32
}

// Contribution is the part of a score owed to one source.
type Contribution struct {
	Name  string
	Value float32
}

// Scorer turns a candidate's features into its score; higher is better.
// A learned model replaces the default LinearScorer through WithScorer
// or, while serving, Ranker.SetScorer.
// Score must be safe for concurrent use.
type Scorer interface {
	Score(f Features) float32
}

// scorerRef boxes a Scorer for an atomic pointer.
type scorerRef struct{ Scorer }

// SetScorer swaps the scorer for the requests that begin afterwards (a
// request in flight finishes with the one it began with); nil restores the
// one the options configured (WithScorer, else DefaultLinearScorer). Safe
// for concurrent use with Recommend: this is how a learned model is
// hot-loaded.
func (r *Ranker) SetScorer(s Scorer) {
	if s == nil {
		r.scorer.Store(nil)
		return
	}
	r.scorer.Store(&scorerRef{s})
}

// Scorer returns the scorer new requests use.
func (r *Ranker) Scorer() Scorer {
	if ref := r.scorer.Load(); ref != nil {
		return ref.Scorer
	}
	return r.cfg.scorer
}

// Explainer is implemented by a Scorer that can split a score into
// contributions ("modality:<m>", "feature:<name>").
type Explainer interface {
	Explain(f Features) []Contribution
}

// LinearScorer scores with hand weights: Cosine·cosine + Cooccurrence·cooc
// + NextItem·next + Popularity·popularity + Freshness·freshness.
type LinearScorer struct {
	Cosine, Cooccurrence, NextItem, Popularity, Freshness float32
}

// DefaultLinearScorer returns 1.0·cosine + 0.1·cooccurrence +
// 0.05·next + 0.05·popularity + 0.02·freshness.
func DefaultLinearScorer() LinearScorer {
	return LinearScorer{Cosine: 1, Cooccurrence: 0.1, NextItem: 0.05, Popularity: 0.05, Freshness: 0.02}
}

// Score implements Scorer.
func (l LinearScorer) Score(f Features) float32 {
	return l.Cosine*f.Cosine + l.Cooccurrence*f.Cooccurrence + l.NextItem*f.NextItem + l.Popularity*f.Popularity + l.Freshness*f.Freshness
}

// Explain implements Explainer: one contribution per modality block (the
// weighted cosine part) and per feature, summing to Score.
func (l LinearScorer) Explain(f Features) []Contribution {
	out := make([]Contribution, 0, len(f.Blocks)+4)
	mods := make([]string, 0, len(f.Blocks))
	for m := range f.Blocks {
		mods = append(mods, m)
	}
	slices.Sort(mods)
	for _, m := range mods {
		out = append(out, Contribution{Name: "modality:" + m, Value: l.Cosine * f.Blocks[m]})
	}
	return append(out,
		Contribution{Name: "feature:cooccurrence", Value: l.Cooccurrence * f.Cooccurrence},
		Contribution{Name: "feature:next", Value: l.NextItem * f.NextItem},
		Contribution{Name: "feature:popularity", Value: l.Popularity * f.Popularity},
		Contribution{Name: "feature:freshness", Value: l.Freshness * f.Freshness},
	)
}

// freshness is exp decay of age with the given half-life, 1 for a product
// uploaded now. An upload time in the future (clock skew between the
// uploader and this replica) counts as now. A product with no upload time
// gets 0, no boost: an unknown age is no evidence of newness, and counting
// it as new would rank records that lack the field (older writers, hand-made
// records) above products that are really new.
func freshness(uploaded, now time.Time, halfLife time.Duration) float32 {
	if uploaded.IsZero() {
		return 0
	}
	age := now.Sub(uploaded)
	if age < 0 {
		age = 0
	}
	return float32(math.Exp2(-age.Hours() / halfLife.Hours()))
}

// candidate is one scored product.
type candidate struct {
	id       string
	vec      []float32
	features Features
	score    float32
	// hybrid is set on a candidate of a hybrid (lexical + vector)
	// ranking, whose score is the fused score.
	hybrid *fusionParts
}

// fusionParts splits a fused score into the vector and lexical lists'
// parts.
type fusionParts struct {
	vector, lexical float32
}

// sortCandidates orders by score descending, id ascending on ties: a total
// order, so equal requests give equal pages.
func sortCandidates(cs []candidate) {
	slices.SortFunc(cs, func(a, b candidate) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
}

// mmr reorders the first n picks of cs (sorted by score) by maximal
// marginal relevance: each pick maximises λ·score − (1−λ)·max cosine to
// the items already picked. Items without vectors count as dissimilar.
func mmr(cs []candidate, lambda float32, n int) []candidate {
	n = min(n, len(cs))
	if n <= 1 || lambda <= 0 || lambda >= 1 {
		return cs
	}
	rest := slices.Clone(cs)
	out := make([]candidate, 0, len(cs))
	maxSim := make([]float32, len(rest))
	for i := range maxSim {
		maxSim[i] = float32(math.Inf(-1))
	}
	for len(out) < n {
		best, bestV := -1, float32(math.Inf(-1))
		for i, c := range rest {
			sim := maxSim[i]
			if len(out) == 0 {
				sim = 0
			}
			v := lambda*c.score - (1-lambda)*sim
			if best < 0 || v > bestV || (v == bestV && cmp.Less(c.id, rest[best].id)) {
				best, bestV = i, v
			}
		}
		picked := rest[best]
		out = append(out, picked)
		rest = slices.Delete(rest, best, best+1)
		maxSim = slices.Delete(maxSim, best, best+1)
		for i, c := range rest {
			if picked.vec == nil || c.vec == nil || len(picked.vec) != len(c.vec) {
				maxSim[i] = max(maxSim[i], 0)
				continue
			}
			maxSim[i] = max(maxSim[i], vek32.Dot(picked.vec, c.vec))
		}
	}
	return append(out, rest...)
}
