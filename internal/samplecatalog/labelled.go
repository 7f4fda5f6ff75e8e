package samplecatalog

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/wordnet"
)

// Labelled query files under <out>/queries/, one LabelledQuery per line.
const (
	SynonymQueriesFile = "synonyms.jsonl"
	TitleQueriesFile   = "titles.jsonl"
)

// Splits of the synonym queries: choose settings on dev, report test.
const (
	SplitDev  = "dev"
	SplitTest = "test"
)

// LabelledQuery is one line of a labelled query file: a text query and
// the products relevant to it, most relevant first. The split of a
// synonym query is part of its id ("syn-dev-…", "syn-test-…"; QuerySplit).
type LabelledQuery struct {
	ID       string   `json:"id"`
	Text     string   `json:"text"`
	Relevant []string `json:"relevant"`
}

// QuerySplit returns SplitDev or SplitTest for a synonym query id, "" for
// other ids.
func QuerySplit(id string) string {
	for _, s := range []string{SplitDev, SplitTest} {
		if strings.HasPrefix(id, "syn-"+s+"-") {
			return s
		}
	}
	return ""
}

// splitOf assigns a query text to dev or test by a hash of the text, so a
// query keeps its split when the catalogue grows.
func splitOf(text string) string {
	h := fnv.New32a()
	h.Write([]byte("omnirank-synonym-split\x00" + text))
	if h.Sum32()%2 == 0 {
		return SplitDev
	}
	return SplitTest
}

// minHypernymDepth: hypernyms closer to WordNet's root than this
// ("artifact", "object", "whole") name no kind of product and are not
// used as queries.
const minHypernymDepth = 6

// derivation is one query text derived for one product.
type derivation struct {
	text    string
	product string
	weight  float64 // synonym of the head: 1; hypernym: 0.5 per level
}

// DeriveSynonymQueries derives, from WordNet, text queries that share no
// word (and no lemma or stem) with the title of any product they label:
// for each product, the synonyms of the title as a whole when WordNet
// knows it as a lemma, else of its head noun (the last word, or the
// multi-word lemma it ends); and the head's hypernyms one and two levels up (not the generic ones
// near the root). A query derived for several products lists them all,
// most strongly derived first (synonyms before hypernyms, then by id).
// Senses: the first sense of the head in a product lexicographer file
// among its three most frequent noun senses. Ids carry the split.
func DeriveSynonymQueries(db *wordnet.DB, products []storage.Product) []LabelledQuery {
	var ds []derivation
	for _, p := range products {
		ds = append(ds, deriveFor(db, p)...)
	}
	byText := map[string][]derivation{}
	for _, d := range ds {
		byText[d.text] = append(byText[d.text], d)
	}
	texts := make([]string, 0, len(byText))
	for t := range byText {
		texts = append(texts, t)
	}
	slices.Sort(texts)
	var out []LabelledQuery
	n := map[string]int{}
	for _, t := range texts {
		group := byText[t]
		slices.SortFunc(group, func(a, b derivation) int {
			if c := cmp.Compare(b.weight, a.weight); c != 0 {
				return c
			}
			return strings.Compare(a.product, b.product)
		})
		var rel []string
		for _, d := range group {
			if !slices.Contains(rel, d.product) {
				rel = append(rel, d.product)
			}
		}
		split := splitOf(t)
		n[split]++
		out = append(out, LabelledQuery{ID: fmt.Sprintf("syn-%s-%04d", split, n[split]), Text: t, Relevant: rel})
	}
	return out
}

// productSenseFiles: noun senses that can be a product (animals, artifacts,
// body, foods, objects, plants, substances).
var productSenseFiles = map[uint8]bool{5: true, 6: true, 8: true, 13: true, 17: true, 20: true, 27: true}

// headSense picks the product sense of a lemma: the first of its three
// most frequent noun senses in a product lexicographer file.
func headSense(db *wordnet.DB, lemma string) (wordnet.SynsetID, bool) {
	senses := db.Senses(lemma, wordnet.Noun)
	for _, s := range senses[:min(3, len(senses))] {
		if productSenseFiles[db.Synsets[s].LexFile] {
			return s, true
		}
	}
	return 0, false
}

// productLemma is the first noun base form of phrase (Lemmatize's order:
// exceptions, the phrase itself, detached forms) with a product sense.
func productLemma(db *wordnet.DB, phrase string) (string, wordnet.SynsetID, bool) {
	for _, l := range db.Lemmatize(phrase) {
		if l.POS != wordnet.Noun {
			continue
		}
		if s, ok := headSense(db, l.Text); ok {
			return l.Text, s, true
		}
	}
	return "", 0, false
}

// deriveFor derives the queries of one product.
func deriveFor(db *wordnet.DB, p storage.Product) []derivation {
	words := wordnet.Words(p.Title)
	if len(words) == 0 {
		return nil
	}
	forbidden := titleForms(db, words)
	clean := func(q string) bool {
		qw := wordnet.Words(q)
		if len(qw) == 0 {
			return false
		}
		for _, w := range qw {
			for _, f := range formsOf(db, w) {
				if forbidden[f] {
					return false
				}
			}
		}
		return true
	}
	// The head: the whole title if WordNet knows it, else the longest
	// lemma ending the title, else the last word.
	var (
		head  string
		sense wordnet.SynsetID
		found bool
	)
	for i := range words {
		if head, sense, found = productLemma(db, strings.Join(words[i:], "_")); found {
			break
		}
	}
	if !found {
		return nil
	}
	var out []derivation
	add := func(text string, w float64) {
		text = strings.ReplaceAll(strings.ToLower(text), "_", " ")
		if clean(text) {
			out = append(out, derivation{text: text, product: p.ID, weight: w})
		}
	}
	for _, l := range db.Synsets[sense].Lemmas {
		if l != head {
			add(l, 1)
		}
	}
	level := []wordnet.SynsetID{sense}
	for _, w := range []float64{0.5, 0.25} {
		var next []wordnet.SynsetID
		for _, s := range level {
			next = append(next, db.Synsets[s].Related(wordnet.Hypernym)...)
		}
		for _, h := range next {
			if rootDistance(db, h) < minHypernymDepth {
				continue
			}
			for _, l := range db.Synsets[h].Lemmas {
				add(l, w)
			}
		}
		level = next
	}
	return out
}

// rootDistance is the length of the shortest hypernym path from s to
// WordNet's root.
func rootDistance(db *wordnet.DB, s wordnet.SynsetID) int {
	best := 0
	for i, path := range db.HypernymPaths(s, 32) {
		if i == 0 || len(path) < best {
			best = len(path)
		}
	}
	return best
}

// formsOf lists a word with its WordNet base forms and a crude suffix
// stem, the forms compared between query and title.
func formsOf(db *wordnet.DB, w string) []string {
	out := []string{w, stem(w)}
	for _, l := range db.Lemmatize(w) {
		out = append(out, l.Text, stem(l.Text))
	}
	return out
}

// titleForms are every form of every title word: a query may use none.
func titleForms(db *wordnet.DB, words []string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		for _, f := range formsOf(db, w) {
			m[f] = true
		}
	}
	return m
}

// stem strips common English suffixes ("shoes", "running", "boxed") so
// that a query cannot reuse a title word in another form.
func stem(w string) string {
	for _, suf := range []string{"ings", "ing", "ies", "es", "ed", "er", "s", "'s"} {
		if len(w) > len(suf)+2 && strings.HasSuffix(w, suf) {
			return w[:len(w)-len(suf)]
		}
	}
	return w
}

// DeriveTitleQueries is the exact-title set: each product's title in
// lower case, relevant to the products with that title (the first
// product first).
func DeriveTitleQueries(products []storage.Product) []LabelledQuery {
	var out []LabelledQuery
	at := map[string]int{}
	for _, p := range products {
		t := strings.ToLower(strings.TrimSpace(p.Title))
		if i, ok := at[t]; ok {
			out[i].Relevant = append(out[i].Relevant, p.ID)
			continue
		}
		at[t] = len(out)
		out = append(out, LabelledQuery{ID: fmt.Sprintf("title-%04d", len(out)+1), Text: t, Relevant: []string{p.ID}})
	}
	return out
}

// writeLabelled writes the labelled query files into the catalogue being
// built; without WordNet it writes none and says so.
func (b *Builder) writeLabelled(root string, products []storage.Product) (synonyms, titles int, err error) {
	db, err := wordnet.Open(b.wordnetDir)
	if errors.Is(err, wordnet.ErrMissing) {
		b.log.Warn("no labelled synonym/title queries: they are derived from WordNet (install the Debian package wordnet-base)", "dir", b.wordnetDir)
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("labelled queries: %w", err)
	}
	return WriteLabelledQueries(root, db, products)
}

// wordnetStamp names the WordNet database the labelled queries come from
// (by its files' sizes), or "absent".
func wordnetStamp(dir string) string {
	var parts []string
	for _, f := range []string{"data.noun", "index.noun", "noun.exc"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			return "absent"
		}
		parts = append(parts, fmt.Sprintf("%s:%d", f, st.Size()))
	}
	return strings.Join(parts, ",")
}

// WriteLabelledQueries writes queries/synonyms.jsonl (from db) and
// queries/titles.jsonl under dir for products.
func WriteLabelledQueries(dir string, db *wordnet.DB, products []storage.Product) (synonyms, titles int, err error) {
	qdir := filepath.Join(dir, QueriesDir)
	if err := os.MkdirAll(qdir, 0o755); err != nil {
		return 0, 0, fmt.Errorf("labelled queries: %w", err)
	}
	syn := DeriveSynonymQueries(db, products)
	tit := DeriveTitleQueries(products)
	for _, f := range []struct {
		name string
		qs   []LabelledQuery
	}{{SynonymQueriesFile, syn}, {TitleQueriesFile, tit}} {
		if err := writeJSONL(filepath.Join(qdir, f.name), f.qs); err != nil {
			return 0, 0, err
		}
	}
	return len(syn), len(tit), nil
}

// ReadLabelledQueries reads a labelled query file.
func ReadLabelledQueries(file string) ([]LabelledQuery, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read labelled queries: %w", err)
	}
	var out []LabelledQuery
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var q LabelledQuery
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", file, i+1, err)
		}
		if q.ID == "" || q.Text == "" || len(q.Relevant) == 0 {
			return nil, fmt.Errorf("%s line %d: query needs id, text and relevant", file, i+1)
		}
		out = append(out, q)
	}
	return out, nil
}

func writeJSONL[Q any](file string, qs []Q) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i, q := range qs {
		if err := enc.Encode(q); err != nil {
			return fmt.Errorf("encode line %d of %s: %w", i+1, file, err)
		}
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
