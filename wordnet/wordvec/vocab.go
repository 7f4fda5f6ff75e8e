package wordvec

import (
	"math"
	"slices"
	"strings"

	"github.com/omnirank/omnirank/wordnet"
)

// Lexicographer files whose nouns name things a shop sells or describes
// them: animals, artifacts, attributes (colours, sizes), body parts,
// foods, natural objects, plants, shapes, substances.
var productLexFiles = map[uint8]bool{5: true, 6: true, 7: true, 8: true, 13: true, 17: true, 20: true, 25: true, 27: true}

// VocabConfig chooses the vocabulary.
type VocabConfig struct {
	// MinFrequency admits any lemma with at least this tag count in the
	// sense-tagged corpus (the frequent rest of English).
	MinFrequency int
	// MaxWords bounds the words of a phrase lemma.
	MaxWords int
}

// DefaultVocab is starter-text@2's vocabulary.
var DefaultVocab = VocabConfig{MinFrequency: 1, MaxWords: 2}

// Vocabulary returns the sorted lemmas that get vectors: nouns of the
// product lexicographer files, all adjectives (head and satellite, not
// pertainyms), and every single-word lemma seen at least MinFrequency
// times in the sense-tagged corpus; letters, digits, '-' and '\” only,
// at most MaxWords words ('_' between them).
func Vocabulary(db *wordnet.DB, cfg VocabConfig) []string {
	keep := map[string]bool{}
	ok := func(l string) bool {
		if strings.Count(l, "_")+1 > cfg.MaxWords || len(l) < 2 {
			return false
		}
		for _, r := range l {
			if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '\'') {
				return false
			}
		}
		return true
	}
	for _, s := range db.Synsets {
		if s.POS == wordnet.Noun && productLexFiles[s.LexFile] || s.POS == wordnet.Adjective && s.LexFile != 1 {
			for _, l := range s.Lemmas {
				if ok(l) {
					keep[l] = true
				}
			}
		}
	}
	for _, pos := range wordnet.AllPOS {
		for _, l := range db.Lemmas(pos) {
			if db.Frequency(l) >= cfg.MinFrequency && ok(l) && !strings.Contains(l, "_") {
				keep[l] = true
			}
		}
	}
	out := make([]string, 0, len(keep))
	for l := range keep {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// GlossIDF is each vocabulary word's inverse document frequency over the
// synset glosses, ln((N+1)/(df+1)) + 1 with N the number of synsets and
// df the glosses whose content words (GlossWords) include it: frequent
// defining words ("small", "device") weigh less than specific ones.
func GlossIDF(src *Source, vocab []string) []float32 {
	df := map[string]int{}
	for _, ws := range src.glossW {
		for _, w := range ws {
			df[w]++
		}
	}
	n := float64(len(src.glossW))
	out := make([]float32, len(vocab))
	for i, w := range vocab {
		out[i] = float32(math.Log((n+1)/(float64(df[w])+1)) + 1)
	}
	return out
}
