// Package g2p owns grapheme-to-phoneme conversion for the speech
// recogniser: a model learnt from a cmudict-format pronunciation dictionary
// (PocketSphinx's cmudict-en-us.dict) that gives a pronunciation, in the
// dictionary's own phone set, for a word the dictionary lacks (a brand, a
// product name).
//
// Training aligns the letters of every dictionary word to its phones by EM
// (each letter stands for no phone, one, or two: x → K S), then counts,
// for every letter in a window of letters around it (up to MaxWindow on
// each side, word edges included), which phones it stood for. Windows grow
// one letter at a time, alternately on the right and the left, and from a
// set level on they include the phones of the letter before; a word is
// pronounced letter by letter, left to right, from the widest window seen
// in training, backing off to narrower ones. Windows that predict what their narrower
// window already predicts are dropped, so the model stays small without
// changing a single prediction. Training is deterministic: the same
// dictionary and options give the same bytes (WriteTo) and Version.
package g2p

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/omnirank/omnirank/internal/option"
)

// shape is one context window: left and right letters around the letter.
type shape struct {
	left, right int
	hist        bool // the previous letter's chunk is part of the context
}

func (s shape) width() int { return s.left + 1 + s.right }

// chain lists the windows from narrowest to widest, each one letter wider
// than the one before (so each window's key contains the previous one's).
func chain(left, right, histFrom int) []shape {
	out := []shape{{0, 0, false}}
	l, r := 0, 0
	for l < left || r < right {
		if r < right && (r <= l || l == left) {
			r++
		} else {
			l++
		}
		out = append(out, shape{l, r, false})
	}
	if histFrom < 0 || histFrom >= len(out) {
		return out
	}
	h := make([]shape, 0, len(out)+1)
	h = append(h, out[:histFrom+1]...)
	for _, s := range out[histFrom:] {
		s.hist = true
		h = append(h, s)
	}
	return h
}

// level is one window's table: sorted context keys and the chunk each
// predicts.
type level struct {
	keys   []uint64
	chunks []uint16
}

func (lv *level) find(key uint64) (uint16, bool) {
	i, ok := slices.BinarySearch(lv.keys, key)
	if !ok {
		return 0, false
	}
	return lv.chunks[i], true
}

// Model pronounces words. It is immutable and safe for concurrent use.
type Model struct {
	phones  []string // phones[0] is unused (code 0 is "no phone")
	chunks  []uint16 // every chunk seen in training, sorted: history index i+1
	history int      // level of the chain from which the previous chunk counts (-1: never)
	shapes  []shape
	levels  []level
	heldOut Metrics
	version string
}

// Phones returns the model's phone set, sorted.
func (m *Model) Phones() []string { return slices.Clone(m.phones[1:]) }

// Window returns the widest context window, letters left and right.
func (m *Model) Window() (left, right int) {
	s := m.shapes[len(m.shapes)-1]
	return s.left, s.right
}

// HeldOut returns the metrics measured on the held-out words when the
// model was trained WithHoldout (zero otherwise).
func (m *Model) HeldOut() Metrics { return m.heldOut }

// Version identifies the model's content: a hash of its serialised form.
func (m *Model) Version() string { return m.version }

// Size returns the number of stored contexts.
func (m *Model) Size() int {
	n := 0
	for _, lv := range m.levels {
		n += len(lv.keys)
	}
	return n
}

// Default trains a model with the default options on the dictionary at
// path (DefaultDictPath when empty): about 3 CPU-seconds for Debian's
// 135k-word dictionary. There is no cache: the caller keeps the model, or
// stores it with WriteTo and loads it with Read.
func Default(path string) (*Model, error) {
	if path == "" {
		path = DefaultDictPath
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("g2p: open dictionary: %w", err)
	}
	defer f.Close()
	m, err := Train(f)
	if err != nil {
		return nil, fmt.Errorf("g2p: train on %s: %w", path, err)
	}
	return m, nil
}

// Train learns a model from a cmudict-format dictionary. Words with
// characters other than letters and apostrophes (a.m., ad-hoc) are skipped.
func Train(r io.Reader, opts ...Option) (*Model, error) {
	return TrainContext(context.Background(), r, opts...)
}

// TrainContext is Train, stopping early when ctx ends.
func TrainContext(ctx context.Context, r io.Reader, opts ...Option) (*Model, error) {
	cfg := defaultConfig()
	if err := applyOptions(&cfg, opts); err != nil {
		return nil, err
	}
	d, err := readDict(r)
	if err != nil {
		return nil, err
	}
	train, test := d.split(cfg.holdout, cfg.seed)
	if len(train) == 0 {
		return nil, fmt.Errorf("%w: no training words", ErrFormat)
	}
	phones := phoneSet(d.entries)
	if len(phones) > 255 {
		return nil, fmt.Errorf("%w: %d phones, at most 255", ErrFormat, len(phones))
	}
	code := map[string]uint8{}
	for i, p := range phones {
		code[p] = uint8(i + 1)
	}
	var pairs []pair
	for _, e := range train {
		letters := make([]byte, len(e.word))
		for i := 0; i < len(e.word); i++ {
			letters[i] = letterCode(e.word[i])
		}
		for _, v := range e.variants {
			p := pair{letters: letters, phones: make([]uint8, len(v))}
			for i, ph := range v {
				p.phones[i] = code[ph]
			}
			if alignable(p) {
				pairs = append(pairs, p)
			}
		}
	}
	al := newAligner(len(phones))
	if err := al.train(ctx, pairs, cfg.iterations); err != nil {
		return nil, err
	}
	m := &Model{phones: append([]string{""}, phones...), shapes: chain(cfg.left, cfg.right, cfg.history), history: cfg.history}
	aligned := make([][]uint16, len(pairs))
	seen := map[uint16]bool{}
	total := 0
	for i, p := range pairs {
		chunks, ok := al.viterbi(p)
		if !ok {
			continue
		}
		aligned[i] = chunks
		total += len(chunks)
		for _, c := range chunks {
			seen[c] = true
		}
	}
	m.chunks = slices.Sorted(maps.Keys(seen))
	if len(m.chunks) > maxChunks {
		return nil, fmt.Errorf("%w: %d distinct letter chunks, at most %d", ErrFormat, len(m.chunks), maxChunks)
	}
	recs := make([][]uint64, len(m.shapes))
	for k := range recs {
		recs[k] = make([]uint64, 0, total)
	}
	for pi, p := range pairs {
		prev := uint8(0)
		for i, c := range aligned[pi] {
			for k, s := range m.shapes {
				recs[k] = append(recs[k], contextKey(p.letters, i, s, prev)<<16|uint64(c))
			}
			prev = m.histIndex(c)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("g2p: train: %w", err)
	}
	m.levels = buildLevels(m.shapes, recs, cfg.minCount)
	if len(test) > 0 {
		m.heldOut = m.evaluate(test)
	}
	if err := m.seal(); err != nil {
		return nil, err
	}
	return m, nil
}

func applyOptions(cfg *config, opts []Option) error {
	for _, o := range opts {
		if o == nil {
			return fmt.Errorf("g2p: %w: nil option", ErrInvalidOption)
		}
	}
	if err := option.Apply(cfg, opts...); err != nil {
		return fmt.Errorf("g2p: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("g2p: %w", err)
	}
	return nil
}

// phoneSet returns every phone in the entries, sorted.
func phoneSet(entries []entry) []string {
	seen := map[string]bool{}
	for _, e := range entries {
		for _, v := range e.variants {
			for _, p := range v {
				seen[p] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// contextKey packs the letters of window s around position i, left to
// right, word edges as letterEdge; the rightmost letter is in the lowest
// bits.
func contextKey(letters []byte, i int, s shape, prev uint8) uint64 {
	var k uint64
	if s.hist {
		k = uint64(prev)
	}
	for j := i - s.left; j <= i+s.right; j++ {
		c := byte(letterEdge)
		if j >= 0 && j < len(letters) {
			c = letters[j]
		}
		k = k<<letterBits | uint64(c)
	}
	return k
}

// parentKey is the key of the window one narrower than shapes[k] that it
// contains.
func parentKey(shapes []shape, k int, key uint64) uint64 {
	s, p := shapes[k], shapes[k-1]
	letters := key & (1<<(letterBits*s.width()) - 1)
	if !p.hist {
		if s.hist { // same window, without the history
			return letters
		}
	}
	var pl uint64
	if s.right > p.right {
		pl = letters >> letterBits
	} else {
		pl = letters & (1<<(letterBits*p.width()) - 1)
	}
	if p.hist {
		pl |= key >> (letterBits * s.width()) << (letterBits * p.width())
	}
	return pl
}

// maxChunks bounds the distinct chunks, so a history index fits a byte.
const maxChunks = 255

// histIndex is the history index of chunk c (0 marks the word start).
func (m *Model) histIndex(c uint16) uint8 {
	i, ok := slices.BinarySearch(m.chunks, c)
	if !ok {
		return 0
	}
	return uint8(i + 1)
}

// buildLevels turns (key<<16 | chunk) records into tables: each key's most
// frequent chunk (ties: the lower code), keeping a key only when it was
// seen minCount times and predicts something other than its parent.
func buildLevels(shapes []shape, recs [][]uint64, minCount int) []level {
	levels := make([]level, len(shapes))
	var full []level // every counted key's prediction, per level
	for k := range shapes {
		r := recs[k]
		slices.Sort(r)
		var all level
		for i := 0; i < len(r); {
			key := r[i] >> 16
			best, bestN, total := uint16(0), 0, 0
			for i < len(r) && r[i]>>16 == key {
				c := uint16(r[i])
				n := 0
				for i < len(r) && r[i] == uint64(key)<<16|uint64(c) {
					n++
					i++
				}
				total += n
				if n > bestN {
					best, bestN = c, n
				}
			}
			if total >= minCount {
				all.keys = append(all.keys, key)
				all.chunks = append(all.chunks, best)
			}
		}
		full = append(full, all)
		recs[k] = nil
		if k == 0 {
			levels[0] = all
			continue
		}
		var kept level
		for i, key := range all.keys {
			if pc, ok := full[k-1].find(parentKey(shapes, k, key)); ok && pc == all.chunks[i] {
				continue
			}
			kept.keys = append(kept.keys, key)
			kept.chunks = append(kept.chunks, all.chunks[i])
		}
		levels[k] = kept
	}
	return levels
}

// Pronounce returns phones for word: ASCII letters (folded to lower case)
// and apostrophes. Any other character, or no letter at all, is
// ErrUnpronounceable. It does not look the word up in the dictionary: a
// caller pronounces only the words the dictionary lacks.
func (m *Model) Pronounce(word string) ([]string, error) {
	letters, err := encodeWord(word)
	if err != nil {
		return nil, err
	}
	var out []string
	prev := uint8(0)
	for i := range letters {
		c := m.predict(letters, i, prev)
		prev = m.histIndex(c)
		if p := c & 0xff; p != 0 {
			out = append(out, m.phones[p])
		}
		if q := c >> 8; q != 0 {
			out = append(out, m.phones[q])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %q gives no phones", ErrUnpronounceable, word)
	}
	return out, nil
}

func encodeWord(word string) ([]byte, error) {
	if word == "" {
		return nil, fmt.Errorf("%w: empty word", ErrUnpronounceable)
	}
	w := strings.ToLower(word)
	if len(w) != len(word) || !validWord(w) {
		return nil, fmt.Errorf("%w: %q: only letters a-z and apostrophes", ErrUnpronounceable, word)
	}
	letters := make([]byte, len(w))
	for i := 0; i < len(w); i++ {
		letters[i] = letterCode(w[i])
	}
	return letters, nil
}

// predict is the chunk of letter i from the widest window seen.
func (m *Model) predict(letters []byte, i int, prev uint8) uint16 {
	for k := len(m.shapes) - 1; k >= 0; k-- {
		if c, ok := m.levels[k].find(contextKey(letters, i, m.shapes[k], prev)); ok {
			return c
		}
	}
	return 0
}
