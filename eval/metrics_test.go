package eval

import (
	"math"
	"testing"
)

func TestMetrics(t *testing.T) {
	l3 := math.Log2(3) // discount of rank 2
	tests := []struct {
		name     string
		ranked   []string
		relevant []string
		k        int
		want     Scores
	}{
		{"single relevant first", []string{"a", "b", "c"}, []string{"a"}, 3, Scores{1, 1, 1, 1}},
		{"single relevant second", []string{"x", "a", "c"}, []string{"a"}, 3, Scores{1, 1 / l3, 0.5, 1}},
		{"single relevant third", []string{"x", "y", "a"}, []string{"a"}, 3, Scores{1, 0.5, 1.0 / 3, 1}},
		{"miss", []string{"x", "y", "z"}, []string{"a"}, 3, Scores{0, 0, 0, 0}},
		{"relevant just beyond k", []string{"x", "y", "z", "a"}, []string{"a"}, 3, Scores{0, 0, 0, 0}},
		// gains a=2, b=1: DCG = 1/1 + 2/log2(3), ideal = 2/1 + 1/log2(3).
		{"graded order swapped", []string{"b", "a"}, []string{"a", "b"}, 2, Scores{1, (1 + 2/l3) / (2 + 1/l3), 1, 1}},
		{"graded order kept", []string{"a", "b"}, []string{"a", "b"}, 2, Scores{1, 1, 1, 1}},
		// fewer results than k: the ideal still holds both relevant ids.
		{"k beyond results", []string{"a"}, []string{"a", "b"}, 10, Scores{0.5, 2 / (2 + 1/l3), 1, 1}},
		// a repeated: the repeat at rank 2 earns nothing, b at rank 3 gains 1/log2(4).
		{"duplicate in results", []string{"a", "a", "b"}, []string{"a", "b"}, 3, Scores{1, (2 + 0.5) / (2 + 1/l3), 1, 1}},
		{"duplicates before the hit keep their slots", []string{"x", "x", "a"}, []string{"a"}, 3, Scores{1, 0.5, 1.0 / 3, 1}},
		{"duplicate in relevant counts once", []string{"b", "a"}, []string{"a", "a", "b"}, 2, Scores{1, (1 + 2/l3) / (2 + 1/l3), 1, 1}},
		// gains a=3, b=2, c=1; the ideal at k=2 is a, b.
		{"ideal cut at k", []string{"c", "a"}, []string{"a", "b", "c"}, 2, Scores{2.0 / 3, (1 + 3/l3) / (3 + 2/l3), 1, 1}},
		{"empty relevant", []string{"a"}, nil, 3, Scores{0, 0, 0, 0}},
		{"empty results", nil, []string{"a"}, 3, Scores{0, 0, 0, 0}},
		{"k zero", []string{"a"}, []string{"a"}, 0, Scores{0, 0, 0, 0}},
		{"k negative", []string{"a"}, []string{"a"}, -1, Scores{0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Score(tt.ranked, tt.relevant, tt.k)
			for _, m := range []struct {
				name      string
				got, want float64
			}{
				{"recall", got.Recall, tt.want.Recall},
				{"ndcg", got.NDCG, tt.want.NDCG},
				{"mrr", got.MRR, tt.want.MRR},
				{"hit rate", got.HitRate, tt.want.HitRate},
			} {
				if math.Abs(m.got-m.want) > 1e-12 {
					t.Errorf("%s = %.15f, want %.15f", m.name, m.got, m.want)
				}
			}
		})
	}
}

// The hand formulas above, written out as decimals once, so a wrong
// formula in both places would still be caught.
func TestNDCGDecimals(t *testing.T) {
	tests := []struct {
		ranked, relevant []string
		k                int
		want             float64
	}{
		{[]string{"x", "a"}, []string{"a"}, 2, 0.630930},
		{[]string{"b", "a"}, []string{"a", "b"}, 2, 0.859719},
		{[]string{"a"}, []string{"a", "b"}, 10, 0.760188},
		{[]string{"c", "a"}, []string{"a", "b", "c"}, 2, 0.678762},
	}
	for _, tt := range tests {
		if got := NDCG(tt.ranked, tt.relevant, tt.k); math.Abs(got-tt.want) > 5e-7 {
			t.Errorf("NDCG(%v, %v, %d) = %.6f, want %.6f", tt.ranked, tt.relevant, tt.k, got, tt.want)
		}
	}
}
