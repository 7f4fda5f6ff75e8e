package ranker

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/topology"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testStore(t *testing.T, opts ...Option) *feedbackStore {
	t.Helper()
	cfg, err := buildConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	return newFeedbackStore(&cfg)
}

func TestFeedbackStoreBounds(t *testing.T) {
	f := testStore(t, WithHistorySize(6), WithCooccurrenceTopN(3), WithSessionWindow(time.Hour))
	// One user touches a then b1..b6 within the window: a's co-occurrence
	// list keeps 3 entries, the history 6 events (a drops out last).
	f.add(topology.Feedback{UserID: "u", ProductID: "a", Kind: "view", Time: t0})
	for i := 1; i <= 6; i++ {
		f.add(topology.Feedback{UserID: "u", ProductID: fmt.Sprintf("b%d", i), Kind: "view", Time: t0.Add(time.Duration(i) * time.Minute)})
	}
	// b6 co-occurs again with a in a second user's session: it must stay.
	f.add(topology.Feedback{UserID: "v", ProductID: "a", Kind: "view", Time: t0})
	f.add(topology.Feedback{UserID: "v", ProductID: "b6", Kind: "view", Time: t0})
	uv, ok := f.user("u")
	if !ok {
		t.Fatal("user u unknown")
	}
	if len(uv.events) != 6 || uv.events[0].product != "b1" || uv.events[5].product != "b6" {
		t.Fatalf("history %+v", uv.events)
	}
	if got := uv.recent(3); !slices.Equal(got, []string{"b6", "b5", "b4"}) {
		t.Fatalf("recent %v", got)
	}
	if n := len(f.cooc["a"]); n != 3 {
		t.Fatalf("a keeps %d co-occurring items, want 3", n)
	}
	if f.cooc["a"]["b6"] != 2 {
		t.Fatalf("a–b6 count %v (%v)", f.cooc["a"]["b6"], f.cooc["a"])
	}
	if got := f.cooccurrence("b6", []string{"a"}); math.Abs(float64(got)-2.0/3) > 1e-6 {
		t.Fatalf("feature %v, want 2/3", got)
	}
	if got := f.cooccurrence("zzz", []string{"a"}); got != 0 {
		t.Fatalf("unrelated feature %v", got)
	}
	if _, ok := f.user("nobody"); ok {
		t.Fatal("unknown user found")
	}
}

func TestFeedbackStoreIgnoresOutsideWindow(t *testing.T) {
	f := testStore(t, WithSessionWindow(10*time.Minute))
	f.add(topology.Feedback{UserID: "u", ProductID: "a", Kind: "view", Time: t0})
	f.add(topology.Feedback{UserID: "u", ProductID: "b", Kind: "view", Time: t0.Add(11 * time.Minute)})
	f.add(topology.Feedback{UserID: "u", ProductID: "c", Kind: "view", Time: t0.Add(15 * time.Minute)})
	if f.cooc["a"]["b"] != 0 || f.cooc["b"]["c"] != 1 || f.cooc["c"]["b"] != 1 {
		t.Fatalf("co-occurrence %v", f.cooc)
	}
}

func TestPopularity(t *testing.T) {
	week := 7 * 24 * time.Hour
	f := testStore(t, WithPopularityHalfLife(week))
	// x: 4 views now; y: 8 views one half-life earlier, worth 4 now.
	for i := range 4 {
		f.add(topology.Feedback{UserID: fmt.Sprint("u", i), ProductID: "x", Kind: "view", Time: t0.Add(week)})
	}
	f.add(topology.Feedback{UserID: "w", ProductID: "y", Kind: "purchase", Time: t0})
	now := t0.Add(week)
	px, py := f.popularity("x", now), f.popularity("y", now)
	if math.Abs(float64(px-py)) > 1e-6 || px != 1 {
		t.Fatalf("popularity x %v y %v, want equal and 1", px, py)
	}
	if f.popularity("none", now) != 0 {
		t.Fatal("popularity without events")
	}
	// Later in time the ratio is unchanged (both decay alike), but the
	// normalised log feature of the top item stays 1.
	later := now.Add(10 * week)
	if got := f.popularity("x", later); math.Abs(float64(got)-1) > 1e-6 {
		t.Fatalf("top item later %v", got)
	}
	if got := f.popular(); len(got) != 2 {
		t.Fatalf("popular %v", got)
	}
	// Events far in the future rebase without overflow.
	f.add(topology.Feedback{UserID: "z", ProductID: "z", Kind: "view", Time: t0.Add(5000 * week)})
	for _, id := range []string{"x", "y", "z"} {
		p := f.popularity(id, t0.Add(5000*week))
		if math.IsNaN(float64(p)) || math.IsInf(float64(p), 0) || p < 0 || p > 1 {
			t.Fatalf("%s popularity %v after rebase", id, p)
		}
	}
	if f.popularity("z", t0.Add(5000*week)) != 1 {
		t.Fatal("the only recent item is not the most popular")
	}
}

func TestMMR(t *testing.T) {
	v := func(x, y float32) []float32 {
		n := float32(math.Hypot(float64(x), float64(y)))
		return []float32{x / n, y / n}
	}
	cs := []candidate{
		{id: "a", vec: v(1, 0), score: 1.0},
		{id: "a2", vec: v(1, 0.01), score: 0.99},
		{id: "b", vec: v(0, 1), score: 0.9},
	}
	for _, c := range []struct {
		lambda float32
		want   []string
	}{
		{0, []string{"a", "a2", "b"}},   // disabled
		{1, []string{"a", "a2", "b"}},   // disabled
		{0.5, []string{"a", "b", "a2"}}, // the near-copy drops
		{0.99, []string{"a", "a2", "b"}},
	} {
		got := mmr(slices.Clone(cs), c.lambda, 3)
		var ids []string
		for _, g := range got {
			ids = append(ids, g.id)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("λ=%v: %v, want %v", c.lambda, ids, c.want)
		}
	}
	// Only the first n are reordered; the rest keep their order.
	got := mmr(slices.Clone(cs), 0.5, 1)
	if got[0].id != "a" || got[1].id != "a2" || got[2].id != "b" {
		t.Errorf("n=1 reordered the tail: %v", got)
	}
}

func TestPageToken(t *testing.T) {
	req := &omnirankv1.RecommendRequest{QueryText: "x", K: 5}
	h, err := requestHash(req)
	if err != nil {
		t.Fatal(err)
	}
	other, err := requestHash(&omnirankv1.RecommendRequest{QueryText: "x", K: 6})
	if err != nil {
		t.Fatal(err)
	}
	withToken, err := requestHash(&omnirankv1.RecommendRequest{QueryText: "x", K: 5, PageToken: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if h == other || h != withToken {
		t.Fatalf("hashes %s %s %s", h, other, withToken)
	}
	tok := encodeToken(pageToken{Offset: 5, Space: "s", Hash: h})
	got, err := decodeToken(tok, h)
	if err != nil || got.Offset != 5 || got.Space != "s" {
		t.Fatalf("round trip %+v %v", got, err)
	}
	for _, bad := range []string{"", "***", encodeToken(pageToken{Offset: 0, Space: "s", Hash: h}), encodeToken(pageToken{Offset: 5, Hash: h}), tok[:len(tok)-2]} {
		if _, err := decodeToken(bad, h); err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
	if _, err := decodeToken(tok, other); err == nil {
		t.Error("token of another request accepted")
	}
}

// TestFreshness: 1 when new (or uploaded "in the future"), halving per
// half-life, and 0, no boost, without an upload time.
func TestFreshness(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name     string
		uploaded time.Time
		want     float32
	}{
		{"now", t0, 1},
		{"future", t0.Add(time.Hour), 1},
		{"one half-life", t0.Add(-7 * day), 0.5},
		{"two half-lives", t0.Add(-14 * day), 0.25},
		{"no upload time", time.Time{}, 0},
	} {
		if got := freshness(tc.uploaded, t0, 7*day); math.Abs(float64(got-tc.want)) > 1e-6 {
			t.Errorf("%s: freshness = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestKeyedLimiterBoundedMemory: buckets idle long enough to be full are
// dropped, and the map never holds more than maxKeys.
func TestKeyedLimiterBoundedMemory(t *testing.T) {
	k := newKeyedLimiter(10, 10, 64) // a bucket refills in 1 s
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		if _, ok := k.reserve(fmt.Sprint("u", i), 1, now); !ok {
			t.Fatalf("fresh key %d refused", i)
		}
		if n := k.len(); n > 64 {
			t.Fatalf("%d buckets after %d keys, want <= 64", n, i+1)
		}
	}
	if _, ok := k.reserve("busy", 10, now); !ok {
		t.Fatal("full burst refused")
	}
	if _, ok := k.reserve("busy", 1, now); ok {
		t.Fatal("empty bucket admitted")
	}
	later := now.Add(2 * time.Second)
	if _, ok := k.reserve("other", 1, later); !ok {
		t.Fatal("refused after idle")
	}
	if n := k.len(); n != 1 {
		t.Fatalf("%d buckets after every other one went idle, want 1", n)
	}
}

// TestImpressionBufferDrops: with the publisher behind, a full buffer
// drops impressions (counted) instead of making the request wait.
func TestImpressionBufferDrops(t *testing.T) {
	l := newImpressionLog(nil, 1, slog.New(slog.DiscardHandler), 2)
	for i := range 5 {
		l.offer(topology.Impression{RequestID: fmt.Sprint(i)})
	}
	if got := l.dropped.Load(); got != 3 {
		t.Fatalf("dropped %d, want 3", got)
	}
	if len(l.ch) != 2 {
		t.Fatalf("%d queued, want 2", len(l.ch))
	}
}
