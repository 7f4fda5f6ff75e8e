// Package sim drives synthetic shoppers against a running server through
// the public gRPC API (issue 12, item 5): each shopper has latent tastes —
// a favourite top-level category, a price ceiling and a liking for one
// modality's similarity — asks RankerService.Recommend, looks down the list
// (the top slots more often), and records view, click, cart and purchase
// events with FeedbackService.Record, carrying the response's request id.
// For tests, demos and benchmarks; deterministic for a seed given the same
// responses.
package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// Config sets up a simulation.
type Config struct {
	Ranker   omnirankv1.RankerServiceClient
	Feedback omnirankv1.FeedbackServiceClient
	// Users is the number of shoppers, Requests how many Recommend calls
	// each makes; Duration, when set, ends the run early.
	Users, Requests int
	Duration        time.Duration
	// Queries are the texts shoppers search with, Likes the product ids
	// they browse "more like this" from; each visit picks one of either.
	Queries, Likes []string
	// Categories are the top-level categories tastes are drawn from.
	Categories []string
	// Modalities are the blocks a shopper's liking is drawn from
	// ("text", "image", ...).
	Modalities []string
	// K is the page size (default 10).
	K    int
	Seed uint64
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Ranker == nil || c.Feedback == nil:
		return errors.New("sim: nil ranker or feedback client")
	case c.Users < 1 || c.Requests < 1:
		return fmt.Errorf("sim: users and requests must be ≥ 1, got %d and %d", c.Users, c.Requests)
	case c.Duration < 0:
		return fmt.Errorf("sim: negative duration %v", c.Duration)
	case len(c.Queries)+len(c.Likes) == 0:
		return errors.New("sim: no queries and no liked products")
	case len(c.Modalities) == 0:
		return errors.New("sim: no modalities")
	case c.K < 0:
		return fmt.Errorf("sim: negative k %d", c.K)
	}
	return nil
}

// Shopper is one synthetic user's latent tastes.
type Shopper struct {
	ID string
	// Category is the liked top-level category ("" likes none more).
	Category string
	// MaxPrice: dearer products are clicked less.
	MaxPrice float64
	// Modality is the block whose similarity to the query draws clicks.
	Modality string
}

// Stats count what a run did.
type Stats struct {
	Requests, Shown                  int
	Views, Clicks, Carts, Purchases  int
	RecommendErrors, RejectedRecords int
}

// Click is the chance a shopper clicks a product they look at: σ of
// −2 + 8·(their modality's contribution to the score) + 1 for their
// category − 1 above their price ceiling.
func (s Shopper) Click(p *omnirankv1.ScoredProduct) float64 {
	z := -2.0
	for _, c := range p.GetContributions() {
		if c.GetName() == "modality:"+s.Modality {
			z += 8 * float64(c.GetValue())
		}
	}
	if cat := p.GetCategory(); s.Category != "" && len(cat) > 0 && cat[0] == s.Category {
		z++
	}
	if s.MaxPrice > 0 && p.GetPrice() > s.MaxPrice {
		z--
	}
	return 1 / (1 + math.Exp(-z))
}

// Shoppers draws n shoppers' tastes.
func Shoppers(rng *rand.Rand, n int, categories, modalities []string) []Shopper {
	out := make([]Shopper, n)
	for i := range out {
		s := Shopper{ID: fmt.Sprintf("sim-%05d", i), MaxPrice: 20 + 80*rng.Float64(), Modality: modalities[rng.IntN(len(modalities))]}
		if len(categories) > 0 {
			s.Category = categories[rng.IntN(len(categories))]
		}
		out[i] = s
	}
	return out
}

// Run simulates the shoppers in turn, round after round, until each made
// Requests requests, the duration ends or ctx ends (its error returned).
func Run(ctx context.Context, cfg Config) (Stats, error) {
	var st Stats
	if err := cfg.Validate(); err != nil {
		return st, err
	}
	k := cfg.K
	if k == 0 {
		k = 10
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5157))
	shoppers := Shoppers(rng, cfg.Users, cfg.Categories, cfg.Modalities)
	for range cfg.Requests {
		for _, s := range shoppers {
			if ctx.Err() != nil {
				if cfg.Duration > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return st, nil
				}
				return st, ctx.Err()
			}
			if err := visit(ctx, cfg, s, k, rng, &st); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// visit is one Recommend call and the shopper's reactions.
func visit(ctx context.Context, cfg Config, s Shopper, k int, rng *rand.Rand, st *Stats) error {
	req := &omnirankv1.RecommendRequest{UserId: s.ID, K: int32(k), Explain: true}
	if i := rng.IntN(len(cfg.Queries) + len(cfg.Likes)); i < len(cfg.Queries) {
		req.QueryText = cfg.Queries[i]
	} else {
		req.PositiveIds = []string{cfg.Likes[i-len(cfg.Queries)]}
	}
	resp, err := cfg.Ranker.Recommend(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		st.RecommendErrors++
		return nil
	}
	st.Requests++
	st.Shown += len(resp.GetResults())
	var evs []*omnirankv1.FeedbackEvent
	add := func(p *omnirankv1.ScoredProduct, kind string) {
		evs = append(evs, &omnirankv1.FeedbackEvent{UserId: s.ID, ProductId: p.GetId(), Kind: kind, RequestId: resp.GetRequestId()})
	}
	for i, p := range resp.GetResults() {
		if rng.Float64() >= 1/math.Log2(2+float64(i)) {
			continue // not looked at
		}
		if rng.Float64() >= s.Click(p) {
			st.Views++
			add(p, "view")
			continue
		}
		st.Clicks++
		add(p, "click")
		if rng.Float64() < 0.3 {
			st.Carts++
			add(p, "cart")
			if rng.Float64() < 0.5 {
				st.Purchases++
				add(p, "purchase")
			}
		}
	}
	if len(evs) == 0 {
		return nil
	}
	if _, err := cfg.Feedback.Record(ctx, &omnirankv1.RecordRequest{Events: evs}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		st.RejectedRecords++
	}
	return nil
}
