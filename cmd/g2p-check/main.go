// Command g2p-check trains the grapheme-to-phoneme model of package g2p on
// the recogniser's dictionary with 5% of its words held out and prints the
// held-out metrics, training time and model size as JSON (the numbers in
// docs/ARCHITECTURE.md):
//
//	go run ./cmd/g2p-check [-dict PATH] [-left 3 -right 4 -history 2] [-holdout 0.05 -seed 1]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"time"

	"github.com/omnirank/omnirank/extractors/speech/g2p"
)

func main() {
	dict := flag.String("dict", g2p.DefaultDictPath, "cmudict-format pronunciation dictionary")
	left := flag.Int("left", 3, "letters of context on the left")
	right := flag.Int("right", 4, "letters of context on the right")
	holdout := flag.Float64("holdout", 0.05, "share of words held out")
	seed := flag.Uint64("seed", 1, "seed of the held-out split")
	iters := flag.Int("iterations", 8, "EM iterations of the alignment")
	minCount := flag.Int("min-count", 1, "times a context must be seen to count")
	history := flag.Int("history", 2, "chain level from which the previous phones count (-1: never)")
	flag.Parse()
	if err := run(*dict, *left, *right, *holdout, *seed, *iters, *minCount, *history); err != nil {
		slog.Error("g2p-check", "err", err)
		os.Exit(1)
	}
}

func run(dict string, left, right int, holdout float64, seed uint64, iters, minCount, history int) error {
	f, err := os.Open(dict)
	if err != nil {
		return err
	}
	defer f.Close()
	t0 := time.Now()
	m, err := g2p.Train(f, g2p.WithWindow(left, right), g2p.WithHoldout(holdout, seed),
		g2p.WithIterations(iters), g2p.WithMinCount(minCount), g2p.WithHistory(history))
	if err != nil {
		return err
	}
	el := time.Since(t0)
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return err
	}
	h := m.HeldOut()
	out := map[string]any{
		"dict":             dict,
		"window":           []int{left, right},
		"holdout":          holdout,
		"history":          history,
		"seed":             seed,
		"held_out_words":   h.Words,
		"word_accuracy":    round(h.WordAccuracy),
		"phone_error_rate": round(h.PhoneErrorRate),
		"train_seconds":    round(el.Seconds()),
		"model_bytes":      buf.Len(),
		"model_contexts":   m.Size(),
		"version":          m.Version(),
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func round(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }
