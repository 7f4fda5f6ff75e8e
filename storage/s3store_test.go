package storage_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/storage/storagetest"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func gatewayConfig(t testing.TB, bucket string) storage.S3Config {
	return storage.S3Config{Endpoint: gateway(t).Endpoint(), AccessKey: testAccess, SecretKey: testSecret, Bucket: bucket}
}

func newGatewayStore(t testing.TB, bucket string) *storage.S3Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := storage.NewS3Store(ctx, gatewayConfig(t, bucket), storage.WithLogger(quietLogger()))
	if err != nil {
		t.Fatalf("NewS3Store: %v", err)
	}
	return s
}

func TestS3StoreOnEmbeddedGateway(t *testing.T) {
	s := newGatewayStore(t, "suite")
	storagetest.Run(t, func(t *testing.T) storage.ObjectStore { return s })
}

func TestS3StoreOnExternalEndpoint(t *testing.T) {
	s := storagetest.ExternalS3(t)
	storagetest.Run(t, func(t *testing.T) storage.ObjectStore { return s })
}

func TestNewS3StoreCreatesBucketOnce(t *testing.T) {
	ctx := context.Background()
	a := newGatewayStore(t, "fresh-bucket")
	if err := a.PutObject(ctx, "k", []byte("v"), ""); err != nil {
		t.Fatal(err)
	}
	// Opening an existing bucket keeps its content.
	b := newGatewayStore(t, "fresh-bucket")
	got, err := b.GetObject(ctx, "k", 10)
	if err != nil || string(got) != "v" {
		t.Fatalf("second store GetObject = %q, %v; want v", got, err)
	}
	ok, err := b.Client().BucketExists(ctx, "fresh-bucket")
	if err != nil || !ok {
		t.Fatalf("BucketExists = %v, %v", ok, err)
	}
}

func TestNewS3StoreConfigErrors(t *testing.T) {
	good := gatewayConfig(t, "cfg")
	tests := []struct {
		name string
		mod  func(*storage.S3Config)
		opts []storage.S3Option
	}{
		{"no endpoint", func(c *storage.S3Config) { c.Endpoint = "" }, nil},
		{"scheme in endpoint", func(c *storage.S3Config) { c.Endpoint = "http://" + c.Endpoint }, nil},
		{"no port", func(c *storage.S3Config) { c.Endpoint = "localhost" }, nil},
		{"no bucket", func(c *storage.S3Config) { c.Bucket = "" }, nil},
		{"secret without access", func(c *storage.S3Config) { c.AccessKey = "" }, nil},
		{"nil logger", nil, []storage.S3Option{storage.WithLogger(nil)}},
		{"zero attempts", nil, []storage.S3Option{storage.WithStartupRetry(0, time.Millisecond, time.Second)}},
		{"max below base", nil, []storage.S3Option{storage.WithStartupRetry(3, time.Second, time.Millisecond)}},
		{"nil transport", nil, []storage.S3Option{storage.WithTransport(nil)}},
		{"nil option", nil, []storage.S3Option{nil}},
		{"zero request retries", nil, []storage.S3Option{storage.WithRequestRetries(0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			_, err := storage.NewS3Store(context.Background(), cfg, tc.opts...)
			if !errors.Is(err, storage.ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestNewS3StoreBadCredentials(t *testing.T) {
	cfg := gatewayConfig(t, "creds")
	cfg.SecretKey = "wrong-secret-wrong-secret-wrong-secret00"
	_, err := storage.NewS3Store(context.Background(), cfg, storage.WithLogger(quietLogger()),
		storage.WithStartupRetry(3, time.Millisecond, time.Millisecond))
	if err == nil {
		t.Fatal("NewS3Store with a wrong secret succeeded")
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNewS3StoreRetriesAreBounded(t *testing.T) {
	cfg := storage.S3Config{Endpoint: closedAddr(t), AccessKey: "a", SecretKey: "b", Bucket: "unreachable", Region: "us-east-1"}
	_, err := storage.NewS3Store(context.Background(), cfg, storage.WithLogger(quietLogger()),
		storage.WithStartupRetry(2, time.Millisecond, time.Millisecond), storage.WithRequestRetries(1))
	if err == nil {
		t.Fatal("NewS3Store against a closed port succeeded")
	}
}

func TestNewS3StoreHonoursContext(t *testing.T) {
	cfg := storage.S3Config{Endpoint: closedAddr(t), AccessKey: "a", SecretKey: "b", Bucket: "unreachable", Region: "us-east-1"}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := storage.NewS3Store(ctx, cfg, storage.WithLogger(quietLogger()),
		storage.WithStartupRetry(1000, 10*time.Millisecond, 50*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}
