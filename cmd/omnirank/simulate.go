package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/sim"
)

// cmdSimulate: omnirank simulate --users N --duration D (--query T | --like ID)...
func cmdSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := addClientFlags(fs)
	cfg := sim.Config{K: 10}
	var queries, likes, cats, mods stringList
	fs.IntVar(&cfg.Users, "users", 100, "synthetic shoppers")
	fs.IntVar(&cfg.Requests, "requests", 10, "Recommend calls per shopper")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: when every shopper made --requests)")
	fs.Var(&queries, "query", "a query text shoppers search with (repeatable)")
	fs.Var(&likes, "like", "a product id shoppers browse similar products of (repeatable)")
	fs.Var(&cats, "category", "a top-level category tastes are drawn from (repeatable)")
	fs.Var(&mods, "modality", "a modality whose similarity shoppers may like (repeatable; default text and image)")
	fs.IntVar(&cfg.K, "k", cfg.K, "page size")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the shoppers' tastes and choices")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: omnirank simulate [--users N] [--requests R] [--duration D] (--query TEXT | --like ID)... [--category C]... [--modality M]...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("simulate: unexpected arguments %v", fs.Args())
	}
	cfg.Queries, cfg.Likes, cfg.Categories, cfg.Modalities = queries, likes, cats, mods
	if len(cfg.Modalities) == 0 {
		cfg.Modalities = []string{"text", "image"}
	}
	conn, err := client.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	cfg.Ranker, cfg.Feedback = pb.NewRankerServiceClient(conn), pb.NewFeedbackServiceClient(conn)
	start := time.Now()
	st, err := sim.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	fmt.Fprintf(stdout, "%d requests in %s (%d failed), %d products shown: %d views, %d clicks, %d carts, %d purchases; %d Record calls rejected\n",
		st.Requests, time.Since(start).Round(time.Millisecond), st.RecommendErrors, st.Shown, st.Views, st.Clicks, st.Carts, st.Purchases, st.RejectedRecords)
	return nil
}
