package wordnet

import (
	"fmt"
	"strings"
)

// Kinds of expanded query terms.
const (
	KindWord    = "word"    // a word of the query
	KindPhrase  = "phrase"  // a multi-word lemma made of query words
	KindSynonym = "synonym" // a WordNet synonym of a query word or phrase
)

// QueryTerm is one term of an expanded query.
type QueryTerm struct {
	Text   string  // lower-case; words separated by spaces
	Weight float64 // 1 for the query's own words and phrases
	Kind   string
	// From is the query word or phrase a synonym was found for.
	From string `json:",omitempty"`
}

// ExpanderConfig configures a QueryExpander.
type ExpanderConfig struct {
	// MaxSynonyms per query word or phrase (default 3).
	MaxSynonyms int
	// SynonymWeight scales synonym weights (which are at most 1) so they
	// stay below the original words; in (0, 1), default 0.5.
	SynonymWeight float64
	// MinSynonymWeight drops synonyms lighter than this after scaling
	// (default 0.1: rare senses add noise).
	MinSynonymWeight float64
}

// Validate checks the configuration and fills the defaults.
func (c *ExpanderConfig) Validate() error {
	if c.MaxSynonyms == 0 {
		c.MaxSynonyms = 3
	}
	if c.SynonymWeight == 0 {
		c.SynonymWeight = 0.5
	}
	if c.MinSynonymWeight == 0 {
		c.MinSynonymWeight = 0.1
	}
	if c.MaxSynonyms < 0 {
		return fmt.Errorf("query expander: max synonyms %d < 0", c.MaxSynonyms)
	}
	if c.SynonymWeight <= 0 || c.SynonymWeight >= 1 {
		return fmt.Errorf("query expander: synonym weight %v outside (0, 1)", c.SynonymWeight)
	}
	if c.MinSynonymWeight < 0 || c.MinSynonymWeight > c.SynonymWeight {
		return fmt.Errorf("query expander: min synonym weight %v outside [0, %v]", c.MinSynonymWeight, c.SynonymWeight)
	}
	return nil
}

// QueryExpander turns a query into weighted search terms for a lexical
// index: the query's words (weight 1), the multi-word lemmas they form
// (weight 1, kept together), and WordNet synonyms of the words and
// phrases, weighted below the originals. It is safe for concurrent use.
type QueryExpander struct {
	db  *DB
	cfg ExpanderConfig
}

// NewQueryExpander validates cfg and returns an expander over db.
func NewQueryExpander(db *DB, cfg ExpanderConfig) (*QueryExpander, error) {
	if db == nil {
		return nil, fmt.Errorf("query expander: nil database")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &QueryExpander{db: db, cfg: cfg}, nil
}

// Expand returns the terms of query: words first (in query order), then
// phrases, then synonyms heaviest first. Stop words are kept as words but
// get no synonyms. A term appears once, with its largest weight.
func (e *QueryExpander) Expand(query string) []QueryTerm {
	words := Words(query)
	var out []QueryTerm
	seen := map[string]int{}
	add := func(t QueryTerm) {
		if i, ok := seen[t.Text]; ok {
			if t.Weight > out[i].Weight {
				out[i] = t
			}
			return
		}
		seen[t.Text] = len(out)
		out = append(out, t)
	}
	for _, w := range words {
		add(QueryTerm{Text: w, Weight: 1, Kind: KindWord})
	}
	phrases := e.db.Phrases(words)
	sources := make([]string, 0, len(words)+len(phrases))
	for _, p := range phrases {
		text := strings.Join(words[p.Start:p.End], " ")
		add(QueryTerm{Text: text, Weight: 1, Kind: KindPhrase})
		sources = append(sources, text)
	}
	for _, w := range words {
		if !IsStopWord(w) {
			sources = append(sources, w)
		}
	}
	var syns []QueryTerm
	for _, src := range sources {
		n := 0
		for _, s := range e.db.Synonyms(src) {
			w := s.Weight * e.cfg.SynonymWeight
			if n == e.cfg.MaxSynonyms || w < e.cfg.MinSynonymWeight {
				break
			}
			if _, ok := seen[s.Text]; ok {
				continue
			}
			syns = append(syns, QueryTerm{Text: s.Text, Weight: w, Kind: KindSynonym, From: src})
			n++
		}
	}
	terms := make([]Term, len(syns))
	for i, s := range syns {
		terms[i] = Term{Text: s.Text, Weight: s.Weight}
	}
	// Heaviest first, stable by text; the first occurrence of a text is
	// its heaviest.
	order := make(map[string]QueryTerm, len(syns))
	for _, s := range syns {
		if o, ok := order[s.Text]; !ok || s.Weight > o.Weight {
			order[s.Text] = s
		}
	}
	sortTerms(terms)
	for _, t := range terms {
		if s, ok := order[t.Text]; ok && s.Weight == t.Weight {
			add(s)
			delete(order, t.Text)
		}
	}
	return out
}

// stopWords get no synonyms: WordNet reads many of them as nouns ("a" is
// vitamin A, "in" an inch).
var stopWords = map[string]bool{
	"a": true, "an": true, "and": true, "the": true, "of": true, "for": true, "with": true,
	"in": true, "on": true, "to": true, "by": true, "or": true, "is": true, "at": true,
	"from": true, "this": true, "that": true, "it": true, "as": true, "be": true,
	"my": true, "me": true, "i": true, "not": true, "no": true, "set": true,
}

// IsStopWord reports whether w (lower-case) is a stop word.
func IsStopWord(w string) bool { return stopWords[w] }
