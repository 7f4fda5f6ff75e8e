package lexical

import (
	"fmt"

	"github.com/omnirank/omnirank/wordnet"
)

// wordNetExpander feeds the index WordNet synonyms of a query's words and
// phrases. The query's own words are not returned: the index already
// searches them (and their adjacent pairs); a synonym comes with its
// WordNet weight times wordnet.ExpanderConfig.SynonymWeight, so it always
// counts less than a word the shopper typed.
type wordNetExpander struct {
	e *wordnet.QueryExpander
}

// NewWordNetExpander returns a QueryExpander adding the WordNet synonyms
// wordnet.QueryExpander finds in db with cfg.
func NewWordNetExpander(db *wordnet.DB, cfg wordnet.ExpanderConfig) (QueryExpander, error) {
	e, err := wordnet.NewQueryExpander(db, cfg)
	if err != nil {
		return nil, fmt.Errorf("wordnet expander: %w", err)
	}
	return wordNetExpander{e: e}, nil
}

// Expand implements QueryExpander.
func (w wordNetExpander) Expand(query string) []WeightedTerm {
	var out []WeightedTerm
	for _, t := range w.e.Expand(query) {
		if t.Kind == wordnet.KindSynonym {
			out = append(out, WeightedTerm{Term: t.Text, Weight: t.Weight})
		}
	}
	return out
}
