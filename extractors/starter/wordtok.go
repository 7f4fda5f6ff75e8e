package starter

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/omnirank/omnirank/wordnet"
)

// WordVocabFile is starter-text@2's vocabulary file in its model folder.
const WordVocabFile = "wordnet-vocab.txt"

// wordVocabHeader is the first line of a vocabulary file.
const wordVocabHeader = "# omnirank starter-wordnet vocabulary 1: \"w LEMMA\" lines are word ids from the hash buckets up, in order; \"x FORM LEMMA\" lines are WordNet's morphological exceptions"

// WordVocab is starter-text@2's word vocabulary: WordNet lemmas ('_'
// between the words of a phrase) with their ids, and the exception forms
// that lemmatise to them. It lemmatises without the WordNet database:
// the word itself, its exception, then WordNet's detachment rules
// ("shoes" → shoe), the first form in the vocabulary wins.
type WordVocab struct {
	lemmas    []string
	ids       map[string]int32
	exc       map[string]string
	phraseLen map[string]int // longest phrase starting with a word
}

// NewWordVocab makes a vocabulary of lemmas (ids in order) and exception
// pairs (form, lemma; those whose lemma is unknown are dropped).
func NewWordVocab(lemmas []string, exceptions [][2]string) (*WordVocab, error) {
	v := &WordVocab{ids: make(map[string]int32, len(lemmas)), exc: map[string]string{}, phraseLen: map[string]int{}}
	for _, l := range lemmas {
		if l == "" || strings.ContainsAny(l, " \t\n") {
			return nil, fmt.Errorf("word vocabulary: bad lemma %q", l)
		}
		if _, dup := v.ids[l]; dup {
			return nil, fmt.Errorf("word vocabulary: lemma %q twice", l)
		}
		v.ids[l] = int32(len(v.lemmas))
		v.lemmas = append(v.lemmas, l)
		if words := strings.Split(l, "_"); len(words) > 1 {
			v.phraseLen[words[0]] = max(v.phraseLen[words[0]], len(words))
		}
	}
	for _, e := range exceptions {
		if _, known := v.ids[e[1]]; !known {
			continue
		}
		if _, self := v.ids[e[0]]; self {
			continue
		}
		if _, seen := v.exc[e[0]]; !seen {
			v.exc[e[0]] = e[1]
		}
	}
	return v, nil
}

// ParseWordVocab reads a vocabulary file.
func ParseWordVocab(data []byte) (*WordVocab, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	if !sc.Scan() || sc.Text() != wordVocabHeader {
		return nil, fmt.Errorf("word vocabulary: missing header line")
	}
	var lemmas []string
	var exc [][2]string
	for n := 2; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), " ")
		switch {
		case len(f) == 2 && f[0] == "w":
			lemmas = append(lemmas, f[1])
		case len(f) == 3 && f[0] == "x":
			exc = append(exc, [2]string{f[1], f[2]})
		default:
			return nil, fmt.Errorf("word vocabulary line %d: malformed %.40q", n, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("word vocabulary: %w", err)
	}
	if len(lemmas) == 0 {
		return nil, fmt.Errorf("word vocabulary: no words")
	}
	v, err := NewWordVocab(lemmas, exc)
	if err != nil {
		return nil, err
	}
	if len(v.exc) != len(exc) {
		return nil, fmt.Errorf("word vocabulary: %d exception lines name unknown or duplicate forms", len(exc)-len(v.exc))
	}
	return v, nil
}

// Marshal writes the vocabulary file: the header, the words in id order,
// then the exceptions sorted by form.
func (v *WordVocab) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(wordVocabHeader + "\n")
	for _, l := range v.lemmas {
		b.WriteString("w " + l + "\n")
	}
	forms := make([]string, 0, len(v.exc))
	for f := range v.exc {
		forms = append(forms, f)
	}
	slices.Sort(forms)
	for _, f := range forms {
		b.WriteString("x " + f + " " + v.exc[f] + "\n")
	}
	return b.Bytes()
}

// Len is the number of words.
func (v *WordVocab) Len() int { return len(v.lemmas) }

// Lemmas returns the words in id order (shared; do not modify).
func (v *WordVocab) Lemmas() []string { return v.lemmas }

// ID returns the id of word's lemma (word lower-case, '_' in phrases).
func (v *WordVocab) ID(word string) (int32, bool) {
	if id, ok := v.ids[word]; ok {
		return id, true
	}
	if l, ok := v.exc[word]; ok {
		return v.ids[l], true
	}
	head, last := "", word
	if i := strings.LastIndexByte(word, '_'); i >= 0 {
		head, last = word[:i+1], word[i+1:]
		if l, ok := v.exc[last]; ok {
			if id, ok := v.ids[head+l]; ok {
				return id, true
			}
		}
	}
	for _, c := range wordnet.Detach(last) {
		if id, ok := v.ids[head+c]; ok {
			return id, true
		}
	}
	return 0, false
}

// wordFeatures returns the vocabulary ids (offset by base) and weights of
// the words and phrases of normalised words: each known word or phrase
// counts once per occurrence (stop words skipped), repeats damped by
// 1+ln(n); at most maxLen, the heaviest then lowest ids kept. Ids come
// out ascending.
func (v *WordVocab) wordFeatures(words []string, base int64, maxLen int) ([]int64, []float32) {
	counts := map[int32]float64{}
	for i, w := range words {
		for n := min(v.phraseLen[w], len(words)-i); n >= 2; n-- {
			if id, ok := v.ID(strings.Join(words[i:i+n], "_")); ok {
				counts[id]++
				break
			}
		}
		if wordnet.IsStopWord(w) {
			continue
		}
		if id, ok := v.ID(w); ok {
			counts[id]++
		}
	}
	feats := make([]feat, 0, len(counts))
	for id, c := range counts {
		if c > 1 {
			c = 1 + math.Log(c)
		}
		feats = append(feats, feat{id: base + int64(id), w: c})
	}
	return topFeatures(feats, maxLen)
}

// WordNetTokenizer is the "starter-wordnet" tokenizer of starter-text@2:
// the starter-hash features of the text (ids below the bucket count) plus
// the vocabulary ids of its words and WordNet phrases, shifted up by the
// bucket count. Out-of-vocabulary words are left to the hashed n-grams.
// It is safe for concurrent use.
type WordNetTokenizer struct {
	hash    *HashTokenizer
	vocab   *WordVocab
	buckets int64
	maxLen  int
}

// NewWordNetTokenizer makes the tokenizer for a model of buckets hash
// rows, maxLen features per kind and the vocabulary file's contents.
func NewWordNetTokenizer(buckets, maxLen int, vocabFile []byte) (*WordNetTokenizer, error) {
	h, err := NewHashTokenizer(buckets, maxLen)
	if err != nil {
		return nil, err
	}
	v, err := ParseWordVocab(vocabFile)
	if err != nil {
		return nil, err
	}
	return &WordNetTokenizer{hash: h, vocab: v, buckets: int64(buckets), maxLen: maxLen}, nil
}

// Features returns ascending feature ids and weights: hashed n-grams,
// then words.
func (t *WordNetTokenizer) Features(text string) ([]int64, []float32, error) {
	ids, ws, err := t.hash.Features(text)
	if err != nil {
		return nil, nil, err
	}
	n, err := Normalize(text)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadText, err)
	}
	wids, wws := t.vocab.wordFeatures(Words(n), t.buckets, t.maxLen)
	return append(ids, wids...), append(ws, wws...), nil
}
