// Package learnbench is `omnirank bench learn`: it generates a synthetic
// impression and feedback log (sim.Log), joins and trains the ranker
// model on it (package learn) and reports the time, the peak memory and
// the held-out NDCG@10 of the learned model against the hand weights.
package learnbench

import (
	"fmt"
	"runtime"
	"time"

	"github.com/omnirank/omnirank/learn"
	"github.com/omnirank/omnirank/sim"
)

// Options size the benchmark.
type Options struct {
	// Impressions to generate (users × 20 requests each).
	Impressions int
	Seed        uint64
}

// Result is the one JSON object `omnirank bench learn --json` prints.
// GenerateS is the synthetic log's generation, TrainS the join and the
// training (with its held-out evaluation); PeakRSSMB is the process's peak
// resident set over all of it (0 where the OS does not say).
type Result struct {
	Impressions   int     `json:"impressions"`
	Examples      int     `json:"examples"`
	Epochs        int     `json:"epochs"`
	GenerateS     float64 `json:"generate_s"`
	TrainS        float64 `json:"train_s"`
	PeakRSSMB     float64 `json:"peak_rss_mb"`
	NDCG10Hand    float64 `json:"ndcg10_hand"`
	NDCG10Learned float64 `json:"ndcg10_learned"`
	GOMAXPROCS    int     `json:"gomaxprocs"`
}

// Run runs the benchmark once.
func Run(o Options) (Result, error) {
	if o.Impressions < 100 {
		return Result{}, fmt.Errorf("bench learn: want ≥ 100 impressions, got %d", o.Impressions)
	}
	const requests = 20
	users := max(o.Impressions/requests, 1)
	start := time.Now()
	imps, fbs := sim.Log(o.Seed, users, requests)
	gen := time.Since(start)
	start = time.Now()
	ds, err := learn.Join(imps, fbs)
	if err != nil {
		return Result{}, fmt.Errorf("bench learn: %w", err)
	}
	imps, fbs = nil, nil // let the log go: the dataset holds what training needs
	m, err := learn.Train(ds, learn.DefaultConfig())
	if err != nil {
		return Result{}, fmt.Errorf("bench learn: %w", err)
	}
	train := time.Since(start)
	r := m.Report
	return Result{Impressions: r.Join.Impressions, Examples: r.TrainExamples + r.HeldoutExamples, Epochs: r.Epochs,
		GenerateS: gen.Seconds(), TrainS: train.Seconds(), PeakRSSMB: peakRSSMB(),
		NDCG10Hand: r.NDCGHand, NDCG10Learned: r.NDCGLearned, GOMAXPROCS: runtime.GOMAXPROCS(0)}, nil
}
