package starter

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
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
	pool    sync.Pool // *scratch
}

// NewHashTokenizer makes a tokenizer for a table of buckets rows (a power
// of two) keeping at most maxLen features per text.
func NewHashTokenizer(buckets, maxLen int) (*HashTokenizer, error) {
	if buckets <= 0 || buckets&(buckets-1) != 0 || uint64(buckets) > 1<<32 {
		return nil, fmt.Errorf("starter-hash buckets %d must be a power of two, at most 2^32", buckets)
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

// hash is the bucket of kind + ":" + feature.
func (t *HashTokenizer) hash(kind byte, s []byte) uint64 {
	h := (seedState ^ uint64(kind)) * fnvPrime
	h = (h ^ ':') * fnvPrime
	for _, c := range s {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h & (t.buckets - 1)
}

// id is hash over a string, for tests.
func (t *HashTokenizer) id(kind byte, s string) int64 { return int64(t.hash(kind, []byte(s))) }

// feat is one merged feature.
type feat struct {
	id int64
	w  float64
}

// scratch holds the per-call buffers of Features, reused through the
// tokenizer's pool: a title then costs two allocations (the results).
type scratch struct {
	ids    []uint64  // feature id of each occurrence, in encounter order
	ws     []float64 // weight of each occurrence
	keys   []uint64  // id<<32 | occurrence index, sorted
	feats  []feat
	marked []byte // "<" + word + ">", lower-cased
	starts []int  // byte offset of each rune of marked, plus len
}

// add records the word w (already normalised) and its character 3-grams.
// ascii says w has no multi-byte rune, so every byte is a rune.
func (s *scratch) add(t *HashTokenizer, w []byte, ascii bool) {
	ww := wordWeight
	if stopWords[string(w)] {
		ww = stopWordWeight
	}
	s.ids = append(s.ids, t.hash('w', w))
	s.ws = append(s.ws, ww)
	s.marked = append(append(append(s.marked[:0], '<'), w...), '>')
	m := s.marked
	if ascii {
		gw := ww / math.Sqrt(float64(len(w)))
		for i := 0; i+3 <= len(m); i++ {
			s.ids = append(s.ids, t.hash('c', m[i:i+3]))
			s.ws = append(s.ws, gw)
		}
		return
	}
	s.starts = s.starts[:0]
	for i := range string(m) {
		s.starts = append(s.starts, i)
	}
	s.starts = append(s.starts, len(m))
	runes := len(s.starts) - 1
	gw := ww / math.Sqrt(float64(runes-2))
	for i := 0; i+3 <= runes; i++ {
		s.ids = append(s.ids, t.hash('c', m[s.starts[i]:s.starts[i+3]]))
		s.ws = append(s.ws, gw)
	}
}

// addASCII lower-cases ASCII text and adds its words (runs of letters and
// digits), exactly as Normalize + Words would split it (NFKD and mark
// removal leave ASCII unchanged). It returns false, having added nothing,
// when text holds a non-ASCII byte.
func (s *scratch) addASCII(t *HashTokenizer, text string) bool {
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			return false
		}
	}
	var buf [64]byte
	word := buf[:0]
	for i := 0; i <= len(text); i++ {
		var c byte = ' '
		if i < len(text) {
			c = text[i]
		}
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			word = append(word, c)
		case 'A' <= c && c <= 'Z':
			word = append(word, c+'a'-'A')
		default:
			if len(word) > 0 {
				s.add(t, word, true)
				word = word[:0]
			}
		}
	}
	return true
}

// Features returns the feature ids (ascending) and their weights for text.
// ASCII text takes a fast path with the same result as the general one.
func (t *HashTokenizer) Features(text string) ([]int64, []float32, error) {
	if !utf8.ValidString(text) {
		return nil, nil, fmt.Errorf("%w: invalid UTF-8", ErrBadText)
	}
	s, _ := t.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer t.pool.Put(s)
	s.ids, s.ws = s.ids[:0], s.ws[:0]
	if !s.addASCII(t, text) {
		n, err := Normalize(text)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrBadText, err)
		}
		for _, w := range Words(n) {
			s.add(t, []byte(w), false)
		}
	}
	if len(s.ids) == 0 {
		return nil, nil, fmt.Errorf("%w: no letters or digits", ErrBadText)
	}
	// Sum each feature's weights in encounter order (what a map would do),
	// then damp repeats.
	s.feats = s.feats[:0]
	s.sortByID()
	for i := 0; i < len(s.keys); {
		f := feat{id: int64(s.keys[i] >> 32)}
		for ; i < len(s.keys) && int64(s.keys[i]>>32) == f.id; i++ {
			f.w += s.ws[s.keys[i]&(1<<32-1)]
		}
		if f.w > 1 {
			f.w = 1 + math.Log(f.w)
		}
		s.feats = append(s.feats, f)
	}
	ids, ws := topFeatures(s.feats, t.maxLen)
	return ids, ws, nil
}

// topFeatures keeps the maxLen heaviest features (ties: lower id) and
// returns their ids ascending with their weights. feats is reordered.
func topFeatures(feats []feat, maxLen int) ([]int64, []float32) {
	if len(feats) > maxLen {
		slices.SortFunc(feats, func(a, b feat) int {
			if c := cmp.Compare(b.w, a.w); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
		feats = feats[:maxLen]
	}
	slices.SortFunc(feats, func(a, b feat) int { return cmp.Compare(a.id, b.id) })
	ids := make([]int64, len(feats))
	ws := make([]float32, len(feats))
	for i, f := range feats {
		ids[i], ws[i] = f.id, float32(f.w)
	}
	return ids, ws
}

// sortByID fills s.keys with id<<32 | index for every occurrence, sorted:
// by id, and among equal ids in encounter order. Ids below 2^32 (every
// table NewHashTokenizer accepts on a real machine) and fewer than 2^32
// occurrences make the packing exact.
func (s *scratch) sortByID() {
	s.keys = s.keys[:0]
	for i, id := range s.ids {
		s.keys = append(s.keys, id<<32|uint64(i))
	}
	slices.Sort(s.keys)
}
