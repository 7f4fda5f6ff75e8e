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

// optionalFeatures are features that rankers log since a later version
// (NextFeature): every dataset has them, and an impression logged before
// them reads 0, so old and new impressions train together.
var optionalFeatures = []string{NextFeature}

// NextFeature is the next-item feature's name (ranker.Features.NextItem).
const NextFeature = "next"

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
	// "cooccurrence", "next", "popularity", "freshness", "lexical"), sorted, then
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
	j := NewJoiner()
	for _, imp := range imps {
		if err := j.AddImpression(imp); err != nil {
			return Dataset{}, err
		}
	}
	for _, fb := range fbs {
		j.AddFeedback(fb)
	}
	return j.Dataset()
}

// Joiner is Join one message at a time, keeping only the feature vectors
// and labels (not the decoded messages): feedback joins the impressions
// added before it.
type Joiner struct {
	ds    Dataset
	byReq map[string]int
}

// NewJoiner returns an empty Joiner.
func NewJoiner() *Joiner { return &Joiner{byReq: map[string]int{}} }

// AddImpression adds one impression (see Join for what it refuses).
func (j *Joiner) AddImpression(imp topology.Impression) error {
	ds := &j.ds
	if len(imp.Results) == 0 {
		return nil
	}
	if imp.RequestID == "" {
		return fmt.Errorf("impression at %s (user %q) has no request id", imp.Time.Format(time.RFC3339), imp.UserID)
	}
	if _, dup := j.byReq[imp.RequestID]; dup {
		ds.Stats.Duplicates++
		return nil
	}
	if ds.Names == nil {
		if _, ok := imp.Results[0].Features[PositionFeature]; ok {
			return fmt.Errorf("impression %s: feature name %q is reserved", imp.RequestID, PositionFeature)
		}
		names := slices.Collect(maps.Keys(imp.Results[0].Features))
		for _, o := range optionalFeatures {
			if !slices.Contains(names, o) {
				names = append(names, o)
			}
		}
		slices.Sort(names)
		ds.Names = append(names, PositionFeature)
	}
	n := len(ds.Names)
	flat := make([]float64, n*len(imp.Results))
	g := Group{RequestID: imp.RequestID, UserID: imp.UserID, Time: imp.Time,
		Products: make([]string, len(imp.Results)), X: make([][]float64, len(imp.Results)), Grades: make([]int, len(imp.Results))}
	for i, res := range imp.Results {
		x := flat[i*n : (i+1)*n : (i+1)*n]
		if err := vector(ds.Names, res, x); err != nil {
			return fmt.Errorf("impression %s result %d (%s): %w", imp.RequestID, i, res.ProductID, err)
		}
		g.Products[i], g.X[i], g.Grades[i] = res.ProductID, x, -1
	}
	j.byReq[imp.RequestID] = len(ds.Groups)
	ds.Groups = append(ds.Groups, g)
	ds.Stats.Impressions++
	ds.Stats.Shown += len(imp.Results)
	return nil
}

// AddFeedback grades the shown product fb names in the impression of its
// request id, or counts why it cannot.
func (j *Joiner) AddFeedback(fb topology.Feedback) {
	st := &j.ds.Stats
	gr, ok := grades[fb.Kind]
	switch {
	case !ok:
		st.UnknownKind++
		return
	case fb.RequestID == "":
		st.NoRequest++
		return
	}
	gi, ok := j.byReq[fb.RequestID]
	if !ok {
		st.Unmatched++
		return
	}
	g := j.ds.Groups[gi]
	pi := slices.Index(g.Products, fb.ProductID)
	if pi < 0 {
		st.Unmatched++
		return
	}
	st.Feedback++
	g.Grades[pi] = max(g.Grades[pi], gr)
}

// Dataset returns what was joined; ErrNoImpressions if nothing was.
func (j *Joiner) Dataset() (Dataset, error) {
	if len(j.ds.Groups) == 0 {
		return Dataset{}, ErrNoImpressions
	}
	j.ds.Stats.Positives = 0
	for _, g := range j.ds.Groups {
		for _, gr := range g.Grades {
			if gr >= 1 {
				j.ds.Stats.Positives++
			}
		}
	}
	return j.ds, nil
}

// vector lays res's features out in names order into x (the last name is
// PositionFeature, computed from the position; a missing optional feature
// reads 0).
func vector(names []string, res topology.ImpressionResult, x []float64) error {
	want := len(names) - 1
	if res.Position < 1 {
		return fmt.Errorf("position %d, want ≥ 1", res.Position)
	}
	found := 0
	for j, n := range names[:want] {
		v, ok := res.Features[n]
		switch {
		case ok:
			found++
		case slices.Contains(optionalFeatures, n):
		default:
			return fmt.Errorf("no feature %q (want %v)", n, names[:want])
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("feature %q is %v", n, v)
		}
		x[j] = float64(v)
	}
	if found != len(res.Features) {
		return fmt.Errorf("%d features, want %v", len(res.Features), names[:want])
	}
	x[want] = positionValue(res.Position)
	return nil
}

// positionValue is the PositionFeature of a 1-based position.
func positionValue(pos int) float64 { return math.Log2(1 + float64(pos)) }
