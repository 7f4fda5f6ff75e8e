// Package wordnet reads the Princeton WordNet 3.0 database files (as
// installed by Debian's wordnet-base under /usr/share/wordnet): synsets
// with their lemmas, pointers and glosses, the per-part-of-speech lemma
// indexes, sense frequencies (cntlist.rev) and the morphological exception
// lists. On top of the database it lemmatises words the way WordNet's
// morphy does ("shoes" → "shoe", "running" → "run"), ranks a word's
// synonyms, recognises multi-word lemmas ("running shoe") and expands
// search queries (QueryExpander).
//
// It depends on nothing else in omnirank, so the ranker (query expansion),
// the starter models (starter-text@2) and the sample catalogue (labelled
// queries) can all use it.
package wordnet

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultDir is where Debian's wordnet-base installs the database.
const DefaultDir = "/usr/share/wordnet"

// ErrMissing: the database files are not there (install wordnet-base).
var ErrMissing = errors.New("wordnet database not found (install the Debian package wordnet-base)")

// POS is a part of speech: 'n', 'v', 'a' (adjectives, satellites
// included) or 'r' (adverbs).
type POS byte

// Parts of speech, in the order lookups try them.
const (
	Noun      POS = 'n'
	Verb      POS = 'v'
	Adjective POS = 'a'
	Adverb    POS = 'r'
)

// AllPOS lists the parts of speech in lookup order: nouns first, as
// product text is mostly nouns and their modifiers.
var AllPOS = []POS{Noun, Adjective, Verb, Adverb}

var posFile = map[POS]string{Noun: "noun", Verb: "verb", Adjective: "adj", Adverb: "adv"}

func (p POS) String() string { return posFile[p] }

// Pointer kinds used by this package (WordNet's pointer symbols).
const (
	Hypernym         = "@"
	InstanceHypernym = "@i"
	Hyponym          = "~"
	InstanceHyponym  = "~i"
	SimilarTo        = "&"
	AlsoSee          = "^"
	Derivation       = "+"
	Antonym          = "!"
	Pertainym        = "\\"
	Attribute        = "="
)

// SynsetID indexes DB.Synsets.
type SynsetID int32

// Pointer is one relation from a synset (or one of its lemmas) to another.
type Pointer struct {
	Kind   string // pointer symbol, e.g. Hypernym
	Target SynsetID
	// Source and TargetWord are 1-based lemma numbers for a lexical
	// pointer (between two words), both 0 for a semantic one.
	Source, TargetWord uint8
}

// Synset is one set of synonyms with its relations and gloss.
type Synset struct {
	POS     POS
	Offset  uint32 // byte offset in data.<pos>: WordNet's synset id
	LexFile uint8  // lexicographer file number (e.g. 6 = noun.artifact)
	// Satellite marks an adjective satellite (ss_type "s").
	Satellite bool
	// Lemmas are the synset's words, lower-cased, '_' between the words
	// of a multi-word lemma, adjective markers like "(a)" removed.
	Lemmas   []string
	Pointers []Pointer
	Gloss    string // definition and examples
}

// Related lists the synsets that s points to with a pointer of kind.
func (s *Synset) Related(kind string) []SynsetID {
	var out []SynsetID
	for _, p := range s.Pointers {
		if p.Kind == kind {
			out = append(out, p.Target)
		}
	}
	return out
}

// DB is a parsed WordNet database. It is read-only after Open and safe
// for concurrent use.
type DB struct {
	Synsets []Synset
	// index maps pos → lemma → its synsets, most frequent sense first.
	index map[POS]map[string][]SynsetID
	// tagged is the number of leading senses in index with tag counts.
	tagged map[POS]map[string]int
	// exc maps pos → inflected form → base forms.
	exc map[POS]map[string][]string
	// freq is each lemma's summed sense tag count from cntlist.rev;
	// posFreq the same per part of speech.
	freq    map[string]int
	posFreq map[POS]map[string]int
	// phraseLen is the longest multi-word lemma starting with a word.
	phraseLen map[string]int
}

// Open parses the database in dir (DefaultDir when empty).
func Open(dir string) (*DB, error) {
	if dir == "" {
		dir = DefaultDir
	}
	if _, err := os.Stat(filepath.Join(dir, "data.noun")); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMissing, dir, err)
	}
	db := &DB{
		index: map[POS]map[string][]SynsetID{}, tagged: map[POS]map[string]int{},
		exc: map[POS]map[string][]string{}, freq: map[string]int{}, phraseLen: map[string]int{},
		posFreq: map[POS]map[string]int{Noun: {}, Verb: {}, Adjective: {}, Adverb: {}},
	}
	byOffset := map[POS]map[uint32]SynsetID{}
	type rawPtr struct {
		from   SynsetID
		kind   string
		offset uint32
		pos    POS
		st     uint16
	}
	var ptrs []rawPtr
	for _, pos := range AllPOS {
		byOffset[pos] = map[uint32]SynsetID{}
		file := filepath.Join(dir, "data."+posFile[pos])
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		text := string(data) // one copy; lemmas and glosses share it
		for n, line := range lines(text) {
			if strings.HasPrefix(line, "  ") || line == "" {
				continue // licence header
			}
			s, lp, err := parseDataLine(line)
			if err != nil {
				return nil, fmt.Errorf("%s line %d: %w", file, n+1, err)
			}
			id := SynsetID(len(db.Synsets))
			byOffset[pos][s.Offset] = id
			for _, p := range lp {
				ptrs = append(ptrs, rawPtr{from: id, kind: p.kind, offset: p.offset, pos: p.pos, st: p.st})
			}
			db.Synsets = append(db.Synsets, s)
		}
	}
	for _, p := range ptrs {
		t, ok := byOffset[p.pos][p.offset]
		if !ok {
			return nil, fmt.Errorf("synset %d: pointer %s to unknown %c %08d", db.Synsets[p.from].Offset, p.kind, p.pos, p.offset)
		}
		s := &db.Synsets[p.from]
		s.Pointers = append(s.Pointers, Pointer{Kind: p.kind, Target: t, Source: uint8(p.st >> 8), TargetWord: uint8(p.st)})
	}
	for _, pos := range AllPOS {
		if err := db.readIndex(dir, pos, byOffset[pos]); err != nil {
			return nil, err
		}
		if err := db.readExceptions(dir, pos); err != nil {
			return nil, err
		}
	}
	if err := db.readCounts(dir); err != nil {
		return nil, err
	}
	return db, nil
}

// lines splits text into lines without copying.
func lines(text string) []string {
	return strings.Split(strings.TrimRight(text, "\n"), "\n")
}

type lexPtr struct {
	kind   string
	offset uint32
	pos    POS
	st     uint16
}

// parseDataLine parses "offset lexfile ss_type w_cnt (word lex_id)…
// p_cnt (symbol offset pos source/target)… [frames] | gloss".
func parseDataLine(line string) (Synset, []lexPtr, error) {
	body, gloss, _ := strings.Cut(line, " | ")
	f := strings.Fields(body)
	bad := func(what string) (Synset, []lexPtr, error) {
		return Synset{}, nil, fmt.Errorf("malformed data line (%s): %.60q", what, line)
	}
	if len(f) < 4 {
		return bad("too short")
	}
	off, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return bad("offset")
	}
	lex, err := strconv.ParseUint(f[1], 10, 8)
	if err != nil {
		return bad("lexfile")
	}
	s := Synset{Offset: uint32(off), LexFile: uint8(lex), Gloss: strings.TrimSpace(gloss)}
	switch f[2] {
	case "n", "v", "a", "r":
		s.POS = POS(f[2][0])
	case "s":
		s.POS, s.Satellite = Adjective, true
	default:
		return bad("ss_type")
	}
	wc, err := strconv.ParseUint(f[3], 16, 8)
	if err != nil || len(f) < 4+2*int(wc)+1 {
		return bad("word count")
	}
	i := 4
	for range wc {
		w := f[i]
		if j := strings.IndexByte(w, '('); j > 0 && s.POS == Adjective {
			w = w[:j] // adjective position marker: (a), (p), (ip)
		}
		s.Lemmas = append(s.Lemmas, lowerASCII(w))
		i += 2
	}
	pc, err := strconv.Atoi(f[i])
	if err != nil || len(f) < i+1+4*pc {
		return bad("pointer count")
	}
	i++
	ptrs := make([]lexPtr, 0, pc)
	for range pc {
		po, err1 := strconv.ParseUint(f[i+1], 10, 32)
		st, err2 := strconv.ParseUint(f[i+3], 16, 16)
		if err1 != nil || err2 != nil || len(f[i+2]) != 1 {
			return bad("pointer")
		}
		pos := POS(f[i+2][0])
		if pos == 's' {
			pos = Adjective
		}
		ptrs = append(ptrs, lexPtr{kind: f[i], offset: uint32(po), pos: pos, st: uint16(st)})
		i += 4
	}
	return s, ptrs, nil
}

// lowerASCII lower-cases s, returning s itself when it has no capitals.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// readIndex parses index.<pos>: "lemma pos synset_cnt p_cnt [symbols]
// sense_cnt tagsense_cnt offsets…".
func (db *DB) readIndex(dir string, pos POS, byOffset map[uint32]SynsetID) error {
	file := filepath.Join(dir, "index."+posFile[pos])
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	idx := map[string][]SynsetID{}
	tagged := map[string]int{}
	for n, line := range lines(string(data)) {
		if strings.HasPrefix(line, "  ") || line == "" {
			continue
		}
		f := strings.Fields(line)
		bad := fmt.Errorf("%s line %d: malformed index line %.60q", file, n+1, line)
		if len(f) < 6 {
			return bad
		}
		sc, err1 := strconv.Atoi(f[2])
		pc, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || len(f) != 6+pc+sc {
			return bad
		}
		tc, err := strconv.Atoi(f[5+pc])
		if err != nil {
			return bad
		}
		ids := make([]SynsetID, 0, sc)
		for _, o := range f[6+pc:] {
			off, err := strconv.ParseUint(o, 10, 32)
			id, ok := byOffset[uint32(off)]
			if err != nil || !ok {
				return fmt.Errorf("%s line %d: unknown synset %s", file, n+1, o)
			}
			ids = append(ids, id)
		}
		lemma := f[0]
		idx[lemma] = ids
		tagged[lemma] = tc
		if words := strings.Split(lemma, "_"); len(words) > 1 {
			db.phraseLen[words[0]] = max(db.phraseLen[words[0]], len(words))
		}
	}
	db.index[pos], db.tagged[pos] = idx, tagged
	return nil
}

// readExceptions parses <pos>.exc: "inflected base [base…]".
func (db *DB) readExceptions(dir string, pos POS) error {
	file := filepath.Join(dir, posFile[pos]+".exc")
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	defer f.Close()
	m := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		m[fs[0]] = append(m[fs[0]], fs[1:]...)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	db.exc[pos] = m
	return nil
}

// keyPOS maps a sense key's ss_type digit to its part of speech.
var keyPOS = map[byte]POS{'1': Noun, '2': Verb, '3': Adjective, '4': Adverb, '5': Adjective}

// readCounts sums cntlist.rev's tag counts ("sense_key sense_number
// tag_cnt") per lemma. The file is optional.
func (db *DB) readCounts(dir string) error {
	file := filepath.Join(dir, "cntlist.rev")
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	for _, line := range lines(string(data)) {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		lemma, key, ok := strings.Cut(f[0], "%")
		c, err := strconv.Atoi(f[2])
		if !ok || err != nil || key == "" {
			continue
		}
		lemma = strings.ToLower(lemma)
		db.freq[lemma] += c
		if pos, ok := keyPOS[key[0]]; ok {
			db.posFreq[pos][lemma] += c
		}
	}
	return nil
}

// Senses returns the synsets of lemma (exact, '_' between words) in pos,
// most frequent first.
func (db *DB) Senses(lemma string, pos POS) []SynsetID {
	return db.index[pos][lemma]
}

// TaggedSenses is how many of lemma's leading senses in pos were seen in
// the sense-tagged corpus (the rest are rare).
func (db *DB) TaggedSenses(lemma string, pos POS) int { return db.tagged[pos][lemma] }

// Frequency is lemma's tag count in the sense-tagged corpus (0 when
// unseen): a rough word frequency.
func (db *DB) Frequency(lemma string) int { return db.freq[lemma] }

// IsLemma reports whether lemma is in any part of speech's index.
func (db *DB) IsLemma(lemma string) bool {
	for _, pos := range AllPOS {
		if _, ok := db.index[pos][lemma]; ok {
			return true
		}
	}
	return false
}

// Lemmas lists every lemma of pos in ascending order.
func (db *DB) Lemmas(pos POS) []string {
	out := make([]string, 0, len(db.index[pos]))
	for l := range db.index[pos] {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// HypernymPaths returns the hypernym chains from s upwards (instance
// hypernyms included), each starting with s's first hypernym; depth
// bounds their length.
func (db *DB) HypernymPaths(s SynsetID, depth int) [][]SynsetID {
	var out [][]SynsetID
	var walk func(id SynsetID, path []SynsetID)
	walk = func(id SynsetID, path []SynsetID) {
		var ups []SynsetID
		if len(path) < depth {
			ups = append(db.Synsets[id].Related(Hypernym), db.Synsets[id].Related(InstanceHypernym)...)
		}
		if len(ups) == 0 {
			if len(path) > 0 {
				out = append(out, slices.Clone(path))
			}
			return
		}
		for _, u := range ups {
			walk(u, append(path, u))
		}
	}
	walk(s, nil)
	return out
}
