package ranker_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/omnirank/omnirank/experiment"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/sim"
)

// armWatcher wraps a RankerServiceClient and records the arm of every
// response per user.
type armWatcher struct {
	omnirankv1.RankerServiceClient
	mu        sync.Mutex
	userArm   map[string]string
	responses map[string]int
	conflicts []string
	unnamed   int
}

func (w *armWatcher) Recommend(ctx context.Context, req *omnirankv1.RecommendRequest, opts ...grpc.CallOption) (*omnirankv1.RecommendResponse, error) {
	res, err := w.RankerServiceClient.Recommend(ctx, req, opts...)
	if err != nil {
		return res, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if res.Arm == "" {
		w.unnamed++
		return res, nil
	}
	w.responses[res.Arm]++
	if prev, ok := w.userArm[req.UserId]; ok && prev != res.Arm {
		w.conflicts = append(w.conflicts, fmt.Sprintf("%s: %s then %s", req.UserId, prev, res.Arm))
	}
	w.userArm[req.UserId] = res.Arm
	return res, nil
}

// gatherCounter reads the first counter whose labels include labels.
func gatherCounter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	return findCounter(t, reg, name, func(lps map[string]string) bool {
		for k, v := range labels {
			if lps[k] != v {
				return false
			}
		}
		return true
	})
}

// TestExperimentArms: a ranker serving an experiment answers every request
// with an arm, always the same for a user, splits users close to the
// configured shares, records the arm in impressions and counts per arm;
// the report read back from the streams counts exactly the responses and
// events the simulated shoppers produced.
func TestExperimentArms(t *testing.T) {
	e, enc, queries, likes := shopEnv(t, 21)
	diverse, focused := float32(0.3), float32(1)
	cfg, err := experiment.Parse([]byte(`
name: mmr-test
arms:
  - {name: diverse, share: 0.3, scorer: hand, mmr_lambda: 0.3}
  - {name: focused, share: 0.7, scorer: hand, mmr_lambda: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Arms[0].MMRLambda != diverse || *cfg.Arms[1].MMRLambda != focused {
		t.Fatalf("parsed %+v", cfg)
	}
	reg := prometheus.NewRegistry()
	s := e.serve(enc, ranker.WithImpressions(1), ranker.WithClock(time.Now), ranker.WithMetrics(reg),
		ranker.WithExperiment(ranker.Experiment{Config: cfg}))
	s.waitReady(t, "")
	w := &armWatcher{RankerServiceClient: s.rank, userArm: map[string]string{}, responses: map[string]int{}}
	const users = 200
	st, err := sim.Run(t.Context(), sim.Config{Ranker: w, Feedback: s.feedback, Users: users, Requests: 3, Seed: 5,
		Queries: queries, Likes: likes, Categories: []string{"clothing", "home"}, Modalities: []string{"image", "text"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("simulated: %+v; responses per arm %v", st, w.responses)
	if st.Requests != 3*users || st.RecommendErrors != 0 || st.RejectedRecords != 0 {
		t.Fatalf("simulation %+v", st)
	}
	if w.unnamed != 0 || len(w.conflicts) != 0 {
		t.Fatalf("%d responses without an arm; users in two arms: %v", w.unnamed, w.conflicts)
	}
	for user, arm := range w.userArm {
		if want := cfg.Arms[cfg.Assign(user)].Name; arm != want {
			t.Fatalf("user %s in arm %s, the hash says %s", user, arm, want)
		}
	}
	eventually(t, "impressions published", func() bool { return s.r.Stats().ImpressionsPublished == int64(st.Requests) })

	rep, err := experiment.Load(t.Context(), e.js, "", time.Time{}, "diverse", "focused")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := rep.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", sb.String())
	if rep.Experiment != "mmr-test" || len(rep.Arms) != 2 || rep.Arms[0].Arm != "diverse" || rep.Arms[1].Arm != "focused" {
		t.Fatalf("report %+v", rep)
	}
	var sum experiment.ArmReport
	for i, a := range rep.Arms {
		if a.Impressions != w.responses[a.Arm] {
			t.Errorf("arm %s: %d impressions, %d responses", a.Arm, a.Impressions, w.responses[a.Arm])
		}
		share := float64(a.Users) / users
		if want := cfg.Arms[i].Share; share < want-0.1 || share > want+0.1 {
			t.Errorf("arm %s holds %.2f of the users, configured %.2f", a.Arm, share, want)
		}
		if got := gatherCounter(t, reg, "omnirank_experiment_events_total", map[string]string{"arm": a.Arm, "event": "impression"}); got != float64(a.Impressions) {
			t.Errorf("arm %s: impression counter %v, report %d", a.Arm, got, a.Impressions)
		}
		for kind, n := range map[string]int{"view": a.Views, "click": a.Clicks, "cart": a.Carts, "purchase": a.Purchases} {
			if got := gatherCounter(t, reg, "omnirank_experiment_events_total", map[string]string{"arm": a.Arm, "event": kind}); got != float64(n) {
				t.Errorf("arm %s: %s counter %v, report %d", a.Arm, kind, got, n)
			}
		}
		sum.Users += a.Users
		sum.Impressions += a.Impressions
		sum.Views += a.Views
		sum.Clicks += a.Clicks
		sum.Carts += a.Carts
		sum.Purchases += a.Purchases
		if a.Clicked > a.Impressions || a.Converted > a.Clicked || a.Clicked > a.Clicks+a.Carts+a.Purchases {
			t.Errorf("arm %s: %d clicked and %d converted of %d impressions", a.Arm, a.Clicked, a.Converted, a.Impressions)
		}
	}
	if sum.Users != users || sum.Impressions != st.Requests || sum.Views != st.Views || sum.Clicks != st.Clicks || sum.Carts != st.Carts ||
		sum.Purchases != st.Purchases || rep.Unattributed != 0 {
		t.Fatalf("report sums %+v (unattributed %d), simulated %+v", sum, rep.Unattributed, st)
	}
}
