// Command wordvec-check runs the held-out synonym/hypernym check of
// package wordvec for several settings and prints a table (the numbers in
// docs/MODELS.md):
//
//	go run ./cmd/wordvec-check [-wordnet DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/omnirank/omnirank/wordnet"
	"github.com/omnirank/omnirank/wordnet/wordvec"
)

func main() {
	dir := flag.String("wordnet", wordnet.DefaultDir, "WordNet database folder")
	flag.Parse()
	db, err := wordnet.Open(*dir)
	if err != nil {
		slog.Error("wordvec-check", "err", err)
		os.Exit(1)
	}
	vocab := wordvec.Vocabulary(db, wordvec.DefaultVocab)
	held := wordvec.DefaultCheck.HeldOut(db, vocab)
	src := wordvec.NewSource(db)
	fmt.Printf("vocabulary %d words, %d held-out memberships\n", len(vocab), len(held))
	synsetsOnly := wordvec.Default
	synsetsOnly.HyperDepth, synsetsOnly.Relations, synsetsOnly.Gloss = 0, 0, 0
	hyper := synsetsOnly
	hyper.HyperDepth = wordvec.Default.HyperDepth
	dim64 := wordvec.Default
	dim64.Dim = 64
	gloss1 := wordvec.Default
	gloss1.Gloss = 1
	settings := []struct {
		name string
		cfg  wordvec.Config
	}{
		{"synsets only", synsetsOnly},
		{"+ hypernyms (3 levels)", hyper},
		{"+ relations + glosses 0.3 (default)", wordvec.Default},
		{"default, glosses 1.0", gloss1},
		{"default, dim 64", dim64},
	}
	fmt.Println("| setting | dim | synonym MRR | synonym hit@10 | hypernym MRR | hypernym hit@10 | learn s |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, s := range settings {
		t0 := time.Now()
		v, err := wordvec.Learn(context.Background(), src, vocab, s.cfg, held)
		if err != nil {
			slog.Error("wordvec-check", "setting", s.name, "err", err)
			os.Exit(1)
		}
		el := time.Since(t0)
		r := wordvec.DefaultCheck.Evaluate(db, v, held)
		fmt.Printf("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.1f |\n", s.name, s.cfg.Dim,
			r.Synonym.MRR, r.Synonym.Hit10, r.Hypernym.MRR, r.Hypernym.Hit10, el.Seconds())
		slog.Info("pairs", "setting", s.name, "synonym", r.Synonym.Pairs, "hypernym", r.Hypernym.Pairs)
	}
	fmt.Printf("(each target ranked against %d random vocabulary words; pairs per row: see the synonym/hypernym counts below)\n", wordvec.DefaultCheck.Distractors)
}
