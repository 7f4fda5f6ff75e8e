package speech

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/omnirank/omnirank/internal/option"
)

// Files of a language model folder (WriteDir, LoadLanguageModel).
const (
	arpaFile = "lm.arpa"
	dictFile = "lm.dict"
	metaFile = "lm.json"
)

// ErrBadLanguageModel marks a language model folder that does not load:
// missing files, an ARPA file that does not parse, or a version that does
// not match the content.
var ErrBadLanguageModel = errors.New("bad language model")

// G2P predicts a pronunciation for a word missing from the dictionary, in
// CMU phones ("K", "AW1"…; stress digits are stripped to match the
// dictionary's 39 phones).
type G2P interface {
	Pronounce(word string) ([]string, error)
}

// DefaultExtraPhrases are common query words and phrases added to every
// catalogue language model unless WithExtraPhrases replaces them.
var DefaultExtraPhrases = []string{
	"show me", "i'm looking for", "i want", "find me", "cheap", "for men", "for women", "for kids",
}

type lmConfig struct {
	dict   string
	g2p    G2P
	extra  []string
	order  int
	extras bool
}

// LMOption configures BuildLanguageModel.
type LMOption func(*lmConfig) error

// WithBaseDictionary sets the pronunciation dictionary words are looked up
// in (default DefaultDictionary).
func WithBaseDictionary(path string) LMOption {
	return func(c *lmConfig) error {
		if path == "" {
			return option.Errorf("speech: empty base dictionary path")
		}
		c.dict = path
		return nil
	}
}

// WithG2P pronounces words missing from the base dictionary; without one,
// or when it fails, they are spelled out letter by letter.
func WithG2P(g G2P) LMOption {
	return func(c *lmConfig) error {
		c.g2p = g
		return nil
	}
}

// WithExtraPhrases replaces DefaultExtraPhrases: phrases a shopper says
// around product words ("show me", "cheap"…), each counted as one sentence.
func WithExtraPhrases(p []string) LMOption {
	return func(c *lmConfig) error {
		c.extra = slices.Clone(p)
		c.extras = true
		return nil
	}
}

// WithOrder sets the n-gram order, 1..5 (default 3).
func WithOrder(n int) LMOption {
	return func(c *lmConfig) error {
		if n < 1 || n > 5 {
			return option.Errorf("speech: language model order %d outside 1..5", n)
		}
		c.order = n
		return nil
	}
}

// LanguageModel is a catalogue-adapted n-gram language model (ARPA) and
// the pronunciation dictionary of its words. It is immutable.
type LanguageModel struct {
	arpa, dict []byte
	meta       lmMeta
}

type lmMeta struct {
	Version string `json:"version"`
	Order   int    `json:"order"`
	// Counts are the n-grams per order, as in the ARPA header.
	Counts    []int    `json:"counts"`
	Words     int      `json:"words"`
	Sentences int      `json:"sentences"`
	OOV       []string `json:"oov"`
}

// Version is a content hash of the ARPA file and the dictionary: the same
// corpus and options give the same version.
func (lm *LanguageModel) Version() string { return lm.meta.Version }

// ARPA returns the language model in ARPA format (do not modify).
func (lm *LanguageModel) ARPA() []byte { return lm.arpa }

// Dictionary returns the pronunciation dictionary (do not modify).
func (lm *LanguageModel) Dictionary() []byte { return lm.dict }

// Words is the vocabulary size (without <s> and </s>).
func (lm *LanguageModel) Words() int { return lm.meta.Words }

// Counts returns the number of n-grams per order.
func (lm *LanguageModel) Counts() []int { return slices.Clone(lm.meta.Counts) }

// OOV lists the words missing from the base dictionary, pronounced by the
// G2P or spelled out.
func (lm *LanguageModel) OOV() []string { return slices.Clone(lm.meta.OOV) }

// BuildLanguageModel builds a language model from corpus (titles, brands,
// category names…; each entry split into sentences at . ! ? ; : and line
// breaks) and the extra phrases. The vocabulary is their Normalize()d
// words; the dictionary holds every variant the base dictionary has for
// them, a G2P pronunciation for the others, or their spelling. Words that
// can be neither (no letter a-z) are left out.
func BuildLanguageModel(corpus []string, opts ...LMOption) (*LanguageModel, error) {
	cfg := lmConfig{dict: DefaultDictionary, order: 3}
	if err := option.Apply(&cfg, opts...); err != nil {
		return nil, err
	}
	if !cfg.extras {
		cfg.extra = DefaultExtraPhrases
	}
	var sentences [][]string
	vocab := map[string]bool{}
	for _, entry := range append(slices.Clone(corpus), cfg.extra...) {
		for _, s := range splitSentences(entry) {
			ws := Normalize(s)
			if len(ws) == 0 {
				continue
			}
			sentences = append(sentences, ws)
			for _, w := range ws {
				vocab[w] = true
			}
		}
	}
	if len(sentences) == 0 {
		return nil, option.Errorf("speech: language model corpus holds no words")
	}
	prons, err := lookupDictionary(cfg.dict, vocab)
	if err != nil {
		return nil, err
	}
	var oov []string
	for _, w := range slices.Sorted(maps.Keys(vocab)) {
		if len(prons[w]) > 0 {
			continue
		}
		if p := pronounceMissing(w, prons, cfg.g2p); p != "" {
			prons[w] = []string{p}
			oov = append(oov, w)
		}
	}
	// Drop words that got no pronunciation from the sentences.
	kept := sentences[:0]
	for _, s := range sentences {
		s = slices.DeleteFunc(s, func(w string) bool { return len(prons[w]) == 0 })
		if len(s) > 0 {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return nil, option.Errorf("speech: no word of the corpus can be pronounced")
	}
	arpa, counts := writeARPA(kept, cfg.order)
	var dict bytes.Buffer
	words := 0
	for _, w := range slices.Sorted(maps.Keys(vocab)) {
		if len(prons[w]) == 0 {
			continue
		}
		words++
		for i, p := range prons[w] {
			if i == 0 {
				fmt.Fprintf(&dict, "%s %s\n", w, p)
			} else {
				fmt.Fprintf(&dict, "%s(%d) %s\n", w, i+1, p)
			}
		}
	}
	lm := &LanguageModel{arpa: arpa, dict: dict.Bytes(), meta: lmMeta{
		Order: cfg.order, Counts: counts, Words: words, Sentences: len(kept), OOV: oov,
	}}
	if lm.meta.OOV == nil {
		lm.meta.OOV = []string{}
	}
	lm.meta.Version = contentVersion(lm.arpa, lm.dict)
	return lm, nil
}

func contentVersion(arpa, dict []byte) string {
	h := sha256.New()
	h.Write(arpa)
	h.Write([]byte{0})
	h.Write(dict)
	return "lm-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// splitSentences breaks an entry at sentence punctuation and line breaks
// (a '.' between digits stays: "2.5").
func splitSentences(s string) []string {
	var out []string
	rs := []rune(s)
	last := 0
	for i, r := range rs {
		end := strings.ContainsRune("!?;:\n\r", r)
		if r == '.' && (i+1 == len(rs) || unicode.IsSpace(rs[i+1])) {
			end = true
		}
		if end {
			out = append(out, string(rs[last:i]))
			last = i + 1
		}
	}
	return append(out, string(rs[last:]))
}

// lookupDictionary reads the pronunciations of the words in vocab, every
// variant in file order, plus those of the stems of "'s" words.
func lookupDictionary(path string, vocab map[string]bool) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("speech: base dictionary: %w", err)
	}
	defer f.Close()
	want := maps.Clone(vocab)
	for w := range vocab {
		if stem, ok := strings.CutSuffix(w, "'s"); ok {
			want[stem] = true
		}
	}
	prons := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.HasPrefix(fields[0], ";;;") {
			continue
		}
		w := strings.ToLower(fields[0])
		if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
			w = w[:i]
		}
		if !want[w] {
			continue
		}
		p := strings.Join(stripStress(fields[1:]), " ")
		if !slices.Contains(prons[w], p) {
			prons[w] = append(prons[w], p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("speech: base dictionary %s: %w", path, err)
	}
	if len(prons) == 0 {
		return nil, fmt.Errorf("speech: base dictionary %s: no pronunciation for any of %d words", path, len(vocab))
	}
	return prons, nil
}

// phones is the phone set of cmudict-en-us.dict and the en-us acoustic
// model: the 39 CMU phones without stress.
var phones = map[string]bool{}

func init() {
	for _, p := range strings.Fields("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH") {
		phones[p] = true
	}
}

func stripStress(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strings.TrimRight(strings.ToUpper(p), "012")
	}
	return out
}

// letterNames are the letters' names in CMU phones, for spelling.
var letterNames = map[rune]string{
	'a': "EY", 'b': "B IY", 'c': "S IY", 'd': "D IY", 'e': "IY", 'f': "EH F", 'g': "JH IY",
	'h': "EY CH", 'i': "AY", 'j': "JH EY", 'k': "K EY", 'l': "EH L", 'm': "EH M", 'n': "EH N",
	'o': "OW", 'p': "P IY", 'q': "K Y UW", 'r': "AA R", 's': "EH S", 't': "T IY", 'u': "Y UW",
	'v': "V IY", 'w': "D AH B AH L Y UW", 'x': "EH K S", 'y': "W AY", 'z': "Z IY",
}

// pronounceMissing gives a word missing from the dictionary a
// pronunciation: a possessive from its stem, else the G2P's, else its
// spelling; "" when it has no letter a-z.
func pronounceMissing(w string, prons map[string][]string, g G2P) string {
	if stem, ok := strings.CutSuffix(w, "'s"); ok && len(prons[stem]) > 0 {
		p := prons[stem][0]
		last := p[strings.LastIndexByte(p, ' ')+1:]
		switch last {
		case "S", "Z", "SH", "ZH", "CH", "JH":
			return p + " IH Z"
		case "P", "T", "K", "F", "TH":
			return p + " S"
		}
		return p + " Z"
	}
	plain := strings.ReplaceAll(w, "'", "")
	if g != nil {
		if ps, err := g.Pronounce(plain); err == nil && len(ps) > 0 {
			ps = stripStress(ps)
			if !slices.ContainsFunc(ps, func(p string) bool { return !phones[p] }) {
				return strings.Join(ps, " ")
			}
		}
	}
	var spelled []string
	for _, r := range plain {
		if n, ok := letterNames[r]; ok {
			spelled = append(spelled, n)
		}
	}
	return strings.Join(spelled, " ")
}

// writeARPA estimates an interpolated absolutely discounted back-off model
// of the given order over sentences (each wrapped in <s> </s>) and writes
// it in ARPA format. Unigrams are maximum likelihood (every vocabulary word
// occurs); an n-gram's probability is
//
//	P(w|h) = (c(h w) − D) / c(h) + γ(h) P(w|h′),  γ(h) = D · N1+(h •) / c(h)
//
// with h′ the history without its first word, c(h) = Σ_w c(h w), and D per
// order from the count-of-counts, n1 / (n1 + 2 n2) kept within [0.1, 0.9];
// γ(h) is h's back-off weight, so an unseen w gets γ(h) P(w|h′) and every
// distribution sums to one.
func writeARPA(sentences [][]string, order int) ([]byte, []int) {
	counts := make([]map[string]int, order+1) // counts[n]["w1 w2 …"]
	for n := 1; n <= order; n++ {
		counts[n] = map[string]int{}
	}
	for _, s := range sentences {
		toks := append(append([]string{"<s>"}, s...), "</s>")
		for n := 1; n <= order; n++ {
			for i := 0; i+n <= len(toks); i++ {
				if n == 1 && i == 0 {
					continue // <s> is never predicted
				}
				counts[n][strings.Join(toks[i:i+n], " ")]++
			}
		}
	}
	// Discount per order.
	disc := make([]float64, order+1)
	for n := 2; n <= order; n++ {
		var n1, n2 float64
		for _, c := range counts[n] {
			switch c {
			case 1:
				n1++
			case 2:
				n2++
			}
		}
		d := 0.5
		if n1 > 0 && n2 > 0 {
			d = n1 / (n1 + 2*n2)
		} else if n1 > 0 {
			d = 0.9
		}
		disc[n] = min(max(d, 0.1), 0.9)
	}
	// History totals and distinct followers per order.
	total := make([]map[string]int, order+1)
	follow := make([]map[string]int, order+1)
	for n := 2; n <= order; n++ {
		total[n], follow[n] = map[string]int{}, map[string]int{}
		for g, c := range counts[n] {
			h := g[:strings.LastIndexByte(g, ' ')]
			total[n][h] += c
			follow[n][h]++
		}
	}
	var t1 int
	for _, c := range counts[1] {
		t1 += c
	}
	prob := make([]map[string]float64, order+1)
	prob[1] = map[string]float64{}
	for w, c := range counts[1] {
		prob[1][w] = float64(c) / float64(t1)
	}
	gamma := func(n int, h string) float64 { // back-off weight of history h (n-1 words) into order n
		return disc[n] * float64(follow[n][h]) / float64(total[n][h])
	}
	for n := 2; n <= order; n++ {
		prob[n] = map[string]float64{}
		for g, c := range counts[n] {
			h := g[:strings.LastIndexByte(g, ' ')]
			lower := prob[n-1][g[strings.IndexByte(g, ' ')+1:]]
			prob[n][g] = (float64(c)-disc[n])/float64(total[n][h]) + gamma(n, h)*lower
		}
	}
	var b bytes.Buffer
	b.WriteString("\\data\\\n")
	sizes := make([]int, order)
	for n := 1; n <= order; n++ {
		sizes[n-1] = len(counts[n])
		if n == 1 {
			sizes[0]++ // <s>
		}
		fmt.Fprintf(&b, "ngram %d=%d\n", n, sizes[n-1])
	}
	for n := 1; n <= order; n++ {
		fmt.Fprintf(&b, "\n\\%d-grams:\n", n)
		keys := slices.Collect(maps.Keys(counts[n]))
		if n == 1 {
			keys = append(keys, "<s>")
		}
		slices.SortFunc(keys, func(a, c string) int { return cmp.Compare(a, c) })
		for _, g := range keys {
			lp := -99.0
			if p, ok := prob[n][g]; ok {
				lp = math.Log10(p)
			}
			fmt.Fprintf(&b, "%.6f %s", lp, g)
			if n < order {
				if _, ok := total[n+1][g]; ok {
					fmt.Fprintf(&b, " %.6f", math.Log10(gamma(n+1, g)))
				}
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString("\n\\end\\\n")
	return b.Bytes(), sizes
}

// WriteDir writes lm.arpa, lm.dict and lm.json into dir (created if
// missing).
func (lm *LanguageModel) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("speech: language model folder: %w", err)
	}
	meta, err := json.MarshalIndent(lm.meta, "", "  ")
	if err != nil {
		return fmt.Errorf("speech: language model metadata: %w", err)
	}
	for name, data := range map[string][]byte{arpaFile: lm.arpa, dictFile: lm.dict, metaFile: append(meta, '\n')} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("speech: writing language model: %w", err)
		}
	}
	return nil
}

// LoadLanguageModel reads a folder written by WriteDir and checks it: the
// ARPA file parses, and the version is the content's hash.
func LoadLanguageModel(dir string) (*LanguageModel, error) {
	lm := &LanguageModel{}
	var meta []byte
	for name, dst := range map[string]*[]byte{arpaFile: &lm.arpa, dictFile: &lm.dict, metaFile: &meta} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("speech: %w: %w", ErrBadLanguageModel, err)
		}
		*dst = b
	}
	if err := json.Unmarshal(meta, &lm.meta); err != nil {
		return nil, fmt.Errorf("speech: %w: %s: %w", ErrBadLanguageModel, metaFile, err)
	}
	if v := contentVersion(lm.arpa, lm.dict); v != lm.meta.Version {
		return nil, fmt.Errorf("speech: %w: %s says version %q, the files hash to %q", ErrBadLanguageModel, metaFile, lm.meta.Version, v)
	}
	a, err := parseARPA(lm.arpa)
	if err != nil {
		return nil, fmt.Errorf("speech: %w: %w", ErrBadLanguageModel, err)
	}
	if !slices.Equal(a.Counts, lm.meta.Counts) {
		return nil, fmt.Errorf("speech: %w: %s counts %v, ARPA file %v", ErrBadLanguageModel, metaFile, lm.meta.Counts, a.Counts)
	}
	return lm, nil
}
