package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/internal/redact"
	"github.com/omnirank/omnirank/learn"
)

// trainFlags are omnirank train ranker's settings.
type trainFlags struct {
	since   time.Duration
	space   string
	out     string
	publish bool
	asJSON  bool
	cfg     learn.Config
}

// cmdTrain: omnirank train ranker [--since D] [--out FILE] [--publish].
func cmdTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL, natsCreds := streamFlags(fs)
	tf := trainFlags{cfg: learn.DefaultConfig()}
	fs.DurationVar(&tf.since, "since", 0, "train on impressions and feedback of the last DURATION (0: everything the streams keep)")
	fs.StringVar(&tf.space, "space", "", "only impressions of this space (a model has one feature layout)")
	fs.StringVar(&tf.out, "out", "", "write the model artefact (JSON) to FILE")
	fs.BoolVar(&tf.publish, "publish", false, "store the model in the ranker-models bucket: rankers hot-load it")
	fs.BoolVar(&tf.asJSON, "json", false, "print the report as JSON")
	fs.Float64Var(&tf.cfg.Lambda, "lambda", tf.cfg.Lambda, "L2 penalty λ")
	fs.Float64Var(&tf.cfg.LearningRate, "learning-rate", tf.cfg.LearningRate, "gradient step")
	fs.IntVar(&tf.cfg.MaxEpochs, "max-epochs", tf.cfg.MaxEpochs, "most passes over the training set")
	fs.Float64Var(&tf.cfg.HoldoutFraction, "holdout", tf.cfg.HoldoutFraction, "share of users, and of the latest impressions, held out")
	fs.Uint64Var(&tf.cfg.Seed, "seed", tf.cfg.Seed, "seed of the split and the shuffling")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: omnirank train ranker --nats-url URL [--since DURATION] [--space NAME] [--out FILE] [--publish] [--json]")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "ranker" {
		fs.Usage()
		return fmt.Errorf("train: want ranker")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("train ranker: unexpected arguments %v", fs.Args())
	}
	if *natsURL == "" {
		return fmt.Errorf("train ranker: --nats-url (or OMNIRANK_NATS_URL) is required")
	}
	if tf.since < 0 {
		return fmt.Errorf("train ranker: --since must be ≥ 0, got %v", tf.since)
	}
	js, closeNATS, err := connectJetStream(*natsURL, *natsCreds, "omnirank-train")
	if err != nil {
		return fmt.Errorf("train ranker: %w", err)
	}
	defer closeNATS()
	return trainRanker(ctx, js, tf, time.Now(), stdout)
}

// streamFlags defines --nats-url and --nats-creds for a command that
// reads the IMPRESSIONS and FEEDBACK streams.
func streamFlags(fs *flag.FlagSet) (url, creds *string) {
	url = fs.String("nats-url", envOr("OMNIRANK_NATS_URL", ""), "NATS server holding the IMPRESSIONS and FEEDBACK streams (required)")
	creds = fs.String("nats-creds", os.Getenv("OMNIRANK_NATS_CREDS"), "NATS .creds file")
	return url, creds
}

// connectJetStream connects to NATS (with a .creds file when given) for a
// command that reads streams; close disconnects.
func connectJetStream(url, creds, name string) (js jetstream.JetStream, close func(), err error) {
	opts := []nats.Option{nats.Name(name)}
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", redact.URL(url), err)
	}
	if js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}

// trainRanker loads, joins, trains, reports, then writes and publishes the
// model as asked.
func trainRanker(ctx context.Context, js jetstream.JetStream, tf trainFlags, now time.Time, stdout io.Writer) error {
	var from time.Time
	if tf.since > 0 {
		from = now.Add(-tf.since)
	}
	ds, ls, err := learn.Load(ctx, js, from, tf.space)
	if err != nil {
		return fmt.Errorf("train ranker: %w", err)
	}
	m, err := learn.Train(ds, tf.cfg)
	if err != nil {
		return fmt.Errorf("train ranker: %w", err)
	}
	m.Trained = now.UTC()
	if tf.out != "" {
		data, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return fmt.Errorf("train ranker: %w", err)
		}
		if err := os.WriteFile(tf.out, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("train ranker: write model: %w", err)
		}
	}
	var rev uint64
	if tf.publish {
		if rev, err = learn.Publish(ctx, js, m); err != nil {
			return fmt.Errorf("train ranker: %w", err)
		}
	}
	r := m.Report
	if tf.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			learn.Report
			Load     learn.LoadStats `json:"load"`
			Revision uint64          `json:"published_revision,omitempty"`
		}{r, ls, rev})
	}
	fmt.Fprintf(stdout, "read %d impressions, %d feedback events (%d older than --since, %d of other spaces, %d malformed)\n",
		ls.Impressions, ls.Feedback, ls.Old, ls.OtherSpace, ls.Malformed)
	fmt.Fprintf(stdout, "joined: %d impressions, %d shown, %d positives (click or better); feedback %d joined, %d without request id, %d unmatched\n",
		r.Join.Impressions, r.Join.Shown, r.Join.Positives, r.Join.Feedback, r.Join.NoRequest, r.Join.Unmatched)
	fmt.Fprintf(stdout, "split: %d impressions train, %d held out (users by hash, and from %s)\n", r.TrainImpressions, r.HeldoutImpressions, r.TimeCutoff.Format(time.RFC3339))
	fmt.Fprintf(stdout, "epochs: %d (best %d), λ %g, seed %d\n", r.Epochs, r.BestEpoch, r.Lambda, r.Seed)
	fmt.Fprintf(stdout, "log loss      base     learned\n  train    %8.4f  %8.4f\n  held-out %8.4f  %8.4f\n", r.BaseTrainLoss, r.TrainLoss, r.BaseHeldoutLoss, r.HeldoutLoss)
	fmt.Fprintf(stdout, "held-out NDCG@%d over %d impressions with a click: shown %.4f, hand weights %.4f, learned %.4f\n", r.K, r.NDCGQueries, r.NDCGShown, r.NDCGHand, r.NDCGLearned)
	fmt.Fprintln(stdout, "weights (standardised features):")
	for j, n := range m.Features {
		fmt.Fprintf(stdout, "  %-14s %+.4f\n", n, m.Weights[j])
	}
	if tf.out != "" {
		fmt.Fprintf(stdout, "model written to %s\n", tf.out)
	}
	if tf.publish {
		fmt.Fprintf(stdout, "published as revision %d; rankers hot-load it\n", rev)
	}
	return nil
}
