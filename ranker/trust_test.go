package ranker_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/topology"
)

// publishRaw puts a feedback event straight on the stream, as a client
// talking to NATS directly (not through Record) would.
func (e *env) publishRaw(subject string, fb topology.Feedback) {
	e.t.Helper()
	data, err := json.Marshal(fb)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.js.PublishMsg(e.ctx, &nats.Msg{Subject: subject, Data: data}); err != nil {
		e.t.Fatal(err)
	}
}

// scanJSON decodes every message of stream matching filter.
func scanJSON[T any](e *env, stream, filter string) []T {
	e.t.Helper()
	var out []T
	err := topology.Scan(e.ctx, e.js, stream, filter, func(m jetstream.Msg) error {
		var v T
		if err := json.Unmarshal(m.Data(), &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// streamEvents decodes every event left in the FEEDBACK stream.
func (e *env) streamEvents() []topology.Feedback {
	return scanJSON[topology.Feedback](e, topology.StreamFeedback, "feedback.>")
}

// TestFeedbackForgedTimestamp: an event dated 100 years ahead is refused
// by Record (InvalidArgument naming the field, counted) and, published
// straight to NATS, skipped by the ranker: popularity does not move.
func TestFeedbackForgedTimestamp(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	s := e.serve(nil, ranker.WithMetrics(reg))
	ctx := t.Context()
	s.record(t, 2, ev("u1", "p1", "view", baseTime), ev("u2", "p2", "view", baseTime))
	p1, p2 := s.r.PopularityOf("p1"), s.r.PopularityOf("p2")
	if p1 != 1 || p2 != 1 {
		t.Fatalf("popularity p1 %v p2 %v, want 1 and 1", p1, p2)
	}

	future := baseTime.AddDate(100, 0, 0)
	for _, c := range []struct {
		name, want string
		at         time.Time
	}{
		{"100 years ahead", "in the future", future},
		{"just past the skew", "in the future", baseTime.Add(ranker.DefaultFeedbackClockSkew + time.Second)},
		{"older than retention", "older than the feedback retention", baseTime.Add(-topology.FeedbackRetention - time.Hour)},
	} {
		_, err := s.feedback.Record(ctx, &omnirankv1.RecordRequest{Events: []*omnirankv1.FeedbackEvent{ev("u1", "p1", "purchase", c.at)}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "timestamp_ms") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want InvalidArgument naming timestamp_ms, %q", c.name, err, c.want)
		}
	}
	// Within the skew is fine.
	s.record(t, 3, ev("u3", "p3", "view", baseTime.Add(ranker.DefaultFeedbackClockSkew-time.Second)))
	if got := counterValue(t, reg, "omnirank_feedback_rejected_total", "future"); got != 2 {
		t.Errorf("rejected future: %v, want 2", got)
	}

	// Straight to NATS, on both subject layouts: skipped, counted.
	e.publishRaw(topology.FeedbackSubject("purchase", "u1"), topology.Feedback{UserID: "u1", ProductID: "p1", Kind: "purchase", Time: future})
	e.publishRaw("feedback.purchase", topology.Feedback{UserID: "u9", ProductID: "p1", Kind: "purchase", Time: future})
	e.publishRaw(topology.FeedbackSubject("view", "u1"), topology.Feedback{UserID: "u1", ProductID: "p1", Kind: "view", Time: baseTime.Add(-topology.FeedbackRetention - time.Hour)})
	// Another user's subject: a forget of u2 would not find it.
	e.publishRaw(topology.FeedbackSubject("view", "u2"), topology.Feedback{UserID: "u1", ProductID: "p1", Kind: "view", Time: baseTime})
	eventually(t, "forged events skipped", func() bool {
		sk := s.r.Stats().FeedbackSkipped
		return sk["future"] == 2 && sk["too_old"] == 1 && sk["subject"] == 1
	})
	st := s.r.Stats()
	if st.FeedbackEvents != 3 || st.FeedbackItems != 3 || st.FeedbackUsers != 3 {
		t.Fatalf("after forged events: %d events, %d items, %d users; want 3, 3, 3", st.FeedbackEvents, st.FeedbackItems, st.FeedbackUsers)
	}
	if got := s.r.PopularityOf("p1"); got != p1 {
		t.Fatalf("popularity of p1 moved from %v to %v", p1, got)
	}
	if got := counterValue(t, reg, "omnirank_feedback_skipped_total", "future"); got != 2 {
		t.Errorf("skipped future metric: %v, want 2", got)
	}
	// A replica started now replays the same stream to the same counts.
	again := e.serve(nil)
	eventually(t, "replica replayed", func() bool { st := again.r.Stats(); return st.FeedbackReady && st.FeedbackSkipped["future"] == 2 })
	if st := again.r.Stats(); st.FeedbackEvents != 3 || again.r.PopularityOf("p1") != p1 {
		t.Fatalf("replaying replica: %d events, popularity %v", st.FeedbackEvents, again.r.PopularityOf("p1"))
	}
}

// counterValue reads one labelled child of a registered counter vector
// (0 when absent).
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	return findCounter(t, reg, name, func(lps map[string]string) bool {
		for _, v := range lps {
			if v == label {
				return true
			}
		}
		return false
	})
}

// findCounter returns the value of the first counter named name whose
// labels match.
func findCounter(t *testing.T, reg *prometheus.Registry, name string, match func(labels map[string]string) bool) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			lps := map[string]string{}
			for _, lp := range m.GetLabel() {
				lps[lp.GetName()] = lp.GetValue()
			}
			if match(lps) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestFeedbackBurstCapped: 1,000 events of one user on one product count
// as many as the cap (10 per day), the same as 10 events of a fair user;
// an alternating burst on two products adds at most the cap to their
// co-occurrence.
func TestFeedbackBurstCapped(t *testing.T) {
	e := newEnv(t)
	s := e.serve(nil)
	ctx := t.Context()
	burst := make([]*omnirankv1.FeedbackEvent, 1000)
	for i := range burst {
		burst[i] = ev("burst", "p1", "view", baseTime.Add(-time.Duration(i)*time.Millisecond))
	}
	if _, err := s.feedback.Record(ctx, &omnirankv1.RecordRequest{Events: burst}); err != nil {
		t.Fatal(err)
	}
	var fair []*omnirankv1.FeedbackEvent
	for i := range ranker.DefaultUserContributionCap {
		fair = append(fair, ev("fair", "p2", "view", baseTime.Add(-time.Duration(i)*time.Millisecond)))
	}
	if _, err := s.feedback.Record(ctx, &omnirankv1.RecordRequest{Events: fair}); err != nil {
		t.Fatal(err)
	}
	alt := make([]*omnirankv1.FeedbackEvent, 1000)
	for i := range alt {
		alt[i] = ev("pair", fmt.Sprint("a", i%2), "view", baseTime.Add(-time.Hour+time.Duration(i)*time.Millisecond))
	}
	if _, err := s.feedback.Record(ctx, &omnirankv1.RecordRequest{Events: alt}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "all events handled", func() bool {
		st := s.r.Stats()
		return st.FeedbackEvents+st.FeedbackSkipped["capped"] == 2010
	})
	st := s.r.Stats()
	capN := int64(ranker.DefaultUserContributionCap)
	if want := 4 * capN; st.FeedbackEvents != want || st.FeedbackCapped != 2010-want || st.FeedbackSkipped["capped"] != 2010-want {
		t.Fatalf("applied %d, capped %d (skipped %d); want %d applied, %d capped", st.FeedbackEvents, st.FeedbackCapped, st.FeedbackSkipped["capped"], want, 2010-want)
	}
	p1, p2 := s.r.PopularityOf("p1"), s.r.PopularityOf("p2")
	if math.Abs(p1-float64(capN)) > 1e-3 || math.Abs(p1-p2) > 1e-3 {
		t.Fatalf("popularity of the burst product %v, of the fair one %v; want both %d", p1, p2, capN)
	}
	// 10 applied events on each of a0, a1, alternating: every one after
	// the first bumps the pair once.
	if got := s.r.CooccurrenceOf("a0", "a1"); got != float32(2*capN-1) {
		t.Fatalf("co-occurrence of the alternating burst %v, want %d", got, 2*capN-1)
	}
	// Next item: each applied event after the first follows the other
	// product once (a0 a1 a0 a1 …: 10 of a1 after a0, 9 of a0 after a1).
	if n01, n10 := s.r.NextItemOf("a0", "a1"), s.r.NextItemOf("a1", "a0"); n01+n10 != float32(2*capN-1) {
		t.Fatalf("next-item counts of the alternating burst %v + %v, want %d", n01, n10, 2*capN-1)
	}
}

// TestFeedbackRateLimits: per-user and per-client token buckets refuse a
// call as a whole with ResourceExhausted, counted; nothing of it is
// published.
func TestFeedbackRateLimits(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	s := e.serve(nil, ranker.WithMetrics(reg), ranker.WithFeedbackLimits(ranker.FeedbackLimits{UserRate: 1, UserBurst: 5, ClientRate: 1, ClientBurst: 8, MaxKeys: 100}))
	ctx := t.Context()
	events := func(user string, n int) []*omnirankv1.FeedbackEvent {
		out := make([]*omnirankv1.FeedbackEvent, n)
		for i := range out {
			out[i] = ev(user, fmt.Sprint("p", i), "view", baseTime.Add(-time.Duration(i)*time.Second))
		}
		return out
	}
	steps := []struct {
		user string
		n    int
		want codes.Code
		msg  string
	}{
		{"u", 5, codes.OK, ""},
		{"u", 1, codes.ResourceExhausted, `user "u"`},
		{"v", 4, codes.ResourceExhausted, "client"}, // client has 3 left
		{"v", 3, codes.OK, ""},
		{"w", 1, codes.ResourceExhausted, "client"},
	}
	for i, st := range steps {
		_, err := s.feedback.Record(ctx, &omnirankv1.RecordRequest{Events: events(st.user, st.n)})
		if status.Code(err) != st.want || (st.msg != "" && !strings.Contains(err.Error(), st.msg)) {
			t.Fatalf("step %d (%s x%d): %v, want %v %q", i, st.user, st.n, err, st.want, st.msg)
		}
	}
	stream, err := e.js.Stream(ctx, topology.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := stream.Info(ctx); err != nil || info.State.Msgs != 8 {
		t.Fatalf("stream holds %+v (%v), want the 8 admitted events", info.State, err)
	}
	if got := counterValue(t, reg, "omnirank_feedback_rejected_total", "rate_client"); got != 5 {
		t.Errorf("rate_client rejections %v, want 5 events", got)
	}
	if got := counterValue(t, reg, "omnirank_feedback_rejected_total", "rate_user"); got != 1 {
		t.Errorf("rate_user rejections %v, want 1", got)
	}
}

// TestForgetUser: after ForgetUser nothing of the user is left in the
// FEEDBACK stream (per-user and older subjects), in either ranker
// replica's memory (history, popularity, co-occurrence) or in a snapshot
// and a ranker restored from it; the forget is idempotent and the user's
// later activity counts again.
func TestForgetUser(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	e.load(testSpace, catalogue(3, 20, 2))
	bucket := newBucket(t)
	a := e.serve(nil, snapOpts(bucket)...)
	b := e.serve(nil)
	a.waitReady(t, "")
	b.waitReady(t, "")
	ctx := t.Context()
	const gone = "gone-user-7f3a"
	a.record(t, 3, ev(gone, "p001", "view", baseTime.Add(-3*time.Minute)), ev(gone, "p002", "view", baseTime.Add(-2*time.Minute)), ev(gone, "p003", "purchase", baseTime.Add(-time.Minute)))
	a.record(t, 5, ev("stay", "p001", "view", baseTime.Add(-3*time.Minute)), ev("stay", "p004", "cart", baseTime.Add(-2*time.Minute)))
	e.publishRaw("feedback.view", topology.Feedback{UserID: gone, ProductID: "p005", Kind: "view", Time: baseTime}) // older layout
	for _, s := range []*served{a, b} {
		eventually(t, "feedback applied", func() bool { return s.r.Stats().FeedbackEvents == 6 })
		if !s.r.KnowsUser(gone) || s.r.PopularityOf("p002") == 0 || s.r.CooccurrenceOf("p001", "p002") == 0 || s.r.NextItemOf("p001", "p002") == 0 {
			t.Fatal("before forgetting: the user's signals are missing")
		}
	}

	recommendFor := func(user string) []string {
		res, err := b.rank.Recommend(ctx, &omnirankv1.RecommendRequest{UserId: user, K: 5})
		if err != nil {
			t.Fatal(err)
		}
		return ids(res)
	}
	if before := recommendFor(gone); slices.Equal(before, recommendFor("never-seen")) {
		t.Fatalf("before forgetting, the user is answered as a stranger: %v", before)
	}

	res, err := ranker.ForgetUser(ctx, e.js, gone, baseTime)
	if err != nil {
		t.Fatal(err)
	}
	if res.Purged != 3 || res.Deleted != 1 {
		t.Fatalf("forget: %+v, want 3 purged, 1 deleted", res)
	}
	left := e.streamEvents()
	for _, fb := range left {
		if fb.UserID == gone {
			t.Fatalf("stream still holds %+v", fb)
		}
	}
	if len(left) != 2 {
		t.Fatalf("stream holds %d events, want the other user's 2", len(left))
	}
	for name, s := range map[string]*served{"a": a, "b": b} {
		eventually(t, "rebuild", func() bool { return s.r.Stats().FeedbackRebuilds >= 1 })
		st := s.r.Stats()
		if s.r.KnowsUser(gone) || st.FeedbackEvents != 2 || st.FeedbackUsers != 1 || st.FeedbackItems != 2 || st.FeedbackForgotten != 1 {
			t.Fatalf("replica %s after forget: knows %v, %d events, %d users, %d items, %d forgotten", name, s.r.KnowsUser(gone), st.FeedbackEvents, st.FeedbackUsers, st.FeedbackItems, st.FeedbackForgotten)
		}
		for _, p := range []string{"p002", "p003", "p005"} {
			if got := s.r.PopularityOf(p); got != 0 {
				t.Fatalf("replica %s: popularity of %s %v after forget", name, p, got)
			}
		}
		if got := s.r.PopularityOf("p001"); got != 1 {
			t.Fatalf("replica %s: popularity of p001 %v, want the other user's 1", name, got)
		}
		if got := s.r.CooccurrenceOf("p001", "p002") + s.r.CooccurrenceOf("p002", "p001"); got != 0 {
			t.Fatalf("replica %s: co-occurrence p001/p002 %v after forget", name, got)
		}
		if got := s.r.NextItemOf("p001", "p002") + s.r.NextItemOf("p002", "p003"); got != 0 {
			t.Fatalf("replica %s: next-item counts %v after forget", name, got)
		}
	}

	// No profile either: the user is answered as one never seen.
	if after, stranger := recommendFor(gone), recommendFor("never-seen"); !slices.Equal(after, stranger) {
		t.Fatalf("forgotten user gets %v, a stranger %v", after, stranger)
	}

	// Snapshots: the next one holds nothing of the user, and a ranker
	// restored from it neither.
	if _, err := a.r.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := bucket.List(ctx, "")
	if err != nil || len(keys) == 0 {
		t.Fatalf("snapshot objects: %v %v", keys, err)
	}
	for _, k := range keys {
		data, err := bucket.GetObject(ctx, k, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(gone)) || bytes.Contains(data, []byte(topology.FeedbackUserToken(gone))) {
			t.Fatalf("snapshot object %s mentions the user", k)
		}
	}
	restored := e.serve(nil, snapOpts(bucket)...)
	restored.waitReady(t, "")
	if st := spaceStats(restored.r, testSpace.Name); st.SnapshotLoaded == "" {
		t.Fatal("restored ranker did not load the snapshot")
	}
	if st := restored.r.Stats(); restored.r.KnowsUser(gone) || st.FeedbackEvents != 2 || restored.r.PopularityOf("p003") != 0 {
		t.Fatalf("restored ranker: knows %v, %d events", restored.r.KnowsUser(gone), st.FeedbackEvents)
	}

	// Idempotent; and what the user does next counts again.
	if res, err := ranker.ForgetUser(ctx, e.js, gone, baseTime); err != nil || res.Purged != 0 || res.Deleted != 0 {
		t.Fatalf("second forget: %+v %v", res, err)
	}
	a.record(t, 3, ev(gone, "p006", "view", baseTime))
	// (popularity is kept on the time base of the first event: ~1)
	eventually(t, "new activity on b", func() bool { return b.r.KnowsUser(gone) && math.Abs(b.r.PopularityOf("p006")-1) < 1e-3 })
	if _, err := ranker.ForgetUser(ctx, e.js, "", baseTime); err == nil {
		t.Fatal("forget of an empty user id: no error")
	}
}
