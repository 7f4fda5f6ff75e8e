package learn

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/omnirank/omnirank/eval"
	"github.com/omnirank/omnirank/ranker"
)

// Config tunes Train. DefaultConfig suits a few thousand to millions of
// impressions.
type Config struct {
	// Lambda is the L2 penalty λ on the weights (not the bias).
	Lambda float64
	// LearningRate is the gradient step.
	LearningRate float64
	// BatchSize is the mini-batch size in examples.
	BatchSize int
	// MaxEpochs bounds the passes over the training set; Patience is how
	// many epochs without a lower held-out log loss end training early
	// (the best epoch's weights are kept).
	MaxEpochs, Patience int
	// HoldoutFraction is both the share of users (by a hash of the user
	// id and Seed) whose impressions are all held out and the share of
	// impressions, the latest, held out by time.
	HoldoutFraction float64
	// Seed makes the split and the shuffling reproducible.
	Seed uint64
	// K is the cut-off of the held-out NDCG.
	K int
	// Baseline is what the learned model is compared with (default
	// ranker.DefaultLinearScorer, the hand weights).
	Baseline ranker.Scorer
}

// DefaultConfig returns λ 1e-4, learning rate 0.1, batches of 256, at
// most 100 epochs with patience 5, 20 % held out, seed 1, NDCG@10 against
// the hand weights.
func DefaultConfig() Config {
	return Config{Lambda: 1e-4, LearningRate: 0.1, BatchSize: 256, MaxEpochs: 100, Patience: 5,
		HoldoutFraction: 0.2, Seed: 1, K: 10, Baseline: ranker.DefaultLinearScorer()}
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case !(c.Lambda >= 0) || math.IsInf(c.Lambda, 0):
		return fmt.Errorf("lambda must be finite and ≥ 0, got %v", c.Lambda)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("learning rate must be finite and > 0, got %v", c.LearningRate)
	case c.BatchSize < 1:
		return fmt.Errorf("batch size must be ≥ 1, got %d", c.BatchSize)
	case c.MaxEpochs < 1:
		return fmt.Errorf("max epochs must be ≥ 1, got %d", c.MaxEpochs)
	case c.Patience < 1:
		return fmt.Errorf("patience must be ≥ 1, got %d", c.Patience)
	case !(c.HoldoutFraction > 0 && c.HoldoutFraction < 1):
		return fmt.Errorf("holdout fraction must be in (0, 1), got %v", c.HoldoutFraction)
	case c.K < 1:
		return fmt.Errorf("k must be ≥ 1, got %d", c.K)
	case c.Baseline == nil:
		return errors.New("nil baseline scorer")
	}
	return nil
}

// Report is what training measured. Log losses are the data term
// −1/N Σ [y log p + (1−y) log(1−p)] (without the penalty); "base" is the
// loss of predicting the training click rate for everything.
type Report struct {
	Join               JoinStats `json:"join"`
	TrainImpressions   int       `json:"train_impressions"`
	HeldoutImpressions int       `json:"heldout_impressions"`
	TrainExamples      int       `json:"train_examples"`
	HeldoutExamples    int       `json:"heldout_examples"`
	// TimeCutoff: impressions at or after it are held out.
	TimeCutoff         time.Time `json:"time_cutoff"`
	Epochs             int       `json:"epochs"`
	BestEpoch          int       `json:"best_epoch"`
	BaseTrainLoss      float64   `json:"base_train_log_loss"`
	BaseHeldoutLoss    float64   `json:"base_heldout_log_loss"`
	TrainLoss          float64   `json:"train_log_loss"`
	HeldoutLoss        float64   `json:"heldout_log_loss"`
	HeldoutLossByEpoch []float64 `json:"heldout_log_loss_by_epoch"`
	// NDCG of re-ranking each held-out impression with a positive (count
	// NDCGQueries) at K: as shown, by the baseline (hand weights), by the
	// learned model (position neutral).
	K           int     `json:"k"`
	NDCGQueries int     `json:"ndcg_queries"`
	NDCGShown   float64 `json:"ndcg_shown"`
	NDCGHand    float64 `json:"ndcg_hand"`
	NDCGLearned float64 `json:"ndcg_learned"`
	Lambda      float64 `json:"lambda"`
	Seed        uint64  `json:"seed"`
}

// Train fits the model on ds (see the package doc) and reports how it did.
func Train(ds Dataset, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if len(ds.Groups) == 0 {
		return nil, fmt.Errorf("train: %w", ErrNoImpressions)
	}
	nf := len(ds.Names)
	for _, g := range ds.Groups {
		for i, x := range g.X {
			if len(x) != nf {
				return nil, fmt.Errorf("train: impression %s result %d: %d features, want %d", g.RequestID, i, len(x), nf)
			}
		}
	}
	train, held, cutoff := split(ds.Groups, cfg)
	if len(train) == 0 || len(held) == 0 {
		return nil, fmt.Errorf("train: split of %d impressions left %d to train on and %d held out; need more users or a longer time span", len(ds.Groups), len(train), len(held))
	}
	m := &Model{Format: ModelFormat, Features: slices.Clone(ds.Names), Means: make([]float64, nf), Stds: make([]float64, nf), Weights: make([]float64, nf)}
	xs, ys := flatten(train)
	hx, hy := flatten(held)
	standardise(m, xs)
	pos := 0.0
	for _, y := range ys {
		pos += y
	}
	if pos == 0 || pos == float64(len(ys)) {
		return nil, fmt.Errorf("train: the %d training examples are all %v: need both clicked and unclicked shown products", len(ys), ys[0])
	}
	rate := pos / float64(len(ys))
	m.Bias = math.Log(rate / (1 - rate))
	rep := Report{Join: ds.Stats, TrainImpressions: len(train), HeldoutImpressions: len(held), TrainExamples: len(xs), HeldoutExamples: len(hx),
		TimeCutoff: cutoff, K: cfg.K, Lambda: cfg.Lambda, Seed: cfg.Seed,
		BaseTrainLoss: logLoss(m, xs, ys), BaseHeldoutLoss: logLoss(m, hx, hy)}

	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	order := make([]int, len(xs))
	for i := range order {
		order[i] = i
	}
	grad := make([]float64, nf)
	best, bestW, bestB, since := math.Inf(1), slices.Clone(m.Weights), m.Bias, 0
	for epoch := 1; epoch <= cfg.MaxEpochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < len(order); start += cfg.BatchSize {
			batch := order[start:min(start+cfg.BatchSize, len(order))]
			clear(grad)
			gb := 0.0
			for _, i := range batch {
				d := sigmoid(m.logit(xs[i], false)) - ys[i]
				for j, v := range xs[i] {
					grad[j] += d * (v - m.Means[j]) / m.Stds[j]
				}
				gb += d
			}
			n := float64(len(batch))
			for j := range m.Weights {
				m.Weights[j] -= cfg.LearningRate * (grad[j]/n + 2*cfg.Lambda*m.Weights[j])
			}
			m.Bias -= cfg.LearningRate * gb / n
		}
		rep.Epochs = epoch
		l := logLoss(m, hx, hy)
		rep.HeldoutLossByEpoch = append(rep.HeldoutLossByEpoch, l)
		if l < best-1e-7 {
			best, bestB, since, rep.BestEpoch = l, m.Bias, 0, epoch
			copy(bestW, m.Weights)
			continue
		}
		if since++; since >= cfg.Patience {
			break
		}
	}
	copy(m.Weights, bestW)
	m.Bias = bestB
	rep.TrainLoss, rep.HeldoutLoss = logLoss(m, xs, ys), logLoss(m, hx, hy)
	rankingReport(&rep, m, ds.Names, held, cfg)
	m.Report = rep
	return m, nil
}

// split holds out every impression of a hashed share of the users and
// every impression at or after the time cutoff; it returns the cutoff.
func split(groups []Group, cfg Config) (train, held []Group, cutoff time.Time) {
	byTime := slices.Clone(groups)
	slices.SortStableFunc(byTime, func(a, b Group) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.RequestID, b.RequestID)
	})
	cutoff = byTime[min(int(float64(len(byTime))*(1-cfg.HoldoutFraction)), len(byTime)-1)].Time
	for _, g := range byTime {
		if !g.Time.Before(cutoff) || userShare(g.UserID, cfg.Seed) < cfg.HoldoutFraction {
			held = append(held, g)
		} else {
			train = append(train, g)
		}
	}
	return train, held, cutoff
}

// userShare maps a user to [0, 1) by a seeded hash.
func userShare(user string, seed uint64) float64 {
	b := binary.LittleEndian.AppendUint64(nil, seed)
	sum := sha256.Sum256(append(b, user...))
	return float64(binary.LittleEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

// flatten lists every shown product's features and label.
func flatten(groups []Group) (xs [][]float64, ys []float64) {
	for _, g := range groups {
		for i, x := range g.X {
			xs = append(xs, x)
			ys = append(ys, g.label(i))
		}
	}
	return xs, ys
}

// standardise sets the model's means and standard deviations from the
// training features; a constant feature gets std 1.
func standardise(m *Model, xs [][]float64) {
	n := float64(len(xs))
	for _, x := range xs {
		for j, v := range x {
			m.Means[j] += v / n
		}
	}
	for _, x := range xs {
		for j, v := range x {
			d := v - m.Means[j]
			m.Stds[j] += d * d / n
		}
	}
	for j, v := range m.Stds {
		m.Stds[j] = math.Sqrt(v)
		if m.Stds[j] < 1e-9 {
			m.Stds[j] = 1
		}
	}
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// logLoss is the mean binary cross-entropy of the model (position
// included) on xs, ys; 0 for no examples.
func logLoss(m *Model, xs [][]float64, ys []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	const eps = 1e-12
	s := 0.0
	for i, x := range xs {
		p := min(max(sigmoid(m.logit(x, false)), eps), 1-eps)
		s -= ys[i]*math.Log(p) + (1-ys[i])*math.Log(1-p)
	}
	return s / float64(len(xs))
}

// rankingReport fills the NDCG fields: each held-out impression with a
// positive is re-ranked by the baseline and by the learned model (ties
// keep the shown order) and scored with eval.NDCG.
func rankingReport(rep *Report, m *Model, names []string, held []Group, cfg Config) {
	var shown, hand, learned float64
	for _, g := range held {
		rel := g.relevant()
		if len(rel) == 0 {
			continue
		}
		rep.NDCGQueries++
		shown += eval.NDCG(g.Products, rel, cfg.K)
		hand += eval.NDCG(rerank(g, func(x []float64) float64 { return float64(cfg.Baseline.Score(rankerFeatures(names, x))) }), rel, cfg.K)
		learned += eval.NDCG(rerank(g, func(x []float64) float64 { return m.logit(x, true) }), rel, cfg.K)
	}
	if n := float64(rep.NDCGQueries); n > 0 {
		rep.NDCGShown, rep.NDCGHand, rep.NDCGLearned = shown/n, hand/n, learned/n
	}
}

// rerank orders the group's products by score descending, shown order on
// ties.
func rerank(g Group, score func([]float64) float64) []string {
	s := make([]float64, len(g.X))
	idx := make([]int, len(g.X))
	for i, x := range g.X {
		s[i], idx[i] = score(x), i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(s[b], s[a]) })
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = g.Products[j]
	}
	return out
}
