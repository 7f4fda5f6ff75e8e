package eval

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// scriptedRanker is a RankerService whose answers the test decides, served
// over real gRPC on loopback: the runner's concurrency bound, retries,
// timeouts and failure accounting need answers a real ranker gives only by
// chance (the end-to-end test in cmd/omnirank runs against the real one).
// A text query "a b c" is answered with the products a, b, c; a few texts
// script failures.
type scriptedRanker struct {
	pb.UnimplementedRankerServiceServer
	delay time.Duration

	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	calls       map[string]int
	requests    map[string]*pb.RecommendRequest
}

func (s *scriptedRanker) Recommend(ctx context.Context, req *pb.RecommendRequest) (*pb.RecommendResponse, error) {
	key := req.GetQueryText()
	if key == "" {
		key = "user:" + req.GetUserId()
	}
	s.mu.Lock()
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.calls[key]++
	calls := s.calls[key]
	s.requests[key] = req
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	space := req.GetSpace()
	if space == "" {
		space = "active-space"
	}
	switch key {
	case "shed once":
		if calls == 1 {
			return nil, status.Error(codes.ResourceExhausted, "ranker overloaded")
		}
	case "always shed":
		return nil, status.Error(codes.ResourceExhausted, "ranker overloaded")
	case "unknown example":
		return nil, status.Error(codes.NotFound, "unknown products in space s: ghost")
	case "slow":
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	case "moved":
		space = "other-space"
	}
	resp := &pb.RecommendResponse{Space: space}
	for _, id := range strings.Fields(key) {
		resp.Results = append(resp.Results, &pb.ScoredProduct{Id: id})
	}
	return resp, nil
}

func serveScripted(t *testing.T, delay time.Duration) (*scriptedRanker, pb.RankerServiceClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	sr := &scriptedRanker{delay: delay, calls: map[string]int{}, requests: map[string]*pb.RecommendRequest{}}
	pb.RegisterRankerServiceServer(srv, sr)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return sr, pb.NewRankerServiceClient(conn)
}

func TestRunRequestsAndFailures(t *testing.T) {
	sr, client := serveScripted(t, 20*time.Millisecond)
	dir := t.TempDir()
	img, wav := filepath.Join(dir, "q.png"), filepath.Join(dir, "q.wav")
	for p, data := range map[string]string{img: "PNGDATA", wav: "WAVDATA"} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	queries := []Query{
		{ID: "hit", Text: "a b c", Relevant: []string{"a"}},
		{ID: "second", Text: "x a", Relevant: []string{"a"}},
		{ID: "mixed", Text: "m1 m2", ImagePath: img, AudioPath: wav, Like: []string{"p"}, Relevant: []string{"m2"}},
		{ID: "user", User: "u1", Relevant: []string{"x"}},
		{ID: "shed", Text: "shed once", Relevant: []string{"once"}},
		{ID: "overloaded", Text: "always shed", Relevant: []string{"a"}},
		{ID: "unknown", Text: "unknown example", Relevant: []string{"a"}},
		{ID: "slow", Text: "slow", Relevant: []string{"a"}},
		{ID: "gone", Image: filepath.Join(dir, "deleted.png"), Relevant: []string{"a"}},
	}
	for i := range 8 { // enough queries to see the concurrency bound
		queries = append(queries, Query{ID: "fill" + string(rune('0'+i)), Text: "f" + string(rune('0'+i)), Relevant: []string{"f"}})
	}
	cfg := Config{Space: "", K: 2, Concurrency: 3, Timeout: 300 * time.Millisecond, Attempts: 3}
	res, err := Run(context.Background(), client, queries, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Space != "active-space" || res.K != 2 || res.Queries != len(queries) {
		t.Errorf("result space %q k %d queries %d", res.Space, res.K, res.Queries)
	}
	if res.Failed != 4 {
		t.Errorf("failed = %d, want 4 (overloaded, unknown, slow, gone)", res.Failed)
	}
	byID := map[string]QueryResult{}
	for _, q := range res.PerQuery {
		byID[q.ID] = q
	}
	for id, want := range map[string]string{
		"overloaded": "ResourceExhausted", "unknown": "NotFound", "slow": "DeadlineExceeded", "gone": "read image",
	} {
		if !strings.Contains(byID[id].Error, want) {
			t.Errorf("%s: error %q, want it to say %s", id, byID[id].Error, want)
		}
	}
	if q := byID["hit"]; q.Recall != 1 || q.MRR != 1 || q.Failed() {
		t.Errorf("hit = %+v", q)
	}
	if q := byID["second"]; q.MRR != 0.5 {
		t.Errorf("second = %+v, want MRR 0.5", q)
	}
	if q := byID["shed"]; q.Failed() || q.Recall != 1 {
		t.Errorf("a query shed once was not retried: %+v", q)
	}
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.calls["always shed"] != 3 || sr.calls["unknown example"] != 1 {
		t.Errorf("attempts: always shed %d (want 3), not found %d (want 1)", sr.calls["always shed"], sr.calls["unknown example"])
	}
	if sr.maxInFlight != 3 {
		t.Errorf("max in flight = %d, want the bound 3", sr.maxInFlight)
	}
	req := sr.requests["m1 m2"]
	if string(req.GetQueryImage()) != "PNGDATA" || string(req.GetQueryAudio()) != "WAVDATA" ||
		len(req.GetPositiveIds()) != 1 || req.GetPositiveIds()[0] != "p" || req.GetK() != 2 {
		t.Errorf("mixed request = %v", req)
	}
	if sr.requests["user:u1"].GetUserId() != "u1" {
		t.Errorf("user request = %v", sr.requests["user:u1"])
	}
	if a := res.ByKind[KindMixed]; a.N != 1 || a.Recall != 1 || a.MRR != 0.5 {
		t.Errorf("mixed aggregate = %+v", a)
	}
}

func TestRunSpace(t *testing.T) {
	sr, client := serveScripted(t, 0)
	cfg := DefaultConfig()
	cfg.Space = "campaign-space"
	res, err := Run(context.Background(), client, []Query{{ID: "q", Text: "a", Relevant: []string{"a"}}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Space != "campaign-space" || sr.requests["a"].GetSpace() != "campaign-space" {
		t.Errorf("space %q, request space %q", res.Space, sr.requests["a"].GetSpace())
	}
	// An answer from another space than the one asked for fails its query.
	res, err = Run(context.Background(), client, []Query{{ID: "q", Text: "moved", Relevant: []string{"a"}}}, cfg)
	if err != nil || res.Failed != 1 || !strings.Contains(res.PerQuery[0].Error, `answered by space "other-space"`) {
		t.Errorf("err %v, result %+v", err, res)
	}
	// Without a space, answers from two spaces are an error.
	cfg.Space = ""
	_, err = Run(context.Background(), client, []Query{{ID: "q1", Text: "moved", Relevant: []string{"a"}}, {ID: "q2", Text: "a", Relevant: []string{"a"}}}, cfg)
	if !errors.Is(err, ErrMixedSpaces) || !strings.Contains(err.Error(), "active-space other-space") {
		t.Errorf("err = %v, want ErrMixedSpaces naming both", err)
	}
}

func TestRunCancelled(t *testing.T) {
	_, client := serveScripted(t, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	qs := []Query{{ID: "a", Text: "a", Relevant: []string{"a"}}, {ID: "b", Text: "b", Relevant: []string{"b"}}}
	if _, err := Run(ctx, client, qs, DefaultConfig()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	tests := map[string]func(*Config){
		"k zero":      func(c *Config) { c.K = 0 },
		"k too big":   func(c *Config) { c.K = 1001 },
		"concurrency": func(c *Config) { c.Concurrency = 0 },
		"timeout":     func(c *Config) { c.Timeout = 0 },
		"attempts":    func(c *Config) { c.Attempts = 0 },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			mod(&c)
			if err := c.Validate(); err == nil {
				t.Error("accepted")
			}
			if _, err := Run(context.Background(), nil, nil, c); err == nil {
				t.Error("Run accepted the config")
			}
		})
	}
}
