package ranker_test

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/topology"
)

func ev(user, product, kind string, at time.Time) *omnirankv1.FeedbackEvent {
	return &omnirankv1.FeedbackEvent{UserId: user, ProductId: product, Kind: kind, TimestampMs: at.UnixMilli()}
}

// record sends events and waits until the ranker has applied total events.
func (s *served) record(t testing.TB, total int64, events ...*omnirankv1.FeedbackEvent) {
	t.Helper()
	res, err := s.feedback.Record(t.Context(), &omnirankv1.RecordRequest{Events: events})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != int64(len(events)) {
		t.Fatalf("accepted %d of %d", res.Accepted, len(events))
	}
	eventually(t, "feedback applied", func() bool { return s.r.Stats().FeedbackEvents >= total })
}

// TestPersonalisation: a user's history pulls results towards what they
// interacted with, purchases are not recommended again, and the profile is
// the kind-weighted, time-decayed mean of their items.
func TestPersonalisation(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(11, 120, 4)
	e.load(testSpace, ps)
	m := byID(ps)
	dflt := e.serve(nil)
	plain := e.serve(nil, cosineOnly)
	dflt.waitReady(t, "")
	plain.waitReady(t, "")
	ctx := t.Context()

	inCluster := func(c int) []*product {
		var out []*product
		for _, p := range ps {
			if p.cluster == c {
				out = append(out, p)
			}
		}
		return out
	}
	c2, c3 := inCluster(2), inCluster(3)
	events := []*omnirankv1.FeedbackEvent{
		ev("u-a", c2[0].id, "view", baseTime.Add(-48*time.Hour)),
		ev("u-a", c2[1].id, "click", baseTime.Add(-30*24*time.Hour)),
		ev("u-a", c2[2].id, "cart", baseTime.Add(-2*time.Hour)),
		ev("u-a", c2[3].id, "purchase", baseTime.Add(-time.Hour)),
		ev("u-b", c3[0].id, "view", baseTime.Add(-time.Hour)),
		ev("u-b", c3[1].id, "purchase", baseTime.Add(-time.Hour)),
	}
	dflt.record(t, int64(len(events)), events...)
	eventually(t, "second ranker applied feedback", func() bool { return plain.r.Stats().FeedbackEvents == int64(len(events)) })

	for _, c := range []struct {
		user      string
		cluster   int
		purchased string
	}{{"u-a", 2, c2[3].id}, {"u-b", 3, c3[1].id}} {
		res, err := dflt.rank.Recommend(ctx, &omnirankv1.RecommendRequest{UserId: c.user, K: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 10 {
			t.Fatalf("%s: %d results", c.user, len(res.Results))
		}
		for _, r := range res.Results {
			if m[r.Id].cluster != c.cluster {
				t.Errorf("%s: %s from cluster %d, history is in cluster %d", c.user, r.Id, m[r.Id].cluster, c.cluster)
			}
			if r.Id == c.purchased {
				t.Errorf("%s: purchased %s recommended again", c.user, r.Id)
			}
		}
	}

	// Exact profile: Σ kind weight · 2^(−age/14d) · vector, normalised,
	// the latest session (the purchase alone: the cart is an hour before
	// it) weighted DefaultSessionBoost times.
	profile := make([]float32, testSpace.Dim())
	for i, e := range events[:4] {
		w := map[string]float64{"view": 1, "click": 2, "cart": 4, "purchase": 8}[e.Kind]
		age := baseTime.Sub(time.UnixMilli(e.TimestampMs))
		w *= math.Exp2(-age.Hours() / (14 * 24))
		if i == 3 {
			w *= ranker.DefaultSessionBoost
		}
		for i, x := range m[e.ProductId].joint {
			profile[i] += float32(w) * x
		}
	}
	profile = normalized(profile)
	res, err := plain.rank.Recommend(ctx, &omnirankv1.RecommendRequest{UserId: "u-a", K: 15})
	if err != nil {
		t.Fatal(err)
	}
	want := bruteForce(profile, ps, func(p *product) bool { return p.id != c2[3].id })[:15]
	if got := ids(res); !slices.Equal(got, want) {
		t.Fatalf("profile ranking\n got %v\nwant %v", got, want)
	}
	if st := dflt.r.Stats(); st.FeedbackUsers != 2 || st.FeedbackItems != 6 || !st.FeedbackReady {
		t.Fatalf("stats %+v", st)
	}
}

// TestCooccurrence: items interacted with in the same sessions as a
// positive get a co-occurrence boost; items outside the session window
// do not.
func TestCooccurrence(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(12, 60, 3)
	e.load(testSpace, ps)
	s := e.serve(nil, ranker.WithScorer(ranker.LinearScorer{Cosine: 1, Cooccurrence: 0.1}))
	s.waitReady(t, "")
	ctx := t.Context()

	a := ps[0]
	order := bruteForce(normalized(a.joint), ps, func(p *product) bool { return p.id != a.id })
	b, c := order[10], order[20] // just outside the top 10; further out
	var events []*omnirankv1.FeedbackEvent
	for i, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
		at := baseTime.Add(-time.Duration(i+1) * 24 * time.Hour)
		events = append(events, ev(u, a.id, "view", at), ev(u, b, "click", at.Add(5*time.Minute)))
	}
	// Same user, two hours apart: not a session.
	events = append(events, ev("u6", a.id, "view", baseTime.Add(-5*time.Hour)), ev("u6", c, "view", baseTime.Add(-3*time.Hour)))
	s.record(t, int64(len(events)), events...)

	res, err := s.rank.Recommend(ctx, &omnirankv1.RecommendRequest{PositiveIds: []string{a.id}, K: 60, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	cooc := map[string]float32{}
	rank := map[string]int{}
	for i, r := range res.Results {
		rank[r.Id] = i
		for _, ct := range r.Contributions {
			if ct.Name == "feature:cooccurrence" {
				cooc[r.Id] = ct.Value
			}
		}
	}
	if cooc[b] <= 0 {
		t.Fatalf("co-occurring %s has no co-occurrence contribution", b)
	}
	if rank[b] >= 10 {
		t.Fatalf("co-occurring %s ranks %d (cosine rank 10)", b, rank[b])
	}
	for id, v := range cooc {
		if id != b && v != 0 {
			t.Errorf("%s has co-occurrence %v", id, v)
		}
	}
	// A user whose recent items include a seeds co-occurrence too.
	res, err = s.rank.Recommend(ctx, &omnirankv1.RecommendRequest{UserId: "u1", K: 60, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		if r.Id == a.id || r.Id == b {
			continue
		}
		for _, ct := range r.Contributions {
			if ct.Name == "feature:cooccurrence" && ct.Value != 0 {
				t.Errorf("%s: co-occurrence %v without shared sessions", r.Id, ct.Value)
			}
		}
	}
}

// TestSessionOutweighsHistory: the items of a user's latest session weigh
// more in their profile than older history, so the neighbours of what they
// just viewed rank above those of what they viewed days ago; with the
// boost off (1) the older, larger history wins.
func TestSessionOutweighsHistory(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(14, 120, 4)
	e.load(testSpace, ps)
	m := byID(ps)
	boosted := e.serve(nil, cosineOnly)
	flat := e.serve(nil, cosineOnly, ranker.WithSessionBoost(1))
	boosted.waitReady(t, "")
	flat.waitReady(t, "")
	var old, now []*product
	for _, p := range ps {
		switch {
		case p.cluster == 3 && len(old) < 3:
			old = append(old, p)
		case p.cluster == 2 && len(now) < 1:
			now = append(now, p)
		}
	}
	var events []*omnirankv1.FeedbackEvent
	for i, p := range old {
		events = append(events, ev("u-s", p.id, "view", baseTime.Add(-72*time.Hour+time.Duration(i)*time.Minute)))
	}
	events = append(events, ev("u-s", now[0].id, "view", baseTime.Add(-10*time.Minute)))
	boosted.record(t, int64(len(events)), events...)
	eventually(t, "second ranker applied feedback", func() bool { return flat.r.Stats().FeedbackEvents == int64(len(events)) })

	for _, c := range []struct {
		name    string
		s       *served
		cluster int
	}{{"session boost 4", boosted, 2}, {"session boost 1", flat, 3}} {
		res, err := c.s.rank.Recommend(t.Context(), &omnirankv1.RecommendRequest{UserId: "u-s", K: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 10 {
			t.Fatalf("%s: %d results", c.name, len(res.Results))
		}
		for i, r := range res.Results {
			if m[r.Id].cluster != c.cluster {
				t.Errorf("%s: result %d %s from cluster %d, want %d", c.name, i, r.Id, m[r.Id].cluster, c.cluster)
			}
		}
	}
}

// TestNextItem: B viewed after A (within the session window) gives B the
// next-item feature for a user whose session holds A or a request liking
// A; the reverse (A after B) gets nothing, nor does a pair further apart
// than the window, while co-occurrence is symmetric.
func TestNextItem(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(15, 60, 3)
	e.load(testSpace, ps)
	s := e.serve(nil, ranker.WithScorer(ranker.LinearScorer{Cosine: 1, Cooccurrence: 0.1, NextItem: 0.1}))
	s.waitReady(t, "")
	a, b, c := ps[0].id, ps[1].id, ps[2].id
	var events []*omnirankv1.FeedbackEvent
	for i, u := range []string{"u1", "u2", "u3"} {
		at := baseTime.Add(-time.Duration(i+1) * 24 * time.Hour)
		events = append(events, ev(u, a, "view", at), ev(u, b, "click", at.Add(5*time.Minute)))
	}
	// A then C two hours apart: no pair at all.
	events = append(events, ev("u4", a, "view", baseTime.Add(-5*time.Hour)), ev("u4", c, "view", baseTime.Add(-3*time.Hour)))
	// The users asking: one just viewed A, one just viewed B.
	events = append(events, ev("after-a", a, "view", baseTime.Add(-time.Minute)), ev("after-b", b, "view", baseTime.Add(-time.Minute)))
	s.record(t, int64(len(events)), events...)

	feature := func(req *omnirankv1.RecommendRequest) (next, cooc map[string]float32) {
		t.Helper()
		req.K, req.Explain = 60, true
		res, err := s.rank.Recommend(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		next, cooc = map[string]float32{}, map[string]float32{}
		for _, r := range res.Results {
			for _, ct := range r.Contributions {
				switch ct.Name {
				case "feature:next":
					next[r.Id] = ct.Value
				case "feature:cooccurrence":
					cooc[r.Id] = ct.Value
				}
			}
		}
		return next, cooc
	}
	// 3 users went A → B: s = 3, feature 3/4, weight 0.1.
	for _, req := range []*omnirankv1.RecommendRequest{{UserId: "after-a"}, {PositiveIds: []string{a}}} {
		next, cooc := feature(req)
		if !approx(next[b], 0.075) {
			t.Errorf("%v: next-item of %s after %s = %v, want 0.075", req, b, a, next[b])
		}
		for id, v := range next {
			if id != b && v != 0 {
				t.Errorf("%v: %s has next-item %v", req, id, v)
			}
		}
		if cooc[b] == 0 {
			t.Errorf("%v: %s has no co-occurrence", req, b)
		}
	}
	next, cooc := feature(&omnirankv1.RecommendRequest{UserId: "after-b"})
	if _, shown := next[a]; !shown || next[a] != 0 {
		t.Errorf("after %s: next-item of %s = %v (shown %v), want 0", b, a, next[a], shown)
	}
	if cooc[a] == 0 {
		t.Errorf("after %s: co-occurrence of %s is 0, want symmetric", b, a)
	}
}

// TestPopularColdStart: with feedback, a user without history gets the
// popular items first; without a query the list is diversified by default.
func TestPopularColdStart(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(13, 30, 3)
	e.load(testSpace, ps)
	s := e.serve(nil)
	s.waitReady(t, "")
	ctx := t.Context()
	var events []*omnirankv1.FeedbackEvent
	for i := range 10 {
		at := baseTime.Add(-time.Duration(i+1) * time.Hour)
		events = append(events, ev("v"+string(rune('a'+i)), "p029", "view", at))
		if i < 5 {
			events = append(events, ev("w"+string(rune('a'+i)), "p028", "view", at))
		}
	}
	s.record(t, int64(len(events)), events...)
	res, err := s.rank.Recommend(ctx, &omnirankv1.RecommendRequest{UserId: "newbie", K: 5, MmrLambda: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(res), []string{"p029", "p028", "p000", "p001", "p002"}; !slices.Equal(got, want) {
		t.Fatalf("popular then newest: got %v want %v", got, want)
	}
	div, err := s.rank.Recommend(ctx, &omnirankv1.RecommendRequest{Filter: &omnirankv1.Filter{ExcludeIds: []string{"p000"}}, K: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(div.Results) != 5 || div.Results[0].Id != "p029" || slices.Contains(ids(div), "p000") {
		t.Fatalf("diversified popular list %v", ids(div))
	}
}

func TestFeedbackRecord(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	s := e.serve(nil)
	ctx := t.Context()
	many := make([]*omnirankv1.FeedbackEvent, ranker.MaxEventsPerRecord+1)
	for i := range many {
		many[i] = ev("u", "p", "view", baseTime)
	}
	cases := []struct {
		name   string
		events []*omnirankv1.FeedbackEvent
		msg    string
	}{
		{"no events", nil, "no events"},
		{"too many", many, "at most 1000"},
		{"unknown kind", []*omnirankv1.FeedbackEvent{ev("u", "p", "like", baseTime)}, "unknown kind"},
		{"empty user", []*omnirankv1.FeedbackEvent{ev("", "p", "view", baseTime)}, "user_id is empty"},
		{"empty product", []*omnirankv1.FeedbackEvent{ev("u", "", "view", baseTime)}, "product_id is empty"},
		{"control character", []*omnirankv1.FeedbackEvent{ev("u\n", "p", "view", baseTime)}, "control character"},
		{"long id", []*omnirankv1.FeedbackEvent{ev(strings.Repeat("u", 300), "p", "view", baseTime)}, "longer than"},
		{"negative time", []*omnirankv1.FeedbackEvent{{UserId: "u", ProductId: "p", Kind: "view", TimestampMs: -1}}, "negative"},
		{"second event bad", []*omnirankv1.FeedbackEvent{ev("u", "p", "view", baseTime), ev("u", "p", "", baseTime)}, "event 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.feedback.Record(ctx, &omnirankv1.RecordRequest{Events: c.events})
			st, _ := status.FromError(err)
			if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), c.msg) {
				t.Fatalf("got %v %q, want InvalidArgument containing %q", st.Code(), st.Message(), c.msg)
			}
		})
	}
	_, err := s.r.Feedback().Record(ctx, &omnirankv1.RecordRequest{Events: []*omnirankv1.FeedbackEvent{ev("u\xff", "p", "view", baseTime)}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("invalid UTF-8 user: %v", err)
	}
	stream, err := e.js.Stream(ctx, topology.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := stream.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("rejected calls published: %v %+v", err, info)
	}

	// Accepted events are published once: a retried call is de-duplicated.
	good := []*omnirankv1.FeedbackEvent{ev("u", "p1", "view", baseTime), ev("u", "p2", "cart", baseTime), {UserId: "u", ProductId: "p3", Kind: "purchase"}}
	for range 2 {
		res, err := s.feedback.Record(ctx, &omnirankv1.RecordRequest{Events: good})
		if err != nil || res.Accepted != 3 {
			t.Fatalf("record: %v %v", res, err)
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("stream holds %d events, want 3", info.State.Msgs)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, topology.FeedbackSubject("purchase", "u"))
	if err != nil {
		t.Fatal(err)
	}
	var fb topology.Feedback
	if err := json.Unmarshal(msg.Data, &fb); err != nil {
		t.Fatal(err)
	}
	if !fb.Time.Equal(baseTime) || fb.ProductID != "p3" || fb.UserID != "u" {
		t.Fatalf("event without timestamp stored as %+v", fb)
	}
	eventually(t, "feedback applied", func() bool { return s.r.Stats().FeedbackEvents == 3 })
	if _, err := ranker.NewFeedback(nil); !errors.Is(err, ranker.ErrInvalidOption) {
		t.Fatalf("nil JetStream: %v", err)
	}
}
