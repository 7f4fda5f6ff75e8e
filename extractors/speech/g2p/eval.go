package g2p

import (
	"encoding/binary"
	"hash/fnv"
	"math"
)

// Metrics is a model's score on held-out dictionary words.
type Metrics struct {
	// Words is the number of held-out words.
	Words int `json:"words"`
	// WordAccuracy is the share of words pronounced exactly as one of
	// their listed variants.
	WordAccuracy float64 `json:"word_accuracy"`
	// PhoneErrorRate is the phone edit distance to the closest variant,
	// summed over words, over the summed length of those variants.
	PhoneErrorRate float64 `json:"phone_error_rate"`
}

// split puts a word in test when a hash of seed and word falls under
// fraction; the rest is train.
func (d *dictionary) split(fraction float64, seed uint64) (train, test []entry) {
	if fraction == 0 {
		return d.entries, nil
	}
	limit := uint64(fraction * float64(math.MaxUint64))
	if fraction >= 1 {
		limit = math.MaxUint64
	}
	var sb [8]byte
	binary.LittleEndian.PutUint64(sb[:], seed)
	for _, e := range d.entries {
		h := fnv.New64a()
		h.Write(sb[:])
		h.Write([]byte(e.word))
		if h.Sum64() < limit {
			test = append(test, e)
		} else {
			train = append(train, e)
		}
	}
	return train, test
}

func (m *Model) evaluate(test []entry) Metrics {
	var exact, edits, refLen int
	for _, e := range test {
		got, err := m.Pronounce(e.word)
		if err != nil {
			got = nil
		}
		best, bestLen := -1, 0
		for _, v := range e.variants {
			d := editDistance(got, v)
			if best < 0 || d < best || (d == best && len(v) < bestLen) {
				best, bestLen = d, len(v)
			}
		}
		if best == 0 {
			exact++
		}
		edits += best
		refLen += bestLen
	}
	out := Metrics{Words: len(test)}
	if len(test) > 0 {
		out.WordAccuracy = float64(exact) / float64(len(test))
	}
	if refLen > 0 {
		out.PhoneErrorRate = float64(edits) / float64(refLen)
	}
	return out
}

// editDistance is the Levenshtein distance between two phone sequences.
func editDistance(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
