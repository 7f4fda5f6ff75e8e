package lexical

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/omnirank/omnirank/wordnet"
)

// TestWordNetExpander runs the index with the real WordNet expander: a query word finds titles that only carry its synonym, ranked
// below titles with the word itself, and the query's own words are not
// returned as expansions.
func TestWordNetExpander(t *testing.T) {
	exp := wordNetExpanderForTest(t)
	for _, wt := range exp.Expand("couch") {
		if wt.Term == "couch" || !(wt.Weight > 0 && wt.Weight < 1) {
			t.Errorf("expansion of couch: %+v (want synonyms only, each lighter than a typed word)", wt)
		}
	}
	for _, tc := range []struct {
		name     string
		expander QueryExpander
		want     []string
	}{
		{"without expansion", nil, []string{"couch"}},
		{"with WordNet synonyms", exp, []string{"couch", "sofa"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Expander = tc.expander
			x, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			for _, d := range []Doc{
				{ID: "couch", Title: "Leather couch"},
				{ID: "sofa", Title: "Velvet sofa, three seats"},
				{ID: "lamp", Title: "Brass floor lamp"},
			} {
				x.Put(d)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := x.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			hits, err := x.Search(ctx, "couch", SearchOptions{K: 10})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hits {
				got = append(got, h.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("couch: %v, want %v", got, tc.want)
			}
		})
	}
}

// wordNetExpanderForTest opens Debian's WordNet (make deps installs it).
func wordNetExpanderForTest(tb testing.TB) QueryExpander {
	tb.Helper()
	db, err := wordnet.Open(wordnet.DefaultDir)
	if err != nil {
		tb.Fatalf("%v (make deps installs wordnet-base)", err)
	}
	exp, err := NewWordNetExpander(db, wordnet.ExpanderConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	return exp
}
