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
	"github.com/omnirank/omnirank/topology"
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
// resident set over all of it (0 where the OS does not say). The log is
// generated and joined one impression at a time, as learn.Load reads the
// streams.
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
	// Generated and joined one impression at a time, as Load reads the
	// streams: only the feature vectors and labels stay in memory.
	start := time.Now()
	var join time.Duration
	var joinErr error
	j := learn.NewJoiner()
	sim.Generate(o.Seed, users, requests, func(imp topology.Impression, fbs []topology.Feedback) {
		t := time.Now()
		if err := j.AddImpression(imp); err != nil && joinErr == nil {
			joinErr = err
		}
		for _, fb := range fbs {
			j.AddFeedback(fb)
		}
		join += time.Since(t)
	})
	gen := time.Since(start) - join
	if joinErr != nil {
		return Result{}, fmt.Errorf("bench learn: %w", joinErr)
	}
	start = time.Now()
	ds, err := j.Dataset()
	if err != nil {
		return Result{}, fmt.Errorf("bench learn: %w", err)
	}
	m, err := learn.Train(ds, learn.DefaultConfig())
	if err != nil {
		return Result{}, fmt.Errorf("bench learn: %w", err)
	}
	train := join + time.Since(start)
	r := m.Report
	return Result{Impressions: r.Join.Impressions, Examples: r.TrainExamples + r.HeldoutExamples, Epochs: r.Epochs,
		GenerateS: gen.Seconds(), TrainS: train.Seconds(), PeakRSSMB: peakRSSMB(),
		NDCG10Hand: r.NDCGHand, NDCG10Learned: r.NDCGLearned, GOMAXPROCS: runtime.GOMAXPROCS(0)}, nil
}
