package s3gw_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/storage/s3gw"
)

// -record rewrites the versitygw event fixtures in storage/testdata/events
// from the live gateway (go test ./storage/s3gw -run PublishesObjectEvents
// -record). The payloads carry a fresh eventTime and sequencer: update the
// expected times and sequencers in storage/events_test.go after recording.
var record = flag.Bool("record", false, "rewrite the captured versitygw event fixtures")

const (
	access = "S3GWTESTACCESSKEY001"
	secret = "s3gw-test-secret-0123456789abcdefghijkl"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

func startGateway(t *testing.T, cfg s3gw.Config) *s3gw.Gateway {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.AccessKey, cfg.SecretKey = access, secret
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gw, err := s3gw.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := gw.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return gw
}

func client(t *testing.T, gw *s3gw.Gateway) *minio.Client {
	t.Helper()
	mc, err := minio.New(gw.Endpoint(), &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

func putOpts() minio.PutObjectOptions {
	return minio.PutObjectOptions{ContentType: "application/json", SendContentMd5: true, DisableContentSha256: true}
}

// nextEvents waits for the next message on sub that carries object events
// (skipping versitygw's s3:TestEvent) and parses it.
func nextEvents(t *testing.T, sub *nats.Subscription) ([]byte, []storage.ObjectEvent) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("no event message: %v", err)
		}
		evs, err := storage.ParseEvents(msg.Data)
		if err != nil {
			t.Fatalf("ParseEvents(%s): %v", msg.Data, err)
		}
		if len(evs) > 0 {
			return msg.Data, evs
		}
	}
}

func TestGatewayPublishesObjectEventsToNATS(t *testing.T) {
	fixtures, err := filepath.Abs(filepath.Join("..", "testdata", "events"))
	if err != nil {
		t.Fatal(err)
	}
	ns := startNATS(t)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	const subject = "omnirank.test.s3events"
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	gw := startGateway(t, s3gw.Config{NatsURL: ns.ClientURL(), NatsTopic: subject})
	mc := client(t, gw)
	ctx := context.Background()
	const bucket = "omnirank"
	if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		key     string
		fixture string // written with -record
	}{
		{"plain key", "products/p1/product.json", "versitygw_put.json"},
		{"space plus percent unicode", "products/p 2/a+b%c é.json", "versitygw_put_special_key.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte("hello") // the fixtures' size and ETag
			up, err := mc.PutObject(ctx, bucket, tc.key, bytes.NewReader(body), int64(len(body)), putOpts())
			if err != nil {
				t.Fatal(err)
			}
			raw, evs := nextEvents(t, sub)
			if len(evs) != 1 {
				t.Fatalf("put: %d events, want 1: %s", len(evs), raw)
			}
			want := storage.ObjectEvent{Bucket: bucket, Key: tc.key, Kind: storage.Created, Size: int64(len(body)), ETag: up.ETag}
			got := evs[0]
			if got.Bucket != want.Bucket || got.Key != want.Key || got.Kind != want.Kind || got.Size != want.Size || got.ETag != want.ETag {
				t.Errorf("put event = %+v, want %+v", got, want)
			}
			if got.Time.IsZero() || got.Sequencer == "" {
				t.Errorf("put event without time or sequencer: %+v", got)
			}
			if *record {
				writeFixture(t, fixtures, tc.fixture, raw)
			}

			if err := mc.RemoveObject(ctx, bucket, tc.key, minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
			raw, evs = nextEvents(t, sub)
			if len(evs) != 1 || evs[0].Kind != storage.Removed || evs[0].Key != tc.key || evs[0].Bucket != bucket {
				t.Fatalf("delete events = %+v, want one Removed %s: %s", evs, tc.key, raw)
			}
			if evs[0].Sequencer == got.Sequencer {
				t.Errorf("put and delete share sequencer %q", got.Sequencer)
			}
			if *record && tc.fixture == "versitygw_put.json" {
				writeFixture(t, fixtures, "versitygw_delete.json", raw)
			}
		})
	}
}

func writeFixture(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), append(bytes.TrimSpace(data), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s", name)
}

func TestStartRefusesASecondGatewayAndChangesNothing(t *testing.T) {
	gw := startGateway(t, s3gw.Config{})
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	_, err = s3gw.Start(context.Background(), s3gw.Config{Dir: t.TempDir(), AccessKey: access, SecretKey: secret, Logger: quiet()})
	if !errors.Is(err, s3gw.ErrAlreadyRunning) {
		t.Fatalf("second Start: err = %v, want ErrAlreadyRunning", err)
	}
	if now, _ := os.Getwd(); now != wd {
		t.Errorf("refused Start moved the working directory from %s to %s", wd, now)
	}
	if wd != gw.Dir() {
		t.Errorf("working directory %s while the gateway runs, want its Dir %s", wd, gw.Dir())
	}
	// The first gateway still serves.
	mc := client(t, gw)
	if _, err := mc.ListBuckets(context.Background()); err != nil {
		t.Errorf("first gateway after a refused Start: %v", err)
	}
}

func TestRestartAfterCloseKeepsData(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	body := []byte("persisted across restarts")
	for round := range 3 {
		ctxStart, cancel := context.WithTimeout(ctx, 20*time.Second)
		gw, err := s3gw.Start(ctxStart, s3gw.Config{Dir: dir, AccessKey: access, SecretKey: secret, Logger: quiet()})
		cancel()
		if err != nil {
			t.Fatalf("round %d: Start: %v", round, err)
		}
		mc := client(t, gw)
		if round == 0 {
			if err := mc.MakeBucket(ctx, "keep", minio.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := mc.PutObject(ctx, "keep", "a/b.txt", bytes.NewReader(body), int64(len(body)), putOpts()); err != nil {
				t.Fatal(err)
			}
		} else {
			obj, err := mc.GetObject(ctx, "keep", "a/b.txt", minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("round %d: read %q, %v; want %q", round, got, err, body)
			}
		}
		if err := gw.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
		if err := gw.Close(); err != nil {
			t.Fatalf("round %d: second Close: %v", round, err)
		}
		select {
		case <-gw.Done():
		default:
			t.Fatal("Done not closed after Close")
		}
		if now, _ := os.Getwd(); now != wd {
			t.Fatalf("round %d: working directory %s after Close, want %s", round, now, wd)
		}
	}
	// The object is a plain file in Dir.
	if got, err := os.ReadFile(filepath.Join(dir, "keep", "a", "b.txt")); err != nil || !bytes.Equal(got, body) {
		t.Errorf("file on disk = %q, %v", got, err)
	}
}

func TestStartConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  s3gw.Config
	}{
		{"no dir", s3gw.Config{AccessKey: access, SecretKey: secret}},
		{"no access key", s3gw.Config{Dir: dir, SecretKey: secret}},
		{"no secret", s3gw.Config{Dir: dir, AccessKey: access}},
		{"nats url without topic", s3gw.Config{Dir: dir, AccessKey: access, SecretKey: secret, NatsURL: "nats://127.0.0.1:4222"}},
		{"topic without url", s3gw.Config{Dir: dir, AccessKey: access, SecretKey: secret, NatsTopic: "x"}},
		{"addr without port", s3gw.Config{Dir: dir, AccessKey: access, SecretKey: secret, Addr: "127.0.0.1"}},
		{"bad port", s3gw.Config{Dir: dir, AccessKey: access, SecretKey: secret, Addr: "127.0.0.1:99999"}},
		{"meta dir inside dir", s3gw.Config{Dir: dir, MetaDir: filepath.Join(dir, "meta"), AccessKey: access, SecretKey: secret}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quiet()
			gw, err := s3gw.Start(context.Background(), tc.cfg)
			if err == nil {
				gw.Close()
				t.Fatal("Start succeeded")
			}
			if !errors.Is(err, s3gw.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestStartFailuresReleaseTheProcessSlot(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	wd, _ := os.Getwd()
	tests := []struct {
		name    string
		cfg     s3gw.Config
		wantErr error
	}{
		{"nats unreachable", s3gw.Config{NatsURL: "nats://" + closedAddr(t), NatsTopic: "s3"}, nats.ErrNoServers},
		{"port in use", s3gw.Config{Addr: busy.Addr().String()}, syscall.EADDRINUSE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Dir, cfg.AccessKey, cfg.SecretKey, cfg.Logger = t.TempDir(), access, secret, quiet()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			gw, err := s3gw.Start(ctx, cfg)
			if err == nil {
				gw.Close()
				t.Fatal("Start succeeded")
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if now, _ := os.Getwd(); now != wd {
				t.Errorf("failed Start left the working directory at %s", now)
			}
			// A failed Start must not block the next one.
			startGateway(t, s3gw.Config{}).Close()
		})
	}
}

func TestSidecarMetadata(t *testing.T) {
	root := t.TempDir()
	gw := startGateway(t, s3gw.Config{Dir: filepath.Join(root, "buckets"), MetaDir: filepath.Join(root, "meta")})
	mc := client(t, gw)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "side", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PutObject(ctx, "side", "x.json", bytes.NewReader([]byte("{}")), 2, putOpts()); err != nil {
		t.Fatal(err)
	}
	info, err := mc.StatObject(ctx, "side", "x.json", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.ContentType != "application/json" {
		t.Errorf("ContentType = %q with sidecar metadata, want application/json", info.ContentType)
	}
	ents, err := os.ReadDir(filepath.Join(root, "meta"))
	if err != nil || len(ents) == 0 {
		t.Errorf("sidecar dir holds %d entries (%v), want metadata there", len(ents), err)
	}
}

func TestStartHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gw, err := s3gw.Start(ctx, s3gw.Config{Dir: t.TempDir(), AccessKey: access, SecretKey: secret, Logger: quiet()})
	if err == nil {
		gw.Close()
		t.Fatal("Start with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	startGateway(t, s3gw.Config{}).Close()
}

func TestEndpointForAddresses(t *testing.T) {
	tests := []struct {
		name, addr, wantHost string
	}{
		{"default", "", "127.0.0.1"},
		{"loopback any port", "127.0.0.1:0", "127.0.0.1"},
		{"wildcard", "0.0.0.0:0", "127.0.0.1"},
		{"fixed port", closedAddr(t), "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw := startGateway(t, s3gw.Config{Addr: tc.addr})
			host, port, err := net.SplitHostPort(gw.Endpoint())
			if err != nil || host != tc.wantHost || port == "0" || port == "" {
				t.Fatalf("Endpoint() = %q, want %s:<port>", gw.Endpoint(), tc.wantHost)
			}
			if tc.addr != "" && !strings.HasSuffix(tc.addr, ":0") && port != strings.Split(tc.addr, ":")[1] {
				t.Errorf("Endpoint() port %s, want the requested %s", port, tc.addr)
			}
			if gw.URL() != "http://"+gw.Endpoint() {
				t.Errorf("URL() = %q", gw.URL())
			}
			if _, err := client(t, gw).ListBuckets(context.Background()); err != nil {
				t.Errorf("ListBuckets via %s: %v", gw.Endpoint(), err)
			}
			gw.Close()
		})
	}
}

// gatewayGoroutines lists the stacks of running goroutines that execute
// gateway code (versitygw, fiber, fasthttp), except two that fasthttp owns
// and bounds: its process-wide Date-header ticker (one per process, started
// once) and a worker-pool cleaner that notices the stop after its current
// sleep (at most 10 s).
func gatewayGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "fasthttp.updateServerDate") || strings.Contains(g, "fasthttp.(*workerPool).Start.func") {
			continue
		}
		if strings.Contains(g, "github.com/versity/versitygw") || strings.Contains(g, "github.com/gofiber/fiber") ||
			strings.Contains(g, "github.com/valyala/fasthttp") {
			out = append(out, g)
		}
	}
	return out
}

func TestCloseLeavesNoGatewayGoroutines(t *testing.T) {
	ns := startNATS(t)
	gw := startGateway(t, s3gw.Config{NatsURL: ns.ClientURL(), NatsTopic: "leak.check"})
	mc := client(t, gw)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "leak", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PutObject(ctx, "leak", "k", bytes.NewReader([]byte("v")), 1, putOpts()); err != nil {
		t.Fatal(err)
	}
	if len(gatewayGoroutines()) == 0 {
		t.Fatal("no gateway goroutines seen while it runs: the detector is blind")
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	// Shutdown is synchronous, but connection goroutines may take a moment
	// to observe their closed sockets.
	var left []string
	for range 100 {
		if left = gatewayGoroutines(); len(left) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%d gateway goroutines still running after Close:\n%s", len(left), strings.Join(left, "\n\n"))
}

// A write whose event a capturing stream refuses to store is answered 503
// (and the client, which retries 503s, sees the error), never acknowledged
// as if the pipeline would hear of it; once the stream takes events again
// the retried write succeeds and its event is stored exactly once.
func TestGatewayFailsWriteWhoseEventIsNotStored(t *testing.T) {
	js := natstest.JetStream(t)
	natsURL := js.Conn().ConnectedUrl()
	ctx := context.Background()
	const subject = "omnirank.test.s3events"
	// Holds one message and refuses the next: a stand-in for a stream
	// that cannot store (no leader, full disk) which a test can switch.
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{subject},
		MaxMsgs: 1, Discard: jetstream.DiscardNew})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	gw := startGateway(t, s3gw.Config{NatsURL: natsURL, NatsTopic: subject, EventTimeout: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	mc, err := minio.New(gw.Endpoint(), &minio.Options{Creds: credentials.NewStaticV4(access, secret, ""), MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	const bucket = "omnirank"
	if err := mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	put := func(key string) error {
		body := []byte("hello")
		_, err := mc.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), putOpts())
		return err
	}
	if err := put("products/p1/product.json"); err != nil {
		t.Fatalf("first put (stream has room): %v", err)
	}
	err = put("products/p2/product.json")
	if err == nil {
		t.Fatal("second put succeeded though the stream refused its event")
	}
	if resp := minio.ToErrorResponse(err); resp.StatusCode != 503 || resp.Code != "ServiceUnavailable" {
		t.Fatalf("second put: %v (status %d, code %q), want 503 ServiceUnavailable", err, resp.StatusCode, resp.Code)
	}
	if !strings.Contains(logs.String(), "event not stored") {
		t.Errorf("no warning logged for the refused event:\n%s", logs.String())
	}

	// Make room: the retried write goes through and its event is stored.
	if err := stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if err := put("products/p2/product.json"); err != nil {
		t.Fatalf("retried put: %v", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d events after the retried put, want 1", info.State.Msgs)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := storage.ParseEvents(msg.Data)
	if err != nil || len(evs) != 1 || evs[0].Key != "products/p2/product.json" {
		t.Fatalf("stored event = %+v (%v), want one for products/p2/product.json", evs, err)
	}
	if msg.Header.Get(jetstream.MsgIDHeader) == "" {
		t.Error("stored event has no Nats-Msg-Id: retried publishes could be stored twice")
	}
}
