package ranker_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/spaces"
)

// benchSpace has the starter models' dimensions: text 256, image 152.
var benchSpace = spaces.Space{Name: "bench", Blocks: []spaces.Block{
	{Modality: "text", Model: "test-text@1", Dim: 256, Weight: 1},
	{Modality: "image", Model: "test-image@1", Dim: 152, Weight: 0.5},
}}

// BenchmarkRecommend measures Recommend over 10,000 products in 50
// clusters (408-dim joint vectors, HNSW), in process and over gRPC on
// loopback TCP.
//
//	go test -run '^$' -bench BenchmarkRecommend -benchtime 2s ./ranker/
func BenchmarkRecommend(b *testing.B) {
	const n = 10000
	e := newEnv(b)
	e.putSpace(benchSpace, true)
	ps := catalogueDims(21, n, 50, benchSpace)
	e.load(benchSpace, ps)
	txt := &tableEncoder{mod: "text", model: "test-text@1", dim: 256, table: map[string][]float32{}}
	img := &tableEncoder{mod: "image", model: "test-image@1", dim: 152, table: map[string][]float32{}}
	enc := &testEncoders{encs: map[string]*tableEncoder{txt.model: txt, img.model: img}}
	rng := rand.New(rand.NewPCG(1, 1))
	txt.set("query", randVec(rng, 256))
	s := e.serve(enc)
	ctx := b.Context()
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := s.r.WaitReady(wctx, ""); err != nil {
		b.Fatalf("%v (stats %+v)", err, s.r.Stats())
	}
	b.Logf("%d products indexed in %v", n, time.Since(start).Round(time.Millisecond))
	var events []*omnirankv1.FeedbackEvent
	for i := range 50 {
		events = append(events, ev("bench-user", ps[i*7].id, "view", baseTime.Add(-time.Duration(i)*time.Minute)))
	}
	s.record(b, int64(len(events)), events...)

	cases := []struct {
		name string
		req  *omnirankv1.RecommendRequest
	}{
		{"text", &omnirankv1.RecommendRequest{QueryText: "query"}},
		{"text-explain-mmr", &omnirankv1.RecommendRequest{QueryText: "query", Explain: true, MmrLambda: 0.7}},
		{"text-filter-25pct", &omnirankv1.RecommendRequest{QueryText: "query", Filter: &omnirankv1.Filter{CategoryPrefix: []string{"home"}}}},
		{"text-filter-1pct", &omnirankv1.RecommendRequest{QueryText: "query", Filter: &omnirankv1.Filter{Price: &omnirankv1.PriceRange{Min: 100}}}},
		{"positives", &omnirankv1.RecommendRequest{PositiveIds: []string{"p00001", "p00002"}, NegativeIds: []string{"p00003"}}},
		{"user-profile", &omnirankv1.RecommendRequest{UserId: "bench-user"}},
		{"cold-filter", &omnirankv1.RecommendRequest{Filter: &omnirankv1.Filter{CategoryPrefix: []string{"home"}}}},
		{"text-k100", &omnirankv1.RecommendRequest{QueryText: "query", K: 100}},
		{"text-filter-25pct-mmr", &omnirankv1.RecommendRequest{QueryText: "query", MmrLambda: 0.5, Filter: &omnirankv1.Filter{CategoryPrefix: []string{"clothing", "shoes"}}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cpu := ranker.ProcessCPU()
			for b.Loop() {
				if _, err := s.r.Recommend(ctx, c.req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(ranker.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
	// The same text query on a ranker logging every response's impression
	// (published in the background; dropped when the buffer is full).
	si := e.serve(enc, ranker.WithImpressions(1))
	if err := si.r.WaitReady(wctx, ""); err != nil {
		b.Fatal(err)
	}
	b.Run("text-impressions", func(b *testing.B) {
		cpu, st := ranker.ProcessCPU(), si.r.Stats()
		for b.Loop() {
			if _, err := si.r.Recommend(ctx, cases[0].req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(ranker.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
		after := si.r.Stats()
		b.ReportMetric(float64(after.ImpressionsDropped-st.ImpressionsDropped)/float64(b.N), "dropped/op")
	})
	b.Run("grpc-text", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.rank.Recommend(ctx, cases[0].req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
