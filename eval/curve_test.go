package eval

import (
	"math"
	"testing"
)

// TestCurve: the curve at k is the mean of Score at k over the answered
// queries, and at the run's k it equals Summarise's overall row.
func TestCurve(t *testing.T) {
	qs := []Query{{ID: "a", Text: "x", Relevant: []string{"p1"}}, {ID: "b", Like: []string{"p0"}, Relevant: []string{"p3", "p9"}}, {ID: "c", Text: "y", Relevant: []string{"p1"}}}
	per := []QueryResult{
		{ID: "a", Kind: KindText, Ranked: []string{"p2", "p1", "p3"}},
		{ID: "b", Kind: KindLike, Ranked: []string{"p3", "p4", "p9"}},
		{ID: "c", Kind: KindText, Error: "boom"},
	}
	for i := range per[:2] {
		s := Score(per[i].Ranked, qs[i].Relevant, 3)
		per[i].Recall, per[i].NDCG, per[i].MRR = s.Recall, s.NDCG, s.MRR
	}
	res := Summarise("s", 3, per)
	c := Curve(qs, res, 3)
	if len(c) != 3 || c[2].K != 3 {
		t.Fatalf("curve %+v", c)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if !near(c[2].Recall, res.All.Recall) || !near(c[2].NDCG, res.All.NDCG) || !near(c[2].MRR, res.All.MRR) {
		t.Fatalf("curve at 3 %+v, summary %+v", c[2], res.All)
	}
	// k = 1: a misses, b hits p3 (recall 1/2, MRR 1).
	if !near(c[0].Recall, 0.25) || !near(c[0].MRR, 0.5) {
		t.Fatalf("curve at 1 %+v", c[0])
	}
	for _, tc := range []struct {
		q     Query
		block string
		want  bool
	}{{qs[0], "text", true}, {qs[0], "image", false}, {qs[1], "audio", true}, {Query{Image: "i.png"}, "image", true}, {Query{Audio: "a.wav"}, "text", false}} {
		if got := tc.q.Fills(tc.block); got != tc.want {
			t.Errorf("%+v fills %s: %v", tc.q, tc.block, got)
		}
	}
}
