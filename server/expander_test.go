package server

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/omnirank/omnirank/ranker/lexical"
	"github.com/omnirank/omnirank/wordnet"
)

// TestSynonymExpander runs the lexical index with the real WordNet
// expander: a query word finds titles that only carry its synonym, ranked
// below titles with the word itself, and the query's own words are not
// returned as expansions.
func TestSynonymExpander(t *testing.T) {
	exp, err := openQueryExpander(wordnet.DefaultDir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("%v (make deps installs wordnet-base)", err)
	}
	for _, wt := range exp.Expand("couch") {
		if wt.Term == "couch" || !(wt.Weight > 0 && wt.Weight < 1) {
			t.Errorf("expansion of couch: %+v (want synonyms only, each lighter than a typed word)", wt)
		}
	}
	for _, tc := range []struct {
		name     string
		expander lexical.QueryExpander
		want     []string
	}{
		{"without expansion", nil, []string{"couch"}},
		{"with WordNet synonyms", exp, []string{"couch", "sofa"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := lexical.DefaultConfig()
			cfg.Expander = tc.expander
			x, err := lexical.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			for _, d := range []lexical.Doc{
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
			hits, err := x.Search(ctx, "couch", lexical.SearchOptions{K: 10})
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
