package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/omnirank/omnirank/auth"
	"github.com/omnirank/omnirank/auth/authtest"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/storage/s3gw"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// secureEnv is a server with mutual TLS, tokens and tight limits.
type secureEnv struct {
	srv     *Server
	pki     authtest.PKI
	secrets map[string]string
	log     *syncBuffer
}

const (
	testRate       = 2 // requests/s per token
	testBurst      = 4
	testQueryBytes = 4 << 10
)

func startSecure(t *testing.T) *secureEnv {
	t.Helper()
	e := &secureEnv{pki: authtest.NewPKI(t), log: &syncBuffer{}}
	var tokens string
	tokens, e.secrets = authtest.TokenFile(t, map[string]string{
		"shop": "query,feedback", "ops": "admin", "loader": "ingest", "flood": "query", "scraper": "query",
		"console": "query",
	})
	cfg := testConfig(t.TempDir())
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA = e.pki.ServerCert, e.pki.ServerKey, e.pki.CA
	cfg.AuthTokens = tokens
	cfg.Limits.RatePerSecond, cfg.Limits.Burst, cfg.Limits.MaxQueryBytes = testRate, testBurst, testQueryBytes
	cfg.Logger = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	return e
}

// conn dials the server over TLS with the client certificate (certFile
// empty: none) and, unless token is empty, the token.
func (e *secureEnv) conn(t *testing.T, certFile, keyFile, token string) *grpc.ClientConn {
	t.Helper()
	tc, err := auth.ClientTLS(e.pki.CA, certFile, keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tc))}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(auth.Bearer{Token: token, RequireTLS: true}))
	}
	c, err := grpc.NewClient(e.srv.GRPCAddr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (e *secureEnv) client(t *testing.T, token string) *grpc.ClientConn {
	return e.conn(t, e.pki.ClientCert, e.pki.ClientKey, token)
}

// One secured server (mutual TLS, tokens, rate and size limits) checked
// over real gRPC and HTTPS on loopback.
func TestSecurity(t *testing.T) {
	e := startSecure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("scopes", func(t *testing.T) {
		for _, tc := range []struct {
			name, token string
			call        func(*grpc.ClientConn) error
			want        codes.Code
		}{
			{"no token, admin", "", func(c *grpc.ClientConn) error {
				_, err := pb.NewAdminServiceClient(c).Status(ctx, &pb.StatusRequest{})
				return err
			}, codes.Unauthenticated},
			{"unknown token", "omr_forged", func(c *grpc.ClientConn) error {
				_, err := pb.NewRankerServiceClient(c).Recommend(ctx, &pb.RecommendRequest{QueryText: "x", K: 1})
				return err
			}, codes.Unauthenticated},
			{"query token, admin", e.secrets["shop"], func(c *grpc.ClientConn) error {
				_, err := pb.NewAdminServiceClient(c).Status(ctx, &pb.StatusRequest{})
				return err
			}, codes.PermissionDenied},
			{"query token, delete product", e.secrets["shop"], func(c *grpc.ClientConn) error {
				_, err := pb.NewCatalogServiceClient(c).Delete(ctx, &pb.DeleteRequest{Id: "x"})
				return err
			}, codes.PermissionDenied},
			{"admin token, admin", e.secrets["ops"], func(c *grpc.ClientConn) error {
				_, err := pb.NewAdminServiceClient(c).Status(ctx, &pb.StatusRequest{})
				return err
			}, codes.OK},
			{"admin token, query", e.secrets["ops"], func(c *grpc.ClientConn) error {
				_, err := pb.NewRankerServiceClient(c).Recommend(ctx, &pb.RecommendRequest{QueryText: "x", K: 1})
				return err
			}, codes.PermissionDenied},
			{"query token, query", e.secrets["shop"], func(c *grpc.ClientConn) error {
				_, err := pb.NewRankerServiceClient(c).Recommend(ctx, &pb.RecommendRequest{QueryText: "shoes", K: 1})
				return err
			}, codes.OK},
			{"feedback", e.secrets["shop"], func(c *grpc.ClientConn) error {
				_, err := pb.NewFeedbackServiceClient(c).Record(ctx, &pb.RecordRequest{Events: []*pb.FeedbackEvent{{UserId: "u1", ProductId: "p1", Kind: "click"}}})
				return err
			}, codes.OK},
			{"ingest token, feedback", e.secrets["loader"], func(c *grpc.ClientConn) error {
				_, err := pb.NewFeedbackServiceClient(c).Record(ctx, &pb.RecordRequest{Events: []*pb.FeedbackEvent{{UserId: "u1", ProductId: "p1", Kind: "click"}}})
				return err
			}, codes.PermissionDenied},
			{"health without token", "", func(c *grpc.ClientConn) error {
				_, err := healthpb.NewHealthClient(c).Check(ctx, &healthpb.HealthCheckRequest{})
				return err
			}, codes.OK},
		} {
			wantCode(t, tc.name, tc.call(e.client(t, tc.token)), tc.want)
		}
	})

	t.Run("streams", func(t *testing.T) {
		watch := func(token string) error {
			sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
			defer scancel()
			st, err := pb.NewAdminServiceClient(e.client(t, token)).WatchCampaign(sctx, &pb.CampaignRequest{})
			if err != nil {
				return err
			}
			_, err = st.Recv()
			return err
		}
		wantCode(t, "WatchCampaign without token", watch(""), codes.Unauthenticated)
		wantCode(t, "WatchCampaign with a query token", watch(e.secrets["shop"]), codes.PermissionDenied)
		if err := watch(e.secrets["ops"]); status.Code(err) == codes.Unauthenticated || status.Code(err) == codes.PermissionDenied {
			t.Errorf("WatchCampaign with the admin token refused: %v", err)
		}
		// A client-streaming upload needs the ingest scope.
		up, err := pb.NewCatalogServiceClient(e.client(t, e.secrets["shop"])).BulkUpsert(ctx)
		if err == nil {
			_, err = up.CloseAndRecv()
		}
		wantCode(t, "BulkUpsert with a query token", err, codes.PermissionDenied)
	})

	t.Run("mutual TLS", func(t *testing.T) {
		for name, c := range map[string]*grpc.ClientConn{
			"no client certificate":     e.conn(t, "", "", e.secrets["ops"]),
			"certificate of another CA": e.conn(t, e.pki.RogueCert, e.pki.RogueKey, e.secrets["ops"]),
		} {
			_, err := pb.NewAdminServiceClient(c).Status(ctx, &pb.StatusRequest{})
			if err == nil {
				t.Errorf("%s: call succeeded, want the handshake refused", name)
			}
		}
	})

	t.Run("request size", func(t *testing.T) {
		c := pb.NewRankerServiceClient(e.client(t, e.secrets["scraper"]))
		_, err := c.Recommend(ctx, &pb.RecommendRequest{QueryImage: make([]byte, 2*testQueryBytes), K: 1})
		wantCode(t, "Recommend over --max-query-bytes", err, codes.ResourceExhausted)
		if err != nil && !strings.Contains(err.Error(), "cap") {
			t.Errorf("size error does not name the cap: %v", err)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		c := pb.NewRankerServiceClient(e.client(t, e.secrets["flood"]))
		var ok, limited int
		for range 3 * testBurst {
			_, err := c.Recommend(ctx, &pb.RecommendRequest{QueryText: "shoes", K: 1})
			switch status.Code(err) {
			case codes.OK:
				ok++
			case codes.ResourceExhausted:
				limited++
			default:
				t.Fatalf("Recommend: %v", err)
			}
		}
		// 12 calls in well under a second: the burst passes, most of the rest do not.
		if ok < testBurst || limited < testBurst {
			t.Errorf("%d passed, %d limited; want ≥ %d of each", ok, limited, testBurst)
		}
		// Another token has its own bucket.
		if _, err := pb.NewAdminServiceClient(e.client(t, e.secrets["ops"])).ListSpaces(ctx, &pb.ListSpacesRequest{}); err != nil {
			t.Errorf("admin token limited by flood's bucket: %v", err)
		}
		metrics := e.httpGet(t, "/metrics", e.secrets["ops"], http.StatusOK)
		if !strings.Contains(metrics, fmt.Sprintf(`omnirank_api_rate_limited_total{token="flood"} %d`, limited)) {
			t.Errorf("/metrics lacks the rate-limit counter of %d:\n%s", limited, grepLines(metrics, "omnirank_api_"))
		}
	})

	t.Run("HTTP", func(t *testing.T) {
		e.httpGet(t, "/healthz", "", http.StatusOK)
		e.httpGet(t, "/metrics", "", http.StatusUnauthorized)
		e.httpGet(t, "/metrics", "omr_forged", http.StatusUnauthorized)
	})

	// The JSON/HTTP API is guarded as gRPC is: its calls pass the same
	// interceptors; media need a query token; the console's files are public.
	t.Run("JSON API and media", func(t *testing.T) {
		query := `{"query_text": "shoes", "k": 3}`
		e.httpDo(t, http.MethodPost, "/v1/recommend", "", query, http.StatusUnauthorized)
		e.httpDo(t, http.MethodPost, "/v1/recommend", e.secrets["loader"], query, http.StatusForbidden)
		e.httpDo(t, http.MethodPost, "/v1/recommend", e.secrets["console"], query, http.StatusOK)
		big := fmt.Sprintf(`{"query_image": %q}`, base64.StdEncoding.EncodeToString(make([]byte, testQueryBytes+1)))
		if body := e.httpDo(t, http.MethodPost, "/v1/recommend", e.secrets["console"], big, http.StatusTooManyRequests); !strings.Contains(body, "cap") {
			t.Errorf("over the query cap: %s", body)
		}
		e.httpGet(t, "/v1/products/none/thumbnail", "", http.StatusUnauthorized)
		e.httpGet(t, "/v1/products/none/thumbnail", e.secrets["ops"], http.StatusForbidden)
		e.httpGet(t, "/v1/products/none/thumbnail", e.secrets["console"], http.StatusNotFound)
		e.httpGet(t, "/", "", http.StatusOK)
		e.httpGet(t, "/openapi.json", "", http.StatusOK)
	})

	t.Run("secrets stay out of the log", func(t *testing.T) {
		_, s3secret, err := s3gw.LoadOrCreateCredentials(e.srv.cfg.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		log := e.log.String()
		if !strings.Contains(log, "API tokens loaded") {
			t.Fatalf("captured log looks empty:\n%s", log)
		}
		for name, s := range e.secrets {
			if strings.Contains(log, s) {
				t.Errorf("token %s appears in the log", name)
			}
		}
		if strings.Contains(log, s3secret) {
			t.Error("the S3 secret key appears in the log")
		}
	})
}

// httpGet fetches path over HTTPS with the client certificate and wants status.
func (e *secureEnv) httpGet(t *testing.T, path, token string, want int) string {
	t.Helper()
	return e.httpDo(t, http.MethodGet, path, token, "", want)
}

// httpDo sends a request (a non-empty body as JSON) over HTTPS with the
// client certificate and wants status.
func (e *secureEnv) httpDo(t *testing.T, method, path, token, body string, want int) string {
	t.Helper()
	tc, err := auth.ClientTLS(e.pki.CA, e.pki.ClientCert, e.pki.ClientKey, "")
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, "https://"+e.srv.HTTPAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Errorf("%s %s (token %v): %s, want %d: %.300s", method, path, token != "", resp.Status, want, out)
	}
	return string(out)
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestValidateRefusesExposedListeners(t *testing.T) {
	base := DefaultConfig()
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string // "" = valid
	}{
		{"loopback default", func(*Config) {}, ""},
		{"all interfaces, nothing", func(c *Config) { c.GRPCAddr = "0.0.0.0:50051" }, "refusing to serve gRPC 0.0.0.0:50051 beyond loopback without TLS (--tls-cert, --tls-key) and tokens (--auth-tokens)"},
		{"HTTP exposed", func(c *Config) { c.HTTPAddr = ":8080" }, "refusing to serve HTTP :8080"},
		{"TLS without tokens", func(c *Config) { c.GRPCAddr, c.TLSCert, c.TLSKey = ":1", "c", "k" }, "without tokens (--auth-tokens)"},
		{"tokens without TLS", func(c *Config) { c.GRPCAddr, c.AuthTokens = ":1", "f" }, "without TLS"},
		{"both", func(c *Config) { c.GRPCAddr, c.TLSCert, c.TLSKey, c.AuthTokens = ":1", "c", "k", "f" }, ""},
		{"insecure", func(c *Config) { c.GRPCAddr, c.Insecure = "0.0.0.0:1", true }, ""},
		{"ingest-only role has no API", func(c *Config) { c.GRPCAddr, c.HTTPAddr, c.Roles = ":1", "", []string{RoleIngest} }, ""},
		{"cert without key", func(c *Config) { c.TLSCert = "c" }, "both --tls-cert and --tls-key"},
		{"client CA without cert", func(c *Config) { c.TLSClientCA = "ca" }, "needs --tls-cert"},
		{"negative rate", func(c *Config) { c.Limits.RatePerSecond = -1 }, "want ≥ 0"},
		{"replicas on the embedded server", func(c *Config) { c.NATSReplicas = 3 }, "needs a NATS cluster"},
		{"replicas on a cluster", func(c *Config) { c.NATSReplicas, c.NATSURL = 3, "nats://n1:4222" }, ""},
		{"storage role on loopback", func(c *Config) { c.Roles, c.S3Listen = []string{RoleStorage}, "127.0.0.1:9000" }, ""},
		{"storage role with an external S3", func(c *Config) { c.Roles, c.S3Endpoint = []string{RoleStorage}, "s3:9000" }, "takes --s3-listen, not --s3-endpoint"},
		{"embedded gateway exposed", func(c *Config) { c.S3Listen = "0.0.0.0:9000" }, "refusing to serve the embedded S3 gateway on 0.0.0.0:9000"},
		{"embedded gateway exposed, insecure", func(c *Config) { c.S3Listen, c.Insecure = ":9000", true }, ""},
		{"external S3: the listen address is unused", func(c *Config) { c.S3Listen, c.S3Endpoint = ":9000", "s3:9000" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
			if err != nil && tc.want != "" && strings.HasPrefix(tc.want, "refusing") && !strings.Contains(err.Error(), "--insecure") {
				t.Errorf("refusal does not mention --insecure: %v", err)
			}
		})
	}
}

func TestS3EndpointScheme(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		flagTLS  bool
		host     string
		tls      bool
	}{
		{"minio:9000", false, "minio:9000", false},
		{"minio:9000", true, "minio:9000", true},
		{"https://s3.example.com/", false, "s3.example.com", true},
		{"http://minio:9000", true, "minio:9000", false},
	} {
		host, tls := Config{S3Endpoint: tc.endpoint, S3UseTLS: tc.flagTLS}.s3Endpoint()
		if host != tc.host || tls != tc.tls {
			t.Errorf("%q (--s3-tls %v) = %q, %v; want %q, %v", tc.endpoint, tc.flagTLS, host, tls, tc.host, tc.tls)
		}
	}
}
