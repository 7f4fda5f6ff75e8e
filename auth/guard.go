package auth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/omnirank/omnirank/metrics"
)

// Default request-size caps (bytes) per size class.
const (
	DefaultMaxRequestBytes = 64 << 20 // SizeBulk: an upsert with its media, a model's files
	DefaultMaxQueryBytes   = 16 << 20 // SizeQuery: a Recommend with a query image or clip
	DefaultMaxControlBytes = 1 << 20  // SizeControl: everything else
)

// Limits are the guard's request limits.
type Limits struct {
	// RatePerSecond is each token's sustained request rate (each client
	// address's without tokens); 0 turns rate limiting off. Burst is the
	// bucket size (0: max(1, RatePerSecond)).
	RatePerSecond float64
	Burst         int
	// Request-size caps per size class; 0 takes the default. A stream's
	// cap holds for each of its messages.
	MaxRequestBytes, MaxQueryBytes, MaxControlBytes int
}

// DefaultLimits: no rate limit, the default size caps.
func DefaultLimits() Limits {
	return Limits{MaxRequestBytes: DefaultMaxRequestBytes, MaxQueryBytes: DefaultMaxQueryBytes, MaxControlBytes: DefaultMaxControlBytes}
}

// Validate checks the limits.
func (l Limits) Validate() error {
	if l.RatePerSecond < 0 || l.Burst < 0 {
		return fmt.Errorf("rate limit %g/s burst %d: want ≥ 0", l.RatePerSecond, l.Burst)
	}
	if l.MaxRequestBytes < 0 || l.MaxQueryBytes < 0 || l.MaxControlBytes < 0 {
		return fmt.Errorf("request size caps must be ≥ 0")
	}
	return nil
}

func (l Limits) capOf(c SizeClass) int {
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	switch c {
	case SizeBulk:
		return pick(l.MaxRequestBytes, DefaultMaxRequestBytes)
	case SizeQuery:
		return min(pick(l.MaxQueryBytes, DefaultMaxQueryBytes), pick(l.MaxRequestBytes, DefaultMaxRequestBytes))
	default:
		return min(pick(l.MaxControlBytes, DefaultMaxControlBytes), pick(l.MaxRequestBytes, DefaultMaxRequestBytes))
	}
}

// Guard enforces tokens, scopes, rate limits and size caps.
type Guard struct {
	tokens  *Tokens // nil: no authentication
	limits  Limits
	metrics *metrics.Guard

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// maxLimiters bounds the per-key limiters kept (client addresses without
// tokens could otherwise grow the map without end); past it they start over.
const maxLimiters = 10000

// NewGuard makes a guard. tokens nil leaves every method open (the server
// allows that only on loopback or with --insecure); m may be nil.
func NewGuard(tokens *Tokens, limits Limits, m *metrics.Guard) (*Guard, error) {
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	return &Guard{tokens: tokens, limits: limits, metrics: m, limiters: map[string]*rate.Limiter{}}, nil
}

// MaxRecvMsgSize is the largest message any method accepts: the gRPC
// server's global cap (grpc.MaxRecvMsgSize).
func (g *Guard) MaxRecvMsgSize() int { return g.limits.capOf(SizeBulk) }

// check authenticates and authorises a call and applies the rate limit.
func (g *Guard) check(ctx context.Context, p Policy) error {
	key := "anonymous"
	if g.tokens != nil {
		secret, ok := bearerFromMetadata(ctx)
		if !ok {
			g.metrics.Refused("unauthenticated")
			return status.Error(codes.Unauthenticated, "missing bearer token (authorization: Bearer …; omnirank --token or OMNIRANK_TOKEN)")
		}
		id, ok := g.tokens.Authenticate(secret)
		if !ok {
			g.metrics.Refused("unauthenticated")
			return status.Error(codes.Unauthenticated, "unknown token")
		}
		if p.Scope != "" && !id.Has(p.Scope) {
			g.metrics.Refused("permission_denied")
			return status.Errorf(codes.PermissionDenied, "token %q lacks scope %q", id.Name, p.Scope)
		}
		key = "token:" + id.Name
	} else if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		key = "addr:" + hostOf(pr.Addr.String())
	}
	if !g.allow(key) {
		label := "anonymous"
		if name, ok := strings.CutPrefix(key, "token:"); ok {
			label = name
		}
		g.metrics.RateLimited(label)
		return status.Errorf(codes.ResourceExhausted, "rate limit of %g requests/s exceeded", g.limits.RatePerSecond)
	}
	return nil
}

func (g *Guard) allow(key string) bool {
	if g.limits.RatePerSecond <= 0 {
		return true
	}
	g.mu.Lock()
	lim, ok := g.limiters[key]
	if !ok {
		if len(g.limiters) >= maxLimiters {
			g.limiters = map[string]*rate.Limiter{}
		}
		burst := g.limits.Burst
		if burst == 0 {
			burst = max(1, int(g.limits.RatePerSecond))
		}
		lim = rate.NewLimiter(rate.Limit(g.limits.RatePerSecond), burst)
		g.limiters[key] = lim
	}
	g.mu.Unlock()
	return lim.Allow()
}

func (g *Guard) checkSize(p Policy, msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil
	}
	if n, limit := proto.Size(m), g.limits.capOf(p.Size); n > limit {
		g.metrics.Refused("too_large")
		return status.Errorf(codes.ResourceExhausted, "request of %d bytes exceeds this method's cap of %d bytes", n, limit)
	}
	return nil
}

// UnaryInterceptor guards unary calls.
func (g *Guard) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p := PolicyFor(info.FullMethod)
		if p.Open {
			return handler(ctx, req)
		}
		if err := g.check(ctx, p); err != nil {
			return nil, err
		}
		if err := g.checkSize(p, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor guards streaming calls: the token and rate limit once
// at the start, the size cap on every message received.
func (g *Guard) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		p := PolicyFor(info.FullMethod)
		if p.Open {
			return handler(srv, ss)
		}
		if err := g.check(ss.Context(), p); err != nil {
			return err
		}
		return handler(srv, &sizedStream{ServerStream: ss, g: g, p: p})
	}
}

type sizedStream struct {
	grpc.ServerStream
	g *Guard
	p Policy
}

func (s *sizedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.g.checkSize(s.p, m)
}

// HTTP guards an HTTP handler: with tokens, a request needs
// `Authorization: Bearer TOKEN` of a token holding scope (empty: any
// valid token): 401 without a known token, 403 without the scope.
func (g *Guard) HTTP(scope Scope, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.tokens != nil {
			secret, ok := bearer(r.Header.Get("Authorization"))
			id, known := g.tokens.Authenticate(secret)
			switch {
			case !ok || !known:
				g.metrics.Refused("unauthenticated")
				w.Header().Set("WWW-Authenticate", `Bearer realm="omnirank"`)
				http.Error(w, "missing or unknown bearer token", http.StatusUnauthorized)
				return
			case scope != "" && !id.Has(scope):
				g.metrics.Refused("permission_denied")
				http.Error(w, fmt.Sprintf("token lacks scope %q", scope), http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func bearerFromMetadata(ctx context.Context) (string, bool) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return "", false
	}
	for _, v := range md.Get("authorization") {
		if s, ok := bearer(v); ok {
			return s, true
		}
	}
	return "", false
}

func bearer(header string) (string, bool) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	secret = strings.TrimSpace(secret)
	return secret, secret != ""
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
