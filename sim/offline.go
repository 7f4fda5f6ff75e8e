package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/omnirank/omnirank/topology"
)

// Log generates, without a server, what a ranker and its shoppers would
// log: users·requests impressions of 10 products each, shown in random
// order (an exploration bucket's logging policy, so that the logged clicks
// judge any re-ranking without favouring the order shown), and the
// shoppers' feedback joined by request id. Each product has "block:text"
// and "block:image" similarities in [0, 0.5) ("cosine" their sum),
// "cooccurrence" in [0, 0.2), "popularity" and "freshness" in [0, 1),
// "lexical" 0. A shopper looks at position p with probability 1/log2(1+p)
// and then clicks with probability σ(−3 + 12·image − 4·text +
// 3·freshness) — they want the image to match and new products, and a
// closer text match (which the hand weights reward as much as the image)
// puts them off; a click leads to a cart with probability 0.4, a cart to a
// purchase with 0.5, and 30 % of looks without a click are views. Two
// events that join nothing are added: one without a request id, one with
// an unknown one. Deterministic for a seed.
func Log(seed uint64, users, requests int) ([]topology.Impression, []topology.Feedback) {
	imps := make([]topology.Impression, 0, users*requests)
	var fbs []topology.Feedback
	Generate(seed, users, requests, func(imp topology.Impression, fb []topology.Feedback) {
		imps = append(imps, imp)
		fbs = append(fbs, fb...)
	})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fbs = append(fbs, topology.Feedback{UserID: "u000", ProductID: "p0001", Kind: "click", Time: start},
		topology.Feedback{UserID: "u000", ProductID: "p0001", Kind: "click", Time: start, RequestID: "nope"})
	return imps, fbs
}

// Generate is Log one impression at a time: emit gets each impression
// with its feedback (without Log's two unjoinable events), so a caller can
// keep as little of the log as it needs.
func Generate(seed uint64, users, requests int, emit func(topology.Impression, []topology.Feedback)) {
	rng := rand.New(rand.NewPCG(seed, 7))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for r := range users * requests {
		var fbs []topology.Feedback
		user := fmt.Sprintf("u%03d", rng.IntN(users))
		at := start.Add(time.Duration(r) * time.Minute)
		req := fmt.Sprintf("req%07d", r)
		imp := topology.Impression{RequestID: req, UserID: user, Query: "text", Space: "default", Time: at,
			Results: make([]topology.ImpressionResult, 0, 10)}
		for i := range 10 {
			pos := i + 1
			text, image, fresh := rng.Float32()*0.5, rng.Float32()*0.5, rng.Float32()
			id := fmt.Sprintf("p%04d", rng.IntN(5000))
			imp.Results = append(imp.Results, topology.ImpressionResult{ProductID: id, Position: pos,
				Features: map[string]float32{"cosine": text + image, "block:text": text, "block:image": image,
					"cooccurrence": rng.Float32() * 0.2, "popularity": rng.Float32(), "freshness": fresh, "lexical": 0}})
			ev := func(kind string) {
				fbs = append(fbs, topology.Feedback{UserID: user, ProductID: id, Kind: kind, Time: at.Add(time.Second), RequestID: req})
			}
			if rng.Float64() >= 1/math.Log2(1+float64(pos)) {
				continue
			}
			z := -3 + 12*float64(image) - 4*float64(text) + 3*float64(fresh)
			if rng.Float64() >= 1/(1+math.Exp(-z)) {
				if rng.Float64() < 0.3 {
					ev("view")
				}
				continue
			}
			ev("click")
			if rng.Float64() < 0.4 {
				ev("cart")
				if rng.Float64() < 0.5 {
					ev("purchase")
				}
			}
		}
		emit(imp, fbs)
	}
}
