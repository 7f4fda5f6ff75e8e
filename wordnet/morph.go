package wordnet

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
)

// Lemma is a base form and its part of speech.
type Lemma struct {
	Text string // '_' between the words of a multi-word lemma
	POS  POS
}

// detachment rules of WordNet's morphy: suffix → replacement, per part
// of speech.
var detach = map[POS][][2]string{
	Noun:      {{"s", ""}, {"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"}},
	Verb:      {{"s", ""}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""}},
	Adjective: {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}},
}

// Detach returns the candidate base forms WordNet's detachment rules give
// for an inflected word (lower-case), nouns' rules first, then verbs' and
// adjectives', without checking that they are words: "boxes" → box, boxe,
// boxe, box... Callers keep the candidates their vocabulary knows.
func Detach(word string) []string {
	var out []string
	for _, pos := range []POS{Noun, Verb, Adjective} {
		for _, r := range detach[pos] {
			if strings.HasSuffix(word, r[0]) && len(word) > len(r[0]) {
				c := word[:len(word)-len(r[0])] + r[1]
				if !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// Exceptions returns every (inflected form, base) pair of the exception
// lists, sorted by form then base, nouns' first for a form.
func (db *DB) Exceptions() [][2]string {
	var out [][2]string
	for _, pos := range []POS{Noun, Verb, Adjective, Adverb} {
		for form, bases := range db.exc[pos] {
			for _, b := range bases {
				out = append(out, [2]string{form, b})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// Lemmatize returns the base forms of word (lower-case; spaces or '_'
// between the words of a phrase) that WordNet knows, as morphy finds
// them: per part of speech (nouns, adjectives, verbs, adverbs), the
// exception list's bases, the word itself, then the detachment rules'
// results. "shoes" → shoe (n); "running" → running (n, a), run (v).
func (db *DB) Lemmatize(word string) []Lemma {
	word = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(word)), " ", "_")
	if word == "" {
		return nil
	}
	var out []Lemma
	add := func(l string, pos POS) {
		if _, ok := db.index[pos][l]; !ok {
			return
		}
		if !slices.Contains(out, Lemma{l, pos}) {
			out = append(out, Lemma{l, pos})
		}
	}
	for _, pos := range AllPOS {
		for _, b := range db.exc[pos][word] {
			add(b, pos)
		}
		add(word, pos)
		// A phrase inflects on its last word ("running_shoes").
		head, last := "", word
		if i := strings.LastIndexByte(word, '_'); i >= 0 {
			head, last = word[:i+1], word[i+1:]
			for _, b := range db.exc[pos][last] {
				add(head+b, pos)
			}
		}
		for _, r := range detach[pos] {
			if strings.HasSuffix(last, r[0]) && len(last) > len(r[0]) {
				add(head+last[:len(last)-len(r[0])]+r[1], pos)
			}
		}
	}
	return out
}

// Base is word's most likely base form: among Lemmatize's results of
// the first part of speech that has any (nouns, adjectives, verbs,
// adverbs: product text is mostly nouns), the most frequent in the
// sense-tagged corpus, the word itself winning ties. "shoes" → shoe,
// "mice" → mouse, "bed" → bed (not the verb be), "running" → running;
// "" when WordNet does not know the word.
func (db *DB) Base(word string) string {
	ls := db.Lemmatize(word)
	if len(ls) == 0 {
		return ""
	}
	self := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(word)), " ", "_")
	for _, pos := range AllPOS {
		best, bestF := "", -1
		for _, l := range ls {
			if l.POS != pos {
				continue
			}
			f := 2 * db.posFreq[pos][l.Text]
			if l.Text == self {
				f++ // ties go to the surface form
			}
			if f > bestF {
				best, bestF = l.Text, f
			}
		}
		if best != "" {
			return best
		}
	}
	return ""
}

// Term is a weighted search term: a word or a phrase (words separated by
// spaces).
type Term struct {
	Text   string
	Weight float64
}

// readingWeight weighs one base form of a word: the most likely base
// (Base) counts fully, other readings ("shoes" as a noun of its own, the
// adjective "sneak" in "sneaker") half; verb and adverb senses count 0.6,
// since product text is mostly nouns and adjectives.
func readingWeight(l Lemma, base string) float64 {
	w := 1.0
	if l.Text != base {
		w = 0.5
	}
	if l.POS == Verb || l.POS == Adverb {
		w *= 0.6
	}
	return w
}

// senseWeight weighs a lemma's r-th sense (0-based): 1/(r+1), halved for
// senses never seen in the sense-tagged corpus when some were.
func senseWeight(r, tagged int) float64 {
	w := 1 / float64(r+1)
	if tagged > 0 && r >= tagged {
		w /= 2
	}
	return w
}

// Synonyms returns the other lemmas sharing a synset with any base form
// of word, weighted by how frequent the shared sense is (the most
// frequent sense's synonyms weigh 1), heaviest first; adjective
// similar-to neighbours count at 0.6 of their sense; readingWeight
// scales each base form. Phrases come back with spaces ("gym shoe").
func (db *DB) Synonyms(word string) []Term {
	return db.related(word, func(add func(SynsetID, float64), s *Synset, w float64) {
		add(SynsetID(-1), w) // the sense's own synset
		for _, t := range s.Related(SimilarTo) {
			add(t, 0.6*w)
		}
	})
}

// Hypernyms returns the lemmas of the synsets one level (weight 0.5 of
// the sense) and two levels (0.25) above word's senses, heaviest first.
func (db *DB) Hypernyms(word string) []Term {
	return db.related(word, func(add func(SynsetID, float64), s *Synset, w float64) {
		for _, h := range append(s.Related(Hypernym), s.Related(InstanceHypernym)...) {
			add(h, 0.5*w)
			for _, h2 := range db.Synsets[h].Related(Hypernym) {
				add(h2, 0.25*w)
			}
		}
	})
}

// Hyponyms returns the lemmas of the synsets directly below word's
// senses (weight 0.5 of the sense), heaviest first.
func (db *DB) Hyponyms(word string) []Term {
	return db.related(word, func(add func(SynsetID, float64), s *Synset, w float64) {
		for _, h := range s.Related(Hyponym) {
			add(h, 0.5*w)
		}
	})
}

// related walks word's senses; visit calls add(synset, weight) for each
// synset whose lemmas become terms (SynsetID(-1) means the sense itself).
// The word's own base forms are never returned.
func (db *DB) related(word string, visit func(add func(SynsetID, float64), s *Synset, w float64)) []Term {
	ls := db.Lemmatize(word)
	base := db.Base(word)
	own := map[string]bool{}
	for _, l := range ls {
		own[l.Text] = true
	}
	score := map[string]float64{}
	for _, l := range ls {
		lw := readingWeight(l, base)
		tagged := db.tagged[l.POS][l.Text]
		for r, id := range db.index[l.POS][l.Text] {
			sense := &db.Synsets[id]
			w := lw * senseWeight(r, tagged)
			add := func(t SynsetID, tw float64) {
				target := sense
				if t >= 0 {
					target = &db.Synsets[t]
				}
				for _, m := range target.Lemmas {
					if !own[m] && tw > score[m] {
						score[m] = tw
					}
				}
			}
			visit(add, sense, w)
		}
	}
	out := make([]Term, 0, len(score))
	for m, w := range score {
		out = append(out, Term{Text: strings.ReplaceAll(m, "_", " "), Weight: w})
	}
	sortTerms(out)
	return out
}

// sortTerms orders heaviest first, then alphabetically.
func sortTerms(ts []Term) {
	slices.SortFunc(ts, func(a, b Term) int {
		if c := cmp.Compare(b.Weight, a.Weight); c != 0 {
			return c
		}
		return strings.Compare(a.Text, b.Text)
	})
}

// Phrase is a multi-word lemma found in a word sequence.
type Phrase struct {
	Start, End int    // words[Start:End]
	Lemma      string // base form, '_' between words
}

// Phrases finds multi-word lemmas in words (lower-case), longest first
// and left to right, without overlaps; the last word may be inflected
// ("running shoes" → running_shoe).
func (db *DB) Phrases(words []string) []Phrase {
	var out []Phrase
	for i := 0; i < len(words); {
		found := false
		for n := min(db.phraseLen[words[i]], len(words)-i); n >= 2; n-- {
			cand := strings.Join(words[i:i+n], "_")
			if ls := db.Lemmatize(cand); len(ls) > 0 {
				out = append(out, Phrase{Start: i, End: i + n, Lemma: ls[0].Text})
				i += n
				found = true
				break
			}
		}
		if !found {
			i++
		}
	}
	return out
}

// Words lower-cases text and splits it into words of letters and digits
// (apostrophes inside a word are kept: "men's").
func Words(text string) []string {
	fs := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
	out := fs[:0]
	for _, f := range fs {
		if f = strings.Trim(f, "'"); f != "" {
			out = append(out, f)
		}
	}
	return out
}
