package samplecatalog_test

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/omnirank/omnirank/internal/samplecatalog"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/wordnet"
)

func TestDeriveSynonymQueries(t *testing.T) {
	db, err := wordnet.Open("")
	if err != nil {
		t.Fatalf("%v (make deps installs it)", err)
	}
	products := []storage.Product{
		{ID: "p-sofa", Title: "Sofa"},
		{ID: "p-sneaker", Title: "Sneakers"},
		{ID: "p-boot", Title: "Hiking Boot"},
		{ID: "p-runner", Title: "Running Shoe"},
		{ID: "p-glasses", Title: "Spectacles"},
	}
	qs := samplecatalog.DeriveSynonymQueries(db, products)
	if again := samplecatalog.DeriveSynonymQueries(db, products); !reflect.DeepEqual(qs, again) {
		t.Fatal("derivation is not deterministic")
	}
	byText := map[string]samplecatalog.LabelledQuery{}
	title := map[string]string{}
	for _, p := range products {
		title[p.ID] = p.Title
	}
	splits := map[string]int{}
	for _, q := range qs {
		byText[q.Text] = q
		splits[samplecatalog.QuerySplit(q.ID)]++
		// No query shares a word, lemma or stem with a relevant title.
		for _, r := range q.Relevant {
			tw := wordnet.Words(title[r])
			for _, w := range wordnet.Words(q.Text) {
				for _, x := range tw {
					if w == x || db.Base(w) == db.Base(x) && db.Base(w) != "" || strings.TrimSuffix(w, "s") == strings.TrimSuffix(x, "s") {
						t.Errorf("query %q shares %q with the title %q", q.Text, w, title[r])
					}
				}
			}
		}
	}
	if splits[samplecatalog.SplitDev] == 0 || splits[samplecatalog.SplitTest] == 0 || splits[""] != 0 {
		t.Errorf("splits %v", splits)
	}
	want := map[string][]string{
		"couch":      {"p-sofa"},
		"gym shoe":   {"p-sneaker"},
		"eyeglasses": {"p-glasses"},
	}
	for text, rel := range want {
		q, ok := byText[text]
		if !ok {
			t.Errorf("no query %q (got %d queries)", text, len(qs))
			continue
		}
		if !slices.Equal(q.Relevant, rel) {
			t.Errorf("%q relevant %v, want %v", text, q.Relevant, rel)
		}
	}
	// A hypernym labels every product under it.
	fw, ok := byText["footwear"]
	if !ok {
		t.Fatalf("no footwear query: %v", qs)
	}
	for _, id := range []string{"p-sneaker", "p-boot", "p-runner"} {
		if !slices.Contains(fw.Relevant, id) {
			t.Errorf("footwear relevant %v lacks %s", fw.Relevant, id)
		}
	}
}

func TestLabelledQueriesFiles(t *testing.T) {
	db, err := wordnet.Open("")
	if err != nil {
		t.Fatalf("%v (make deps installs it)", err)
	}
	products := []storage.Product{{ID: "a", Title: "Sofa"}, {ID: "b", Title: "Red Apple"}, {ID: "c", Title: "sofa"}}
	titles := samplecatalog.DeriveTitleQueries(products)
	if len(titles) != 2 || titles[0].Text != "sofa" || !slices.Equal(titles[0].Relevant, []string{"a", "c"}) {
		t.Fatalf("title queries %+v", titles)
	}
	dir := t.TempDir()
	ns, nt, err := samplecatalog.WriteLabelledQueries(dir, db, products)
	if err != nil || ns == 0 || nt != 2 {
		t.Fatalf("wrote %d synonym and %d title queries: %v", ns, nt, err)
	}
	back, err := samplecatalog.ReadLabelledQueries(filepath.Join(dir, samplecatalog.QueriesDir, samplecatalog.TitleQueriesFile))
	if err != nil || !reflect.DeepEqual(back, titles) {
		t.Fatalf("read back %+v, %v", back, err)
	}
	syn, err := samplecatalog.ReadLabelledQueries(filepath.Join(dir, samplecatalog.QueriesDir, samplecatalog.SynonymQueriesFile))
	if err != nil || len(syn) != ns {
		t.Fatalf("read back %d synonym queries: %v", len(syn), err)
	}
	if _, err := samplecatalog.ReadLabelledQueries(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Fatal("missing file: no error")
	}
}
