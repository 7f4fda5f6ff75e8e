package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/omnirank/omnirank/experiment"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/omnirank/omnirank/internal/tracing"
	"github.com/omnirank/omnirank/server"
	"github.com/omnirank/omnirank/wordnet"
)

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := server.DefaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	roles := fs.String("roles", "all", "comma-separated roles: all, ingest, extract, extract:text|image|audio|speech, fusion, ranker, api, campaign, storage (only the embedded S3 gateway, on --s3-listen); extract and all include extract:speech where PocketSphinx is available")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "folder for the embedded NATS store, the embedded bucket and credentials")
	fs.StringVar(&cfg.GRPCAddr, "grpc-addr", cfg.GRPCAddr, "gRPC listen address")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "HTTP listen address for /metrics, /healthz and, with the API roles, the console at / and the JSON/HTTP API (empty: off)")
	fs.StringVar(&cfg.NATSURL, "nats-url", envOr("OMNIRANK_NATS_URL", ""), "external NATS server; empty starts an embedded one")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", envOr("OMNIRANK_S3_ENDPOINT", ""), "external S3 endpoint host:port (or https://host: TLS); empty starts the embedded gateway")
	fs.StringVar(&cfg.S3Listen, "s3-listen", cfg.S3Listen, "where the embedded S3 gateway listens when --s3-endpoint is empty (port 0: a free one, for this process only)")
	fs.StringVar(&cfg.S3AccessKey, "s3-access-key", envOr("OMNIRANK_S3_ACCESS_KEY", ""), "S3 access key")
	fs.StringVar(&cfg.S3SecretKey, "s3-secret-key", "", "S3 secret key (default: $OMNIRANK_S3_SECRET_KEY; prefer the variable or --s3-secret-key-file, kept out of ps)")
	s3SecretFile := fs.String("s3-secret-key-file", "", "file holding the S3 secret key")
	fs.StringVar(&cfg.NATSCreds, "nats-creds", os.Getenv("OMNIRANK_NATS_CREDS"), "NATS .creds file (user JWT and NKey seed)")
	fs.StringVar(&cfg.NATSUser, "nats-user", os.Getenv("OMNIRANK_NATS_USER"), "NATS user (password from $OMNIRANK_NATS_PASSWORD or --nats-password-file)")
	natsPasswordFile := fs.String("nats-password-file", "", "file holding the NATS password")
	natsTokenFile := fs.String("nats-token-file", "", "file holding a NATS token (default: $OMNIRANK_NATS_TOKEN)")
	fs.IntVar(&cfg.NATSReplicas, "nats-replicas", cfg.NATSReplicas, "replicas of every stream and KV bucket created (existing ones keep theirs; >1 needs a NATS cluster)")
	fs.StringVar(&cfg.NATSCA, "nats-ca", "", "CA certificate (PEM) to verify a tls:// NATS server (default: the system's roots)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "server certificate (PEM): serve gRPC and HTTP over TLS")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "server key (PEM)")
	fs.StringVar(&cfg.TLSClientCA, "tls-client-ca", "", "CA (PEM) client certificates must be signed by: mutual TLS on gRPC and HTTP")
	fs.StringVar(&cfg.AuthTokens, "auth-tokens", os.Getenv("OMNIRANK_AUTH_TOKENS"), "token `file` (lines: SHA256HEX SCOPES NAME; make one with 'omnirank tokens create'); empty: no authentication")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "allow listening beyond loopback without TLS and tokens")
	fs.Float64Var(&cfg.Limits.RatePerSecond, "rate-limit", 0, "API requests per second per token (per client address without tokens); beyond it ResourceExhausted (0: off)")
	fs.IntVar(&cfg.Limits.Burst, "rate-burst", 0, "rate limit bucket size (0: the rate, at least 1)")
	fs.IntVar(&cfg.Limits.MaxRequestBytes, "max-request-bytes", cfg.Limits.MaxRequestBytes, "largest gRPC message: uploads with media and model files")
	fs.IntVar(&cfg.Limits.MaxQueryBytes, "max-query-bytes", cfg.Limits.MaxQueryBytes, "largest Recommend request (a query image or clip)")
	fs.IntVar(&cfg.Limits.MaxControlBytes, "max-control-bytes", cfg.Limits.MaxControlBytes, "largest request of every other method (admin, feedback, lookups)")
	fs.StringVar(&cfg.S3Bucket, "s3-bucket", cfg.S3Bucket, "bucket holding products, models and snapshots")
	fs.BoolVar(&cfg.S3UseTLS, "s3-tls", false, "use TLS for the external S3 endpoint")
	fs.StringVar(&cfg.Device, "device", cfg.Device, "inference device: auto, cpu or cuda")
	fs.StringVar(&cfg.ORTLibrary, "onnxruntime-lib", envOr("ONNXRUNTIME_LIB", ""), "path of libonnxruntime.so (default: the cache filled by 'make setup')")
	fs.BoolVar(&cfg.ORTSpinning, "ort-spinning", false, "let ONNX Runtime threads spin between operators")
	fs.StringVar(&cfg.WordNetDir, "wordnet", wordnet.DefaultDir, "WordNet database (Debian wordnet-base) for starter-text@2 and query expansion (empty: neither)")
	fs.BoolVar(&cfg.LearnText2, "learn-text2", true, "build and register starter-text@2 from --wordnet in the background at first start")
	fs.BoolVar(&cfg.QueryExpansion, "query-expansion", false, "add WordNet synonyms (from --wordnet) to the lexical side of text queries: better recall on synonyms, about +0.7 ms served p50 at 100k products (docs/RELEVANCE.md)")
	lexWeight := lexicalWeightFlag(fs)
	fs.StringVar(&cfg.VoiceQueries, "voice-queries", "both", "what query audio is used as when a request does not say: both (transcribed and matched by sound), speech or sound (sound: no recogniser)")
	speechOn := fs.Bool("speech", true, "PocketSphinx speech recognition: voice queries, transcripts of speech-marked audio and the catalogue's speech language model (false: off)")
	fs.IntVar(&cfg.Speech.Recognizers, "speech-recognizers", 0, "PocketSphinx recognisers per process (0: one per CPU)")
	fs.DurationVar(&cfg.Speech.Timeout, "speech-timeout", 0, "longest one transcription may take (0: 30s)")
	fs.StringVar(&cfg.Speech.Dictionary, "speech-dict", server.DefaultDictionary, "pronunciation dictionary the catalogue's speech language model takes pronunciations from")
	fs.IntVar(&cfg.IntraOpThreads, "intra-op-threads", 0, "ONNX Runtime intra-op threads per session (0: its default)")
	fs.DurationVar(&cfg.AckWait, "ack-wait", cfg.AckWait, "how long a worker may hold a message before it is redelivered")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "largest extraction batch")
	fs.IntVar(&cfg.BackfillNice, "backfill-nice", cfg.BackfillNice, "nice value (0-19, Linux) backfill batches are encoded at, so live uploads keep the CPU during a campaign (0: normal priority)")
	fs.DurationVar(&cfg.FusionWait, "fusion-wait", cfg.FusionWait, "how long fusion waits for a product's missing modalities")
	fs.IntVar(&cfg.RankerMaxInFlight, "ranker-max-in-flight", cfg.RankerMaxInFlight, "Recommend requests the ranker works on at once; more wait --ranker-queue-wait, then get ResourceExhausted (0: 4 per CPU)")
	fs.DurationVar(&cfg.RankerQueueWait, "ranker-queue-wait", cfg.RankerQueueWait, "how long a Recommend request waits for a free slot before it is refused (0: refused at once)")
	fs.Float64Var(&cfg.FeedbackLimits.UserRate, "feedback-user-rate", cfg.FeedbackLimits.UserRate, "feedback events per second per user (0: unlimited)")
	fs.IntVar(&cfg.FeedbackLimits.UserBurst, "feedback-user-burst", cfg.FeedbackLimits.UserBurst, "burst of a user's feedback rate limit")
	fs.Float64Var(&cfg.FeedbackLimits.ClientRate, "feedback-client-rate", cfg.FeedbackLimits.ClientRate, "feedback events per second per client (0: unlimited)")
	fs.IntVar(&cfg.FeedbackLimits.ClientBurst, "feedback-client-burst", cfg.FeedbackLimits.ClientBurst, "burst of a client's feedback rate limit")
	fs.Float64Var(&cfg.ImpressionSample, "impression-sample", cfg.ImpressionSample, "share of Recommend responses logged to the IMPRESSIONS stream, 0..1 (0: none)")
	fs.DurationVar(&cfg.ProfileHalfLife, "profile-half-life", cfg.ProfileHalfLife, "half-life of an interaction's weight in a user's profile")
	fs.DurationVar(&cfg.SessionWindow, "session-window", cfg.SessionWindow, "a user's events this close before their newest are their session; also the co-occurrence and next-item window")
	fs.Float64Var(&cfg.SessionBoost, "session-boost", cfg.SessionBoost, "how many times more a user's latest session weighs in their profile than older history (1: no boost)")
	experimentFile := fs.String("experiment", "", "A/B experiment file (YAML or JSON: name, two arms with share, scorer, space, mmr_lambda, lexical_weight; docs/FEEDBACK.md)")
	fs.DurationVar(&cfg.FeedbackClockSkew, "feedback-clock-skew", cfg.FeedbackClockSkew, "how far in the future a feedback event may be dated")
	fs.DurationVar(&cfg.SnapshotEvery, "snapshot-every", cfg.SnapshotEvery, "how often the ranker snapshots its indexes to the bucket (0: never)")
	fs.DurationVar(&cfg.ReconcileEvery, "reconcile-every", cfg.ReconcileEvery, "how often to re-list the bucket for missed events (0: only at start)")
	fs.IntVar(&cfg.CampaignWindow, "campaign-window", 0, "most backfill jobs a campaign lets wait in the queue (0: 128)")
	fs.StringVar(&cfg.Trace.Exporter, "trace-exporter", envOr("OMNIRANK_TRACE_EXPORTER", cfg.Trace.Exporter),
		"where spans go: "+strings.Join(tracing.Exporters, ", ")+" (none: no tracing; docs/OPERATIONS.md, Traces and metrics)")
	fs.StringVar(&cfg.Trace.Endpoint, "trace-endpoint", os.Getenv("OMNIRANK_TRACE_ENDPOINT"), "OTLP collector: host:port (TLS) or an http:// or https:// URL (default: $OTEL_EXPORTER_OTLP_ENDPOINT, else the exporter's localhost default)")
	fs.Float64Var(&cfg.Trace.SampleRatio, "trace-sample", cfg.Trace.SampleRatio, "share of new traces recorded, 0..1 (a traced caller's decision is followed)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Speech.Off = !*speechOn
	cfg.LexicalWeight = lexWeight()
	if *experimentFile != "" {
		e, err := experiment.ReadFile(*experimentFile)
		if err != nil {
			return fmt.Errorf("--experiment: %w", err)
		}
		cfg.Experiment = &e
	}
	var err error
	if cfg.S3SecretKey, err = secret(cfg.S3SecretKey, *s3SecretFile, "OMNIRANK_S3_SECRET_KEY"); err != nil {
		return fmt.Errorf("--s3-secret-key-file: %w", err)
	}
	if cfg.NATSPassword, err = secret("", *natsPasswordFile, "OMNIRANK_NATS_PASSWORD"); err != nil {
		return fmt.Errorf("--nats-password-file: %w", err)
	}
	if cfg.NATSToken, err = secret("", *natsTokenFile, "OMNIRANK_NATS_TOKEN"); err != nil {
		return fmt.Errorf("--nats-token-file: %w", err)
	}
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

// secret is a credential: the flag's value, else the file's content
// (trimmed), else the environment variable's value.
func secret(flagValue, file, env string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	return os.Getenv(env), nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
