package lexical

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/registry"
)

// analyzer is bleve's English analyser (safe for concurrent use).
type analyzer struct {
	a analysis.Analyzer
}

func newAnalyzer() (analyzer, error) {
	a, err := registry.NewCache().AnalyzerNamed(en.AnalyzerName)
	if err != nil {
		return analyzer{}, fmt.Errorf("lexical: English analyser: %w", err)
	}
	return analyzer{a: a}, nil
}

// token is one analysed word: its term, position (stop words leave gaps)
// and the letters of the word it came from.
type token struct {
	term    string
	pos     int
	letters int
}

func (a analyzer) tokens(text string) []token {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	ts := a.a.Analyze([]byte(text))
	out := make([]token, 0, len(ts))
	for _, t := range ts {
		letters := utf8.RuneCount(t.Term)
		if t.Start >= 0 && t.End <= len(text) && t.Start < t.End {
			letters = utf8.RuneCountInString(text[t.Start:t.End])
		}
		out = append(out, token{term: string(t.Term), pos: t.Position, letters: letters})
	}
	return out
}

// pairTerm is the term of two adjacent words in a phrase field; words never
// hold a space, so a pair never collides with a word.
func pairTerm(a, b string) string { return a + " " + b }

// fieldTerms is one analysed field of a document: the frequency of each
// term (words, and adjacent word pairs in phrase fields) and the number of
// words.
type fieldTerms struct {
	tf     map[string]uint32
	length uint32
}

// docTerms is an analysed document.
type docTerms struct {
	fields [numFields]fieldTerms
}

// analyseDoc analyses every field of d.
func (x *Index) analyseDoc(d *Doc) *docTerms {
	dt := &docTerms{}
	add := func(f int, text string) {
		toks := x.an.tokens(text)
		if len(toks) == 0 {
			return
		}
		ft := &dt.fields[f]
		if ft.tf == nil {
			ft.tf = make(map[string]uint32, len(toks))
		}
		for i, t := range toks {
			ft.tf[t.term]++
			if phraseFields[f] && i > 0 && toks[i-1].pos+1 == t.pos {
				ft.tf[pairTerm(toks[i-1].term, t.term)]++
			}
		}
		ft.length += uint32(len(toks))
	}
	add(FieldTitle, d.Title)
	add(FieldDescription, d.Description)
	add(FieldBrand, d.Brand)
	for _, c := range d.Category {
		add(FieldCategory, c)
	}
	for _, v := range d.Attributes {
		add(FieldAttributes, v)
	}
	add(FieldTranscript, d.Transcript)
	return dt
}

// qword is one query word (or expansion term) with its weight; fuzzy words
// also match dictionary words one edit away.
type qword struct {
	term   string
	weight float64
	fuzzy  bool
}

// query is an analysed query: words and adjacent word pairs (phrases).
type query struct {
	words []qword
	pairs []qword
	// fuzzyWeight weighs a match one edit away from a fuzzy word.
	fuzzyWeight float64
}

func (q query) empty() bool { return len(q.words) == 0 && len(q.pairs) == 0 }

// buildQuery analyses text: each distinct word once (fuzzy when long
// enough), each pair of adjacent words as a phrase, and the expansion
// terms.
func (x *Index) buildQuery(text string) query {
	q := query{fuzzyWeight: x.cfg.FuzzyWeight}
	seen := map[string]bool{}
	toks := x.an.tokens(text)
	for _, t := range toks {
		if seen[t.term] {
			continue
		}
		seen[t.term] = true
		q.words = append(q.words, qword{term: t.term, weight: 1, fuzzy: x.cfg.FuzzyWeight > 0 && t.letters >= x.cfg.MinFuzzyLen})
	}
	pairs := func(toks []token, weight float64) {
		for i := 1; i < len(toks); i++ {
			if toks[i].pos == toks[i-1].pos+1 {
				p := pairTerm(toks[i-1].term, toks[i].term)
				if !seen[p] {
					seen[p] = true
					q.pairs = append(q.pairs, qword{term: p, weight: weight})
				}
			}
		}
	}
	if x.cfg.PhraseBoost > 0 {
		pairs(toks, x.cfg.PhraseBoost)
	}
	if x.cfg.Expander != nil {
		for _, wt := range x.cfg.Expander.Expand(text) {
			if !(wt.Weight > 0) || math.IsInf(wt.Weight, 0) {
				continue
			}
			et := x.an.tokens(wt.Term)
			switch {
			case len(et) == 1 && !seen[et[0].term]:
				seen[et[0].term] = true
				q.words = append(q.words, qword{term: et[0].term, weight: wt.Weight})
			case len(et) > 1:
				pairs(et, wt.Weight)
			}
		}
	}
	return q
}
