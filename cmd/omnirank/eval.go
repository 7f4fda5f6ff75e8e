package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/omnirank/omnirank/eval"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// cmdEval runs a labelled query file against RankerService and prints
// Recall@k, NDCG@k and MRR@k per query kind and overall.
func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaults := eval.DefaultConfig()
	client := addClientFlags(fs)
	queries := fs.String("queries", "", "labelled query file (JSONL: id, text/image/audio/like/user, relevant)")
	space := fs.String("space", "", "embedding space to evaluate (default: the active one)")
	k := fs.Int("k", defaults.K, "results asked for and scored per query")
	asJSON := fs.Bool("json", false, "print one JSON object")
	perQuery := fs.Bool("per-query", false, "with --json: add every query's ranked ids, metrics and error (per_query)")
	concurrency := fs.Int("concurrency", defaults.Concurrency, "queries in flight at once")
	timeout := fs.Duration("timeout", defaults.Timeout, "limit per query, retries included")
	lexWeight := lexicalWeightFlag(fs)
	audioMode := fs.String("audio-mode", "", "what audio queries are used as: speech, sound or both (default: the server's); spoken queries with a 'said' reference also get a word error rate")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: omnirank eval --queries FILE [--space NAME] [-k 10] [--lexical-weight W] [--audio-mode speech|sound|both] [--json [--per-query]] [--addr A]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *queries == "" || fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("eval: give --queries FILE and no other arguments")
	}
	cfg := defaults
	cfg.Space, cfg.K, cfg.Concurrency, cfg.Timeout = *space, *k, *concurrency, *timeout
	cfg.LexicalWeight = lexWeight()
	mode, err := parseAudioMode(*audioMode)
	if err != nil {
		return err
	}
	cfg.AudioMode = mode
	if err := cfg.Validate(); err != nil {
		return err
	}
	qs, err := eval.ReadQueryFile(*queries)
	if err != nil {
		return err
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := eval.Run(ctx, pb.NewRankerServiceClient(conn), qs, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		out := res
		if !*perQuery {
			out.PerQuery = nil
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
		for _, q := range res.PerQuery {
			if q.Failed() {
				fmt.Fprintf(stderr, "failed %s (%s): %s\n", q.ID, q.Kind, q.Error)
			}
		}
	} else if err := eval.WriteTable(stdout, res); err != nil {
		return err
	}
	if res.Failed > 0 {
		return fmt.Errorf("eval: %d of %d queries failed", res.Failed, res.Queries)
	}
	return nil
}

// lexicalWeightFlag defines --lexical-weight on fs and returns what it was
// set to after parsing, or nil when it was not given (the ranker's default).
func lexicalWeightFlag(fs *flag.FlagSet) func() *float32 {
	w := fs.Float64("lexical-weight", 0, "lexical (BM25) share of text queries' hybrid ranking, 0..1: 0 vector only, 1 lexical only (unset: the server's default)")
	return func() *float32 {
		var out *float32
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "lexical-weight" {
				v := float32(*w)
				out = &v
			}
		})
		return out
	}
}
