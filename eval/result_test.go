package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
)

func perQuery() []QueryResult {
	return []QueryResult{
		{ID: "t1", Kind: KindText, Ranked: []string{"a", "b"}, Scores: Score([]string{"a", "b"}, []string{"a"}, 2)},
		{ID: "t2", Kind: KindText, Ranked: []string{"x", "b"}, Scores: Score([]string{"x", "b"}, []string{"b"}, 2)},
		{ID: "i1", Kind: KindImage, Ranked: []string{"x", "y"}, Scores: Score([]string{"x", "y"}, []string{"a"}, 2)},
		{ID: "l1", Kind: KindLike, Error: "recommend: unknown products"},
	}
}

func TestSummarise(t *testing.T) {
	r := Summarise("s1", 2, perQuery())
	l3 := math.Log2(3)
	want := map[Kind]Aggregate{
		KindText:  {N: 2, Recall: 1, NDCG: (1 + 1/l3) / 2, MRR: 0.75},
		KindImage: {N: 1},
		KindLike:  {Failed: 1},
	}
	if len(r.ByKind) != len(want) {
		t.Fatalf("by kind = %+v, want kinds of %+v", r.ByKind, want)
	}
	for kind, w := range want {
		if g := r.ByKind[kind]; !near(g, w) {
			t.Errorf("%s = %+v, want %+v", kind, g, w)
		}
	}
	if w := (Aggregate{N: 3, Recall: 2.0 / 3, NDCG: (1 + 1/l3) / 3, MRR: 0.5, Failed: 1}); !near(r.All, w) {
		t.Errorf("all = %+v, want %+v", r.All, w)
	}
	if r.Queries != 4 || r.Failed != 1 || r.Space != "s1" || r.K != 2 {
		t.Errorf("result = %+v", r)
	}
}

func near(a, b Aggregate) bool {
	return a.N == b.N && a.Failed == b.Failed &&
		math.Abs(a.Recall-b.Recall) < 1e-12 && math.Abs(a.NDCG-b.NDCG) < 1e-12 && math.Abs(a.MRR-b.MRR) < 1e-12
}

// The JSON field names are the contract of `omnirank eval --json`.
func TestResultJSONFields(t *testing.T) {
	r := Summarise("s1", 2, perQuery())
	r.PerQuery = nil
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(maps.Keys(top)), []string{"all", "by_kind", "failed", "k", "queries", "space"}; !slices.Equal(got, want) {
		t.Errorf("top-level fields %v, want %v", got, want)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(top["all"], &all); err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(maps.Keys(all)), []string{"mrr_at_k", "n", "ndcg_at_k", "recall_at_k"}; !slices.Equal(got, want) {
		t.Errorf("aggregate fields %v, want %v", got, want)
	}
	var byKind map[string]json.RawMessage
	if err := json.Unmarshal(top["by_kind"], &byKind); err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(maps.Keys(byKind)), []string{"image", "like", "text"}; !slices.Equal(got, want) {
		t.Errorf("by_kind keys %v, want %v", got, want)
	}
	r = Summarise("s1", 2, perQuery())
	data, _ = json.Marshal(r)
	var withPQ struct {
		PerQuery []map[string]any `json:"per_query"`
	}
	if err := json.Unmarshal(data, &withPQ); err != nil {
		t.Fatal(err)
	}
	if len(withPQ.PerQuery) != 4 || withPQ.PerQuery[0]["recall_at_k"] != 1.0 || withPQ.PerQuery[3]["error"] == nil {
		t.Errorf("per_query = %v", withPQ.PerQuery)
	}
}

func TestOverlap(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		k    int
		want float64
	}{
		{"same", []string{"a", "b"}, []string{"b", "a"}, 2, 1},
		{"half", []string{"a", "b"}, []string{"a", "c"}, 2, 0.5},
		{"none", []string{"a", "b"}, []string{"c", "d"}, 2, 0},
		{"only top k counts", []string{"a", "b", "c"}, []string{"a", "x", "c"}, 2, 0.5},
		{"shorter lists divide by the longer", []string{"a"}, []string{"a", "b"}, 10, 0.5},
		{"both empty agree", nil, nil, 10, 1},
		{"repeats count once", []string{"a", "a"}, []string{"a", "b"}, 2, 0.5},
		{"k zero", []string{"a"}, []string{"a"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Overlap(tt.a, tt.b, tt.k); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Overlap = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	a := Summarise("old", 2, perQuery())
	bq := perQuery()
	bq[0].Ranked = []string{"a", "z"} // overlap 0.5 with a's t1
	bq[2].Ranked = []string{"y", "x"} // overlap 1
	b := Summarise("new", 2, bq)
	c, err := Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// t1 0.5, t2 1, i1 1; l1 failed on both sides and is not compared.
	if c.Compared != 3 || math.Abs(c.Overlap-2.5/3) > 1e-12 {
		t.Errorf("overlap %v over %d, want %v over 3", c.Overlap, c.Compared, 2.5/3)
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, c); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	for _, want := range []string{"A: space old", "B: space new", "NDCG@2 A", "top-2 overlap (|A∩B|/k): 0.833 over 3 queries"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("comparison lacks %q:\n%s", want, buf.String())
		}
	}

	for name, mod := range map[string]func(*Result){
		"other k":          func(r *Result) { r.K = 3 },
		"no per-query":     func(r *Result) { r.PerQuery = nil },
		"other query sets": func(r *Result) { r.PerQuery = append([]QueryResult{{ID: "zz"}}, r.PerQuery[1:]...) },
		"fewer queries":    func(r *Result) { *r = Summarise(r.Space, r.K, r.PerQuery[1:]) },
	} {
		t.Run(name, func(t *testing.T) {
			bad := Summarise("new", 2, perQuery())
			mod(&bad)
			if _, err := Compare(a, bad); !errors.Is(err, ErrNotComparable) {
				t.Errorf("err = %v, want ErrNotComparable", err)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, Summarise("s1", 2, perQuery())); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	lines := strings.Split(buf.String(), "\n")
	if lines[0] != "space s1, k 2, 4 queries, 1 failed" {
		t.Errorf("header %q", lines[0])
	}
	// rows in kind order, then all, then the failure
	var order []string
	for _, l := range lines[2:] {
		if f := strings.Fields(l); len(f) > 0 {
			order = append(order, f[0])
		}
	}
	if want := []string{"kind", "text", "image", "like", "all", "failed"}; !slices.Equal(order, want) {
		t.Errorf("rows %v, want %v:\n%s", order, want, buf.String())
	}
	if !strings.Contains(buf.String(), "failed l1 (like): recommend: unknown products") {
		t.Errorf("failure not listed:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "0.750") {
		t.Errorf("text MRR 0.750 missing:\n%s", buf.String())
	}
}
