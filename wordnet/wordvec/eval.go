package wordvec

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"

	"github.com/omnirank/omnirank/wordnet"
)

// Check is the held-out synonym/hypernym check: about one in HoldOut of
// the (word, synset) memberships of words with several senses are left
// out of training; then each left-out word should still be close to the
// other lemmas of that synset (synonyms) and to the lemmas of its direct
// hypernyms, compared with random vocabulary words.
type Check struct {
	HoldOut     int // one in HoldOut memberships (10)
	Distractors int // random words each target is ranked against (99)
}

// DefaultCheck holds out one membership in ten and ranks against 99
// distractors.
var DefaultCheck = Check{HoldOut: 10, Distractors: 99}

// Score is the check's outcome for one kind of pair.
type Score struct {
	Pairs int
	MRR   float64 // mean reciprocal rank of the target among 1+Distractors
	Hit10 float64 // share of targets ranked in the top 10
}

// CheckResult scores synonyms and hypernyms.
type CheckResult struct {
	Synonym, Hypernym Score
}

// HeldOut picks the memberships the check leaves out, by a hash of word
// and synset offset, so the split does not depend on the configuration.
func (c Check) HeldOut(db *wordnet.DB, vocab []string) map[Membership]bool {
	inVocab := map[string]bool{}
	for _, w := range vocab {
		inVocab[w] = true
	}
	out := map[Membership]bool{}
	for _, w := range vocab {
		var senses []wordnet.SynsetID
		for _, pos := range wordnet.AllPOS {
			senses = append(senses, db.Senses(w, pos)...)
		}
		if len(senses) < 2 {
			continue
		}
		kept := 0
		for _, s := range senses {
			h := fnv.New64a()
			h.Write([]byte(w))
			h.Write([]byte{byte(db.Synsets[s].POS), byte(db.Synsets[s].Offset), byte(db.Synsets[s].Offset >> 8), byte(db.Synsets[s].Offset >> 16), byte(db.Synsets[s].Offset >> 24)})
			if h.Sum64()%uint64(c.HoldOut) == 0 {
				out[Membership{w, s}] = true
			} else {
				kept++
			}
		}
		if kept == 0 { // keep at least one sense so the word has a vector
			for _, s := range senses {
				delete(out, Membership{w, s})
			}
		}
	}
	return out
}

// Evaluate scores vectors learnt without heldOut.
func (c Check) Evaluate(db *wordnet.DB, v *Vectors, heldOut map[Membership]bool) CheckResult {
	ms := make([]Membership, 0, len(heldOut))
	for m := range heldOut {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b Membership) int {
		if a.Word != b.Word {
			if a.Word < b.Word {
				return -1
			}
			return 1
		}
		return int(a.Synset) - int(b.Synset)
	})
	rng := rand.New(rand.NewPCG(7, 11))
	var syn, hyp accum
	for _, m := range ms {
		wv := v.Vector(m.Word)
		s := &db.Synsets[m.Synset]
		for _, t := range s.Lemmas {
			if t != m.Word {
				syn.add(c, v, wv, m.Word, t, rng)
			}
		}
		for _, h := range s.Related(wordnet.Hypernym) {
			for _, t := range db.Synsets[h].Lemmas {
				if t != m.Word {
					hyp.add(c, v, wv, m.Word, t, rng)
				}
			}
		}
	}
	return CheckResult{Synonym: syn.score(), Hypernym: hyp.score()}
}

type accum struct {
	n         int
	rr, hit10 float64
}

func (a *accum) add(c Check, v *Vectors, wv []float32, word, target string, rng *rand.Rand) {
	tv := v.Vector(target)
	if wv == nil || tv == nil {
		return
	}
	ts := dot(wv, tv)
	rank := 1
	for range c.Distractors {
		d := v.Words[rng.IntN(len(v.Words))]
		if d == word || d == target {
			continue
		}
		if dot(wv, v.Vector(d)) >= ts {
			rank++
		}
	}
	a.n++
	a.rr += 1 / float64(rank)
	if rank <= 10 {
		a.hit10++
	}
}

func (a *accum) score() Score {
	if a.n == 0 {
		return Score{}
	}
	return Score{Pairs: a.n, MRR: a.rr / float64(a.n), Hit10: a.hit10 / float64(a.n)}
}
