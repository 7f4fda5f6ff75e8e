package wordnet_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/omnirank/omnirank/wordnet"
)

var (
	dbOnce sync.Once
	dbVal  *wordnet.DB
	dbErr  error
)

// openDB parses the installed database once per test binary.
func openDB(t testing.TB) *wordnet.DB {
	t.Helper()
	dbOnce.Do(func() { dbVal, dbErr = wordnet.Open("") })
	if dbErr != nil {
		t.Fatalf("%v (make deps installs it)", dbErr)
	}
	return dbVal
}

func lemmaTexts(ls []wordnet.Lemma) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Text)
	}
	return out
}

func termTexts(ts []wordnet.Term) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Text)
	}
	return out
}

func TestSynsetsAndPointers(t *testing.T) {
	db := openDB(t)
	sofa := db.Senses("sofa", wordnet.Noun)
	if len(sofa) != 1 {
		t.Fatalf("sofa has %d noun senses, want 1", len(sofa))
	}
	if !slices.Contains(db.Senses("couch", wordnet.Noun), sofa[0]) {
		t.Fatal("couch and sofa share no synset")
	}
	s := db.Synsets[sofa[0]]
	if s.Offset != 4256520 || s.LexFile != 6 || !slices.Equal(s.Lemmas, []string{"sofa", "couch", "lounge"}) {
		t.Fatalf("sofa synset = %d %d %v", s.Offset, s.LexFile, s.Lemmas)
	}
	if !strings.Contains(s.Gloss, "upholstered seat") {
		t.Fatalf("sofa gloss %q", s.Gloss)
	}
	// sneaker's hypernym chain reaches footwear.
	reached := false
	for _, path := range db.HypernymPaths(db.Senses("sneaker", wordnet.Noun)[0], 10) {
		for _, id := range path {
			if slices.Contains(db.Synsets[id].Lemmas, "footwear") {
				reached = true
			}
		}
	}
	if !reached {
		t.Fatal("sneaker's hypernym paths never reach footwear")
	}
	// Adjective satellites point to their head with similar-to.
	big := db.Senses("big", wordnet.Adjective)
	if len(big) == 0 || len(db.Synsets[big[0]].Related(wordnet.SimilarTo)) == 0 {
		t.Fatal("big: no similar-to pointer")
	}
	// A lexical derivation pointer carries word numbers.
	found := false
	for _, p := range s.Pointers {
		if p.Kind == wordnet.Derivation && p.Source > 0 && p.TargetWord > 0 {
			found = true
		}
	}
	if !found {
		t.Fatal("sofa synset: no lexical derivation pointer")
	}
	if db.Frequency("shoe") == 0 || db.Frequency("no-such-word") != 0 {
		t.Fatal("tag counts not read")
	}
}

func TestLemmatize(t *testing.T) {
	db := openDB(t)
	cases := []struct {
		word, base string
		has        []string
	}{
		{"shoes", "shoe", []string{"shoe"}},
		{"Running", "running", []string{"running", "run"}},
		{"bed", "bed", []string{"bed", "be"}},
		{"rose", "rose", []string{"rose", "rise"}},
		{"mice", "mouse", []string{"mouse"}},
		{"boxes", "box", []string{"box"}},
		{"dresses", "dress", []string{"dress"}},
		{"better", "better", []string{"good", "well"}},
		{"running shoes", "running_shoe", []string{"running_shoe"}},
		{"sofa", "sofa", []string{"sofa"}},
		{"qwxyz", "", nil},
		{"", "", nil},
	}
	for _, c := range cases {
		t.Run(c.word, func(t *testing.T) {
			got := lemmaTexts(db.Lemmatize(c.word))
			for _, h := range c.has {
				if !slices.Contains(got, h) {
					t.Errorf("Lemmatize(%q) = %v, missing %q", c.word, got, h)
				}
			}
			if c.has == nil && len(got) != 0 {
				t.Errorf("Lemmatize(%q) = %v, want none", c.word, got)
			}
			if b := db.Base(c.word); b != c.base {
				t.Errorf("Base(%q) = %q, want %q", c.word, b, c.base)
			}
		})
	}
}

func TestSynonymsRanked(t *testing.T) {
	db := openDB(t)
	cases := []struct {
		word string
		top  []string // all among the heaviest synonyms
	}{
		{"couch", []string{"sofa", "lounge"}},
		{"sofa", []string{"couch", "lounge"}},
		{"sneakers", []string{"gym shoe", "tennis shoe"}},
		{"spectacles", []string{"eyeglasses", "specs", "glasses"}},
	}
	for _, c := range cases {
		syn := db.Synonyms(c.word)
		if len(syn) < len(c.top) {
			t.Fatalf("Synonyms(%q) = %v", c.word, syn)
		}
		top := syn[0].Weight
		for _, want := range c.top {
			i := slices.IndexFunc(syn, func(s wordnet.Term) bool { return s.Text == want })
			if i < 0 || syn[i].Weight != top {
				t.Errorf("Synonyms(%q) = %v: %q not among the heaviest", c.word, syn[:min(6, len(syn))], want)
			}
		}
		for i := 1; i < len(syn); i++ {
			if syn[i].Weight > syn[i-1].Weight {
				t.Fatalf("Synonyms(%q) not sorted by weight", c.word)
			}
		}
		if slices.Contains(termTexts(syn), c.word) {
			t.Errorf("Synonyms(%q) contains the word itself", c.word)
		}
	}
	// The verb reading of couch ("to couch in words") weighs less than the
	// furniture sense.
	syn := db.Synonyms("couch")
	if i := slices.IndexFunc(syn, func(s wordnet.Term) bool { return s.Text == "frame" }); i < 0 || syn[i].Weight >= syn[0].Weight {
		t.Errorf("couch: verb synonym frame not below sofa: %v", syn)
	}
	if !slices.Contains(termTexts(db.Hypernyms("sneaker")), "footwear") {
		t.Errorf("Hypernyms(sneaker) = %v, want footwear within two levels", db.Hypernyms("sneaker"))
	}
	if !slices.Contains(termTexts(db.Hyponyms("footwear")), "shoe") {
		t.Errorf("Hyponyms(footwear) lacks shoe")
	}
}

func TestPhrases(t *testing.T) {
	db := openDB(t)
	words := wordnet.Words("Red running shoes, a gym shoe & ice cream!")
	got := db.Phrases(words)
	var lemmas []string
	for _, p := range got {
		lemmas = append(lemmas, p.Lemma)
	}
	want := []string{"running_shoe", "gym_shoe", "ice_cream"}
	if !slices.Equal(lemmas, want) {
		t.Fatalf("Phrases(%v) = %v, want %v", words, lemmas, want)
	}
	if got[0].Start != 1 || got[0].End != 3 {
		t.Fatalf("running shoes at %d:%d", got[0].Start, got[0].End)
	}
}

func TestQueryExpander(t *testing.T) {
	db := openDB(t)
	e, err := wordnet.NewQueryExpander(db, wordnet.ExpanderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	terms := e.Expand("the couch")
	byText := map[string]wordnet.QueryTerm{}
	for _, q := range terms {
		if _, dup := byText[q.Text]; dup {
			t.Fatalf("term %q twice", q.Text)
		}
		byText[q.Text] = q
	}
	if q := byText["couch"]; q.Weight != 1 || q.Kind != wordnet.KindWord {
		t.Fatalf("couch term = %+v", q)
	}
	sofa, ok := byText["sofa"]
	if !ok || sofa.Kind != wordnet.KindSynonym || sofa.Weight >= 1 || sofa.Weight <= 0 || sofa.From != "couch" {
		t.Fatalf("sofa term = %+v (all: %+v)", sofa, terms)
	}
	for _, q := range terms {
		if q.From == "the" {
			t.Fatalf("stop word expanded: %+v", q)
		}
	}
	terms = e.Expand("running shoes")
	if i := slices.IndexFunc(terms, func(q wordnet.QueryTerm) bool { return q.Kind == wordnet.KindPhrase }); i < 0 || terms[i].Text != "running shoes" || terms[i].Weight != 1 {
		t.Fatalf("phrase not kept together: %+v", terms)
	}
	nsyn := 0
	for _, q := range terms {
		if q.Kind == wordnet.KindSynonym {
			nsyn++
		}
	}
	if nsyn > 3*3 {
		t.Fatalf("%d synonyms for 3 sources at MaxSynonyms 3", nsyn)
	}
	for _, bad := range []wordnet.ExpanderConfig{{MaxSynonyms: -1}, {SynonymWeight: 1}, {SynonymWeight: 0.3, MinSynonymWeight: 0.4}} {
		if _, err := wordnet.NewQueryExpander(db, bad); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
	if _, err := wordnet.NewQueryExpander(nil, wordnet.ExpanderConfig{}); err == nil {
		t.Error("nil database accepted")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := wordnet.Open(t.TempDir()); !errors.Is(err, wordnet.ErrMissing) {
		t.Fatalf("empty folder: err = %v, want ErrMissing", err)
	}
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, pos := range []string{"noun", "verb", "adj", "adv"} {
		write("data."+pos, "")
		write("index."+pos, "")
		write(pos+".exc", "")
	}
	write("data.noun", "  licence header\n00000001 06 n 01 sofa 0 001 @ 00000099 n 0000 | a seat\n")
	if _, err := wordnet.Open(dir); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("dangling pointer: err = %v", err)
	}
	write("data.noun", "00000001 06 n zz sofa 0 000 | a seat\n")
	if _, err := wordnet.Open(dir); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("bad word count: err = %v", err)
	}
	write("data.noun", "00000001 06 n 01 sofa 0 000 | a seat\n")
	write("index.noun", "sofa n 1 0 1 0 00000001\n")
	db, err := wordnet.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !db.IsLemma("sofa") || db.Base("sofas") != "sofa" {
		t.Fatal("tiny database: sofa not found")
	}
	write("index.noun", "sofa n 1 0 1 0 00000002\n")
	if _, err := wordnet.Open(dir); err == nil {
		t.Fatal("index pointing to an unknown synset accepted")
	}
}

// BenchmarkOpen measures parsing the whole database (go test -bench Open
// -benchmem -run '^$' ./wordnet/).
func BenchmarkOpen(b *testing.B) {
	for b.Loop() {
		if _, err := wordnet.Open(""); err != nil {
			b.Fatal(err)
		}
	}
}
