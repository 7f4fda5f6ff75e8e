package ranker_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omnirank/omnirank/learn"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/sim"
)

// TestSimulatedShoppersTrainAndHotLoad: synthetic shoppers (package sim)
// use a ranker over gRPC; its impressions join their feedback into a
// dataset; the trained model predicts clicks better than the base rate on
// held-out shoppers and, published, is hot-loaded by the ranker: rankings
// change and no request fails meanwhile.
func TestSimulatedShoppersTrainAndHotLoad(t *testing.T) {
	e, enc, queries, likes := shopEnv(t, 11)
	// A real clock: with the fixed test clock a shopper's second click on a
	// product would carry the first one's time and be deduplicated.
	s := e.serve(enc, ranker.WithImpressions(1), ranker.WithClock(time.Now))
	s.waitReady(t, "")
	st, err := sim.Run(t.Context(), sim.Config{Ranker: s.rank, Feedback: s.feedback, Users: 40, Requests: 10, Seed: 3,
		Queries: queries, Likes: likes, Categories: []string{"clothing", "home"}, Modalities: []string{"image"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("simulated: %+v", st)
	if st.Requests != 400 || st.RecommendErrors != 0 || st.RejectedRecords != 0 || st.Clicks == 0 {
		t.Fatalf("simulation %+v", st)
	}
	eventually(t, "impressions published", func() bool { return s.r.Stats().ImpressionsPublished == int64(st.Requests) })
	ds, _, err := learn.Load(t.Context(), e.js, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Stats.Impressions != st.Requests || ds.Stats.Shown != st.Shown || ds.Stats.Positives != st.Clicks ||
		ds.Stats.Feedback != st.Views+st.Clicks+st.Carts+st.Purchases {
		t.Fatalf("join %+v, simulated %+v", ds.Stats, st)
	}
	m, err := learn.Train(ds, learn.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	r := m.Report
	t.Logf("held-out log loss %.4f → %.4f; NDCG@10 over %d: shown %.4f hand %.4f learned %.4f; weights %v %v",
		r.BaseHeldoutLoss, r.HeldoutLoss, r.NDCGQueries, r.NDCGShown, r.NDCGHand, r.NDCGLearned, m.Features, m.Weights)
	if !(r.HeldoutLoss < r.BaseHeldoutLoss) {
		t.Errorf("held-out log loss %v, base %v", r.HeldoutLoss, r.BaseHeldoutLoss)
	}

	// Hot-load while requests run.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	followed := make(chan error, 1)
	go func() { followed <- learn.Follow(ctx, e.js, s.r.SetScorer, testLogger()) }()
	reqs := make([]*omnirankv1.RecommendRequest, len(likes))
	for i, id := range likes {
		reqs[i] = &omnirankv1.RecommendRequest{PositiveIds: []string{id}}
	}
	before := make([][]string, len(reqs))
	for i, req := range reqs {
		res, err := s.rank.Recommend(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		before[i] = ids(res)
	}
	var failed, done atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Go(func() {
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.rank.Recommend(t.Context(), reqs[i%len(reqs)]); err != nil {
					failed.Add(1)
				}
				done.Add(1)
			}
		})
	}
	if _, err := learn.Publish(t.Context(), e.js, m); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the learned model loaded", func() bool { _, ok := s.r.Scorer().(*learn.Scorer); return ok })
	close(stop)
	wg.Wait()
	changed := 0
	for i, req := range reqs {
		res, err := s.rank.Recommend(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(res), before[i]) {
			changed++
		}
	}
	t.Logf("hot-load: %d requests during it, %d failed; %d of %d rankings changed", done.Load(), failed.Load(), changed, len(reqs))
	if failed.Load() != 0 || changed == 0 {
		t.Fatalf("%d requests failed during the hot-load; %d rankings changed", failed.Load(), changed)
	}
	cancel()
	if err := <-followed; err != nil {
		t.Fatal(err)
	}
}

// shopEnv is a catalogue of 240 products in 8 clusters for simulated
// shoppers: 4 text queries (each encoding to one product's text part) and
// 40 products to like.
func shopEnv(t *testing.T, seed uint64) (e *env, enc ranker.Encoders, queries, likes []string) {
	e = newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(seed, 240, 8)
	e.load(testSpace, ps)
	enc, txt, _ := newTestEncoders()
	for i := range 4 {
		q := fmt.Sprintf("query %d", i)
		txt.set(q, ps[i].parts["text"])
		queries = append(queries, q)
	}
	for _, p := range ps[:40] {
		likes = append(likes, p.id)
	}
	return e, enc, queries, likes
}
