package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/omnirank/omnirank/ranker/lexical"
	"github.com/omnirank/omnirank/wordnet"
)

// synonymExpander feeds the lexical index WordNet synonyms of a query's
// words and phrases. The query's own words are not returned: the lexical
// index already searches them (and their phrases); a synonym comes with
// its WordNet weight times wordnet.ExpanderConfig.SynonymWeight, so it
// always counts less than a word the shopper typed.
type synonymExpander struct {
	e *wordnet.QueryExpander
}

// Expand implements lexical.QueryExpander.
func (s synonymExpander) Expand(query string) []lexical.WeightedTerm {
	var out []lexical.WeightedTerm
	for _, t := range s.e.Expand(query) {
		if t.Kind == wordnet.KindSynonym {
			out = append(out, lexical.WeightedTerm{Term: t.Text, Weight: t.Weight})
		}
	}
	return out
}

// openQueryExpander parses the WordNet database in dir (about a second
// and 80 MiB) and returns the lexical side's synonym expander.
func openQueryExpander(dir string, log *slog.Logger) (lexical.QueryExpander, error) {
	t0 := time.Now()
	db, err := wordnet.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("query expansion: %w", err)
	}
	e, err := wordnet.NewQueryExpander(db, wordnet.ExpanderConfig{})
	if err != nil {
		return nil, fmt.Errorf("query expansion: %w", err)
	}
	log.Info("query expansion: WordNet synonyms on the lexical side", "dir", dir, "took", time.Since(t0).Round(time.Millisecond))
	return synonymExpander{e: e}, nil
}
