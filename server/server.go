package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/omnirank/omnirank/experiment"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/omnirank/omnirank/api"
	"github.com/omnirank/omnirank/auth"
	"github.com/omnirank/omnirank/campaign"
	"github.com/omnirank/omnirank/console"
	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/speech"
	"github.com/omnirank/omnirank/extractors/transcribe"
	"github.com/omnirank/omnirank/extractors/worker"
	"github.com/omnirank/omnirank/fusion"
	"github.com/omnirank/omnirank/httpapi"
	"github.com/omnirank/omnirank/ingest"
	"github.com/omnirank/omnirank/internal/redact"
	"github.com/omnirank/omnirank/internal/tracing"
	"github.com/omnirank/omnirank/learn"
	"github.com/omnirank/omnirank/metrics"
	"github.com/omnirank/omnirank/natsembed"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/storage/s3gw"
	"github.com/omnirank/omnirank/topology"
	"github.com/omnirank/omnirank/wordnet"
)

// Server is a running omnirank process.
type Server struct {
	cfg   Config
	log   *slog.Logger
	nats  *natsembed.Server
	gw    *s3gw.Gateway
	nc    *nats.Conn
	js    jetstream.JetStream
	store *storage.S3Store
	encs  *Encoders
	rank  *ranker.Ranker
	grpc  *grpc.Server
	http  *http.Server
	hlth  *health.Server
	reg   *prometheus.Registry
	pipe  *metrics.Pipeline
	guard *auth.Guard
	tls   *tls.Config // nil: plaintext
	// traces is the provider Start built from cfg.Trace (shut down by
	// Close); tp is the one the roles use (cfg.TracerProvider if given).
	traces *tracing.Provider
	tp     trace.TracerProvider
	// voice is the process's speech recogniser pool, shared by the roles
	// that transcribe (see speech.go); nil until one asks for it.
	voice voicePool
	// lmFollow starts the language model's follower once per process.
	lmFollow sync.Once

	grpcAddr, httpAddr string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errMu  sync.Mutex
	err    error
}

// Start brings up the configured roles and returns once they serve.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The embedded S3 gateway changes the working directory (see s3gw), so
	// every path is made absolute first.
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	cfg.DataDir = abs
	if cfg.ORTLibrary != "" {
		if cfg.ORTLibrary, err = filepath.Abs(cfg.ORTLibrary); err != nil {
			return nil, fmt.Errorf("onnxruntime library: %w", err)
		}
	}
	s := &Server{cfg: cfg, log: slog.New(tracing.LogHandler(cfg.Logger.Handler())), reg: prometheus.NewRegistry()}
	s.cfg.Logger = s.log
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.pipe = metrics.NewPipeline(s.reg)
	if err := s.setupSecurity(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.closeInfra()
			if serr := s.traces.Shutdown(context.WithoutCancel(ctx)); serr != nil {
				s.log.Warn("tracing shutdown", "err", serr)
			}
		}
	}()
	if err := s.setupTracing(ctx); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	natsURL := cfg.NATSURL
	if natsURL == "" {
		s.nats, err = natsembed.Start(natsembed.Config{StoreDir: filepath.Join(cfg.DataDir, "nats"), Logger: s.log})
		if err != nil {
			return nil, err
		}
		natsURL = s.nats.URL()
	}
	s.nc, err = nats.Connect(natsURL, natsOptions(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redact.URL(natsURL), err)
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	topo := topology.DefaultOptions()
	topo.Replicas = max(cfg.NATSReplicas, 1)
	if cfg.AckWait > 0 {
		topo.AckWait = cfg.AckWait
	}
	if err := topology.Ensure(ctx, s.js, topo, topology.Modalities); err != nil {
		return nil, err
	}
	mismatches, err := topology.ReplicaMismatches(ctx, s.js, topo)
	if err != nil {
		return nil, err
	}
	for _, m := range mismatches {
		s.log.Warn("replica count differs from --nats-replicas; kept (scale with `nats stream edit STREAM --replicas N`)",
			"kind", m.Kind, "name", m.Name, "have", m.Have, "want", m.Want)
	}
	s.reg.MustRegister(metrics.NewLagCollector(s.js))

	s3Host, s3TLS := cfg.s3Endpoint()
	s3cfg := storage.S3Config{Endpoint: s3Host, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
		Bucket: cfg.S3Bucket, Region: cfg.S3Region, UseTLS: s3TLS}
	if cfg.S3Endpoint == "" {
		access, secret, err := s3gw.LoadOrCreateCredentials(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		s.gw, err = s3gw.Start(ctx, s3gw.Config{Dir: filepath.Join(cfg.DataDir, "objects"), Addr: cfg.S3Listen,
			AccessKey: access, SecretKey: secret, NatsURL: natsURL, NatsTopic: topology.S3EventsSubject,
			NatsOptions: natsOptions(cfg), Logger: s.log})
		if err != nil {
			return nil, err
		}
		s3cfg.Endpoint, s3cfg.AccessKey, s3cfg.SecretKey, s3cfg.UseTLS = s.gw.Endpoint(), access, secret, false
	}
	var sopts []storage.S3Option
	if s.tracing() {
		// Object writes carry the writer's span to the S3 event (s3gw
		// copies traceparent into it), so ingest continues an upload's trace.
		sopts = append(sopts, storage.WithTransportWrapper(tracing.Transport))
	}
	if s.store, err = storage.NewS3Store(ctx, s3cfg, sopts...); err != nil {
		return nil, err
	}

	if s.encs, err = NewEncoders(ctx, s.store, cfg, s.reg, s.log); err != nil {
		return nil, err
	}
	if err := ensureDefaultSpace(ctx, s.js, s.encs); err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if err := s.startRoles(runCtx); err != nil {
		cancel() // stops the roles started so far
		return nil, err
	}
	return s, nil
}

func (s *Server) startRoles(ctx context.Context) error {
	cfg := s.cfg
	// First: it may refuse to start (no recogniser) before any role runs.
	if err := s.startSpeech(ctx); err != nil {
		return err
	}
	if cfg.has(RoleIngest) {
		in, err := ingest.New(ctx, s.js, s.store, ingest.WithLogger(s.log), ingest.WithMetrics(s.pipe), ingest.WithTracerProvider(s.tp))
		if err != nil {
			return err
		}
		s.goRole("ingest", func(ctx context.Context) error {
			if n, err := in.Reconcile(ctx); err != nil {
				s.log.Warn("reconcile at start", "err", err)
			} else {
				s.log.Info("reconciled bucket at start", "products", n)
			}
			go s.reconcileLoop(ctx, in)
			return in.Run(ctx)
		}, ctx)
		if err := s.startSpeechLM(ctx); err != nil {
			return err
		}
	}
	for _, m := range cfg.extractModalities() {
		mod, err := extractors.ParseModality(m)
		if err != nil {
			return err
		}
		w, err := worker.New(ctx, s.js, s.store, s.encs, mod, worker.WithLogger(s.log), worker.WithBatchSize(cfg.BatchSize), worker.WithMetrics(s.pipe),
			worker.WithTracerProvider(s.tp), worker.WithBackfillNice(cfg.BackfillNice))
		if err != nil {
			return err
		}
		s.goRole("extract:"+m, w.Run, ctx)
	}
	if cfg.has(RoleFusion) {
		f, err := fusion.New(ctx, s.js, fusion.WithWait(cfg.FusionWait), fusion.WithLogger(s.log), fusion.WithMetrics(s.pipe), fusion.WithTracerProvider(s.tp))
		if err != nil {
			return err
		}
		s.goRole("fusion", f.Run, ctx)
	}
	if cfg.has(RoleCampaign) {
		copts := []campaign.Option{campaign.WithLogger(s.log), campaign.WithMetrics(metrics.NewCampaign(s.reg))}
		if cfg.CampaignWindow > 0 {
			copts = append(copts, campaign.WithWindow(cfg.CampaignWindow))
		}
		ctl, err := campaign.NewController(ctx, s.js, copts...)
		if err != nil {
			return err
		}
		s.goRole("campaign", ctl.Run, ctx)
	}
	if cfg.has(RoleRanker) {
		ropts := []ranker.Option{ranker.WithLogger(s.log), ranker.WithMetrics(s.reg), ranker.WithQueueWait(cfg.RankerQueueWait),
			ranker.WithFeedbackLimits(cfg.FeedbackLimits), ranker.WithFeedbackClockSkew(cfg.FeedbackClockSkew), ranker.WithImpressions(cfg.ImpressionSample),
			ranker.WithTracerProvider(s.tp),
			ranker.WithProfileHalfLife(cfg.ProfileHalfLife), ranker.WithSessionWindow(cfg.SessionWindow), ranker.WithSessionBoost(cfg.SessionBoost)}
		if cfg.RankerMaxInFlight > 0 {
			ropts = append(ropts, ranker.WithMaxInFlight(cfg.RankerMaxInFlight))
		}
		if cfg.SnapshotEvery > 0 {
			ropts = append(ropts, ranker.WithSnapshots(s.store, cfg.SnapshotEvery))
		}
		if cfg.LexicalWeight != nil {
			ropts = append(ropts, ranker.WithLexicalWeight(*cfg.LexicalWeight))
		}
		if cfg.QueryExpansion && cfg.WordNetDir != "" {
			exp, err := openQueryExpander(cfg.WordNetDir, s.log)
			switch {
			case errors.Is(err, wordnet.ErrMissing):
				s.log.Warn("query expansion off: WordNet is not installed (Debian package wordnet-base)", "dir", cfg.WordNetDir)
			case err != nil:
				return err
			default:
				ropts = append(ropts, ranker.WithQueryExpander(exp))
			}
		}
		if cfg.Experiment != nil {
			e, err := experimentScorers(ctx, s.js, *cfg.Experiment)
			if err != nil {
				return err
			}
			ropts = append(ropts, ranker.WithExperiment(e))
		}
		vopts, err := s.voiceQueryOptions(ctx)
		if err != nil {
			return err
		}
		r, err := ranker.New(s.js, s.encs, append(ropts, vopts...)...)
		if err != nil {
			return err
		}
		if err := r.Start(ctx); err != nil {
			return err
		}
		s.rank = r
		// Hot-load the newest learned ranker model (omnirank train ranker
		// --publish); none published: the hand weights.
		s.goRole("ranker-model", func(ctx context.Context) error {
			return learn.Follow(ctx, s.js, r.SetScorer, s.log.With("component", "ranker-model"))
		}, ctx)
	}
	if cfg.has(RoleRanker) || cfg.has(RoleAPI) {
		if err := s.startAPI(ctx); err != nil {
			return err
		}
	}
	return s.startHTTP()
}

// startSpeech starts role extract:speech where the configuration asks for
// it: with Config.SpeechTranscriber, or the process's PocketSphinx pool
// (shared with voice queries) when speech recognition is available and
// on. Named alone (--roles=extract:speech) without it, the process refuses
// to start; within "extract" or "all" the role is skipped with a warning.
func (s *Server) startSpeech(ctx context.Context) error {
	cfg := s.cfg
	run, explicit := cfg.speechRole()
	if !run {
		return nil
	}
	tr := cfg.SpeechTranscriber
	// Transcription takes at most half the recognisers, so that voice
	// queries sharing the pool always find one free.
	workers := max(1, cmp.Or(cfg.Speech.Recognizers, runtime.GOMAXPROCS(0))/2)
	if tr == nil {
		err := speech.Available()
		if err == nil && cfg.Speech.Off {
			err = fmt.Errorf("%w: turned off (--speech=false)", speech.ErrUnavailable)
		}
		var pool *speech.Pool
		if err == nil {
			pool, err = s.voice.get(cfg.Speech, s.log, func() *speech.LanguageModel { return s.initialSpeechLM(ctx) })
		}
		switch {
		case errors.Is(err, speech.ErrUnavailable) && !explicit:
			s.log.Warn("role "+RoleSpeech+" skipped: speech recognition is unavailable; speech-marked audio is not transcribed", "err", err)
			return nil
		case errors.Is(err, speech.ErrUnavailable):
			return fmt.Errorf("role %s: %w (it needs a cgo build with PocketSphinx: Debian libpocketsphinx-dev and pocketsphinx-en-us)", RoleSpeech, err)
		case err != nil:
			return fmt.Errorf("role %s: %w", RoleSpeech, err)
		}
		s.followSpeechLM(ctx, pool)
		tr = pool
	}
	opts := []transcribe.Option{transcribe.WithWorkers(workers), transcribe.WithMaxBytes(ingest.MaxAudioBytes),
		transcribe.WithLogger(s.log), transcribe.WithMetrics(s.pipe)}
	if cfg.Speech.Timeout > 0 {
		opts = append(opts, transcribe.WithTimeout(cfg.Speech.Timeout))
	}
	w, err := transcribe.New(ctx, s.js, s.store, tr, opts...)
	if err != nil {
		return err
	}
	s.goRole(RoleSpeech, w.Run, ctx)
	return nil
}

func (s *Server) startAPI(ctx context.Context) error {
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(s.guard.MaxRecvMsgSize()),
		grpc.ChainUnaryInterceptor(s.guard.UnaryInterceptor()), grpc.ChainStreamInterceptor(s.guard.StreamInterceptor())}
	if s.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls)))
	}
	if s.tracing() {
		// A server span per call, continuing the caller's trace. Tracing
		// off adds no handler at all.
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(tracing.GRPCOptions(s.tp)...)))
	}
	s.grpc = grpc.NewServer(opts...)
	cat, err := api.NewCatalog(ctx, s.js, s.store, s.log)
	if err != nil {
		return err
	}
	pb.RegisterCatalogServiceServer(s.grpc, cat)
	var stats api.SpaceStats
	if s.rank != nil {
		s.rank.Register(s.grpc)
		rank := s.rank
		stats = func() map[string]int {
			out := map[string]int{}
			for _, sp := range rank.Stats().Spaces {
				out[sp.Name] = sp.Vectors
			}
			return out
		}
	}
	adm, err := api.NewAdmin(ctx, s.js, stats)
	if err != nil {
		return err
	}
	in, err := ingest.New(ctx, s.js, s.store, ingest.WithLogger(s.log), ingest.WithMetrics(s.pipe), ingest.WithTracerProvider(s.tp))
	if err != nil {
		return err
	}
	camps, err := campaign.NewManager(ctx, s.js, s.encs.modelLookup, s.store)
	if err != nil {
		return err
	}
	pb.RegisterAdminServiceServer(s.grpc, adm.WithModels(s.encs.Registry).WithReconciler(in).WithCampaigns(camps))
	s.hlth = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.hlth)
	reflection.Register(s.grpc)

	gl, err := net.Listen("tcp", s.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen gRPC on %s: %w", s.cfg.GRPCAddr, err)
	}
	s.grpcAddr = gl.Addr().String()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(gl); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.setErr(fmt.Errorf("gRPC server: %w", err))
		}
	}()
	s.hlth.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.Info("gRPC API listening", "addr", s.grpcAddr, "tls", s.tls != nil, "mtls", s.cfg.TLSClientCA != "", "tokens", s.cfg.AuthTokens != "")
	return nil
}

// startHTTP serves /metrics and /healthz, whatever the roles, and with the
// API the JSON/HTTP API, the media and the console (httpapi) under "/".
func (s *Server) startHTTP() error {
	if s.cfg.HTTPAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.guard.HTTP("", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		if s.grpc != nil {
			web, err := httpapi.New(httpapi.Config{GRPC: s.grpc, MaxMessageBytes: s.guard.MaxRecvMsgSize(),
				Store: s.store, MaxMediaBytes: api.MaxMediaBytes, Console: console.Handler(), Logger: s.log,
				GuardMedia: func(h http.Handler) http.Handler { return s.guard.HTTP(auth.ScopeQuery, h) }})
			if err != nil {
				return err
			}
			mux.Handle("/", web)
		}
		hl, err := net.Listen("tcp", s.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen HTTP on %s: %w", s.cfg.HTTPAddr, err)
		}
		s.httpAddr = hl.Addr().String()
		if s.tls != nil {
			hl = tls.NewListener(hl, s.tls)
		}
		s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.http.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.setErr(fmt.Errorf("HTTP server: %w", err))
			}
		}()
		s.log.Info("HTTP listening", "addr", s.httpAddr, "tls", s.tls != nil)
	}
	return nil
}

func (s *Server) goRole(name string, run func(context.Context) error, ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.log.Info("role started", "role", name)
		if err := run(ctx); err != nil && ctx.Err() == nil {
			s.setErr(fmt.Errorf("role %s: %w", name, err))
			s.log.Error("role stopped", "role", name, "err", err)
		}
	}()
}

func (s *Server) reconcileLoop(ctx context.Context, in *ingest.Ingestor) {
	if s.cfg.ReconcileEvery <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.ReconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := in.Reconcile(ctx); err != nil {
				s.log.Warn("reconcile", "err", err)
			} else {
				s.log.Debug("reconciled bucket", "products", n)
			}
		}
	}
}

func (s *Server) setErr(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// Err reports the first role failure, if any.
func (s *Server) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// GRPCAddr is the address the gRPC API listens on.
func (s *Server) GRPCAddr() string { return s.grpcAddr }

// HTTPAddr is the address the HTTP endpoint listens on.
func (s *Server) HTTPAddr() string { return s.httpAddr }

// Store is the object store the process uses.
func (s *Server) Store() *storage.S3Store { return s.store }

// JetStream is the process's JetStream client.
func (s *Server) JetStream() jetstream.JetStream { return s.js }

// Encoders is the process's model registry.
func (s *Server) Encoders() *Encoders { return s.encs }

// Ranker is the in-process ranker, or nil.
func (s *Server) Ranker() *ranker.Ranker { return s.rank }

// Close stops the roles gracefully: the API stops taking requests and lets
// those in flight finish, workers finish or release the batch in hand, and
// the embedded servers shut down last.
func (s *Server) Close(ctx context.Context) error {
	if s.hlth != nil {
		s.hlth.Shutdown()
	}
	if s.grpc != nil {
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.grpc.Stop()
		}
	}
	if s.http != nil {
		_ = s.http.Shutdown(ctx)
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	if s.rank != nil {
		if err := s.rank.Close(); err != nil {
			s.log.Error("close ranker", "err", err)
		}
	}
	s.closeInfra()
	if err := s.traces.Shutdown(ctx); err != nil {
		s.log.Warn("tracing shutdown", "err", err)
	}
	return s.Err()
}

// setupTracing starts the tracer provider cfg.Trace describes, unless
// cfg.TracerProvider is given.
func (s *Server) setupTracing(ctx context.Context) error {
	if s.cfg.TracerProvider != nil {
		s.tp = s.cfg.TracerProvider
		return nil
	}
	tc := s.cfg.Trace
	tc.Attributes = append(tc.Attributes, attribute.StringSlice("omnirank.roles", s.cfg.Roles))
	p, err := tracing.Start(ctx, tc)
	if err != nil {
		return err
	}
	s.traces, s.tp = p, p.TracerProvider()
	if p.Enabled() {
		s.log.Info("tracing on", "exporter", tc.Exporter, "sample", tc.SampleRatio)
	}
	return nil
}

// tracing reports whether spans are recorded (an exporter, or a provider
// given in Config).
func (s *Server) tracing() bool {
	return s.cfg.TracerProvider != nil || (s.traces != nil && s.traces.Enabled())
}

func (s *Server) closeInfra() {
	if s.encs != nil {
		s.encs.Close()
	}
	s.voice.close(s.log)
	if s.nc != nil {
		_ = s.nc.Drain()
		s.nc.Close()
	}
	if s.gw != nil {
		_ = s.gw.Close()
	}
	if s.nats != nil {
		s.nats.Close()
	}
}

// ensureDefaultSpace stores the starter space and points the active alias
// at it, unless an alias is already set.
func ensureDefaultSpace(ctx context.Context, js jetstream.JetStream, encs *Encoders) error {
	st, err := spaces.NewStore(ctx, js)
	if err != nil {
		return err
	}
	if _, _, err := st.Active(ctx); err == nil {
		return nil
	} else if !errors.Is(err, spaces.ErrNotFound) {
		return err
	}
	sp, err := encs.StarterSpace(ctx)
	if err != nil {
		return err
	}
	if err := st.Put(ctx, sp); err != nil {
		return err
	}
	if err := st.SetActive(ctx, sp.Name, 0); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return err
	}
	return nil
}

// experimentScorers resolves the scorer of each arm of an experiment: the
// hand weights, the served one (nil) or a published model revision.
func experimentScorers(ctx context.Context, js jetstream.JetStream, c experiment.Config) (ranker.Experiment, error) {
	e := ranker.Experiment{Config: c, Scorers: make([]ranker.Scorer, len(c.Arms))}
	for i, a := range c.Arms {
		rev, err := a.ModelRevision()
		switch {
		case err != nil:
			return e, err
		case a.Scorer == experiment.ScorerHand:
			e.Scorers[i] = ranker.DefaultLinearScorer()
		case rev > 0:
			m, err := learn.Revision(ctx, js, rev)
			if err != nil {
				return e, fmt.Errorf("experiment %s arm %s: %w", c.Name, a.Name, err)
			}
			if e.Scorers[i], err = m.Scorer(); err != nil {
				return e, fmt.Errorf("experiment %s arm %s: %w", c.Name, a.Name, err)
			}
		}
	}
	return e, nil
}
