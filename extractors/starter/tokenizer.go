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

// idBytes is id over a byte slice (no string conversion).
func (t *HashTokenizer) idBytes(kind byte, s []byte) int64 {
	h := (seedState ^ uint64(kind)) * fnvPrime
	h = (h ^ ':') * fnvPrime
	for _, c := range s {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return int64(h & (t.buckets - 1))
}

// feat is one hashed feature occurrence, or after merging one feature.
type feat struct {
	id int64
	w  float64
}

// asciiWords lowercases ASCII text and splits it into words of letters and
// digits, exactly as Normalize + Words would (NFKD and mark removal leave
// ASCII unchanged). It returns false when text holds a non-ASCII byte.
func asciiWords(text string, buf []byte) ([]byte, [][2]int32, bool) {
	var spans [][2]int32
	start := -1
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= 0x80 {
			return nil, nil, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
		word := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			spans = append(spans, [2]int32{int32(start), int32(i)})
			start = -1
		}
	}
	if start >= 0 {
		spans = append(spans, [2]int32{int32(start), int32(len(text))})
	}
	return buf, spans, true
}

// Features returns the feature ids (ascending) and their weights for text.
// ASCII text takes a fast path with the same result as the general one.
func (t *HashTokenizer) Features(text string) ([]int64, []float32, error) {
	if !utf8.ValidString(text) {
		return nil, nil, fmt.Errorf("%w: invalid UTF-8", ErrBadText)
	}
	var words []string
	if lower, spans, ok := asciiWords(text, make([]byte, 0, len(text))); ok {
		words = make([]string, len(spans))
		s := string(lower)
		for i, sp := range spans {
			words[i] = s[sp[0]:sp[1]]
		}
	} else {
		n, err := Normalize(text)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrBadText, err)
		}
		words = Words(n)
	}
	if len(words) == 0 {
		return nil, nil, fmt.Errorf("%w: no letters or digits", ErrBadText)
	}
	// Every occurrence in encounter order; a stable sort by id then sums
	// each feature's weights in that same order (what a map would do).
	occ := make([]feat, 0, 10*len(words))
	var (
		marked []byte // "<" + word + ">"
		starts []int  // byte offset of each rune of marked, plus len
	)
	for _, w := range words {
		ww := wordWeight
		if stopWords[w] {
			ww = stopWordWeight
		}
		occ = append(occ, feat{t.id('w', w), ww})
		marked = append(append(append(marked[:0], '<'), w...), '>')
		starts = starts[:0]
		for i := range string(marked) {
			starts = append(starts, i)
		}
		starts = append(starts, len(marked))
		runes := len(starts) - 1
		grams := runes - 2
		gw := ww / math.Sqrt(float64(grams))
		for i := 0; i+3 <= runes; i++ {
			occ = append(occ, feat{t.idBytes('c', marked[starts[i]:starts[i+3]]), gw})
		}
	}
	sortByID(occ)
	feats := occ[:0]
	for i := 0; i < len(occ); {
		f := feat{id: occ[i].id}
		for ; i < len(occ) && occ[i].id == f.id; i++ {
			f.w += occ[i].w
		}
		if f.w > 1 {
			f.w = 1 + math.Log(f.w)
		}
		feats = append(feats, f)
	}
	if len(feats) > t.maxLen {
		slices.SortFunc(feats, func(a, b feat) int {
			if c := cmp.Compare(b.w, a.w); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
		feats = feats[:t.maxLen]
		slices.SortFunc(feats, func(a, b feat) int { return cmp.Compare(a.id, b.id) })
	}
	ids := make([]int64, len(feats))
	ws := make([]float32, len(feats))
	for i, f := range feats {
		ids[i], ws[i] = f.id, float32(f.w)
	}
	return ids, ws, nil
}

// sortByID sorts occurrences by id, keeping encounter order among equal
// ids. With ids and counts below 2^32 (every real table), it sorts packed
// uint64 keys id<<32|index, several times faster than a stable sort.
func sortByID(occ []feat) {
	if len(occ) >= 1<<32 || slices.ContainsFunc(occ, func(f feat) bool { return f.id >= 1<<32 }) {
		slices.SortStableFunc(occ, func(a, b feat) int { return cmp.Compare(a.id, b.id) })
		return
	}
	keys := make([]uint64, len(occ))
	ws := make([]float64, len(occ))
	for i, f := range occ {
		keys[i] = uint64(f.id)<<32 | uint64(i)
		ws[i] = f.w
	}
	slices.Sort(keys)
	for i, k := range keys {
		occ[i] = feat{id: int64(k >> 32), w: ws[k&(1<<32-1)]}
	}
}
