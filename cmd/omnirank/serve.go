package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/omnirank/omnirank/server"
	"github.com/omnirank/omnirank/wordnet"
)

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := server.DefaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	roles := fs.String("roles", "all", "comma-separated roles: all, ingest, extract, extract:text|image|audio, fusion, ranker, api, campaign")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "folder for the embedded NATS store, the embedded bucket and credentials")
	fs.StringVar(&cfg.GRPCAddr, "grpc-addr", cfg.GRPCAddr, "gRPC listen address")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "HTTP listen address for /metrics and /healthz (empty: off)")
	fs.StringVar(&cfg.NATSURL, "nats-url", envOr("OMNIRANK_NATS_URL", ""), "external NATS server; empty starts an embedded one")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", envOr("OMNIRANK_S3_ENDPOINT", ""), "external S3 endpoint host:port; empty starts the embedded gateway")
	fs.StringVar(&cfg.S3AccessKey, "s3-access-key", envOr("OMNIRANK_S3_ACCESS_KEY", ""), "S3 access key")
	fs.StringVar(&cfg.S3SecretKey, "s3-secret-key", envOr("OMNIRANK_S3_SECRET_KEY", ""), "S3 secret key")
	fs.StringVar(&cfg.S3Bucket, "s3-bucket", cfg.S3Bucket, "bucket holding products, models and snapshots")
	fs.BoolVar(&cfg.S3UseTLS, "s3-tls", false, "use TLS for the external S3 endpoint")
	fs.StringVar(&cfg.Device, "device", cfg.Device, "inference device: auto, cpu or cuda")
	fs.StringVar(&cfg.ORTLibrary, "onnxruntime-lib", envOr("ONNXRUNTIME_LIB", ""), "path of libonnxruntime.so (default: the cache filled by 'make setup')")
	fs.BoolVar(&cfg.ORTSpinning, "ort-spinning", false, "let ONNX Runtime threads spin between operators")
	fs.StringVar(&cfg.WordNetDir, "wordnet", wordnet.DefaultDir, "WordNet database (Debian wordnet-base) for starter-text@2 and query expansion (empty: neither)")
	fs.BoolVar(&cfg.LearnText2, "learn-text2", true, "build and register starter-text@2 from --wordnet in the background at first start")
	fs.BoolVar(&cfg.QueryExpansion, "query-expansion", true, "add WordNet synonyms (from --wordnet) to the lexical side of text queries")
	lexWeight := lexicalWeightFlag(fs)
	fs.IntVar(&cfg.IntraOpThreads, "intra-op-threads", 0, "ONNX Runtime intra-op threads per session (0: its default)")
	fs.DurationVar(&cfg.AckWait, "ack-wait", cfg.AckWait, "how long a worker may hold a message before it is redelivered")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "largest extraction batch")
	fs.DurationVar(&cfg.FusionWait, "fusion-wait", cfg.FusionWait, "how long fusion waits for a product's missing modalities")
	fs.IntVar(&cfg.RankerMaxInFlight, "ranker-max-in-flight", cfg.RankerMaxInFlight, "Recommend requests the ranker works on at once; more wait --ranker-queue-wait, then get ResourceExhausted (0: 4 per CPU)")
	fs.DurationVar(&cfg.RankerQueueWait, "ranker-queue-wait", cfg.RankerQueueWait, "how long a Recommend request waits for a free slot before it is refused (0: refused at once)")
	fs.DurationVar(&cfg.SnapshotEvery, "snapshot-every", cfg.SnapshotEvery, "how often the ranker snapshots its indexes to the bucket (0: never)")
	fs.DurationVar(&cfg.ReconcileEvery, "reconcile-every", cfg.ReconcileEvery, "how often to re-list the bucket for missed events (0: only at start)")
	fs.IntVar(&cfg.CampaignWindow, "campaign-window", 0, "most backfill jobs a campaign lets wait in the queue (0: 128)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.LexicalWeight = lexWeight()
	var err error
	if cfg.Roles, err = server.ParseRoles(*roles); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info("omnirank serving", "roles", *roles, "grpc", srv.GRPCAddr(), "http", srv.HTTPAddr())
	<-ctx.Done()
	cfg.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Close(sctx)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
