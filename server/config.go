// Package server wires omnirank's roles into one process: it starts the
// embedded NATS server and S3 gateway when no external ones are given,
// declares the topology, loads the encoders and runs the roles chosen by
// Config.Roles (the Loki/Mimir pattern: one binary, roles by flag). It holds
// no business logic of its own.
package server

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/omnirank/omnirank/auth"
	"github.com/omnirank/omnirank/experiment"
	"github.com/omnirank/omnirank/extractors/transcribe"
	"github.com/omnirank/omnirank/extractors/worker"
	"github.com/omnirank/omnirank/internal/tracing"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/topology"
)

// Role names. RoleAll runs every role in one process.
const (
	RoleAll     = "all"
	RoleIngest  = "ingest"
	RoleExtract = "extract" // every modality; "extract:text" etc. for one
	// RoleSpeech transcribes product audio marked as speech (package
	// transcribe). "extract" and "all" include it only where speech
	// recognition is available (speech.Available); named alone, a process
	// without it refuses to start.
	RoleSpeech = RoleExtract + ":" + topology.SpeechModality
	RoleFusion = "fusion"
	RoleRanker = "ranker"
	RoleAPI    = "api" // CatalogService and AdminService without a ranker
	// RoleCampaign drives re-embedding campaigns (the state is in NATS:
	// any number may run, and a restarted one continues).
	RoleCampaign = "campaign"
	// RoleStorage runs no pipeline work: with no --s3-endpoint the process
	// serves the embedded S3 gateway on S3Listen and publishes its S3
	// events to NATSURL, so role processes on other hosts (or ports) use
	// it as their --s3-endpoint. Every process without --s3-endpoint runs
	// the gateway; this role names a process that does only that.
	RoleStorage = "storage"
)

// Config is everything `omnirank serve` takes.
type Config struct {
	Roles    []string
	DataDir  string
	GRPCAddr string
	HTTPAddr string

	// NATSURL of an external NATS server; empty starts an embedded one
	// with JetStream under DataDir/nats.
	NATSURL string
	// NATS credentials (all optional, never logged): a .creds file
	// (JWT + NKey), a user and password, or a token. NATSCA verifies a
	// tls:// NATS server against this CA instead of the system roots.
	NATSCreds, NATSUser, NATSPassword, NATSToken, NATSCA string
	// NATSReplicas is the replica count of every stream and KV bucket the
	// process creates (topology.Ensure); existing ones keep theirs and a
	// difference is logged. More than 1 needs a NATS cluster (NATSURL).
	NATSReplicas int
	// S3Endpoint (host:port, or an https:// or http:// URL, which sets or
	// clears S3UseTLS) of an external S3 store; empty starts the
	// embedded gateway over DataDir/objects.
	S3Endpoint  string
	S3AccessKey string
	S3SecretKey string
	S3Bucket    string
	S3UseTLS    bool
	S3Region    string
	// S3Listen is where the embedded gateway listens when S3Endpoint is
	// empty (host:port; port 0 picks one, reachable only by this process).
	S3Listen string

	// Device is auto, cpu or cuda.
	Device string
	// ORTLibrary is the path of libonnxruntime; empty searches the usual places.
	ORTLibrary string
	// IntraOpThreads per ONNX Runtime session (0 = ONNX Runtime's default).
	IntraOpThreads int
	// ORTSpinning lets ONNX Runtime's threads spin between operators:
	// faster alone on a machine, slower when preprocessing needs the cores.
	ORTSpinning bool
	// FusionWait is how long fusion waits for missing modalities.
	FusionWait time.Duration
	// ReconcileEvery re-lists the bucket to repair lost events (0 = only at start).
	ReconcileEvery time.Duration
	// SnapshotEvery is how often the ranker writes its indexes to the
	// bucket (0 = never); a restarted ranker loads the newest snapshot and
	// replays only the embeddings published after it.
	SnapshotEvery time.Duration
	// RankerMaxInFlight bounds the Recommend requests the ranker works on
	// at once (0: ranker.DefaultMaxInFlight, four per CPU); RankerQueueWait
	// is how long a request waits for a slot before it is refused with
	// ResourceExhausted (0: refused at once).
	RankerMaxInFlight int
	RankerQueueWait   time.Duration
	// BatchSize is the extractors' largest batch.
	BatchSize int
	// BackfillNice is the nice value (0..19, Linux) of the thread that
	// encodes a backfill batch: live uploads keep the cores during a
	// re-embedding campaign, at some cost to its rate (docs/BENCHMARKS.md,
	// Re-embedding campaign). 0 runs backfill at normal priority.
	BackfillNice int
	// SpeechTranscriber, when set, transcribes for role extract:speech
	// instead of a PocketSphinx pool (another recogniser; tests), and the
	// role runs whether or not PocketSphinx is available.
	SpeechTranscriber transcribe.Transcriber
	// CampaignWindow is the most backfill jobs a campaign lets wait in
	// the queue (0: the controller's default).
	CampaignWindow int
	// AckWait is how long a consumer may hold a message before JetStream
	// redelivers it (to another worker, or to this one after a crash).
	AckWait time.Duration

	// WordNetDir is the WordNet 3.0 database (Debian wordnet-base) that
	// LearnText2 and QueryExpansion read; empty turns both off.
	WordNetDir string
	// LearnText2 builds starter-text@2 from WordNetDir and registers it in
	// the background at first start (tens of seconds of CPU; skipped when
	// the bucket already holds it). The model is registered only: no space
	// uses it until a re-embedding campaign adopts it.
	LearnText2 bool
	// QueryExpansion adds WordNet synonyms (from WordNetDir) to the lexical
	// side of text queries: "couch" also finds "sofa" titles.
	QueryExpansion bool
	// LexicalWeight, when set, is the ranker's default lexical share of a
	// text query's hybrid ranking (0..1); requests may override it.
	LexicalWeight *float32

	// Transport security and access control (package auth). TLSCert and
	// TLSKey serve gRPC and HTTP over TLS; TLSClientCA also requires client
	// certificates signed by it (mutual TLS). AuthTokens is a token file
	// (auth.LoadTokens); empty leaves the API open. Insecure allows a
	// non-loopback listener without TLS and tokens.
	TLSCert, TLSKey, TLSClientCA string
	AuthTokens                   string
	Insecure                     bool
	// Limits are the API's request-size caps and per-token rate limit.
	Limits auth.Limits

	// Learning from shoppers (issue 12). FeedbackLimits are Record's
	// per-user and per-client rate limits; FeedbackClockSkew is how far in
	// the future a feedback event may be dated.
	FeedbackLimits    ranker.FeedbackLimits
	FeedbackClockSkew time.Duration
	// ImpressionSample is the share of Recommend responses logged to the
	// IMPRESSIONS stream (0..1; 0 logs none).
	ImpressionSample float64
	// ProfileHalfLife is the half-life of an event's weight in a user's
	// profile; SessionWindow how far before a user's newest event their
	// session reaches (also the co-occurrence and next-item window);
	// SessionBoost how much more the session weighs in the profile.
	ProfileHalfLife time.Duration
	SessionWindow   time.Duration
	SessionBoost    float64
	// Experiment, when set, splits Recommend traffic between its two arms
	// (serve --experiment FILE).
	Experiment *experiment.Config

	// Trace chooses the span exporter (--trace-exporter, --trace-endpoint,
	// --trace-sample); the zero value records nothing. TracerProvider,
	// when set, is used instead (tests: an SDK provider with a span
	// recorder) and is not shut down by the server.
	Trace          tracing.Config
	TracerProvider trace.TracerProvider

	// Voice search (issue 16). VoiceQueries is what query audio is used as
	// when a request does not say: "both" (default), "speech" or "sound";
	// "sound" gives the ranker no recogniser at all. Speech is the
	// recogniser pool's configuration (PocketSphinx; see SpeechConfig).
	VoiceQueries string
	Speech       SpeechConfig

	// Logger receives every role's logs, wrapped so that lines logged
	// with a traced context carry trace_id and span_id.
	Logger *slog.Logger
}

// Validate checks the configuration; in particular it refuses to expose the
// API beyond loopback without TLS and tokens unless Insecure is set.
func (c Config) Validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("TLS needs both --tls-cert and --tls-key")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		return fmt.Errorf("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key")
	}
	if err := c.Trace.Validate(); err != nil {
		return err
	}
	if err := c.Limits.Validate(); err != nil {
		return err
	}
	if c.NATSReplicas < 0 || c.NATSReplicas > 5 {
		return fmt.Errorf("--nats-replicas %d: want 1..5", c.NATSReplicas)
	}
	if c.NATSReplicas > 1 && c.NATSURL == "" {
		return fmt.Errorf("--nats-replicas %d needs a NATS cluster (--nats-url): the embedded server is a single node", c.NATSReplicas)
	}
	if slices.Contains(c.Roles, RoleStorage) && c.S3Endpoint != "" {
		return fmt.Errorf("role %s serves the embedded S3 gateway: it takes --s3-listen, not --s3-endpoint", RoleStorage)
	}
	if c.Insecure {
		return nil
	}
	var exposed []string
	if c.servesAPI() && !auth.IsLoopback(c.GRPCAddr) {
		exposed = append(exposed, "gRPC "+c.GRPCAddr)
	}
	if c.HTTPAddr != "" && !auth.IsLoopback(c.HTTPAddr) {
		exposed = append(exposed, "HTTP "+c.HTTPAddr)
	}
	if c.S3Endpoint == "" && c.S3Listen != "" && !auth.IsLoopback(c.S3Listen) {
		// The embedded gateway checks S3 signatures but speaks plain HTTP.
		return fmt.Errorf("refusing to serve the embedded S3 gateway on %s beyond loopback: it speaks plain HTTP; "+
			"listen on 127.0.0.1, use an external S3 store (--s3-endpoint), or pass --insecure to accept the risk", c.S3Listen)
	}
	var missing []string
	if c.TLSCert == "" {
		missing = append(missing, "TLS (--tls-cert, --tls-key)")
	}
	if c.AuthTokens == "" {
		missing = append(missing, "tokens (--auth-tokens)")
	}
	if len(exposed) > 0 && len(missing) > 0 {
		return fmt.Errorf("refusing to serve %s beyond loopback without %s: anyone who reaches it could change the catalogue; "+
			"give them (docs/SECURITY.md), listen on 127.0.0.1, or pass --insecure to accept the risk",
			strings.Join(exposed, " and "), strings.Join(missing, " and "))
	}
	return nil
}

// s3Endpoint is S3Endpoint without a scheme and whether to use TLS.
func (c Config) s3Endpoint() (hostPort string, useTLS bool) {
	if h, ok := strings.CutPrefix(c.S3Endpoint, "https://"); ok {
		return strings.TrimSuffix(h, "/"), true
	}
	if h, ok := strings.CutPrefix(c.S3Endpoint, "http://"); ok {
		return strings.TrimSuffix(h, "/"), false
	}
	return c.S3Endpoint, c.S3UseTLS
}

func (c Config) servesAPI() bool { return c.has(RoleRanker) || c.has(RoleAPI) }

// DefaultConfig is the zero-config laptop setup.
func DefaultConfig() Config {
	return Config{
		Roles: []string{RoleAll}, DataDir: "./data", GRPCAddr: "127.0.0.1:50051", HTTPAddr: "127.0.0.1:8080",
		S3Bucket: "omnirank", S3Region: "us-east-1", S3Listen: "127.0.0.1:0", Device: "auto", FusionWait: 3 * time.Second,
		ReconcileEvery: 10 * time.Minute, SnapshotEvery: 10 * time.Minute, BatchSize: 16, AckWait: 30 * time.Second,
		BackfillNice: worker.DefaultBackfillNice, RankerQueueWait: ranker.DefaultQueueWait, Limits: auth.DefaultLimits(),
		NATSReplicas: 1, Trace: tracing.Config{Exporter: tracing.ExporterNone, SampleRatio: 1},
		FeedbackLimits: ranker.DefaultFeedbackLimits(), FeedbackClockSkew: ranker.DefaultFeedbackClockSkew, ImpressionSample: 1,
		ProfileHalfLife: ranker.DefaultProfileHalfLife, SessionWindow: ranker.DefaultSessionWindow, SessionBoost: ranker.DefaultSessionBoost,
	}
}

var knownRoles = []string{RoleAll, RoleIngest, RoleExtract, RoleFusion, RoleRanker, RoleAPI, RoleCampaign, RoleStorage,
	RoleExtract + ":text", RoleExtract + ":image", RoleExtract + ":audio", RoleSpeech}

// ParseRoles splits a comma-separated role list and checks every name.
func ParseRoles(s string) ([]string, error) {
	var out []string
	for r := range strings.SplitSeq(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !slices.Contains(knownRoles, r) {
			return nil, fmt.Errorf("unknown role %q (known: %s)", r, strings.Join(knownRoles, ", "))
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no role given")
	}
	return out, nil
}

func (c Config) has(role string) bool {
	return slices.Contains(c.Roles, RoleAll) || slices.Contains(c.Roles, role)
}

// extractModalities are the modalities this process extracts.
func (c Config) extractModalities() []string {
	if c.has(RoleExtract) {
		return topology.Modalities
	}
	var out []string
	for _, r := range c.Roles {
		if m, ok := strings.CutPrefix(r, RoleExtract+":"); ok && r != RoleSpeech {
			out = append(out, m)
		}
	}
	return out
}

// speechRole says whether this process runs extract:speech: named
// (explicit: it must run), or within "extract" or "all" (where it runs
// only if speech recognition is available).
func (c Config) speechRole() (run, explicit bool) {
	if slices.Contains(c.Roles, RoleSpeech) {
		return true, true
	}
	return c.has(RoleExtract), false
}
