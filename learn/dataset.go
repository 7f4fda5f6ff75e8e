package learn

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/omnirank/omnirank/topology"
)

// PositionFeature is the name of the shown-position feature,
// log2(1 + position): a training-time feature, neutral at serving.
const PositionFeature = "position"

// ErrNoImpressions is returned when there is nothing to train on.
var ErrNoImpressions = errors.New("no impressions to train on (rankers log them with --impression-sample > 0)")

// grades orders feedback kinds: a shown product's grade is the best kind of
// feedback it got for the request; grade ≥ 1 (click or better) is a
// positive.
var grades = map[string]int{"view": 0, "click": 1, "cart": 2, "purchase": 3}

// Group is one impression: the products a response showed, in shown order,
// with one example each.
type Group struct {
	RequestID string
	UserID    string
	Time      time.Time
	Products  []string
	// X holds each shown product's feature values, in Dataset.Names
	// order.
	X [][]float64
	// Grades: -1 no feedback, 0 view, 1 click, 2 cart, 3 purchase.
	Grades []int
}

// label is y of the i-th shown product: 1 for click or better.
func (g Group) label(i int) float64 {
	if g.Grades[i] >= 1 {
		return 1
	}
	return 0
}

// relevant lists the group's positives, best grade first (the graded gain
// eval.NDCG gives by listed order); ties keep shown order.
func (g Group) relevant() []string {
	idx := make([]int, 0, len(g.Products))
	for i, gr := range g.Grades {
		if gr >= 1 {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return g.Grades[b] - g.Grades[a] })
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = g.Products[j]
	}
	return out
}

// Dataset is the joined training data.
type Dataset struct {
	// Names are the feature names (the scorer's: "cosine", "block:<m>",
	// "cooccurrence", "popularity", "freshness", "lexical"), sorted, then
	// PositionFeature last.
	Names  []string
	Groups []Group
	Stats  JoinStats
}

// JoinStats count what Join used and dropped.
type JoinStats struct {
	Impressions int `json:"impressions"`
	// Duplicates are impressions whose request id was already seen.
	Duplicates int `json:"duplicate_impressions"`
	Shown      int `json:"shown"`
	Positives  int `json:"positives"`
	// Feedback counts events joined to a shown product; NoRequest events
	// without a request id; Unmatched events whose request id or product
	// is in no impression; UnknownKind events of a kind Join does not
	// grade.
	Feedback    int `json:"feedback_joined"`
	NoRequest   int `json:"feedback_without_request_id"`
	Unmatched   int `json:"feedback_unmatched"`
	UnknownKind int `json:"feedback_unknown_kind"`
}

// Join builds the dataset: one group per impression (by request id, the
// first one kept), each shown product labelled by the best feedback with
// the impression's request id. Every shown product must carry the same
// feature names as the first one, or Join fails naming the impression: a
// model has one feature vector layout (train one space at a time).
func Join(imps []topology.Impression, fbs []topology.Feedback) (Dataset, error) {
	var ds Dataset
	byReq := make(map[string]int, len(imps))
	for _, imp := range imps {
		if len(imp.Results) == 0 {
			continue
		}
		if imp.RequestID == "" {
			return Dataset{}, fmt.Errorf("impression at %s (user %q) has no request id", imp.Time.Format(time.RFC3339), imp.UserID)
		}
		if _, dup := byReq[imp.RequestID]; dup {
			ds.Stats.Duplicates++
			continue
		}
		if ds.Names == nil {
			ds.Names = append(slices.Sorted(maps.Keys(imp.Results[0].Features)), PositionFeature)
			if slices.Contains(ds.Names[:len(ds.Names)-1], PositionFeature) {
				return Dataset{}, fmt.Errorf("impression %s: feature name %q is reserved", imp.RequestID, PositionFeature)
			}
		}
		g := Group{RequestID: imp.RequestID, UserID: imp.UserID, Time: imp.Time,
			Products: make([]string, len(imp.Results)), X: make([][]float64, len(imp.Results)), Grades: make([]int, len(imp.Results))}
		for i, res := range imp.Results {
			x, err := vector(ds.Names, res)
			if err != nil {
				return Dataset{}, fmt.Errorf("impression %s result %d (%s): %w", imp.RequestID, i, res.ProductID, err)
			}
			g.Products[i], g.X[i], g.Grades[i] = res.ProductID, x, -1
		}
		byReq[imp.RequestID] = len(ds.Groups)
		ds.Groups = append(ds.Groups, g)
		ds.Stats.Impressions++
		ds.Stats.Shown += len(imp.Results)
	}
	if len(ds.Groups) == 0 {
		return Dataset{}, ErrNoImpressions
	}
	for _, fb := range fbs {
		gr, ok := grades[fb.Kind]
		switch {
		case !ok:
			ds.Stats.UnknownKind++
			continue
		case fb.RequestID == "":
			ds.Stats.NoRequest++
			continue
		}
		gi, ok := byReq[fb.RequestID]
		if !ok {
			ds.Stats.Unmatched++
			continue
		}
		g := ds.Groups[gi]
		pi := slices.Index(g.Products, fb.ProductID)
		if pi < 0 {
			ds.Stats.Unmatched++
			continue
		}
		ds.Stats.Feedback++
		g.Grades[pi] = max(g.Grades[pi], gr)
	}
	for _, g := range ds.Groups {
		for _, gr := range g.Grades {
			if gr >= 1 {
				ds.Stats.Positives++
			}
		}
	}
	return ds, nil
}

// vector lays res's features out in names order (the last name is
// PositionFeature, computed from the position).
func vector(names []string, res topology.ImpressionResult) ([]float64, error) {
	want := len(names) - 1
	if len(res.Features) != want {
		return nil, fmt.Errorf("%d features, want %d (%v)", len(res.Features), want, names[:want])
	}
	if res.Position < 1 {
		return nil, fmt.Errorf("position %d, want ≥ 1", res.Position)
	}
	x := make([]float64, len(names))
	for j, n := range names[:want] {
		v, ok := res.Features[n]
		if !ok {
			return nil, fmt.Errorf("no feature %q (want %v)", n, names[:want])
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("feature %q is %v", n, v)
		}
		x[j] = float64(v)
	}
	x[want] = positionValue(res.Position)
	return x, nil
}

// positionValue is the PositionFeature of a 1-based position.
func positionValue(pos int) float64 { return math.Log2(1 + float64(pos)) }
