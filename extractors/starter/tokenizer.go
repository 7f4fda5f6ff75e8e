package starter

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// ErrBadText marks text the starter-hash tokenizer cannot use: invalid
// UTF-8, or no letters or digits at all.
var ErrBadText = errors.New("bad text")

// hashSeed prefixes every feature before hashing; changing it changes the
// model, so it is part of starter-text's version.
const hashSeed = "omnirank-starter-text-v1\x00"

// Feature weights of the starter-hash tokenizer.
const (
	wordWeight     = 1.0
	stopWordWeight = 0.25
)

var stopWords = map[string]bool{
	"a": true, "an": true, "and": true, "the": true, "of": true, "for": true, "with": true,
	"in": true, "on": true, "to": true, "by": true, "or": true, "is": true, "at": true,
	"from": true, "this": true, "that": true, "it": true, "as": true, "be": true,
}

// HashTokenizer is the "starter-hash" tokenizer: it lowercases, applies
// NFKD and drops combining marks (café → cafe), splits on anything but
// letters and digits, and emits each word plus the character 3-grams of the
// word with boundary marks ("<sh", "sho", …, "es>"). Each feature is hashed
// with 64-bit FNV-1a under a fixed seed into Buckets ids; repeated features
// add their weights, then a sublinear 1+ln(w) damps repeats. At most MaxLen
// features are kept (the heaviest). It is safe for concurrent use.
type HashTokenizer struct {
	buckets uint64
	maxLen  int
}

// NewHashTokenizer makes a tokenizer for a table of buckets rows (a power
// of two) keeping at most maxLen features per text.
func NewHashTokenizer(buckets, maxLen int) (*HashTokenizer, error) {
	if buckets <= 0 || buckets&(buckets-1) != 0 {
		return nil, fmt.Errorf("starter-hash buckets %d must be a power of two", buckets)
	}
	if maxLen <= 0 {
		return nil, fmt.Errorf("starter-hash max length %d must be > 0", maxLen)
	}
	return &HashTokenizer{buckets: uint64(buckets), maxLen: maxLen}, nil
}

// Normalize lowercases, decomposes (NFKD) and strips combining marks.
func Normalize(text string) (string, error) {
	t := transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)))
	s, _, err := transform.String(t, text)
	if err != nil {
		return "", fmt.Errorf("normalize text: %w", err)
	}
	return strings.ToLower(s), nil
}

// Words splits normalised text into words of letters and digits.
func Words(normalized string) []string {
	return strings.FieldsFunc(normalized, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// FNV-1a 64 constants; seedState is the hash state after hashSeed, so a
// feature's hash is FNV-1a(hashSeed + kind + ":" + feature) without
// rehashing the seed each time.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

var seedState = func() uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(hashSeed); i++ {
		h = (h ^ uint64(hashSeed[i])) * fnvPrime
	}
	return h
}()

func (t *HashTokenizer) id(kind byte, s string) int64 {
	h := (seedState ^ uint64(kind)) * fnvPrime
	h = (h ^ ':') * fnvPrime
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return int64(h & (t.buckets - 1))
}

// Features returns the feature ids (ascending) and their weights for text.
func (t *HashTokenizer) Features(text string) ([]int64, []float32, error) {
	if !utf8.ValidString(text) {
		return nil, nil, fmt.Errorf("%w: invalid UTF-8", ErrBadText)
	}
	n, err := Normalize(text)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadText, err)
	}
	words := Words(n)
	if len(words) == 0 {
		return nil, nil, fmt.Errorf("%w: no letters or digits", ErrBadText)
	}
	acc := make(map[int64]float64, 8*len(words))
	for _, w := range words {
		ww := wordWeight
		if stopWords[w] {
			ww = stopWordWeight
		}
		acc[t.id('w', w)] += ww
		r := []rune("<" + w + ">")
		grams := len(r) - 2
		gw := ww / math.Sqrt(float64(grams))
		for i := 0; i+3 <= len(r); i++ {
			acc[t.id('c', string(r[i:i+3]))] += gw
		}
	}
	type feat struct {
		id int64
		w  float64
	}
	feats := make([]feat, 0, len(acc))
	for id, w := range acc {
		if w > 1 {
			w = 1 + math.Log(w)
		}
		feats = append(feats, feat{id, w})
	}
	if len(feats) > t.maxLen {
		slices.SortFunc(feats, func(a, b feat) int {
			if c := cmp.Compare(b.w, a.w); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
		feats = feats[:t.maxLen]
	}
	slices.SortFunc(feats, func(a, b feat) int { return cmp.Compare(a.id, b.id) })
	ids := make([]int64, len(feats))
	ws := make([]float32, len(feats))
	for i, f := range feats {
		ids[i], ws[i] = f.id, float32(f.w)
	}
	return ids, ws, nil
}
