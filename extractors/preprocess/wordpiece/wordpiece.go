// Package wordpiece owns BERT WordPiece tokenisation in pure Go: it turns
// UTF-8 text into the input_ids, attention_mask and token_type_ids a
// Hugging Face BERT-family encoder takes.
//
// It follows Hugging Face's BertTokenizer / BertTokenizerFast: special
// tokens written in the text ("[SEP]") are recognised verbatim; the rest is
// cleaned (control characters, NUL and U+FFFD dropped, whitespace unified),
// CJK ideographs become single-character words, text is lowercased and
// stripped of accents (NFD, combining marks dropped) when the vocabulary is
// uncased, split on whitespace and punctuation, and each word becomes the
// greedy longest-match-first WordPiece sequence with "##" continuations, or
// [UNK] when it cannot be covered or is longer than 100 characters.
//
// Token ids equal those of transformers.js (checked on 300+ sentences in
// testdata/golden.jsonl). One known divergence: CJK ideographs outside the
// Basic Multilingual Plane (U+20000 and up) are split into single-character
// words here, as Hugging Face's Python and Rust tokenizers do; transformers.js
// misses them because it tests UTF-16 code units.
//
// A Tokenizer is immutable once built and safe for concurrent use.
package wordpiece

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/omnirank/omnirank/extractors/preprocess"
)

// ErrBadVocab marks a vocabulary or tokenizer.json that cannot be used.
var ErrBadVocab = errors.New("bad wordpiece vocabulary")

// ErrBadArgument marks an invalid option or call argument (a maxLen too
// small to hold [CLS] and [SEP], a stride that makes no progress).
var ErrBadArgument = errors.New("bad wordpiece argument")

// DefaultMaxInputCharsPerWord is BERT's limit: longer words become [UNK].
const DefaultMaxInputCharsPerWord = 100

// Tokenizer is a loaded WordPiece vocabulary with its normalisation rules.
type Tokenizer struct {
	init     map[string]int32 // word-initial pieces
	cont     map[string]int32 // continuation pieces, prefix removed
	tokens   []string         // id -> token
	maxPiece int              // longest piece in bytes, prefix removed
	norm     normalizer

	unk, cls, sep, pad int32
	maxWordChars       int
	prefix             string

	// specials are matched verbatim in raw text, longest first.
	specials      []string
	specialIDs    map[string]int32
	splitSpecials bool

	chunk int // bytes normalised at a time; 0 means defaultChunk (tests shrink it)
}

type config struct {
	lowercase     *bool
	stripAccents  *bool
	maxWordChars  int
	splitSpecials bool
}

// Option configures a Tokenizer.
type Option func(*config) error

// WithLowercase sets whether text is lowercased (BERT "uncased"). For a
// vocab.txt the default is true; for a tokenizer.json it comes from the
// file. Accent stripping follows it unless WithStripAccents is given.
func WithLowercase(on bool) Option {
	return func(c *config) error { c.lowercase = &on; return nil }
}

// WithStripAccents sets whether accents are stripped (NFD, then combining
// marks dropped), independently of lowercasing.
func WithStripAccents(on bool) Option {
	return func(c *config) error { c.stripAccents = &on; return nil }
}

// WithMaxInputCharsPerWord sets the word length (in characters) above
// which a word becomes [UNK]; n must be at least 1.
func WithMaxInputCharsPerWord(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: max input chars per word %d < 1", ErrBadArgument, n)
		}
		c.maxWordChars = n
		return nil
	}
}

// WithSplitSpecialTokens, when on, treats special-token strings such as
// "[SEP]" in the input as ordinary text instead of emitting their ids
// (Hugging Face's split_special_tokens). Off by default, as in BERT.
func WithSplitSpecialTokens(on bool) Option {
	return func(c *config) error { c.splitSpecials = on; return nil }
}

func applyOptions(opts []Option) (*config, error) {
	c := &config{}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrBadArgument)
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Load reads a tokenizer from a file: a Hugging Face tokenizer.json when the
// name ends in .json, otherwise a vocab.txt.
func Load(path string, opts ...Option) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	var t *Tokenizer
	if strings.EqualFold(filepath.Ext(path), ".json") {
		t, err = FromTokenizerJSON(bytes.NewReader(data), opts...)
	} else {
		t, err = FromVocab(bytes.NewReader(data), opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	return t, nil
}

// FromVocab reads a BERT vocab.txt: one token per line, the line number
// (from 0) being its id. It expects [UNK], [CLS], [SEP] and [PAD]; [CLS],
// [SEP], [PAD], [UNK] and [MASK] are recognised in input text. Text is
// lowercased and accent-stripped unless options say otherwise.
func FromVocab(r io.Reader, opts ...Option) (*Tokenizer, error) {
	c, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	vocab := make(map[string]int32)
	var tokens []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		tok := strings.TrimRight(sc.Text(), "\r")
		if !utf8.ValidString(tok) {
			return nil, fmt.Errorf("%w: line %d is not valid UTF-8", ErrBadVocab, len(tokens)+1)
		}
		if tok != "" {
			vocab[tok] = int32(len(tokens)) // a repeated token keeps its last id, as in transformers
		}
		tokens = append(tokens, tok)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: read vocab: %v", ErrBadVocab, err)
	}
	lower := true
	if c.lowercase != nil {
		lower = *c.lowercase
	}
	spec := buildSpec{
		vocab: vocab, tokens: tokens, unk: "[UNK]", cls: "[CLS]", sep: "[SEP]", pad: "[PAD]",
		prefix: "##", maxWordChars: DefaultMaxInputCharsPerWord,
		norm: normalizer{clean: true, chineseChars: true, lowercase: lower, stripAccents: lower},
	}
	for _, s := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
		if _, ok := vocab[s]; ok {
			spec.specials = append(spec.specials, s)
		}
	}
	return spec.build(c)
}

// tokenizerJSON is the part of a Hugging Face tokenizer.json used here.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		Special    bool   `json:"special"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	PostProcessor *struct {
		Type   string            `json:"type"`
		CLS    []json.RawMessage `json:"cls"`
		SEP    []json.RawMessage `json:"sep"`
		Single []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
		} `json:"single"`
	} `json:"post_processor"`
	Padding *struct {
		PadToken string `json:"pad_token"`
	} `json:"padding"`
	Model struct {
		Type                    string           `json:"type"`
		UnkToken                string           `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    int              `json:"max_input_chars_per_word"`
		Vocab                   map[string]int32 `json:"vocab"`
	} `json:"model"`
}

// FromTokenizerJSON reads a Hugging Face tokenizer.json whose model is
// WordPiece, with a BertNormalizer (or none) and a BertPreTokenizer (or
// none). [CLS] and [SEP] come from the post-processor; added tokens are
// recognised verbatim in input text.
func FromTokenizerJSON(r io.Reader, opts ...Option) (*Tokenizer, error) {
	c, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	var tj tokenizerJSON
	dec := json.NewDecoder(r)
	if err := dec.Decode(&tj); err != nil {
		return nil, fmt.Errorf("%w: parse tokenizer.json: %v", ErrBadVocab, err)
	}
	if tj.Model.Type != "WordPiece" {
		return nil, fmt.Errorf("%w: model type %q, want WordPiece", ErrBadVocab, tj.Model.Type)
	}
	if tj.PreTokenizer != nil && tj.PreTokenizer.Type != "BertPreTokenizer" {
		return nil, fmt.Errorf("%w: pre-tokenizer %q not supported (want BertPreTokenizer)", ErrBadVocab, tj.PreTokenizer.Type)
	}
	spec := buildSpec{
		vocab: make(map[string]int32, len(tj.Model.Vocab)), unk: tj.Model.UnkToken,
		cls: "[CLS]", sep: "[SEP]", pad: "[PAD]", prefix: "##",
		maxWordChars: tj.Model.MaxInputCharsPerWord,
	}
	if spec.unk == "" {
		spec.unk = "[UNK]"
	}
	if p := tj.Model.ContinuingSubwordPrefix; p != nil {
		spec.prefix = *p
	}
	if spec.maxWordChars <= 0 {
		spec.maxWordChars = DefaultMaxInputCharsPerWord
	}
	maxID := int32(-1)
	for tok, id := range tj.Model.Vocab {
		if id < 0 || id > 1<<24 {
			return nil, fmt.Errorf("%w: token %q has id %d", ErrBadVocab, tok, id)
		}
		spec.vocab[tok] = id
		maxID = max(maxID, id)
	}
	for _, at := range tj.AddedTokens {
		if at.ID < 0 || at.ID > 1<<24 || at.Content == "" {
			return nil, fmt.Errorf("%w: added token %q with id %d", ErrBadVocab, at.Content, at.ID)
		}
		spec.vocab[at.Content] = at.ID
		maxID = max(maxID, at.ID)
		spec.specials = append(spec.specials, at.Content)
	}
	if count := len(tj.Model.Vocab) + len(tj.AddedTokens); int(maxID) >= 2*count+1024 {
		return nil, fmt.Errorf("%w: ids run to %d for %d tokens", ErrBadVocab, maxID, count)
	}
	spec.tokens = make([]string, maxID+1)
	for tok, id := range spec.vocab {
		spec.tokens[id] = tok
	}
	if n := tj.Normalizer; n != nil {
		if n.Type != "BertNormalizer" {
			return nil, fmt.Errorf("%w: normalizer %q not supported (want BertNormalizer)", ErrBadVocab, n.Type)
		}
		on := func(p *bool, def bool) bool {
			if p == nil {
				return def
			}
			return *p
		}
		spec.norm.clean = on(n.CleanText, true)
		spec.norm.chineseChars = on(n.HandleChineseChars, true)
		spec.norm.lowercase = on(n.Lowercase, true)
		spec.norm.stripAccents = on(n.StripAccents, spec.norm.lowercase)
	}
	if pp := tj.PostProcessor; pp != nil {
		switch pp.Type {
		case "BertProcessing":
			if len(pp.CLS) > 0 {
				_ = json.Unmarshal(pp.CLS[0], &spec.cls)
			}
			if len(pp.SEP) > 0 {
				_ = json.Unmarshal(pp.SEP[0], &spec.sep)
			}
		case "TemplateProcessing":
			var ids []string
			for _, p := range pp.Single {
				if p.SpecialToken != nil {
					ids = append(ids, p.SpecialToken.ID)
				}
			}
			if len(ids) != 2 {
				return nil, fmt.Errorf("%w: template post-processor must wrap a sequence in exactly two special tokens, has %d", ErrBadVocab, len(ids))
			}
			spec.cls, spec.sep = ids[0], ids[1]
		default:
			return nil, fmt.Errorf("%w: post-processor %q not supported", ErrBadVocab, pp.Type)
		}
	}
	if tj.Padding != nil && tj.Padding.PadToken != "" {
		spec.pad = tj.Padding.PadToken
	}
	return spec.build(c)
}

type buildSpec struct {
	vocab              map[string]int32
	tokens             []string
	unk, cls, sep, pad string
	prefix             string
	maxWordChars       int
	norm               normalizer
	specials           []string
}

func (s *buildSpec) build(c *config) (*Tokenizer, error) {
	if len(s.vocab) == 0 {
		return nil, fmt.Errorf("%w: empty vocabulary", ErrBadVocab)
	}
	t := &Tokenizer{
		init: make(map[string]int32, len(s.vocab)), cont: make(map[string]int32),
		tokens: s.tokens, norm: s.norm, prefix: s.prefix, maxWordChars: s.maxWordChars,
		specialIDs: make(map[string]int32), splitSpecials: c.splitSpecials,
	}
	if c.lowercase != nil {
		t.norm.lowercase = *c.lowercase
		t.norm.stripAccents = *c.lowercase
	}
	if c.stripAccents != nil {
		t.norm.stripAccents = *c.stripAccents
	}
	if c.maxWordChars > 0 {
		t.maxWordChars = c.maxWordChars
	}
	for _, sp := range []struct {
		name string
		dst  *int32
	}{{s.unk, &t.unk}, {s.cls, &t.cls}, {s.sep, &t.sep}, {s.pad, &t.pad}} {
		id, ok := s.vocab[sp.name]
		if !ok {
			return nil, fmt.Errorf("%w: vocabulary lacks %q", ErrBadVocab, sp.name)
		}
		*sp.dst = id
	}
	for tok, id := range s.vocab {
		if s.prefix != "" && strings.HasPrefix(tok, s.prefix) {
			rest := tok[len(s.prefix):]
			t.cont[rest] = id
			t.maxPiece = max(t.maxPiece, len(rest))
			continue
		}
		t.init[tok] = id
		t.maxPiece = max(t.maxPiece, len(tok))
	}
	if s.prefix == "" { // continuations are spelled like word starts
		t.cont = t.init
	}
	for _, sp := range s.specials {
		if _, dup := t.specialIDs[sp]; !dup {
			t.specialIDs[sp] = s.vocab[sp]
			t.specials = append(t.specials, sp)
		}
	}
	sort.SliceStable(t.specials, func(i, j int) bool { return len(t.specials[i]) > len(t.specials[j]) })
	return t, nil
}

// VocabSize is the number of ids (the largest id plus one).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// PadID is the id of the padding token.
func (t *Tokenizer) PadID() int64 { return int64(t.pad) }

// CLSID is the id of the classification token that starts every encoding.
func (t *Tokenizer) CLSID() int64 { return int64(t.cls) }

// SEPID is the id of the separator token that ends every encoding.
func (t *Tokenizer) SEPID() int64 { return int64(t.sep) }

// UNKID is the id of the unknown token.
func (t *Tokenizer) UNKID() int64 { return int64(t.unk) }

// IDToToken returns the token for id, or "" when there is none.
func (t *Tokenizer) IDToToken(id int64) string {
	if id < 0 || id >= int64(len(t.tokens)) {
		return ""
	}
	return t.tokens[id]
}

// TokenToID returns the id of a vocabulary token ("##ing" for a
// continuation piece).
func (t *Tokenizer) TokenToID(tok string) (int64, bool) {
	if id, ok := t.specialIDs[tok]; ok {
		return int64(id), true
	}
	if t.prefix != "" && strings.HasPrefix(tok, t.prefix) {
		id, ok := t.cont[tok[len(t.prefix):]]
		return int64(id), ok
	}
	id, ok := t.init[tok]
	return int64(id), ok
}

func checkUTF8(text string) error {
	if utf8.ValidString(text) {
		return nil
	}
	off := 0
	for off < len(text) {
		r, n := utf8.DecodeRuneInString(text[off:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		off += n
	}
	return fmt.Errorf("%w: text is not valid UTF-8 (first bad byte at offset %d)", preprocess.ErrBadInput, off)
}

// IDs returns the WordPiece ids of text without [CLS] / [SEP], stopping
// after limit ids when limit > 0.
func (t *Tokenizer) IDs(text string, limit int) ([]int64, error) {
	if err := checkUTF8(text); err != nil {
		return nil, err
	}
	var out []int64
	t.tokenize(text, limit, func(id int32) { out = append(out, int64(id)) })
	return out, nil
}

// Tokenize returns the WordPiece tokens of text without [CLS] / [SEP]
// (continuations spelled with their "##" prefix).
func (t *Tokenizer) Tokenize(text string) ([]string, error) {
	if err := checkUTF8(text); err != nil {
		return nil, err
	}
	var out []string
	t.tokenize(text, 0, func(id int32) { out = append(out, t.tokens[id]) })
	return out, nil
}

// tokenize emits ids until limit (when > 0) is reached; it reports whether
// the text was cut short.
func (t *Tokenizer) tokenize(text string, limit int, emit func(int32)) bool {
	n := 0
	put := func(id int32) bool {
		if limit > 0 && n >= limit {
			return false
		}
		emit(id)
		n++
		return true
	}
	var sf *specialFinder
	if !t.splitSpecials && len(t.specials) > 0 {
		sf = &specialFinder{specials: t.specials, next: make([]int, len(t.specials))}
		for i := range sf.next {
			sf.next[i] = -2 // not searched yet
		}
	}
	off := 0 // text[:off] is done
	for off < len(text) {
		pos, sp := -1, ""
		if sf != nil {
			pos, sp = sf.find(text, off)
		}
		end := len(text)
		if pos >= 0 {
			end = pos
		}
		if !t.section(text[off:end], put) {
			return true
		}
		if pos < 0 {
			break
		}
		if !put(t.specialIDs[sp]) {
			return true
		}
		off = pos + len(sp)
	}
	return false
}

// specialFinder finds special-token strings left to right, remembering
// where each one next occurs so the text is scanned once per token.
type specialFinder struct {
	specials []string // longest first
	next     []int    // next occurrence at or after the last search; -1 none; -2 unknown
}

// find returns the leftmost occurrence at or after off, the longest at that
// position, or -1.
func (f *specialFinder) find(text string, off int) (int, string) {
	best, tok := -1, ""
	for i, sp := range f.specials {
		p := f.next[i]
		if p != -1 && p < off { // stale or never searched
			p = strings.Index(text[off:], sp)
			if p >= 0 {
				p += off
			}
			f.next[i] = p
		}
		if p >= 0 && (best < 0 || p < best) {
			best, tok = p, sp
		}
	}
	return best, tok
}

// isSplitSpace is JavaScript's \s as the pre-tokenizer sees it; after
// cleaning only ' ' is left, but cleaning can be switched off.
func isSplitSpace(r rune) bool {
	return isWhitespace(r) || r == '\v' || r == '\f' || r == '\ufeff'
}

// defaultChunk is how much raw text is normalised at a time.
const defaultChunk = 4096

// section tokenises one run of text free of special tokens, a chunk at a
// time so that Encode with a small maxLen stops early on huge text. Chunks
// end just before an ASCII whitespace byte: no word, combining sequence or
// final-sigma context crosses whitespace, so chunking changes nothing.
func (t *Tokenizer) section(s string, put func(int32) bool) bool {
	size := t.chunk
	if size <= 0 {
		size = defaultChunk
	}
	for len(s) > size {
		cut := strings.IndexAny(s[size:], " \t\n\r")
		if cut < 0 {
			break
		}
		cut += size
		if !t.chunkTokens(s[:cut], put) {
			return false
		}
		s = s[cut:]
	}
	return t.chunkTokens(s, put)
}

// chunkTokens normalises and tokenises one chunk.
func (t *Tokenizer) chunkTokens(s string, put func(int32) bool) bool {
	if s == "" {
		return true
	}
	s = t.norm.normalize(s)
	start := -1 // start of the current word
	for i, r := range s {
		space := isSplitSpace(r)
		punct := !space && isPunct(r)
		if space || punct {
			if start >= 0 {
				if !t.word(s[start:i], put) {
					return false
				}
				start = -1
			}
			if punct && !t.word(s[i:i+utf8.RuneLen(r)], put) {
				return false
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		return t.word(s[start:], put)
	}
	return true
}

// word emits the greedy longest-match-first WordPiece split of w, or [UNK].
func (t *Tokenizer) word(w string, put func(int32) bool) bool {
	if utf8.RuneCountInString(w) > t.maxWordChars {
		return put(t.unk)
	}
	var buf [32]int32
	pieces := buf[:0]
	start := 0
	for start < len(w) {
		dict := t.init
		if start > 0 {
			dict = t.cont
		}
		// No piece is longer than maxPiece bytes: start there, on a rune
		// boundary, and shrink one rune at a time.
		end := min(len(w), start+t.maxPiece)
		for end > start && end < len(w) && !utf8.RuneStart(w[end]) {
			end--
		}
		found := false
		for end > start {
			if id, ok := dict[w[start:end]]; ok {
				pieces = append(pieces, id)
				found = true
				break
			}
			end--
			for end > start && !utf8.RuneStart(w[end]) {
				end--
			}
		}
		if !found {
			return put(t.unk)
		}
		start = end
	}
	for _, id := range pieces {
		if !put(id) {
			return false
		}
	}
	return true
}

// Encoding is one model input: [CLS] tokens [SEP], with its attention mask
// (1 for real tokens, 0 for padding) and token type ids (all 0 for a single
// sequence). The three slices have equal length.
type Encoding struct {
	IDs           []int64
	AttentionMask []int64
	TypeIDs       []int64
}

// Len is the number of positions, padding included.
func (e Encoding) Len() int { return len(e.IDs) }

// Pad returns a copy of e padded with padID (attention 0) up to n
// positions; e is returned unchanged when it already has n or more.
func (e Encoding) Pad(n int, padID int64) Encoding {
	if len(e.IDs) >= n {
		return e
	}
	out := Encoding{
		IDs:           make([]int64, n),
		AttentionMask: make([]int64, n),
		TypeIDs:       make([]int64, n),
	}
	copy(out.IDs, e.IDs)
	copy(out.AttentionMask, e.AttentionMask)
	copy(out.TypeIDs, e.TypeIDs)
	for i := len(e.IDs); i < n; i++ {
		out.IDs[i] = padID
	}
	return out
}

func (t *Tokenizer) wrap(body []int64) Encoding {
	n := len(body) + 2
	e := Encoding{IDs: make([]int64, n), AttentionMask: make([]int64, n), TypeIDs: make([]int64, n)}
	e.IDs[0] = int64(t.cls)
	copy(e.IDs[1:], body)
	e.IDs[n-1] = int64(t.sep)
	for i := range e.AttentionMask {
		e.AttentionMask[i] = 1
	}
	return e
}

// Encode tokenises text as [CLS] … [SEP], keeping at most maxLen positions
// (the text's first maxLen-2 pieces); maxLen <= 0 means no limit. It is
// not padded: see Encoding.Pad. Invalid UTF-8 fails with an error wrapping
// preprocess.ErrBadInput.
func (t *Tokenizer) Encode(text string, maxLen int) (Encoding, error) {
	if maxLen > 0 && maxLen < 2 {
		return Encoding{}, fmt.Errorf("%w: maxLen %d cannot hold [CLS] and [SEP]", ErrBadArgument, maxLen)
	}
	limit := 0
	if maxLen > 0 {
		limit = maxLen - 2
		if limit == 0 {
			if err := checkUTF8(text); err != nil {
				return Encoding{}, err
			}
			return t.wrap(nil), nil
		}
	}
	body, err := t.IDs(text, limit)
	if err != nil {
		return Encoding{}, err
	}
	return t.wrap(body), nil
}

// EncodeWindows splits text into windows of at most maxLen positions, each
// [CLS] … [SEP], so that long text is covered completely. Consecutive
// windows share stride tokens (Hugging Face's stride: the overlap, not the
// step), so each window after the first starts maxLen-2-stride pieces after
// the previous one. Text that fits gives one window; empty text gives one
// window holding only [CLS] [SEP].
func (t *Tokenizer) EncodeWindows(text string, maxLen, stride int) ([]Encoding, error) {
	return t.EncodeWindowsN(text, maxLen, stride, 0)
}

// EncodeWindowsN is EncodeWindows keeping at most maxWindows windows (all
// when maxWindows <= 0); tokenisation stops once they are full, so huge
// text costs no more than the windows kept.
func (t *Tokenizer) EncodeWindowsN(text string, maxLen, stride, maxWindows int) ([]Encoding, error) {
	if maxLen < 3 {
		return nil, fmt.Errorf("%w: maxLen %d leaves no room for text between [CLS] and [SEP]", ErrBadArgument, maxLen)
	}
	body := maxLen - 2
	if stride < 0 || stride >= body {
		return nil, fmt.Errorf("%w: stride %d must be in 0..%d for maxLen %d", ErrBadArgument, stride, body-1, maxLen)
	}
	step := body - stride
	limit := 0
	if maxWindows > 0 {
		limit = body + (maxWindows-1)*step
	}
	ids, err := t.IDs(text, limit)
	if err != nil {
		return nil, err
	}
	var out []Encoding
	for start := 0; ; start += step {
		end := min(start+body, len(ids))
		out = append(out, t.wrap(ids[start:end]))
		if end == len(ids) {
			break
		}
	}
	return out, nil
}
