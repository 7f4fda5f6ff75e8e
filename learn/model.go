package learn

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/omnirank/omnirank/ranker"
)

// ModelFormat is the artefact's format version.
const ModelFormat = 1

// Model is a trained logistic regression over standardised features:
// p = σ(Bias + Σ Weights[j]·(x[j] − Means[j]) / Stds[j]).
type Model struct {
	Format   int       `json:"format"`
	Trained  time.Time `json:"trained"`
	Features []string  `json:"features"`
	Means    []float64 `json:"means"`
	Stds     []float64 `json:"stds"`
	Weights  []float64 `json:"weights"`
	Bias     float64   `json:"bias"`
	Report   Report    `json:"report"`
}

// Validate checks the layout: one mean, positive std and finite weight per
// feature, and no feature name the ranker does not know.
func (m *Model) Validate() error {
	if m.Format != ModelFormat {
		return fmt.Errorf("model format %d, want %d", m.Format, ModelFormat)
	}
	n := len(m.Features)
	if n == 0 {
		return fmt.Errorf("model has no features")
	}
	if len(m.Means) != n || len(m.Stds) != n || len(m.Weights) != n {
		return fmt.Errorf("model has %d features but %d means, %d stds, %d weights", n, len(m.Means), len(m.Stds), len(m.Weights))
	}
	if !finite(m.Bias) {
		return fmt.Errorf("model bias is %v", m.Bias)
	}
	for j, name := range m.Features {
		if !(m.Stds[j] > 0) || !finite(m.Stds[j]) || !finite(m.Means[j]) || !finite(m.Weights[j]) {
			return fmt.Errorf("feature %q: mean %v, std %v, weight %v (want finite, std > 0)", name, m.Means[j], m.Stds[j], m.Weights[j])
		}
		if _, err := accessor(name); err != nil {
			return err
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Decode parses and validates a model artefact.
func Decode(data []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode ranker model: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("decode ranker model: %w", err)
	}
	return &m, nil
}

// logit is the model's log-odds for x (Features order); the position
// feature counts unless serving is set, when its standardised value is 0.
func (m *Model) logit(x []float64, serving bool) float64 {
	s := m.Bias
	for j, v := range x {
		if serving && m.Features[j] == PositionFeature {
			continue
		}
		s += m.Weights[j] * (v - m.Means[j]) / m.Stds[j]
	}
	return s
}

// Scorer serves a Model as a ranker.Scorer: the score is the log-odds of
// a click with the position feature neutral. Safe for concurrent use.
type Scorer struct {
	model *Model
	terms []term
	bias  float32
}

// term is one feature's part of the score: w/std·(get(f) − mean).
type term struct {
	get     func(ranker.Features) float32
	mean, k float32
}

// Scorer returns the model's ranker.Scorer; the model must be valid.
func (m *Model) Scorer() (*Scorer, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	s := &Scorer{model: m, bias: float32(m.Bias)}
	for j, name := range m.Features {
		if name == PositionFeature {
			continue
		}
		get, _ := accessor(name) // Validate checked it
		s.terms = append(s.terms, term{get: get, mean: float32(m.Means[j]), k: float32(m.Weights[j] / m.Stds[j])})
	}
	return s, nil
}

// Model is the model the scorer serves.
func (s *Scorer) Model() *Model { return s.model }

// Score implements ranker.Scorer.
func (s *Scorer) Score(f ranker.Features) float32 {
	v := s.bias
	for _, t := range s.terms {
		v += t.k * (t.get(f) - t.mean)
	}
	return v
}

// accessor reads one named feature (the names of the impression log) from
// ranker.Features; the position feature reads as 0 (serving is neutral to
// it).
func accessor(name string) (func(ranker.Features) float32, error) {
	switch name {
	case "cosine":
		return func(f ranker.Features) float32 { return f.Cosine }, nil
	case "cooccurrence":
		return func(f ranker.Features) float32 { return f.Cooccurrence }, nil
	case NextFeature:
		return func(f ranker.Features) float32 { return f.NextItem }, nil
	case "popularity":
		return func(f ranker.Features) float32 { return f.Popularity }, nil
	case "freshness":
		return func(f ranker.Features) float32 { return f.Freshness }, nil
	case "lexical":
		return func(f ranker.Features) float32 { return f.Lexical }, nil
	case PositionFeature:
		return func(ranker.Features) float32 { return 0 }, nil
	}
	if m, ok := strings.CutPrefix(name, "block:"); ok && m != "" {
		return func(f ranker.Features) float32 { return f.Blocks[m] }, nil
	}
	return nil, fmt.Errorf("unknown feature %q (want cosine, block:<modality>, cooccurrence, next, popularity, freshness, lexical or %s)", name, PositionFeature)
}

// rankerFeatures rebuilds ranker.Features from a feature vector laid out
// as names (for scoring logged impressions with the hand weights).
func rankerFeatures(names []string, x []float64) ranker.Features {
	var f ranker.Features
	for j, n := range names {
		v := float32(x[j])
		switch n {
		case "cosine":
			f.Cosine = v
		case "cooccurrence":
			f.Cooccurrence = v
		case NextFeature:
			f.NextItem = v
		case "popularity":
			f.Popularity = v
		case "freshness":
			f.Freshness = v
		case "lexical":
			f.Lexical = v
		default:
			if m, ok := strings.CutPrefix(n, "block:"); ok {
				if f.Blocks == nil {
					f.Blocks = map[string]float32{}
				}
				f.Blocks[m] = v
			}
		}
	}
	return f
}
