// Package s3gw owns the embedded S3 gateway: versitygw's embeddable gateway
// (package embedgw) serving a local folder through its POSIX backend, so that
// omnirank runs with zero configuration and still talks to its bucket through
// a real S3 endpoint with minio-go. Object writes and deletes are published as
// S3-event JSON to a NATS subject (see storage.ParseEvents), which is what
// drives catalogue ingestion.
//
// # One gateway per process
//
// versitygw's POSIX backend resolves every bucket and object path relative to
// the process working directory: posix.New calls os.Chdir(dir). The working
// directory is process-wide state, so:
//
//   - Start changes the working directory to Config.Dir for the lifetime of
//     the gateway, and Close changes it back. Resolve every relative path your
//     program needs (config files, test fixtures) before calling Start.
//   - Only one Gateway may run at a time in a process; a second concurrent
//     Start fails with ErrAlreadyRunning before touching anything.
//     (embedgw has its own guard too, plus package-level bucket-name and
//     debug-log settings.) Start after Close works.
//
// Tests that need a gateway should share one instance per test binary through
// TestMain.
package s3gw

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
	"github.com/versity/versitygw/s3api"
)

// ErrAlreadyRunning is returned by Start while another Gateway runs in this
// process (see the package comment for why only one may).
var ErrAlreadyRunning = errors.New("s3gw: an embedded S3 gateway is already running in this process")

// ErrInvalidConfig marks a Config that Start rejects before starting
// anything; errors wrapping it say which field is wrong.
var ErrInvalidConfig = errors.New("s3gw: invalid config")

// running guards the process-wide working directory that the POSIX backend
// takes over (see the package comment). It is the one piece of package state
// and mirrors a process-global resource.
var running sync.Mutex

// healthPath is the unauthenticated health endpoint the gateway serves. A
// bucket with this name would be masked, which cannot happen because the name
// contains an underscore, invalid in strict S3 bucket names.
const healthPath = "/_omnirank_health"

// Config configures Start.
type Config struct {
	// Dir is the folder that holds the buckets: one sub-folder per bucket,
	// objects as plain files inside. Created if missing. Required.
	Dir string
	// MetaDir holds object metadata (content type, ETag, …) when the
	// filesystem of Dir has no user extended attributes. Empty: use xattrs
	// when Dir's filesystem supports them, otherwise Dir+".meta". It must not
	// be inside Dir.
	MetaDir string
	// Addr is the TCP listen address, host:port. A port of 0 (the default,
	// "127.0.0.1:0") picks a free port; Endpoint reports it.
	Addr string
	// AccessKey and SecretKey are the root credentials. Required; see
	// LoadOrCreateCredentials.
	AccessKey, SecretKey string
	// Region reported to clients; "us-east-1" when empty.
	Region string
	// NatsURL and NatsTopic, when both set, make the gateway publish an
	// S3-event JSON message (a "Records" array) to subject NatsTopic for
	// every object created or removed, in every bucket. The NATS server
	// must be reachable when Start is called. Either both or neither.
	NatsURL, NatsTopic string
	// NatsOptions are added to the event publisher's NATS connection
	// (credentials, TLS roots); it reconnects forever whatever they say.
	NatsOptions []nats.Option
	// EventTimeout bounds how long an object write waits for its event to
	// be stored when a JetStream stream captures NatsTopic; past it the
	// write is answered 503 ServiceUnavailable, which S3 clients retry.
	// 10 s when zero: long enough to ride out a NATS node failing over.
	EventTimeout time.Duration
	// Logger receives the lifecycle logs of this package; slog.Default()
	// when nil. (versitygw itself prints a line or two to stdout/stderr at
	// start and on send failures; those cannot be redirected per instance.)
	Logger *slog.Logger
	// ReadyTimeout bounds how long Start waits for the gateway to answer;
	// 10 s when zero.
	ReadyTimeout time.Duration
}

// Gateway is a running embedded S3 gateway. Close stops it.
type Gateway struct {
	endpoint string
	dir      string
	log      *slog.Logger
	prevWD   string
	cancel   context.CancelFunc
	done     chan struct{}
	runErr   error // written before done closes
	events   *eventPublisher

	closeOnce sync.Once
	closeErr  error
}

// Endpoint is the gateway's host:port (no scheme; plain HTTP), the form
// minio-go's New and storage.S3Config.Endpoint take. A wildcard listen
// address (":9000", "0.0.0.0:0") is reported as 127.0.0.1:port.
func (g *Gateway) Endpoint() string { return g.endpoint }

// URL is the gateway's base URL, "http://host:port".
func (g *Gateway) URL() string { return "http://" + g.endpoint }

// Dir is the absolute folder holding the buckets.
func (g *Gateway) Dir() string { return g.dir }

// Done is closed when the gateway has stopped, by Close or by itself.
func (g *Gateway) Done() <-chan struct{} { return g.done }

// Start starts the gateway and returns once it answers HTTP requests. ctx
// bounds the start-up only: the gateway runs until Close, which must be
// called to release it. Start returns ErrAlreadyRunning while another gateway
// runs in the process.
func Start(ctx context.Context, cfg Config) (*Gateway, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if !running.TryLock() {
		return nil, ErrAlreadyRunning
	}
	g, err := start(ctx, cfg)
	if err != nil {
		running.Unlock()
		return nil, err
	}
	return g, nil
}

func (c *Config) validate() error {
	if c.Dir == "" {
		return fmt.Errorf("%w: Dir is required", ErrInvalidConfig)
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return fmt.Errorf("%w: AccessKey and SecretKey are required", ErrInvalidConfig)
	}
	if (c.NatsURL == "") != (c.NatsTopic == "") {
		return fmt.Errorf("%w: NatsURL and NatsTopic go together", ErrInvalidConfig)
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	_, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("%w: Addr %q: %v", ErrInvalidConfig, c.Addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%w: Addr %q: bad port", ErrInvalidConfig, c.Addr)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 10 * time.Second
	}
	return nil
}

// start does the work of Start with the process guard held.
func start(ctx context.Context, cfg Config) (*Gateway, error) {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("s3gw: dir %s: %w", cfg.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("s3gw: create dir %s: %w", dir, err)
	}
	ms, err := metaStore(dir, cfg.MetaDir)
	if err != nil {
		return nil, err
	}
	prevWD, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("s3gw: working directory: %w", err)
	}

	// A requested port of 0 cannot be reported back by embedgw, so pick one
	// here. Another process may grab it before the gateway binds: retry a
	// few times when the gateway exits during start-up.
	const attempts = 3
	var lastErr error
	for range attempts {
		addr, err := resolveAddr(cfg.Addr)
		if err != nil {
			return nil, err
		}
		g, err := launch(ctx, cfg, dir, addr, prevWD, ms)
		if err == nil {
			return g, nil
		}
		lastErr = err
		if !isZeroPort(cfg.Addr) || ctx.Err() != nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		cfg.Logger.Warn("s3gw: gateway exited during start-up, retrying on another port", "addr", addr, "err", err)
	}
	return nil, lastErr
}

var errExitedEarly = errors.New("gateway exited during start-up")

func launch(ctx context.Context, cfg Config, dir, addr, prevWD string, ms meta.MetadataStorer) (*Gateway, error) {
	// posix.New changes the working directory to dir (see package comment).
	be, err := posix.New(dir, ms, posix.PosixOpts{})
	if err != nil {
		restoreWD(cfg.Logger, prevWD)
		return nil, fmt.Errorf("s3gw: posix backend over %s: %w", dir, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g := &Gateway{
		endpoint: clientAddr(addr),
		dir:      dir,
		log:      cfg.Logger,
		prevWD:   prevWD,
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	gwCfg := &embedgw.Config{
		RootUserAccess:    cfg.AccessKey,
		RootUserSecret:    cfg.SecretKey,
		Region:            cfg.Region,
		Ports:             []string{addr},
		MaxConnections:    250000,
		MaxRequests:       100000,
		MultipartMaxParts: 10000,
		Quiet:             true,
		KeepAlive:         true,
		HealthPath:        healthPath,
	}
	if cfg.NatsURL != "" {
		// Our middleware, not versitygw's NATS sender (see events.go).
		pub, err := newEventPublisher(cfg.NatsURL, cfg.NatsTopic, cfg.Region, cmp.Or(cfg.EventTimeout, 10*time.Second), cfg.NatsOptions, cfg.Logger)
		if err != nil {
			cancel()
			restoreWD(cfg.Logger, prevWD)
			return nil, err
		}
		g.events = pub
		gwCfg.S3Options = append(gwCfg.S3Options, s3api.WithMiddleware("/", pub.middleware))
	}
	go func() {
		defer close(g.done)
		// RunVersityGW shuts the backend down on return.
		g.runErr = embedgw.RunVersityGW(runCtx, be, gwCfg)
	}()
	if err := g.waitReady(ctx, cfg.ReadyTimeout); err != nil {
		if !errors.Is(err, errExitedEarly) {
			// versitygw's shutdown is a no-op until its server has started
			// serving, and the server then serves forever: wait (bounded)
			// until it answers, so that the shutdown below closes it.
			if werr := g.waitReady(context.Background(), cfg.ReadyTimeout); werr != nil && !errors.Is(werr, errExitedEarly) {
				cfg.Logger.Warn("s3gw: gateway never answered; its listener may outlive this failed start", "endpoint", g.endpoint, "err", werr)
			}
		}
		cancel()
		<-g.done
		if g.events != nil {
			g.events.close()
		}
		restoreWD(cfg.Logger, prevWD)
		return nil, err
	}
	cfg.Logger.Info("s3gw: embedded S3 gateway listening", "endpoint", addr, "dir", dir, "nats_topic", cfg.NatsTopic)
	return g, nil
}

// waitReady polls the health endpoint until it answers 200, the gateway
// goroutine exits, ctx ends or the timeout passes.
func (g *Gateway) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 200 * time.Millisecond}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL()+healthPath, nil)
		if err != nil {
			return fmt.Errorf("s3gw: readiness request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-g.done:
			return fmt.Errorf("s3gw: start on %s: %w: %w", g.endpoint, errExitedEarly, g.runErr)
		case <-ctx.Done():
			return fmt.Errorf("s3gw: gateway on %s not ready: %w", g.endpoint, ctx.Err())
		case <-tick.C:
		}
	}
}

// Close stops the gateway gracefully, waits for it to finish, and restores
// the process working directory. It is safe to call more than once; only the
// first call does anything and every call returns the same error.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		g.cancel()
		<-g.done
		if g.events != nil {
			g.events.close()
		}
		restoreWD(g.log, g.prevWD)
		running.Unlock()
		if g.runErr != nil {
			g.closeErr = fmt.Errorf("s3gw: gateway on %s: %w", g.endpoint, g.runErr)
		}
		g.log.Info("s3gw: embedded S3 gateway stopped", "endpoint", g.endpoint)
	})
	return g.closeErr
}

func restoreWD(log *slog.Logger, dir string) {
	if err := os.Chdir(dir); err != nil {
		log.Error("s3gw: restore working directory", "dir", dir, "err", err)
	}
}

// metaStore picks how the POSIX backend stores object metadata.
func metaStore(dir, metaDir string) (meta.MetadataStorer, error) {
	if metaDir == "" {
		if err := (meta.XattrMeta{}).Test(dir); err == nil {
			return meta.XattrMeta{}, nil
		}
		metaDir = dir + ".meta"
	}
	abs, err := filepath.Abs(metaDir)
	if err != nil {
		return nil, fmt.Errorf("s3gw: meta dir %s: %w", metaDir, err)
	}
	if rel, err := filepath.Rel(dir, abs); err == nil && (rel == "." || filepath.IsLocal(rel)) {
		return nil, fmt.Errorf("%w: MetaDir %s is inside Dir %s", ErrInvalidConfig, abs, dir)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("s3gw: create meta dir %s: %w", abs, err)
	}
	sc, err := meta.NewSideCar(abs)
	if err != nil {
		return nil, fmt.Errorf("s3gw: sidecar metadata in %s: %w", abs, err)
	}
	return sc, nil
}

func isZeroPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && (port == "0" || port == "")
}

// clientAddr is where a local client reaches a gateway listening on addr:
// a wildcard host ("", 0.0.0.0, ::) becomes 127.0.0.1.
func clientAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// resolveAddr turns a port-0 address into a concrete free one.
func resolveAddr(addr string) (string, error) {
	if !isZeroPort(addr) {
		return addr, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("s3gw: find a free port on %s: %w", addr, err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
