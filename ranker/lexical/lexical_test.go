package lexical

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newIndex(t *testing.T, cfg Config, docs ...Doc) *Index {
	t.Helper()
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := x.Close(); err != nil {
			t.Error(err)
		}
	})
	for _, d := range docs {
		x.Put(d)
	}
	flush(t, x)
	return x
}

func flush(t *testing.T, x *Index) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := x.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func search(t *testing.T, x *Index, text string, k int) []Hit {
	t.Helper()
	hits, err := x.Search(context.Background(), text, SearchOptions{K: k})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func ids(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// titleOnly searches the title alone, without spelling tolerance or
// phrases: each query word is one term clause, so scores are plain BM25.
func titleOnly() Config {
	c := DefaultConfig()
	c.Weights = FieldWeights{Title: 1}
	c.FuzzyWeight, c.PhraseBoost = 0, 0
	return c
}

// TestBM25HandComputed checks the scores against BM25 worked by hand
// over a three-document corpus.
func TestBM25HandComputed(t *testing.T) {
	x := newIndex(t, titleOnly(),
		Doc{ID: "d1", Title: "Oak desk"},        // oak desk: 2 words
		Doc{ID: "d2", Title: "oak OAK chair"},   // oak×2 chair: 3 words
		Doc{ID: "d3", Title: "Pine table lamp"}, // pine tabl lamp: 3 words
	)
	const (
		k1, b  = 1.2, 0.75
		n      = 3.0       // documents
		avgLen = 8.0 / 3.0 // 2 + 3 + 3 words
	)
	idf := func(df float64) float64 { return math.Log(1 + (n-df+0.5)/(df+0.5)) }
	bm25 := func(df, tf, length float64) float64 {
		return idf(df) * tf * (k1 + 1) / (tf + k1*(1-b+b*length/avgLen))
	}
	check := func(t *testing.T, got []Hit, want map[string]float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("hits %v, want %v", got, want)
		}
		for _, h := range got {
			w, ok := want[h.ID]
			if !ok || math.Abs(h.Score-w) > 1e-9*w {
				t.Errorf("%s: score %.12f, want %.12f (hits %v)", h.ID, h.Score, w, got)
			}
		}
	}
	t.Run("one term", func(t *testing.T) {
		got := search(t, x, "oak", 10)
		// By hand: idf = ln(1 + 1.5/2.5) = 0.470004; d1: tf 1, len 2,
		// mean 8/3: 0.470004 · 2.2 / (1 + 1.2·(0.25 + 0.75·0.75)) =
		// 1.034008 / 1.975 = 0.523548.
		if math.Abs(got[len(got)-1].Score-0.523548) > 1e-6 {
			t.Errorf("d1 scores %v, worked by hand 0.523548", got[len(got)-1].Score)
		}
		check(t, got, map[string]float64{"d1": bm25(2, 1, 2), "d2": bm25(2, 2, 3)})
		if !slices.Equal(ids(got), []string{"d2", "d1"}) {
			t.Errorf("order %v, want [d2 d1]", ids(got))
		}
	})
	t.Run("two terms", func(t *testing.T) {
		// The clauses' scores add up.
		got := search(t, x, "oak lamps", 10)
		check(t, got, map[string]float64{"d1": bm25(2, 1, 2), "d2": bm25(2, 2, 3), "d3": bm25(1, 1, 3)})
	})
	t.Run("after delete", func(t *testing.T) {
		// N and the mean length follow deletes: without d3, N = 2 and the
		// mean is 5/2.
		y := newIndex(t, titleOnly(), Doc{ID: "d1", Title: "Oak desk"}, Doc{ID: "d2", Title: "oak OAK chair"}, Doc{ID: "d3", Title: "Pine table lamp"})
		y.Delete("d3")
		flush(t, y)
		got := search(t, y, "oak", 10)
		// IDF of a term in n = 2 of N = 2 documents: log(1 + (N-n+0.5)/(n+0.5)).
		const docs, withTerm = 2.0, 2.0
		idf2 := math.Log(1 + (docs-withTerm+0.5)/(withTerm+0.5))
		want := idf2 * 2.2 / (1 + 1.2*(0.25+0.75*2/2.5))
		if len(got) != 2 || math.Abs(got[1].Score-want) > 1e-9 {
			t.Errorf("after delete: %v, want d1 at %v", got, want)
		}
	})
}

func TestFieldWeights(t *testing.T) {
	docs := []Doc{
		{ID: "in-title", Title: "Acme kettle", Description: "boils water"},
		{ID: "in-desc", Title: "Steel kettle", Description: "made by acme"},
	}
	x := newIndex(t, DefaultConfig(), docs...)
	if got := ids(search(t, x, "acme", 10)); !slices.Equal(got, []string{"in-title", "in-desc"}) {
		t.Errorf("title weight 3: %v, want in-title first", got)
	}
	c := DefaultConfig()
	c.Weights.Title, c.Weights.Description = 0.1, 5
	y := newIndex(t, c, docs...)
	if got := ids(search(t, y, "acme", 10)); !slices.Equal(got, []string{"in-desc", "in-title"}) {
		t.Errorf("description weight 5: %v, want in-desc first", got)
	}
}

// TestTranscriptField: the transcript of a voice-over is searched as its
// own field (stemmed, phrases), weighted like the description by default
// and not at all when its weight is 0.
func TestTranscriptField(t *testing.T) {
	docs := []Doc{
		{ID: "spoken", Title: "Walnut desk organiser", Transcript: "handcrafted from reclaimed zebrawood"},
		{ID: "written", Title: "Oak letter tray", Description: "handcrafted from reclaimed zebrawood"},
		{ID: "other", Title: "Steel kettle"},
	}
	x := newIndex(t, DefaultConfig(), docs...)
	for _, q := range []string{"zebrawood", "reclaimed zebrawood", "handcraft"} {
		hits := search(t, x, q, 10)
		if got := ids(hits); len(got) != 2 || !slices.Contains(got, "spoken") || !slices.Contains(got, "written") {
			t.Fatalf("%q: %v, want spoken and written", q, got)
		}
		// Same words, same weight (1), same field statistics: equal scores.
		if math.Abs(hits[0].Score-hits[1].Score) > 1e-9 {
			t.Errorf("%q: transcript and description score %v and %v, want equal", q, hits[0].Score, hits[1].Score)
		}
	}
	c := DefaultConfig()
	c.Weights.Transcript = 0
	y := newIndex(t, c, docs...)
	if got := ids(search(t, y, "zebrawood", 10)); !slices.Equal(got, []string{"written"}) {
		t.Errorf("transcript weight 0: %v, want [written]", got)
	}
}

func TestAnalysis(t *testing.T) {
	x := newIndex(t, DefaultConfig(),
		Doc{ID: "p1", Title: "Running Shoes", Brand: "Zephyr", Category: []string{"Footwear", "Trainers"}, Attributes: map[string]string{"colour": "crimson"}},
		Doc{ID: "p2", Title: "Wool scarf"},
	)
	for _, q := range []string{"run", "RUNNING shoe", "the shoes", "zephyr's", "trainer", "footwear", "Crimson"} {
		if got := ids(search(t, x, q, 10)); !slices.Equal(got, []string{"p1"}) {
			t.Errorf("%q: %v, want [p1]", q, got)
		}
	}
	// Stop words alone match nothing.
	if got := search(t, x, "the and of", 10); len(got) != 0 {
		t.Errorf("stop words: %v", got)
	}
	if got := search(t, x, "   ", 10); len(got) != 0 {
		t.Errorf("blank: %v", got)
	}
}

func TestSpellingTolerance(t *testing.T) {
	x := newIndex(t, DefaultConfig(),
		Doc{ID: "table", Title: "Table lamp"},
		Doc{ID: "cable", Title: "Cable organiser"},
		Doc{ID: "sneaker", Title: "Canvas sneaker"},
		Doc{ID: "lamb", Title: "Lamb wool"},
	)
	// An exact match ranks above one an edit away.
	if got := ids(search(t, x, "table", 10)); !slices.Equal(got, []string{"table", "cable"}) {
		t.Errorf("table: %v, want [table cable]", got)
	}
	if got := ids(search(t, x, "sneakr", 10)); !slices.Equal(got, []string{"sneaker"}) {
		t.Errorf("sneakr: %v, want [sneaker]", got)
	}
	// Words under five letters match exactly only.
	if got := ids(search(t, x, "lamp", 10)); !slices.Equal(got, []string{"table"}) {
		t.Errorf("lamp: %v, want [table]", got)
	}
	c := DefaultConfig()
	c.FuzzyWeight = 0
	y := newIndex(t, c, Doc{ID: "sneaker", Title: "Canvas sneaker"})
	if got := search(t, y, "sneakr", 10); len(got) != 0 {
		t.Errorf("fuzzy off: %v", got)
	}
}

func TestPhraseBoost(t *testing.T) {
	docs := []Doc{
		{ID: "apart", Title: "shoe running red"},
		{ID: "phrase", Title: "running shoe red"},
	}
	x := newIndex(t, DefaultConfig(), docs...)
	got := search(t, x, "running shoe", 10)
	if !slices.Equal(ids(got), []string{"phrase", "apart"}) || !(got[0].Score > got[1].Score) {
		t.Errorf("phrase boost: %v, want phrase strictly first", got)
	}
	c := DefaultConfig()
	c.PhraseBoost = 0
	y := newIndex(t, c, docs...)
	if got := search(t, y, "running shoe", 10); len(got) != 2 || got[0].Score != got[1].Score {
		t.Errorf("no phrase boost: %v, want equal scores", got)
	}
}

func TestUpdateDelete(t *testing.T) {
	x := newIndex(t, DefaultConfig(), Doc{ID: "p1", Title: "Walnut bookcase"}, Doc{ID: "p2", Title: "Walnut stool"})
	x.Put(Doc{ID: "p1", Title: "Birch bookcase"})
	flush(t, x)
	if got := ids(search(t, x, "walnut", 10)); !slices.Equal(got, []string{"p2"}) {
		t.Errorf("after update, walnut: %v", got)
	}
	if got := ids(search(t, x, "birch", 10)); !slices.Equal(got, []string{"p1"}) {
		t.Errorf("after update, birch: %v", got)
	}
	x.Delete("p2")
	x.Delete("missing")
	flush(t, x)
	if got := search(t, x, "walnut stool", 10); len(got) != 0 {
		t.Errorf("after delete: %v", got)
	}
	if n := x.Len(); n != 1 {
		t.Errorf("Len %d, want 1", n)
	}
}

func TestAcceptFillsK(t *testing.T) {
	var docs []Doc
	for i := range 500 {
		docs = append(docs, Doc{ID: fmt.Sprintf("p%03d", i), Title: fmt.Sprintf("lamp model %d", i)})
	}
	c := DefaultConfig()
	c.MaxBatch = 64 // several batches
	x := newIndex(t, c, docs...)
	accept := func(id string) bool { return strings.HasSuffix(id, "7") } // 50 of 500
	// The selectivity hint only sizes the first round: a wrong one (1, or
	// none) costs rounds, not results.
	for _, tc := range []struct {
		k, want int
		sel     float64
	}{{10, 10, 0}, {50, 50, 0}, {80, 50, 0}, {10, 10, 1}, {50, 50, 1}, {50, 50, 0.1}, {80, 50, 0.1}} {
		hits, err := x.Search(context.Background(), "lamp", SearchOptions{K: tc.k, Accept: accept, Selectivity: tc.sel})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != tc.want {
			t.Errorf("k=%d: %d hits, want %d", tc.k, len(hits), tc.want)
		}
		// The best accepted: the unfiltered ranking, filtered.
		all, err := x.Search(context.Background(), "lamp", SearchOptions{K: 500})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, h := range all {
			if accept(h.ID) && len(want) < tc.want {
				want = append(want, h.ID)
			}
		}
		if !slices.Equal(ids(hits), want) {
			t.Errorf("k=%d sel=%v: %v, want %v", tc.k, tc.sel, ids(hits), want)
		}
	}
}

type synonyms map[string][]WeightedTerm

func (s synonyms) Expand(q string) []WeightedTerm { return s[strings.ToLower(q)] }

func TestQueryExpander(t *testing.T) {
	c := DefaultConfig()
	c.Expander = synonyms{"couch": {{Term: "sofa", Weight: 0.5}, {Term: "chaise longue", Weight: 0.4}}}
	x := newIndex(t, c,
		Doc{ID: "sofa", Title: "Velvet sofa"},
		Doc{ID: "couch", Title: "Leather couch"},
		Doc{ID: "chaise", Title: "Chaise longue"},
		Doc{ID: "longue", Title: "Longue chaise"},
	)
	got := ids(search(t, x, "couch", 10))
	// The original word first; a multi-word expansion matches as a phrase
	// only ("longue chaise" does not).
	if len(got) != 3 || got[0] != "couch" || !slices.Contains(got, "sofa") || !slices.Contains(got, "chaise") {
		t.Errorf("couch: %v, want couch first, then sofa and chaise", got)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"negative weight": func(c *Config) { c.Weights.Brand = -1 },
		"nan weight":      func(c *Config) { c.Weights.Title = math.NaN() },
		"all zero":        func(c *Config) { c.Weights = FieldWeights{} },
		"fuzzy 1":         func(c *Config) { c.FuzzyWeight = 1 },
		"min fuzzy 0":     func(c *Config) { c.MinFuzzyLen = 0 },
		"phrase -1":       func(c *Config) { c.PhraseBoost = -1 },
		"batch 0":         func(c *Config) { c.MaxBatch = 0 },
		"nil logger":      func(c *Config) { c.Logger = nil },
	} {
		c := DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}

func TestReadyAndClose(t *testing.T) {
	c := DefaultConfig()
	x, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	x.Put(Doc{ID: "a", Title: "anvil"})
	if x.Ready() {
		t.Error("ready before MarkLoaded")
	}
	x.MarkLoaded()
	select {
	case <-x.ReadyCh():
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	if _, err := x.Search(context.Background(), "anvil", SearchOptions{}); err == nil {
		t.Error("k = 0 accepted")
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Search(context.Background(), "anvil", SearchOptions{K: 1}); err != ErrClosed {
		t.Errorf("search after close: %v", err)
	}
}
